"""The demo company's processes: Deals follow a "New business" or a "Renewal" pipeline,
Tickets a service pipeline; and a plausible stage history for their records, spread over
the last months (what the record page's stage path and the timeline show).

Pipelines go through the pipeline service like an administrator's; the history is written
straight into ``stage_moves`` (the demo invents the past, which no service may do), with
``seconds_in_from`` consistent with the moves' times.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, update

from crm.extensions import db
from crm.metadata.spec import EntitySpec
from crm.pipelines import service as pipelines
from crm.pipelines.models import StageMove
from crm.pipelines.service import StageInput
from crm.records.models import RecordHistory
from crm.records.query import table_of
from crm.timeutil import utcnow

# (key, name, zh_Hans, es, probability, category, colour, gate, stale days)
NEW_BUSINESS = (
    ("prospecting", "Prospecting", "初步接触", "Prospección", 10, "open", "slate", [], 30),
    ("qualified", "Qualified", "已确认需求", "Cualificada", 25, "open", "blue", [], 30),
    ("proposal", "Proposal", "方案报价", "Propuesta", 50, "open", "violet", ["amount"], 21),
    ("negotiation", "Negotiation", "商务谈判", "Negociación", 75, "open", "amber",
     ["amount", "close_date"], 21),
    ("won", "Closed won", "赢单", "Ganada", 100, "won", "green", ["amount", "close_date"], None),
    ("lost", "Closed lost", "输单", "Perdida", 0, "lost", "red", [], None),
)  # fmt: skip
RENEWAL = (
    ("renewal_due", "Renewal due", "待续约", "Renovación pendiente", 70, "open", "teal", [], 45),
    ("renewal_quoted", "Quote sent", "已报价", "Presupuesto enviado", 85, "open", "indigo",
     ["amount"], 30),
    ("renewed", "Renewed", "已续约", "Renovada", 100, "won", "green",
     ["amount", "close_date"], None),
    ("churned", "Churned", "已流失", "Perdida (baja)", 0, "lost", "red", [], None),
)  # fmt: skip
SERVICE = (
    ("new", "New", "新建", "Nuevo", 10, "open", "slate", [], 2),
    ("diagnosing", "Diagnosing", "诊断中", "En diagnóstico", 40, "open", "blue", ["priority"], 5),
    ("waiting", "Waiting on customer", "等待客户回复", "Esperando al cliente", 60, "open",
     "amber", ["priority"], 10),
    ("solved", "Solved", "已解决", "Resuelto", 100, "won", "green", ["resolution"], None),
    ("unsolved", "Closed unsolved", "未解决关闭", "Cerrado sin resolver", 0, "lost", "red", [],
     None),
)  # fmt: skip
# Why a ticket closes unsolved (the ticket's lost-reason picklist, the administrator's).
TICKET_REASONS = (
    ("no_response", "Customer stopped answering", "客户不再回复", "El cliente dejó de responder"),
    ("wont_fix", "Will not fix", "不予修复", "No se corregirá"),
    ("duplicate", "Duplicate", "重复工单", "Duplicado"),
    ("other", "Other", "其他", "Otro"),
)
PIPELINES = {
    "deal": (
        ("new_business", "New business", "新业务", "Nuevo negocio", NEW_BUSINESS, True),
        ("renewal", "Renewal", "续约", "Renovación", RENEWAL, False),
    ),
    "ticket": (("service", "Service", "客户服务", "Servicio", SERVICE, True),),
}

# What each board sums and shows on its cards.
CARDS = {
    "deal": {"amount_field": "amount", "card_fields": ["account", "amount", "close_date"]},
    "ticket": {"card_fields": ["account", "priority"]},
}


def _stages(rows) -> list[StageInput]:
    return [
        StageInput(
            key=k, name=n, probability=p, category=c, color=col, required_fields=list(g),
            stale_days=stale, translations={"name": {"zh_Hans": zh, "es": es}},
        )
        for k, n, zh, es, p, c, col, g, stale in rows
    ]  # fmt: skip


def load_model(actor_id: int | None) -> None:
    """Create the demo pipelines (the entities must exist) and the tickets' own reasons
    for closing unsolved."""
    from crm.schema import service as schema

    for entity, defs in PIPELINES.items():
        for key, name, zh, es, rows, default in defs:
            pipelines.save_pipeline(
                entity, key, name, _stages(rows),
                translations={"name": {"zh_Hans": zh, "es": es}}, is_default=default,
                options=CARDS[entity],
                actor_id=actor_id,
            )  # fmt: skip
    with schema.change(actor_id) as c:
        c.update_field(
            "ticket",
            "lost_reason",
            label="Closed because",
            translations={"label": {"zh_Hans": "关闭原因", "es": "Motivo del cierre"}},
            choices=[
                {"key": k, "label": en, "labels": {"zh_Hans": zh, "es": es}}
                for k, en, zh, es in TICKET_REASONS
            ],
        )


def path_to(rows, stage: str, rnd: random.Random) -> list[str]:
    """The stages a record plausibly went through to reach ``stage``: the open stages in
    order up to it; a won stage after all of them; a lost one after some of them."""
    open_keys = [r[0] for r in rows if r[5] == "open"]
    category = next(r[5] for r in rows if r[0] == stage)
    if category == "open":
        return open_keys[: open_keys.index(stage) + 1]
    if category == "won":
        return [*open_keys, stage]
    return [*open_keys[: rnd.randint(1, len(open_keys))], stage]


def invent_history(
    spec: EntitySpec,
    rows_of: dict[str, Any],
    records: list[tuple[int, str, str, int, str | None]],
    *,
    rnd: random.Random,
    now: datetime | None = None,
    max_days: int = 300,
) -> int:
    """Replace the stage history of ``records`` ((id, pipeline, stage, owner, lost reason)
    each; ``rows_of`` maps a pipeline key to its stage definitions) with a path through
    the pipeline that started up to ``max_days`` ago, and date the records' creation at
    its start. Returns the number of moves written."""
    now = now or utcnow()
    table = table_of(spec)
    moves: list[dict] = []
    dates: list[dict] = []
    for rid, pipeline, stage, owner, reason in records:
        path = path_to(rows_of[pipeline], stage, rnd)
        span = timedelta(days=rnd.uniform(3, max_days) if len(path) > 1 else rnd.uniform(0.2, 40))
        start = now - span
        cuts = sorted(rnd.uniform(0.05, 0.97) for _ in path[1:])
        times = [start, *(start + span * c for c in cuts)]
        for n, key in enumerate(path):
            at = times[n].replace(microsecond=0)
            before = times[n - 1].replace(microsecond=0) if n else None
            moves.append(
                {
                    "entity_key": spec.key,
                    "record_id": rid,
                    "pipeline": pipeline,
                    "from_stage": path[n - 1] if n else None,
                    "to_stage": key,
                    "at": at,
                    "user_id": owner,
                    "reason": reason if n == len(path) - 1 and reason else None,
                    "seconds_in_from": int((at - before).total_seconds()) if before else None,
                }
            )
        dates.append({"rid": rid, "t0": times[0].replace(microsecond=0), "t1": times[-1]})
    ids = [r[0] for r in records]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        db.session.execute(
            delete(StageMove).where(
                StageMove.entity_key == spec.key, StageMove.record_id.in_(chunk)
            )
        )
    if moves:
        db.session.execute(insert(StageMove), moves)
    if dates:
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("rid"))
            .values(created_at=bindparam("t0"), updated_at=bindparam("t1")),
            dates,
            execution_options={"synchronize_session": False},
        )
        history = RecordHistory.__table__
        db.session.execute(
            update(history)
            .where(
                history.c.entity_key == spec.key,
                history.c.record_id == bindparam("rid"),
                history.c.action == "create",
            )
            .values(at=bindparam("t0")),
            dates,
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    return len(moves)

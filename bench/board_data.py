"""The board benchmark's data (issue 14).

An entity "deal" (title, amount, close date and four more fields) with a "sales" pipeline
of seven stages (amount summed and weighted, cards showing amount, close date and next
step, stale marks after 30 days in most stages) and BENCH_ROWS (default 1,000,000) deals,
bulk-loaded (COPY on PostgreSQL, executemany on SQLite) with pipeline, stage and
probability set. Owners are spread over 200 users, who all read everything (role
"Sales"), except REP: their only role reads and edits their own records (level OWN), and
they own every 200th deal, REP_CARDS of them (5,000 at 1,000,000): the board's visible
cards. Each of REP's deals has one stage-history row (the board's stale lookup reads
those); the others have none (no board of theirs is timed).

BENCH_KEEP_DB=1 keeps the filled databases (SQLite ``bench/data/board_<rows>.sqlite``,
PostgreSQL ``atelier_bench_board_<rows>``); ``setup`` finds the data there next time.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from bench.schema_bench import ROWS
from crm.access import policy
from crm.access.models import User
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines import service as pipelines
from crm.pipelines.models import StageMove
from crm.pipelines.service import StageInput
from crm.schema import service

REP = 9  # the signed-in rep: reads and edits their own deals only
EVERY = 200  # REP owns deal i when i % EVERY == 0
REP_CARDS = len(range(0, ROWS, EVERY))  # 5,000 at 1,000,000 rows
NOW = datetime(2026, 3, 1)

# key, name, probability, category, gate, stale days, share of the deals
STAGES = (
    ("new", "New", 10, "open", [], 30, 0.22),
    ("qualified", "Qualified", 25, "open", [], 30, 0.18),
    ("demo", "Demo", 40, "open", [], 30, 0.14),
    ("proposal", "Proposal", 60, "open", ["amount"], 21, 0.12),
    ("negotiation", "Negotiation", 80, "open", ["amount", "close_date"], 14, 0.08),
    ("won", "Won", 100, "won", ["amount", "close_date"], None, 0.14),
    ("lost", "Lost", 0, "lost", [], None, 0.12),
)
# Moves timed go back and forth between these two (no gate on either).
MOVE_STAGES = ("new", "qualified")
CARD_FIELDS = ["amount", "close_date", "next_step"]
FIELDS = [
    {"key": "title", "type": "text", "label": "Title"},
    {"key": "amount", "type": "currency", "label": "Amount", "options": {"currency": "EUR"}},
    {"key": "close_date", "type": "date", "label": "Close date"},
    {
        "key": "source",
        "type": "picklist",
        "label": "Source",
        "choices": [{"key": k, "label": k.title()} for k in ("web", "referral", "partner")],
    },
    {"key": "region", "type": "text", "label": "Region"},
    {"key": "next_step", "type": "text", "label": "Next step"},
    {"key": "priority", "type": "integer", "label": "Priority"},
]
COLUMNS = (
    "owner_id", "created_at", "updated_at", "title", "amount", "close_date", "source",
    "region", "next_step", "priority", "pipeline", "stage", "probability",
)  # fmt: skip


def _prepared() -> bool:
    """True when a kept database already holds this benchmark's data."""
    if "deal" not in specs.current().entities:
        return False
    table = specs.current().table("deal")
    return (db.session.scalar(select(func.max(table.c.id))) or 0) >= ROWS


def _users_and_roles() -> None:
    """200 users; "Sales" (every action on every record) for all but REP, whose only
    role is "Own records" (every action on their own records)."""
    from crm.access import models

    for i in range(1, 201):
        db.session.add(User(email=f"u{i}@example.com", display_name=f"User {i}", password_hash="x"))
    db.session.commit()
    for name, level, users in (
        ("Sales", policy.ALL, [i for i in range(1, 201) if i != REP]),
        ("Own records", policy.OWN, [REP]),
    ):
        role = models.Role(name=name)
        db.session.add(role)
        db.session.flush()
        db.session.add_all(
            models.RoleGrant(role_id=role.id, entity_key="*", action=a, level=level)
            for a in policy.ACTIONS
        )
        db.session.execute(
            models.user_roles.insert(), [{"user_id": u, "role_id": role.id} for u in users]
        )
    db.session.commit()


def _entity() -> None:
    service.create_entity("deal", "Deal", fields=FIELDS, name_field="title")
    pipelines.save_pipeline(
        "deal",
        "sales",
        "Sales",
        [
            StageInput(
                key=k, name=n, probability=p, category=c, required_fields=list(g), stale_days=s
            )
            for k, n, p, c, g, s, _share in STAGES
        ],
        is_default=True,
        options={"amount_field": "amount", "card_fields": CARD_FIELDS},
    )


def _fill(kind: str) -> None:
    """ROWS deals, oldest first (ids follow ``updated_at``), REP owning every EVERY-th."""
    rnd = random.Random(14)
    base = NOW - timedelta(minutes=ROWS)
    keys = [s[0] for s in STAGES]
    weights = [s[6] for s in STAGES]
    probability = {s[0]: s[2] for s in STAGES}
    others = [i for i in range(1, 201) if i != REP]
    regions = ["North", "South", "East", "West", "Central"]
    sources = ["web", "referral", "partner"]

    def row(i: int) -> tuple:
        at = (base + timedelta(minutes=i)).isoformat(sep=" ")
        stage = rnd.choices(keys, weights)[0]
        return (
            REP if i % EVERY == 0 else rnd.choice(others),
            at,
            at,
            f"Deal {i}",
            f"{rnd.randint(500, 500_000)}.{rnd.randint(0, 99):02d}",
            (NOW + timedelta(days=rnd.randint(-200, 200))).date().isoformat(),
            rnd.choice(sources),
            rnd.choice(regions),
            f"Call back {i % 97}",
            rnd.randint(1, 5),
            "sales",
            stage,
            probability[stage],
        )

    conn = db.session.connection()
    raw = conn.connection.dbapi_connection
    cols = ", ".join(COLUMNS)
    if kind == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY x_deal ({cols}) FROM STDIN") as copy:
            for i in range(ROWS):
                copy.write_row(row(i))
    else:
        marks = ", ".join("?" * len(COLUMNS))
        cur = raw.cursor()
        batch = 50_000
        for start in range(0, ROWS, batch):
            cur.executemany(
                f"INSERT INTO x_deal ({cols}) VALUES ({marks})",  # noqa: S608
                [row(i) for i in range(start, min(ROWS, start + batch))],
            )
    db.session.commit()


def _history() -> None:
    """One stage-history row per REP deal: it entered its stage between 1 and 60 days
    before it was last changed (so some cards are stale, as on a real board)."""
    table = specs.current().table("deal")
    rnd = random.Random(15)
    rows = db.session.execute(
        select(table.c.id, table.c.stage, table.c.updated_at).where(table.c.owner_id == REP)
    ).all()
    db.session.execute(
        StageMove.__table__.insert(),
        [
            {
                "entity_key": "deal", "record_id": rid, "pipeline": "sales",
                "from_stage": None, "to_stage": stage,
                "at": at - timedelta(days=rnd.randint(1, 60)), "user_id": REP,
            }
            for rid, stage, at in rows
        ],
    )  # fmt: skip
    db.session.commit()


def setup(kind: str, out: dict) -> None:
    """Users, the entity, its pipeline and its deals (unless a kept database holds them),
    then planner statistics."""
    if _prepared():
        out["load_seconds"] = "reused"
    else:
        start = time.perf_counter()
        _users_and_roles()
        _entity()
        _fill(kind)
        _history()
        out["load_seconds"] = round(time.perf_counter() - start, 1)
    # PostgreSQL's autovacuum keeps statistics; SQLite has no automatic ANALYZE.
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    table = specs.current().table("deal")
    out["rep_cards"] = db.session.scalar(
        select(func.count()).select_from(table).where(table.c.owner_id == REP)
    )

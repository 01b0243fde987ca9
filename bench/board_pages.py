"""The hand-written board, column page and move the board benchmark times beside the
runtime's (issue 14).

What a developer would write for this one entity and pipeline, by hand: SQL written for
it (owner = me; one ``GROUP BY stage`` for counts, sums and the weighted forecast; each
stage's first cards as one ``UNION ALL`` of per-stage selects in index order; the stale
lookup over the cards shown), the same markup as the runtime's board (columns, cards with
their "Move to…" form, "Show more"), stage names and probabilities written out. The move
is one transaction: the update with the version check, the record-history row and the
stage-history row. ``register`` adds the routes to an app on the benchmark's data
(``bench.board_data``).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from flask import Flask, abort, current_app, make_response, request
from flask_login import current_user, login_required
from sqlalchemy import and_, bindparam, case, func, or_, select, union_all, update

from bench.board_data import STAGES
from crm.access.models import User
from crm.extensions import db
from crm.metadata import specs, types
from crm.pipelines.models import StageMove
from crm.records.listing import decode_cursor, encode_cursor
from crm.records.models import RecordHistory
from crm.timeutil import utcnow

CARDS = 20
NAMES = {s[0]: s[1] for s in STAGES}
PROBABILITY = {s[0]: s[2] for s in STAGES}
STALE = {s[0]: s[5] for s in STAGES}

HAND_CARD = """{% macro card(c) %}<li class="board-card{% if c.stale %} is-stale{% endif %}" id="card-{{ c.id }}" data-card="{{ c.id }}" data-version="{{ c.version }}" data-stage="{{ c.stage }}" data-move-url="/bench/hand/move/{{ c.id }}">
  <a class="board-card-name" href="/r/deal/{{ c.id }}">{{ c.title }}</a>
  <dl class="board-card-values">{% for label, value in c.fields %}<div><dt>{{ label }}</dt><dd>{{ value }}</dd></div>{% endfor %}</dl>
  <p class="board-card-foot"><span class="board-card-owner">{{ c.owner }}</span>
  {% if c.stale %}<span class="badge badge-stale" title="{{ c.stale }} days in this stage">Stale</span>{% endif %}</p>
  <form class="board-card-move" method="post" action="/bench/hand/move/{{ c.id }}" hx-post="/bench/hand/move/{{ c.id }}" hx-target="#board-notice" hx-swap="innerHTML">
    <input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><input type="hidden" name="version" value="{{ c.version }}">
    <input type="hidden" name="from" value="{{ c.stage }}"><input type="hidden" name="pipeline" value="sales">
    <select name="stage" aria-label="Move “{{ c.title }}” to">{% for key, label in stages %}<option value="{{ key }}"{% if key == c.stage %} selected{% endif %}>{{ label }}</option>{% endfor %}</select>
    <button type="submit" class="btn btn-sm">Move</button></form></li>{% endmacro %}
{% macro more(stage, after) %}{% if after %}<li class="board-more" data-board-more><a class="btn btn-sm" href="/r/deal/?f.stage.in={{ stage }}" hx-get="/bench/hand/board/{{ stage }}/more?after={{ after }}" hx-target="closest li" hx-swap="outerHTML">Show more</a></li>{% endif %}{% endmacro %}"""  # noqa: E501 - markup, kept compact

HAND_BOARD = (
    HAND_CARD
    + """{% extends "base.html" %}
{% block title %}Sales · Deals{% endblock %}
{% block main_class %}page page-wide{% endblock %}
{% block head %}<link rel="stylesheet" href="/static/css/board.css"><script src="/static/vendor/Sortable.min.js" defer></script><script src="/static/js/board.js" defer></script>{% endblock %}
{% block content %}
<div class="page-head"><div><p class="eyebrow">All deals</p><h1><span class="swatch lg c-gray"></span> Deals</h1></div>
  <div class="head-actions"><nav class="view-switch" aria-label="Show as"><a class="btn" href="/r/deal/">List</a><a class="btn is-current" aria-current="page" href="/bench/hand/board">Board</a></nav></div></div>
<form class="list-tools board-tools" method="get" action="/bench/hand/board"><input type="hidden" name="pipeline" value="sales">
  <input type="search" name="q" value="" placeholder="Search Deals…" aria-label="Search" autocomplete="off"><button class="btn">Show</button></form>
<div id="board-notice" class="board-notice" aria-live="polite"></div>
<div id="board" class="board-wrap" data-board hx-get="/bench/hand/board" hx-trigger="board-changed from:body" hx-target="this" hx-swap="outerHTML">
  <p class="board-totals"><span>Sales:</span> <span data-total-count>{{ total.n }} records</span>
    <span>Total <strong data-total-amount>{{ total.amount }}</strong></span> <span>Weighted forecast <strong data-total-forecast>{{ total.forecast }}</strong></span></p>
  <div class="board" role="list">
  {% for col in columns %}<section class="board-column c-gray" role="listitem" aria-labelledby="col-{{ col.key }}" data-column="{{ col.key }}">
    <header class="board-column-head"><h2 id="col-{{ col.key }}"><span class="swatch c-gray"></span>{{ col.name }} <span class="board-count" data-count>{{ col.n }}</span></h2>
      <p class="board-sums"><span data-amount>{{ col.amount }}</span> <span class="muted" title="Weighted forecast">≈ <span data-forecast>{{ col.forecast }}</span> ({{ col.probability }} %)</span></p></header>
    <ul class="board-cards" data-stage="{{ col.key }}" aria-label="{{ col.name }}">{% for c in col.cards %}{{ card(c) }}{% endfor %}{{ more(col.key, col.after) }}</ul>
  </section>{% endfor %}
  </div></div>
<dialog class="dialog" id="board-dialog" aria-labelledby="board-dialog-title"><button type="button" class="dialog-close" data-dialog-close aria-label="Close">×</button><div id="board-dialog-body" class="dialog-body"></div></dialog>
{% endblock %}"""  # noqa: E501 - a page, kept compact
)

HAND_MORE = HAND_CARD + """{% for c in cards %}{{ card(c) }}{% endfor %}{{ more(stage, after) }}"""

HAND_NOTICE = """<div class="notice notice-{{ category }}" role="{{ 'alert' if category == 'error' else 'status' }}">{{ message }}</div>"""  # noqa: E501


def register(app: Flask) -> None:
    """Add the hand-written board pages to ``app`` (the runtime's app, so both are timed
    through the same stack); call within an app context on the filled benchmark data."""
    table = specs.current().table("deal")
    spec = specs.current().entity("deal")
    money_field, date_field = spec.field("amount"), spec.field("close_date")
    money_type, date_type = types.get(money_field.type), types.get(date_field.type)
    stages = [(k, NAMES[k]) for k in NAMES]
    compiled = {t: app.jinja_env.from_string(t) for t in (HAND_BOARD, HAND_MORE, HAND_NOTICE)}

    def render(source: str, **context) -> str:
        current_app.update_template_context(context)  # current_user, csrf_token, nav...
        return compiled[source].render(context)

    def money(value) -> str:
        return money_type.format(money_field, Decimal(str(value or 0)).quantize(Decimal("0.01")))

    cols = [table.c[k] for k in (
        "id", "version", "title", "amount", "close_date", "next_step", "owner_id", "stage",
        "updated_at",
    )]  # fmt: skip
    mine = and_(
        table.c.owner_id == bindparam("me"),
        table.c.deleted_at.is_(None),
        table.c.pipeline == "sales",
    )
    newest = (table.c.updated_at.desc(), table.c.id.desc())

    def first(stage: str):
        return select(*cols).where(mine, table.c.stage == stage).order_by(*newest).limit(CARDS + 1)

    # Built once, as a developer would keep a hot query: only the parameters change.
    sums_query = (
        select(
            table.c.stage,
            func.count(),
            func.sum(table.c.amount),
            func.sum(table.c.amount * case(PROBABILITY, value=table.c.stage, else_=0)),
        )
        .where(mine)
        .group_by(table.c.stage)
    )
    first_cards = union_all(*(first(k).subquery().select() for k in NAMES))
    after_at, after_id = bindparam("at"), bindparam("last")
    next_cards = (
        select(*cols)
        .where(
            mine,
            table.c.stage == bindparam("stage"),
            or_(
                table.c.updated_at < after_at,
                and_(table.c.updated_at == after_at, table.c.id < after_id),
            ),
        )
        .order_by(*newest)
        .limit(CARDS + 1)
    )  # fmt: skip

    def cards_of(rows) -> tuple[list[dict], str | None]:
        """Cards of CARDS + 1 rows (owner names and stale marks looked up once)."""
        after = None
        if len(rows) > CARDS:
            rows = rows[:CARDS]
            after = encode_cursor((rows[-1]["updated_at"], rows[-1]["id"]))
        return rows, after

    def present(rows) -> dict[int, dict]:
        if not rows:
            return {}
        ids = [r["id"] for r in rows]
        owners = dict(
            db.session.execute(
                select(User.id, User.display_name).where(User.id.in_({r["owner_id"] for r in rows}))
            ).all()
        )
        entered = dict(
            db.session.execute(
                select(StageMove.record_id, func.max(StageMove.at))
                .where(StageMove.entity_key == "deal", StageMove.record_id.in_(ids))
                .group_by(StageMove.record_id)
            ).all()
        )
        now = utcnow()
        out = {}
        for r in rows:
            at, limit = entered.get(r["id"]), STALE.get(r["stage"])
            days = (now - at).days if at is not None else 0
            values = []
            if r["amount"] is not None:
                values.append(("Amount", money(r["amount"])))
            if r["close_date"] is not None:
                values.append(("Close date", date_type.format(date_field, r["close_date"])))
            if r["next_step"]:
                values.append(("Next step", r["next_step"]))
            out[r["id"]] = {
                **r, "fields": values, "owner": owners.get(r["owner_id"]),
                "stale": days if limit is not None and days > limit else None,
            }  # fmt: skip
        return out

    @app.get("/bench/hand/board")
    @login_required
    def hand_board():
        me = current_user.id
        sums = {row[0]: row for row in db.session.execute(sums_query, {"me": me})}
        by_stage: dict[str, list] = {}
        for row in db.session.execute(first_cards, {"me": me}).mappings():
            by_stage.setdefault(row["stage"], []).append(row)
        columns, total = [], {"n": 0, "amount": Decimal(0), "forecast": Decimal(0)}
        for key, name in NAMES.items():
            _stage, n, amount, weighted = sums.get(key) or (key, 0, 0, 0)
            rows, after = cards_of(by_stage.get(key, []))
            weighted = Decimal(str(weighted or 0)) / 100
            columns.append({
                "key": key, "name": name, "n": n, "probability": PROBABILITY[key],
                "amount": money(amount), "forecast": money(weighted), "rows": rows, "after": after,
            })  # fmt: skip
            total["n"] += n
            total["amount"] += Decimal(str(amount or 0))
            total["forecast"] += weighted
        shown = present([r for c in columns for r in c["rows"]])
        for c in columns:
            c["cards"] = [shown[r["id"]] for r in c["rows"]]
        total["amount"], total["forecast"] = money(total["amount"]), money(total["forecast"])
        return render(HAND_BOARD, columns=columns, total=total, stages=stages)

    @app.get("/bench/hand/board/<stage>/more")
    @login_required
    def hand_more(stage: str):
        keys = decode_cursor(request.args.get("after", ""))
        if stage not in NAMES or keys is None:
            abort(400)
        at = keys[0] if isinstance(keys[0], datetime) else datetime.fromisoformat(str(keys[0]))
        last = int(keys[1])
        params = {"me": current_user.id, "stage": stage, "at": at, "last": last}
        rows, after = cards_of(db.session.execute(next_cards, params).mappings().all())
        shown = present(rows)
        body = render(HAND_MORE, cards=[shown[r["id"]] for r in rows], stage=stage,
                      after=after, stages=stages)  # fmt: skip
        response = make_response(body)
        response.vary.add("HX-Request")
        return response

    @app.post("/bench/hand/move/<int:record_id>")
    @login_required
    def hand_move(record_id: int):
        """Move my deal to ``stage`` if it is still at ``version`` in ``from``: one update
        with the version check, a record-history row and a stage-history row."""
        to, was = request.form.get("stage", ""), request.form.get("from", "")
        version = int(request.form.get("version") or 0)
        if to not in NAMES or was not in NAMES or to in ("proposal", "negotiation", "won", "lost"):
            abort(400)  # the gated stages are not written by hand here
        me, now = current_user.id, utcnow()
        moved = db.session.execute(
            update(table)
            .where(table.c.id == record_id, table.c.owner_id == me, table.c.version == version,
                   table.c.stage == was, table.c.deleted_at.is_(None))
            .values(stage=to, probability=PROBABILITY[to], version=version + 1,
                    updated_at=now, updated_by=me)
            .returning(table.c.title)
        ).first()  # fmt: skip
        if moved is None:
            db.session.rollback()
            notice = render(HAND_NOTICE, category="error", message="Someone else changed it.")
            return make_response(notice, 409)
        entered = db.session.scalar(
            select(StageMove.at)
            .where(StageMove.entity_key == "deal", StageMove.record_id == record_id)
            .order_by(StageMove.at.desc(), StageMove.id.desc())
            .limit(1)
        )
        db.session.add(
            RecordHistory(
                entity_key="deal", record_id=record_id, user_id=me, action="update",
                changes={"stage": [was, to], "probability": [PROBABILITY[was], PROBABILITY[to]]},
                version=version + 1,
            )
        )  # fmt: skip
        db.session.add(
            StageMove(
                entity_key="deal", record_id=record_id, pipeline="sales", from_stage=was,
                to_stage=to, at=now, user_id=me,
                seconds_in_from=int((now - entered).total_seconds()) if entered else None,
            )
        )  # fmt: skip
        db.session.commit()
        message = f"“{moved.title}” moved to {NAMES[to]}."
        response = make_response(render(HAND_NOTICE, category="success", message=message))
        response.headers["HX-Retarget"] = "#board-notice"
        response.headers["HX-Reswap"] = "innerHTML"
        response.headers["HX-Trigger"] = json.dumps({"board-changed": True, "board-moved": True})
        response.vary.add("HX-Request")
        return response

"""The runtime's list and record pages against hand-written pages (issue 5), and the list
under a "department and below" read scope (issue 6).

An entity of 15 fields and BENCH_ROWS (default 1,000,000) records, owners spread over 200
users in a tree of 200 departments; two entities (contacts, deals) with a lookup to it,
BENCH_ROWS / 10 records each. Through the full Flask stack (routing, sign-in, access
policy, template), each request in its own app context and database session:

- the list page: filter owner = me, sort on an indexed field (``updated_at``), 50 rows;
- the record page with its two related lists (10 rows each). The runtime loads related
  lists lazily (htmx), so one sample is the page plus its two fragments, three requests;
- beside each, a hand-written Flask + SQLAlchemy page for the same query, same columns and
  the same page around it (base layout, header, search, bulk bar, pick boxes, sort links,
  "show more"), registered on the same app and timed in the same run, interleaved. A bare
  hand-written table (no layout, no bulk bar, unformatted values) is timed too, as a floor;
- the list of every record (no filter) for a user whose role reads all records, and for a
  division manager whose role reads "department and below" (34 of the 200 departments),
  with a hand-written page for the scoped one;

median and p99 over BENCH_REQUESTS (default 500) requests each, the ratio runtime /
hand-written, the number of queries per page (none may be an exact count), and the
worker's memory (max RSS).

BENCH_KEEP_DB=1 keeps the filled databases (bench/data/, PostgreSQL ``atelier_bench_list_*``)
for the next run. BENCH_ONLY=lists,records,record_parts,scoped,lazy picks the groups of pages timed.
BENCH_SQL=<page> prints the statements one visit of a page runs.
BENCH_PROFILE=list|record|list_subtree prints a pyinstrument profile of
that page (``pip install pyinstrument`` in the venv) instead of timing.
"""

from __future__ import annotations

import os
import random
import re
import resource
import time
from datetime import datetime, timedelta

from flask import abort, current_app, request
from flask_login import current_user, login_required
from sqlalchemy import event, func, or_, select, text

from bench.common import app_on, database, run_on_databases
from bench.schema_bench import FIELDS, ROWS, _fill
from crm.access import policy
from crm.access.models import User
from crm.auth import service as auth
from crm.extensions import db
from crm.metadata import specs, types
from crm.records.models import RecordHistory, RecordNote
from crm.schema import service
from tests.support.client import CRMClient

N = int(os.environ.get("BENCH_REQUESTS", "500"))
RELATED_ROWS = max(100, ROWS // 10)
OWNER = 7  # the signed-in user, owner of ~1/200 of the accounts
DEPARTMENTS = 200
MANAGER = 1000  # a division manager: reads the records of the division's departments

# The hand-written list page: what a developer would write for this one entity, by hand,
# with the same layout, tools and bulk bar as the runtime page (URLs written out, no
# metadata, no saved views).
HAND_LIST = """{% extends "base.html" %}
{% block title %}Accounts{% endblock %}
{% block main_class %}page page-wide{% endblock %}
{% block content %}
<div class="page-head">
  <div><p class="eyebrow">All accounts</p><h1><span class="swatch lg c-gray"></span> Accounts</h1></div>
  <div class="head-actions">
    <details class="popover save-view"><summary class="btn">Save view</summary><div class="popover-panel card">
      <form class="save-view-form" method="post" action="/r/account/views"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
      {% for name_, value_ in request.args.items(multi=True) if name_.startswith('f.') or name_ == 'sort' %}<input type="hidden" name="{{ name_ }}" value="{{ value_ }}">{% endfor %}
      <div class="field"><label for="save-view-name">Name of the view</label><input type="text" id="save-view-name" name="name" maxlength="100" required></div>
      <button class="btn btn-primary btn-sm">Save</button></form></div></details>
    <a class="btn" href="/r/account/bin">Recycle bin</a>
    <a class="btn" href="/r/account/new?quick=1" hx-get="/r/account/new?quick=1" hx-target="#quick-dialog-body" hx-swap="innerHTML">Quick create</a>
    <a class="btn btn-primary" href="/r/account/new">New Account</a>
  </div>
</div>
<form class="list-tools" method="get" action="/bench/hand/list" hx-get="/bench/hand/list" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-trigger="input changed delay:300ms from:#q, submit" hx-push-url="true">
  <input type="search" id="q" name="q" value="{{ request.args.get('q', '') }}" placeholder="Search Accounts…" aria-label="Search" autocomplete="off">
  {% for name, value in request.args.items(multi=True) if name.startswith('f.') or name == 'sort' %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
</form>
<form id="bulk-form" class="bulk-bar" method="post" action="/r/account/bulk/edit" hx-target="#bulk-result" hx-swap="innerHTML" data-bulk-form>
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
  <p class="bulk-count" aria-live="polite"><strong data-bulk-count>0</strong> selected</p>
  <div class="bulk-group"><select id="bulk-field" name="field" aria-label="Field to change" hx-get="/r/account/bulk/input" hx-target="#bulk-value" hx-trigger="change">
    <option value="">Change a field…</option>{% for key, label in fields %}<option value="{{ key }}">{{ label }}</option>{% endfor %}</select>
    <span id="bulk-value" class="bulk-value"><input type="text" name="value" aria-label="New value"></span>
    <button class="btn btn-sm" hx-post="/r/account/bulk/edit">Apply</button></div>
  <div class="bulk-group"><select name="owner_id" aria-label="New owner"><option value="">Assign to…</option>
    {% for uid, uname in owners %}<option value="{{ uid }}">{{ uname }}</option>{% endfor %}</select>
    <button class="btn btn-sm" formaction="/r/account/bulk/assign" hx-post="/r/account/bulk/assign">Assign</button></div>
  <button class="btn btn-sm btn-danger-outline" formaction="/r/account/bulk/delete" hx-post="/r/account/bulk/delete" hx-confirm="Move the selected records to the recycle bin?">Delete</button>
</form>
<div id="bulk-result" class="bulk-result" aria-live="polite"></div>
<div id="results">
  {% if mine %}<p class="filters-line muted small">Showing records where <span class="chip">Owner is me</span> <a href="/bench/hand/list">Clear</a></p>{% endif %}
  <div class="card flush table-wrap"><table class="table records-table">
    <thead><tr><th class="pick"><input type="checkbox" class="pick-all" aria-label="Select all on this page"></th>
      {% for key, label in columns %}<th><a class="sort-link" href="/bench/hand/list?sort={{ key }}">{{ label }}</a></th>{% endfor %}</tr></thead>
    <tbody id="rows">
    {% for r in rows %}
      <tr><td class="pick"><input type="checkbox" name="pick" value="{{ r.id }}:{{ r.version }}" form="bulk-form" aria-label="Select {{ r.name or ('Account #' ~ r.id) }}"></td>
        <td><a class="strong" href="/r/account/{{ r.id }}">{{ r.name or ('Account #' ~ r.id) }}</a></td>
        <td>{{ r.email or '' }}</td><td>{{ r.phone or '' }}</td><td>{{ r.city or '' }}</td><td>{{ r.country or '' }}</td>
        <td>{{ money(r.revenue) }}</td></tr>
    {% endfor %}
    {% if after %}<tr class="more-row" id="more-row"><td colspan="7"><a class="btn btn-sm" href="/bench/hand/list?after={{ after }}" hx-get="/bench/hand/list?after={{ after }}" hx-target="#more-row" hx-swap="outerHTML">Show more</a></td></tr>{% endif %}
    </tbody></table></div>
  <div class="list-foot"><p class="muted small list-count" hx-get="/r/account/count" hx-trigger="load">Counting…</p>
    <p class="small export-links">Export this list: <a href="/r/account/export.csv">CSV</a> · <a href="/r/account/export.xlsx">Excel</a></p></div>
</div>
<dialog class="dialog" id="quick-dialog"><button type="button" class="dialog-close" data-dialog-close aria-label="Close">×</button><div id="quick-dialog-body" class="dialog-body"></div></dialog>
{% endblock %}"""  # noqa: E501 - a page, kept compact

# The same rows as a bare table: no layout, no formatting, no pick boxes (a floor).
HAND_BARE = """<!doctype html><html><head><title>Accounts</title>
<link rel="stylesheet" href="/static/css/app.css"></head><body><main class="page">
<table class="table"><thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr><td><a href="/r/account/{{ r.id }}">{{ r.name }}</a></td><td>{{ r.email or "" }}</td>
<td>{{ r.phone or "" }}</td><td>{{ r.city or "" }}</td><td>{{ r.country or "" }}</td><td>{{ r.revenue }}</td></tr>{% endfor %}
</tbody></table></main></body></html>"""  # noqa: E501 - a page, kept compact

# The hand-written record page: the account's fields in one section (each with its inline
# edit link), the two related lists as htmx fragments and the timeline, like the runtime.
HAND_RECORD = """{% extends "base.html" %}
{% block title %}{{ row.name }}{% endblock %}
{% block main_class %}page page-wide{% endblock %}
{% block content %}
<div class="page-head record-head"><div id="record-title"><p class="eyebrow"><a href="/r/account/">Accounts</a></p><h1>{{ row.name }}</h1>
  <p class="muted small">Owner {{ owner }} · changed {{ row.updated_at|datetime_short }} UTC · version {{ row.version }}</p></div>
  <div class="head-actions"><a class="btn btn-primary" href="/r/account/{{ row.id }}/edit">Edit</a>
  <form method="post" action="/r/account/{{ row.id }}/delete" class="inline"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button class="btn btn-danger-outline">Delete</button></form></div></div>
<div class="record-grid"><div class="record-main">
  <section class="card record-section"><h2>Details</h2><div class="cols cols-2"><dl class="col values">
  {% for key, label, value in values %}<dt>{{ label }}</dt><dd><div class="inline-value" id="fv-{{ key }}"><span class="inline-text">{{ value }}</span>
    <a class="inline-edit" href="/r/account/{{ row.id }}/edit" hx-get="/r/account/{{ row.id }}/field/{{ key }}/edit" hx-target="closest .inline-value" hx-swap="outerHTML" aria-label="Edit {{ label }}" title="Edit {{ label }}">Edit</a></div></dd>{% endfor %}
  </dl></div></section>
  {% for key, label in related %}
  <section class="card record-section related" id="related-{{ key }}" hx-get="/bench/hand/record/{{ row.id }}/{{ key }}" hx-trigger="revealed" hx-swap="innerHTML">
    <h2>{{ label }} <span class="muted small">by Account</span></h2><p class="muted small">Loading…</p></section>
  {% endfor %}
</div><aside class="record-side"><section class="card timeline" id="timeline"><h2>Timeline</h2>
  <form method="post" action="/r/account/{{ row.id }}/notes" class="note-form" hx-post="/r/account/{{ row.id }}/notes" hx-target="#timeline" hx-swap="outerHTML">
    <input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><textarea id="note-body" name="body" rows="3" placeholder="Add a note…" aria-label="Add a note"></textarea><button class="btn btn-sm">Add note</button></form>
  <ol class="events">{% for e in timeline %}<li class="event">{{ e.kind }} <time class="muted small">{{ e.at|datetime_short }}</time></li>{% else %}<li class="muted small">Nothing yet.</li>{% endfor %}</ol>
</section></aside></div>
{% endblock %}"""  # noqa: E501 - a page, kept compact

HAND_RELATED = """<h2>{{ label }} <span class="muted small">by Account</span> <a class="btn btn-sm" href="/r/{{ key }}/new">New</a></h2>
{% if rows %}<table class="table compact"><thead><tr><th>Name</th></tr></thead><tbody>
{% for r in rows %}<tr><td><a href="/r/{{ key }}/{{ r.id }}">{{ r.name or (key ~ ' #' ~ r.id) }}</a></td></tr>{% endfor %}
</tbody></table>{% if more %}<p><a href="/r/{{ key }}/?f.account.eq={{ account }}">See all</a></p>{% endif %}
{% else %}<p class="muted small">None yet.</p>{% endif %}"""  # noqa: E501 - a fragment, kept compact


def _prepared(kind: str) -> bool:
    """True when a kept database already holds this benchmark's data."""
    if "account" not in specs.current().entities:
        return False
    table = specs.current().table("account")
    return (db.session.scalar(select(func.max(table.c.id))) or 0) >= ROWS


def _fill_related(kind: str, key: str, name: str, accounts: int) -> None:
    """RELATED_ROWS records of ``key`` pointing at random accounts."""
    rnd = random.Random(key)
    base = datetime(2021, 1, 1)
    table = specs.current().table(key)
    batch = 20_000
    for start in range(0, RELATED_ROWS, batch):
        db.session.execute(
            table.insert(),
            [
                {
                    "owner_id": rnd.randint(1, 200),
                    "created_at": base + timedelta(minutes=i),
                    "updated_at": base + timedelta(minutes=i),
                    name: f"{key.title()} {i}",
                    "account": rnd.randint(1, accounts),
                }
                for i in range(start, min(RELATED_ROWS, start + batch))
            ],
        )
    db.session.commit()


def _grant_everything() -> None:
    """One role, "Sales", giving every data action on every record of every entity to the
    200 users (the unscoped figure); none of them is an administrator."""
    from crm.access import models

    role = models.Role(name="Sales")
    db.session.add(role)
    db.session.flush()
    db.session.add_all(
        models.RoleGrant(role_id=role.id, entity_key="*", action=a, level=policy.ALL)
        for a in policy.ACTIONS
    )
    db.session.execute(
        models.user_roles.insert(), [{"user_id": i, "role_id": role.id} for i in range(1, 201)]
    )
    db.session.commit()


def _tree_of_departments() -> None:
    """DEPARTMENTS departments (a root, 6 divisions, 5 regions each, teams under them),
    user i in department i, and MANAGER: a user of the first division whose only role reads
    "department and below" (the division, its regions and their teams). Kept databases
    filled before this scenario existed get it here."""
    from crm.access import models

    if db.session.scalar(select(func.count()).select_from(models.Department)):
        return
    parents: list[models.Department | None] = [None]
    made: list[models.Department] = []
    level_sizes = [1, 6, 30]
    for size in [*level_sizes, DEPARTMENTS - sum(level_sizes)]:
        level = []
        for i in range(size):
            parent = parents[i % len(parents)]
            d = models.Department(
                name=f"Department {len(made) + 1}", parent_id=parent and parent.id
            )
            db.session.add(d)
            db.session.flush()  # the id is part of the path
            d.path = f"{parent.path if parent else '/'}{d.id}/"
            level.append(d)
            made.append(d)
        parents = level
    for i, d in enumerate(made, start=1):
        db.session.execute(
            models.User.__table__.update().where(models.User.id == i).values(department_id=d.id)
        )
    role = models.Role(name="Division manager")
    db.session.add(role)
    db.session.flush()
    db.session.add_all(
        models.RoleGrant(role_id=role.id, entity_key="*", action=a, level=policy.SUBTREE)
        for a in policy.ACTIONS
    )
    manager = models.User(
        id=MANAGER, email="manager@example.com", display_name="Division Manager",
        password_hash="x", department_id=made[1].id,
    )  # fmt: skip
    db.session.add(manager)
    db.session.flush()
    db.session.execute(models.user_roles.insert(), [{"user_id": MANAGER, "role_id": role.id}])
    db.session.commit()


def _setup(kind: str, out: dict) -> int:
    """Users, the entities and their records (unless a kept database holds them); returns
    the id of the account whose record page is measured."""
    if _prepared(kind):
        out["load_seconds"] = "reused"
    else:
        start = time.perf_counter()
        for i in range(1, 201):  # owners of the generated rows (ids 1..200)
            db.session.add(
                User(email=f"u{i}@example.com", display_name=f"User {i}", password_hash="x")
            )
        db.session.commit()
        _grant_everything()
        service.create_entity("company", "Company")
        service.create_entity("account", "Account", fields=FIELDS, name_field="name")
        lookup = {"key": "account", "type": "lookup", "label": "Account"}
        lookup["options"] = {"target": "account"}
        for key, name in (("contact", "full_name"), ("deal", "title")):
            fields = [{"key": name, "type": "text", "label": "Name"}, lookup]
            service.create_entity(key, key.title(), fields=fields, name_field=name)
        _fill(kind, ROWS)
        for key, name in (("contact", "full_name"), ("deal", "title")):
            _fill_related(kind, key, name, ROWS)
        out["load_seconds"] = time.perf_counter() - start
    _tree_of_departments()
    table = specs.current().table("account")
    some = db.session.scalar(
        select(table.c.id).where(table.c.owner_id == OWNER).order_by(table.c.id).limit(1)
    )
    for key, name in (("contact", "full_name"), ("deal", "title")):
        t = specs.current().table(key)
        present = db.session.scalar(select(func.count()).select_from(t).where(t.c.account == some))
        if present < 25:  # at least a full related list of 10 and a "See all"
            now = datetime(2026, 1, 1)
            db.session.execute(
                t.insert(),
                [
                    {"account": some, name: f"{key} {i}", "owner_id": OWNER,
                     "created_at": now, "updated_at": now}
                    for i in range(25)
                ],
            )  # fmt: skip
    db.session.commit()
    # Planner statistics, as PostgreSQL's autovacuum keeps them. SQLite has no automatic
    # ANALYZE: without sqlite_stat1 its planner answers the "department and below" list by
    # reading and sorting every record of the subtree (MULTI-INDEX OR) instead of walking
    # the updated_at index, ~100 times slower at 100,000 records.
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return some


def _register_hand_pages(app, account_id: int) -> None:
    """The hand-written pages, on the same app as the runtime."""
    table = specs.current().table("account")
    money_field = specs.current().entity("account").field("revenue")
    money_type = types.get("currency")
    columns = [
        ("name", "Name"), ("email", "E-mail"), ("phone", "Phone"), ("city", "City"),
        ("country", "Country"), ("revenue", "Revenue"),
    ]  # fmt: skip
    # Compiled once, as Flask's loader would (render_template_string compiles each time).
    bare = app.jinja_env.from_string(HAND_BARE)
    compiled = {t: app.jinja_env.from_string(t) for t in (HAND_LIST, HAND_RECORD, HAND_RELATED)}

    def render_template_string(source: str, **context) -> str:
        current_app.update_template_context(context)  # current_user, csrf_token, nav...
        return compiled[source].render(context)

    def money(value):
        return money_type.format(money_field, value) if value is not None else ""

    def list_rows(condition=None):
        if condition is None:
            condition = table.c.owner_id == current_user.id
        return db.session.execute(
            select(table.c.id, table.c.version, table.c.name, table.c.email, table.c.phone,
                   table.c.city, table.c.country, table.c.revenue, table.c.updated_at)
            .where(condition, table.c.deleted_at.is_(None))
            .order_by(table.c.updated_at.desc(), table.c.id.desc())
            .limit(51)
        ).mappings().all()  # fmt: skip

    def subtree_condition():
        """Records owned by me or anyone in my department and below, or shared with me or
        with a department above mine: the manager's read scope, written by hand."""
        from crm.access.models import Department, RecordShare

        path = db.session.scalar(
            select(Department.path).where(Department.id == current_user.department_id)
        )
        members = (
            select(User.id)
            .join(Department, User.department_id == Department.id)
            .where(Department.path.startswith(path))
        )
        chain = [int(p) for p in path.strip("/").split("/")]
        shared = select(RecordShare.record_id).where(
            RecordShare.entity_key == "account",
            or_(RecordShare.user_id == current_user.id, RecordShare.department_id.in_(chain)),
        )
        return or_(
            table.c.owner_id == current_user.id,
            table.c.owner_id.in_(members.scalar_subquery()),
            table.c.id.in_(shared.scalar_subquery()),
        )

    @app.get("/bench/hand/list")
    @app.get("/bench/hand/list/subtree", endpoint="hand_list_subtree")
    @login_required
    def hand_list():
        subtree = request.path.endswith("/subtree")
        rows = list_rows(subtree_condition() if subtree else None)
        after = f"{rows[49]['updated_at'].isoformat()},{rows[49]['id']}" if len(rows) > 50 else None
        owners = db.session.execute(
            select(User.id, User.display_name)
            .where(User.is_active)
            .order_by(func.lower(User.display_name), User.id)
        ).all()
        return render_template_string(
            HAND_LIST, rows=rows[:50], columns=columns, money=money, after=after,
            owners=owners, fields=[(f["key"], f["label"]) for f in FIELDS], mine=not subtree,
        )  # fmt: skip

    @app.get("/bench/hand/bare")
    @login_required
    def hand_bare():
        return bare.render(rows=list_rows()[:50], columns=[c[1] for c in columns])

    related = {"contact": ("full_name", "Contacts"), "deal": ("title", "Deals")}

    @app.get("/bench/hand/record/<int:record_id>")
    @login_required
    def hand_record(record_id: int):
        row = db.session.execute(
            select(table).where(table.c.id == record_id, table.c.deleted_at.is_(None))
        ).mappings().one()  # fmt: skip
        owner = db.session.scalar(select(User.display_name).where(User.id == row["owner_id"]))
        history = db.session.execute(
            select(RecordHistory.action.label("kind"), RecordHistory.at)
            .where(RecordHistory.entity_key == "account", RecordHistory.record_id == record_id)
            .order_by(RecordHistory.at.desc())
            .limit(50)
        ).all()
        notes = db.session.execute(
            select(RecordNote.body.label("kind"), RecordNote.at)
            .where(RecordNote.entity_key == "account", RecordNote.record_id == record_id,
                   RecordNote.deleted_at.is_(None))
            .order_by(RecordNote.at.desc())
            .limit(50)
        ).all()  # fmt: skip
        values = [(f["key"], f["label"], row[f["key"]]) for f in FIELDS]
        values = [(k, label, "—" if v is None else v) for k, label, v in values]
        values[5] = ("revenue", "Revenue", money(row["revenue"]))
        if row["employees"] is not None:
            values[6] = ("employees", "Employees", f"{row['employees']:,}")
        if row["active"] is not None:
            values[9] = ("active", "Active", "Yes" if row["active"] else "No")
        return render_template_string(
            HAND_RECORD, row=row, owner=owner, values=values, timeline=[*history, *notes],
            related=[(k, label) for k, (_, label) in related.items()],
        )  # fmt: skip

    @app.get("/bench/hand/record/<int:record_id>/<key>")
    @login_required
    def hand_related(record_id: int, key: str):
        name, label = related[key]
        # Like the runtime: no list under an account the user cannot read (or in the bin),
        # checked within the list's query, and on its own only when that finds nothing.
        parent = select(table.c.id).where(table.c.id == record_id, table.c.deleted_at.is_(None))
        t = specs.current().table(key)
        rows = db.session.execute(
            select(t.c.id, t.c[name].label("name"))
            .where(t.c.account == record_id, t.c.deleted_at.is_(None), parent.exists())
            .order_by(t.c.updated_at.desc(), t.c.id.desc())
            .limit(11)
        ).mappings().all()  # fmt: skip
        if not rows and db.session.scalar(parent) is None:
            abort(404)
        return render_template_string(
            HAND_RELATED, rows=rows[:10], more=len(rows) > 10, key=key, label=label,
            account=record_id,
        )  # fmt: skip

    assert account_id  # the pages are generic over the id; kept for symmetry


def _stats(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": round(samples[len(samples) // 2], 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


# A page to time: the client it is asked with (who is signed in) and its requests (a record
# page is the page and its two related lists, three requests per sample).
Page = tuple[CRMClient, list[tuple[str, dict]]]


def _sample(page: Page) -> float:
    client, urls = page
    start = time.perf_counter()
    for url, headers in urls:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
    return (time.perf_counter() - start) * 1000


def _compare(pages: dict[str, Page], n: int) -> dict:
    """Time each page ``n`` times, interleaved in rounds so all see the same machine."""
    samples: dict[str, list[float]] = {k: [] for k in pages}
    rounds = 10
    for _ in range(rounds):
        for name, page in pages.items():
            samples[name].extend(_sample(page) for _ in range(n // rounds))
    return {k: _stats(v) for k, v in samples.items()}


def _ratio(out: dict, runtime: str, hand: str) -> float:
    return round(out[runtime]["median_ms"] / out[hand]["median_ms"], 3)


def _profile(page: Page, n: int) -> None:
    from pyinstrument import Profiler  # a benchmark-only tool, not a project dependency

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(n):
        _sample(page)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def _client(app, user_id: int) -> CRMClient:
    """A client signed in as ``user_id`` through a real session row."""
    client = app.test_client()
    session = auth.open_session(db.session.get(User, user_id), ip=None, user_agent="bench")
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = session.token
    return client


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS, "related_rows": RELATED_ROWS, "departments": DEPARTMENTS}
    with database(kind, keep_as=f"list_{ROWS}") as url, app_on(url) as app:
        # Each request in its own context (app context, g, session), as in a real worker.
        app.test_client_class = CRMClient
        some = _setup(kind, out)
        _register_hand_pages(app, some)
        rep, manager = _client(app, OWNER), _client(app, MANAGER)
        hx = {"HX-Request": "true"}
        mine = "/r/account/?f.owner_id.is_me=&sort=-updated_at&size=50"
        everything = "/r/account/?sort=-updated_at&size=50"
        lists = {
            "list_runtime": (rep, [(mine, {})]),
            "list_hand_written": (rep, [("/bench/hand/list", {})]),
            "list_hand_bare": (rep, [("/bench/hand/bare", {})]),
        }
        scoped = {
            "list_unscoped_runtime": (rep, [(everything, {})]),
            "list_subtree_runtime": (manager, [(everything, {})]),
            "list_subtree_hand_written": (manager, [("/bench/hand/list/subtree", {})]),
        }
        records = {
            "record_runtime": (rep, [
                (f"/r/account/{some}", {}),
                (f"/r/account/{some}/related/contact/account", hx),
                (f"/r/account/{some}/related/deal/account", hx),
            ]),
            "record_hand_written": (rep, [
                (f"/bench/hand/record/{some}", {}),
                (f"/bench/hand/record/{some}/contact", hx),
                (f"/bench/hand/record/{some}/deal", hx),
            ]),
        }  # fmt: skip
        # Fragments the runtime pages load as soon as they are shown (hx-trigger="load"): the
        # list's capped count and the record's sharing panel (the hand pages have neither).
        lazy = {
            "list_count_fragment_runtime": (rep, [(mine.replace("/?", "/count?"), hx)]),
            "sharing_panel_fragment_runtime": (
                rep, [(f"/r/account/{some}/sharing?seen=1", hx)]
            ),
        }  # fmt: skip
        _check({**lists, **scoped, **records}, out)
        profile = os.environ.get("BENCH_PROFILE")
        if profile:
            chosen = {**lists, **scoped, **records}
            _profile(chosen.get(profile) or chosen[f"{profile}_runtime"], N)
            db.session.rollback()
            return out
        only = os.environ.get("BENCH_ONLY", "lists,records,scoped,lazy").split(",")
        if "lists" in only:
            out.update(_compare(lists, N))
            out["ratio_list"] = _ratio(out, "list_runtime", "list_hand_written")
            out["ratio_list_to_bare"] = _ratio(out, "list_runtime", "list_hand_bare")
        if "records" in only:
            out.update(_compare(records, N))
            out["ratio_record"] = _ratio(out, "record_runtime", "record_hand_written")
        if "record_parts" in only:  # each request of the record page on its own
            parts = {
                f"{name}_{i}": (client, [url])
                for name, (client, urls) in records.items()
                for i, url in enumerate(urls)
            }
            out.update(_compare(parts, N))
        if "scoped" in only:
            out.update(_compare(scoped, N))
            out["ratio_list_subtree"] = _ratio(
                out, "list_subtree_runtime", "list_subtree_hand_written"
            )
            out["ratio_subtree_to_unscoped"] = _ratio(
                out, "list_subtree_runtime", "list_unscoped_runtime"
            )
        if "lazy" in only:
            out.update(_compare(lazy, N))
        # The process served every request above: its resident memory now, and its peak
        # (which includes filling the database when it was not kept from a previous run).
        out["worker_rss_mb"] = _rss_mb()
        out["worker_max_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
        db.session.rollback()
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _picked(body: str) -> list[str]:
    return re.findall(r'name="pick" value="([0-9]+):', body)


def _check(pages: dict[str, Page], out: dict) -> None:
    """Warm every page (compiled templates, caches), count its queries (none may be an
    exact count), and check the runtime and hand-written pages show the same records."""
    bodies, statements = {}, []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for name, (client, urls) in pages.items():
            bodies[name] = [client.get(u, headers=h).data.decode() for u, h in urls]
            statements.clear()
            bodies[name] = [client.get(u, headers=h).data.decode() for u, h in urls]
            out[f"{name}_queries"] = len([s for s in statements if s != "BEGIN"])
            if os.environ.get("BENCH_SQL") in (name, name.removesuffix("_runtime")):
                print("\n".join(f"-- {' '.join(s.split())[:300]}" for s in statements))
            counts = [s for s in statements if "count(" in s.lower()]
            assert not counts, (name, counts)  # no exact count(*) on a page view
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    for runtime, hand in (
        ("list_runtime", "list_hand_written"),
        ("list_subtree_runtime", "list_subtree_hand_written"),
    ):
        shown = _picked(bodies[runtime][0])
        assert len(shown) == 50 and shown == _picked(bodies[hand][0]), (runtime, hand)
    unscoped = _picked(bodies["list_unscoped_runtime"][0])
    assert unscoped != _picked(bodies["list_subtree_runtime"][0])  # the scope does narrow
    for i in (1, 2):
        runtime = bodies["record_runtime"][i].count("<tr>") - 1  # the header row
        hand = bodies["record_hand_written"][i].count("<tr>") - 1
        assert runtime == hand == 10, (i, runtime, hand)
    out["list_rows_shown"] = 50
    out["related_rows_shown"] = 10


def main() -> None:
    run_on_databases("list", run, ROWS)

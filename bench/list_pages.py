"""The hand-written pages the list benchmark and the load test time beside the runtime's.

What a developer would write for this one entity, by hand: the same layout, tools and bulk
bar as the runtime page (URLs written out, no metadata, no saved views), and queries
written for this data (the scoped lists read each branch of their scope in index order and
merge them; the search uses the same index as the runtime). ``register`` adds them to an
app; they need the benchmark's data (``bench.list_data``).
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_login import current_user, login_required
from sqlalchemy import and_, bindparam, func, literal_column, or_, select, text, union_all

from bench.schema_bench import FIELDS
from crm.access.models import Department, RecordShare, User
from crm.extensions import db
from crm.metadata import specs, types
from crm.records.models import RecordHistory, RecordNote

COUNT_CAP = 10_000  # the hand-written count stops where the runtime's does

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


def register(app: Flask) -> None:
    """Add the hand-written pages to ``app`` (the runtime's app, so both are timed through
    the same stack); call within an app context on the filled benchmark database."""
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
        return list_page(rows, mine=not subtree)

    def merged_statement():
        """The first 51 accounts, newest first, owned by ``:owners`` or shared with ``:me``
        or a department of ``:chain`` (mine or one above it): the owners' branch as the
        "owner = me" page reads it, the shares' branch by id (a few rows), each cut at 51,
        then merged, so the OR of the two never reaches the planner. Built once (as a
        developer would keep a hot query): only the parameters change."""
        me, owners = bindparam("me"), bindparam("owners", expanding=True)
        chain = bindparam("chain", expanding=True)
        cols = [table.c[k] for k in (
            "id", "version", "name", "email", "phone", "city", "country", "revenue", "updated_at",
        )]  # fmt: skip

        def first(condition):
            return (
                select(*cols)
                .where(condition, table.c.deleted_at.is_(None))
                .order_by(table.c.updated_at.desc(), table.c.id.desc())
                .limit(51)
                .subquery()
            )

        shared = select(RecordShare.record_id).where(
            RecordShare.entity_key == "account",
            or_(RecordShare.user_id == me, RecordShare.department_id.in_(chain)),
        )
        not_theirs = or_(table.c.owner_id.not_in(owners), table.c.owner_id.is_(None))
        branches = [
            first(table.c.owner_id.in_(owners)),
            first(and_(table.c.id.in_(shared), not_theirs)),
        ]
        merged = union_all(*(select(b) for b in branches)).subquery()
        return select(merged).order_by(merged.c.updated_at.desc(), merged.c.id.desc()).limit(51)

    merged = merged_statement()

    def merged_rows(owners: list[int]):
        path = db.session.scalar(
            select(Department.path).where(Department.id == current_user.department_id)
        )
        chain = [int(p) for p in (path or "").strip("/").split("/") if p]
        params = {"me": current_user.id, "owners": owners, "chain": chain}
        return db.session.execute(merged, params).mappings().all()

    def search_condition(q: str):
        """The accounts whose searchable fields contain ``q``, through the same index as
        the runtime's quick search (SQLite: the FTS5 trigram table; PostgreSQL: ILIKE,
        which the pg_trgm GIN indexes answer)."""
        if db.engine.dialect.name == "sqlite":
            if len(q) < 3:
                abort(400)  # no trigram for it: the hand-written page does not search
            phrase = '"' + q.replace('"', '""') + '"'  # one FTS5 phrase, no FTS syntax
            matching = (
                select(literal_column("rowid"))
                .select_from(text("x_account__fts"))
                .where(text("x_account__fts MATCH :phrase").bindparams(phrase=phrase))
            )
            return table.c.id.in_(matching)
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return or_(
            *(table.c[k].ilike(pattern, escape="\\") for k in ("name", "email", "city", "code"))
        )

    def owners_for_bulk_bar():
        return db.session.execute(
            select(User.id, User.display_name)
            .where(User.is_active)
            .order_by(func.lower(User.display_name), User.id)
        ).all()

    def list_page(rows, *, mine: bool = False):
        after = f"{rows[49]['updated_at'].isoformat()},{rows[49]['id']}" if len(rows) > 50 else None
        return render_template_string(
            HAND_LIST, rows=rows[:50], columns=columns, money=money, after=after,
            owners=owners_for_bulk_bar(), fields=[(f["key"], f["label"]) for f in FIELDS],
            mine=mine,
        )  # fmt: skip

    @app.get("/bench/hand/list/own")
    @login_required
    def hand_list_own():
        """An "own records" rep's list: mine, and those shared with me."""
        return list_page(merged_rows([current_user.id]))

    @app.get("/bench/hand/list/dept")
    @login_required
    def hand_list_dept():
        """An "own department" rep's list: my department's, and those shared with me."""
        members = db.session.scalars(
            select(User.id).where(User.department_id == current_user.department_id)
        ).all()
        return list_page(merged_rows(sorted({current_user.id, *members})))

    @app.get("/bench/hand/search")
    @login_required
    def hand_search():
        """Every account (the user reads all) matching the quick search ``q``."""
        q = request.args.get("q", "").strip()
        return list_page(list_rows(search_condition(q)))

    @app.get("/bench/hand/search/count")
    @login_required
    def hand_search_count():
        """How many accounts match ``q``, counting no further than COUNT_CAP."""
        q = request.args.get("q", "").strip()
        capped = (
            select(table.c.id)
            .where(search_condition(q), table.c.deleted_at.is_(None))
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        n = db.session.scalar(select(func.count()).select_from(capped))
        if n > COUNT_CAP:
            return f"{COUNT_CAP:,}+ accounts"
        return f"{n:,} {'account' if n == 1 else 'accounts'}"

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

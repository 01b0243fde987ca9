"""Field rights on every channel.

Hidden fields: every field hidden from a role carries a unique marker in every record
(``declare.secret_value``, ``amount_value``, ``name_value``), and the one of the actor's own
record is changed once more by an administrator so the timeline holds it too. Then the
actor goes through every channel -- list page and its fragments, record page, related
lists, lookup autocomplete, search, CSV and XLSX exports (every XML part of the workbook),
the timeline, inline-edit fragments, bulk forms, the conflict pages, forms -- and the
scanner of ``matrix.Run`` fails on any marker of a hidden field (or of a record out of
reach). Filtering or sorting by a hidden field is a 400 that says why; searching by its
value finds nothing; its label is not shown.

Read-only (and hidden) fields: crafted requests that try to set them -- edit form, inline
edit, bulk edit, create and quick create -- change nothing: the stored row is
byte-for-byte the same.
"""

from __future__ import annotations

import re

import pytest

from crm.access.models import User
from crm.extensions import db
from crm.metadata import list_views
from crm.records import service as records
from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import LOOKUP_RE, PICK_RE, Run
from tests.authz.world import Record, World

FIELDS = ("name", "secret", "amount", "locked", "memo")


def _rights(actor: str, access: str) -> list[tuple[str, str]]:
    """(entity, field) pairs with ``access`` for ``actor``, on entities they may read."""
    out = []
    for entity in d.ENTITY_ORDER:
        if not oracle.may_entity(actor, entity, "read"):
            continue
        for key in d.fields_of(entity):
            if oracle.field_access(actor, entity, key) == access:
                out.append((entity, key))
    return out


HIDING = [a for a in d.ACTORS if _rights(a, d.HIDDEN)]
READ_ONLY = [a for a in d.ACTORS if _rights(a, d.READ) or _rights(a, d.HIDDEN)]


def test_the_declared_roles_hide_and_lock_fields_for_every_kind_of_field():
    hidden = {k for a in d.ACTORS for _, k in _rights(a, d.HIDDEN)}
    locked = {k for a in d.ACTORS for _, k in _rights(a, d.READ)}
    assert {"name", "secret", "amount", "account"} <= hidden  # naming, text, number, lookup
    assert {"locked", "amount"} <= locked
    # Widest grant among the roles that may read the entity: the combination of rep (which
    # hides account.secret) and clerk (which does not) sees it; clerk hides ticket.name and
    # rep cannot read tickets at all, so it stays hidden.
    assert oracle.field_access("combo", "account", "secret") == d.EDIT
    assert oracle.field_access("combo", "ticket", "name") == d.HIDDEN


def _marker(record: Record, key: str, world: World) -> str:
    """The stored value of a marked field, as a string to look for / filter by."""
    if key == "secret":
        return world.snapshot_value(record.entity, record.id, "secret")
    if key == "amount":
        return str(world.snapshot_value(record.entity, record.id, "amount"))
    if key == "name":
        return world.snapshot_value(record.entity, record.id, "name")
    return str(world.snapshot_value(record.entity, record.id, key))


def _change_hidden_values(world: World, actor: str) -> None:
    """An administrator changes every hidden field of the actor's own records once more, so
    their timelines hold the old and the new marker."""
    admin = db.session.get(User, world.user_id("admin"))
    for entity, key in _rights(actor, d.HIDDEN):
        r = world.record(entity, ("own", actor))
        current = world.row_dict(entity, r.id)
        if key == "secret":
            new = current["secret"][:-1] + "y"
        elif key == "amount":
            new = str(int(current["amount"]) + 50)
        elif key == "name":
            new = current["name"] + "v2"
        else:  # a lookup: point it at the parent of another slot
            target = d.ENTITIES[entity]["lookups"][key]
            new = str(world.record(target, ("user", "boss")).id)
        records.update_record(
            admin, world.spec(entity), r.id, {key: new}, expected_version=current["version"]
        )


def _without_echo(body: str, value: str) -> str:
    """``body`` without the places that echo what the user sent (the search box, the
    hidden inputs and links that carry the query on): those are their own words."""
    return re.sub(rf'(="|q=|value=){re.escape(value)}', r"\1", body)


@pytest.mark.parametrize("actor", HIDING)
def test_hidden_fields_appear_in_no_channel(world, actor):
    run = Run(world, actor)
    problems: list[str] = []
    _change_hidden_values(world, actor)
    try:
        for entity in d.ENTITY_ORDER:
            if oracle.may_entity(actor, entity, "read"):
                _channels(run, entity, problems)
    finally:
        world.reset()
    problems += run.leaks
    assert not problems, f"{actor}:\n  " + "\n  ".join(problems)


def _channels(run: Run, entity: str, problems: list[str]) -> None:
    a, w = run.actor, run.world
    hidden = [k for e, k in _rights(a, d.HIDDEN) if e == entity]
    mine = w.record(entity, ("own", a))
    labels = [d.field_label(entity, k) for k in hidden]

    def label_free(where: str, body: str) -> None:
        for label in labels:
            for pattern in (
                rf">{re.escape(label)}( [↑↓])?</a></th>",
                rf"<dt>{re.escape(label)}</dt>",
                rf"<label[^>]*>{re.escape(label)}<",
            ):
                if re.search(pattern, body):
                    problems.append(f"{where}: shows the label of hidden field “{label}”")

    # lists: page, fragments, count, search by a visible value, exports
    page = run.get(f"/r/{entity}/")
    label_free(f"/r/{entity}/", page.data.decode())
    bulk_select = re.search(r'<select id="bulk-field".*?</select>', page.data.decode(), re.S)
    for key in hidden:
        if bulk_select and f'<option value="{key}">' in bulk_select.group(0):
            problems.append(f"/r/{entity}/: the bulk bar offers hidden field {key}")
    run.get(f"/r/{entity}/?size=5", hx=True, headers={"HX-Target": "rows"})
    run.get(f"/r/{entity}/?q={mine.ref}", hx=True)
    run.get(f"/r/{entity}/count", hx=True)
    if oracle.may_entity(a, entity, "export"):
        for fmt in ("csv", "xlsx"):
            r = run.get(f"/r/{entity}/export.{fmt}")
            if fmt == "csv":
                header = r.data.decode("utf-8-sig").splitlines()[0]
                for label in labels:
                    if label in header:
                        problems.append(f"export.csv: header names hidden field “{label}”")
    # the record page (timeline included), its fragments and panels
    record_url = f"/r/{entity}/{mine.id}"
    label_free(record_url, run.get(record_url).data.decode())
    run.get(f"{record_url}/sharing", hx=True)
    run.post(f"{record_url}/notes", {"body": "a note"}, hx=True)
    for source, key in _related_to(entity):
        if oracle.may_entity(a, source, "read") and oracle.can_see_field(a, source, key):
            run.get(f"{record_url}/related/{source}/{key}", hx=True)
    for key, target in d.ENTITIES[entity]["lookups"].items():  # lists this record is in
        parent = w.record(target, ("own", a))
        if oracle.may(a, "read", parent.rec) and oracle.can_see_field(a, entity, key):
            run.get(f"/r/{target}/{parent.id}/related/{entity}/{key}", hx=True)
    for key in ("memo", *hidden):
        r = run.get(f"{record_url}/field/{key}", hx=True)
        if key in hidden and r.status_code == 200:
            problems.append(f"{record_url}/field/{key}: a hidden field's value is served (200)")
        r = run.get(f"{record_url}/field/{key}/edit", hx=True)
        if key in hidden and r.status_code == 200:
            problems.append(f"{record_url}/field/{key}/edit: a hidden field's input is served")
    # lookups: by a visible value (the label falls back to "Entity #id" when the naming
    # field is hidden), and by a hidden one (nothing found)
    r = run.get(f"/r/{entity}/lookup?q={mine.ref}&field=x", hx=True)
    if "name" in hidden:
        singular = d.LABELS[entity][0]
        if f'data-label="{singular} #{mine.id}"' not in r.data.decode():
            problems.append(f"lookup {entity}: the label does not fall back to “{singular} #id”")
    # forms: edit, create, conflicts, inline save
    may_edit = oracle.may(a, "edit", mine.rec)
    if may_edit:
        edit = run.get(f"{record_url}/edit")
        label_free(f"{record_url}/edit", edit.data.decode())
        for key in hidden:
            if f'name="{key}"' in edit.data.decode():
                problems.append(f"{record_url}/edit: has an input for hidden field {key}")
        # a version older than the stored one: the conflict pages
        r = run.post(f"{record_url}/edit", {"memo": "mine", "version": "0"})
        if r.status_code != 409:
            problems.append(f"{record_url}/edit with a stale version: HTTP {r.status_code}")
        r = run.post(f"{record_url}/field/memo", {"memo": "mine", "version": "0"}, hx=True)
        if r.status_code != 409:
            problems.append(f"inline save with a stale version: HTTP {r.status_code}")
        version = w.row_dict(entity, mine.id)["version"]
        run.post(f"{record_url}/field/memo", {"memo": "inline", "version": str(version)}, hx=True)
        w.reset()
        _change_hidden_values(w, a)
    if oracle.may_entity(a, entity, "create"):
        new = run.get(f"/r/{entity}/new")
        label_free(f"/r/{entity}/new", new.data.decode())
        run.get(f"/r/{entity}/new?quick=1", hx=True)
    for key in hidden:
        value = _marker(mine, key, w)
        if key in ("secret", "name"):  # the changed value is what is stored now
            value = w.row_dict(entity, mine.id)[key]
        builder = run.get(f"/r/{entity}/filters/new", hx=True).data.decode()
        if f'<option value="{key}"' in builder:
            problems.append(f"the filter builder offers hidden field {key}")
        for path in (
            f"filter-input?field={key}",
            f"filters/apply?field={key}&op={_eq(entity, key)}&value={value}",
        ):
            r = run.client.get(f"/r/{entity}/{path}", headers={"HX-Request": "true"})
            run.requests += 1
            run.scan(_without_echo(r.data.decode(), value), f"{path}")
            if r.status_code != 400 or "no field" not in r.data.decode():
                problems.append(f"/r/{entity}/{path}: HTTP {r.status_code}, not a 400 that says so")
        r = run.get(f"/r/{entity}/bulk/input?field={key}", hx=True)
        if f'name="{key}"' in r.data.decode():
            problems.append(f"bulk/input?field={key}: an input for a hidden field")
        # filter and sort: refused with a message, on every channel that takes them
        for path in ("/", "/count", "/export.csv"):
            if path.startswith("/export") and not oracle.may_entity(a, entity, "export"):
                continue
            op = _eq(entity, key)
            r = run.get(f"/r/{entity}{path}?f.{key}.{op}={value}", hx=path == "/count")
            if r.status_code != 400 or "no field" not in r.data.decode():
                problems.append(
                    f"{path} filtered by hidden {key}: HTTP {r.status_code}, not a 400 that says so"
                )
            r = run.get(f"/r/{entity}{path}?sort={key}", hx=path == "/count")
            if path != "/count" and (
                r.status_code != 400 or "cannot be sorted" not in r.data.decode()
            ):
                problems.append(
                    f"{path} sorted by hidden {key}: HTTP {r.status_code}, not a 400 that says so"
                )
        filtering = {f"f.{key}.{_eq(entity, key)}": value, "name": "sneaky"}
        r = run.client.hx_post(f"/r/{entity}/views", filtering)
        run.scan(_without_echo(r.data.decode(), value), f"save view filtering by {key}")
        if r.status_code != 400:
            problems.append(f"save view filtering by hidden {key}: HTTP {r.status_code}")
        w.reset()
        _change_hidden_values(w, a)
        # search by the hidden value: nothing (the search box's echo of it is ignored)
        r = run.client.get(f"/r/{entity}/?q={value}", headers={"HX-Request": "true"})
        run.requests += 1
        run.scan(_without_echo(r.data.decode(), value), f"search {entity} by {key}")
        searchable = key in ("name", "secret")  # numbers and lookups are not text
        if searchable and PICK_RE.search(r.data.decode()):
            problems.append(f"search by the value of hidden {key} finds records")
        r = run.client.get(f"/r/{entity}/lookup?q={value}", headers={"HX-Request": "true"})
        if searchable and LOOKUP_RE.search(r.data.decode()):
            problems.append(f"lookup by the value of hidden {key} finds records")


def _eq(entity: str, key: str) -> str:
    """The "is equal to" operator of the field's type."""
    return "equals" if key in ("name", "ref", "secret", "locked", "memo") else "eq"


def _related_to(entity: str) -> list[tuple[str, str]]:
    return [
        (source, key)
        for source in d.ENTITY_ORDER
        for key, target in d.ENTITIES[source]["lookups"].items()
        if target == entity
    ]


@pytest.mark.parametrize("actor", HIDING)
def test_a_shared_view_filtering_by_a_hidden_field_neither_fails_nor_filters(world, actor):
    """An administrator's shared view filters by a field some role may not see: for that
    role the list, its count and its export must neither fail nor filter by the field
    (which would tell them its value) -- a 400 that says why is fine too."""
    run = Run(world, actor)
    problems: list[str] = []
    for entity, key in _rights(actor, d.HIDDEN):
        mine = world.record(entity, ("own", actor))
        _shared_view_filtering(run, entity, key, _marker(mine, key, world), problems)
    problems += run.leaks
    assert not problems, f"{actor}:\n  " + "\n  ".join(problems)


def _shared_view_filtering(run: Run, entity: str, key: str, value: str, problems) -> None:
    w, a = run.world, run.actor
    view = _save_view(
        entity,
        {
            "name": f"By {key} {a}",
            "columns": ["ref"],
            "sort": [["ref", "asc"]],
            "filters": [{"field": key, "op": _eq(entity, key), "value": value}],
        },
        actor_id=None,
    )
    try:
        for path, hx in (("/", False), ("/count", True), ("/export.csv", False)):
            if path.startswith("/export") and not oracle.may_entity(a, entity, "export"):
                continue
            try:
                r = run.get(f"/r/{entity}{path}?view={view.id}", hx=hx)
            except Exception as exc:  # noqa: BLE001 - a streamed export fails mid-way
                problems.append(
                    f"GET /r/{entity}{path}?view=<shared view filtering by hidden {key}>: "
                    f"raises {exc!r} while streaming"
                )
                continue
            if r.status_code >= 500:
                problems.append(
                    f"GET /r/{entity}{path}?view=<shared view filtering by hidden {key}>: "
                    f"HTTP {r.status_code}"
                )
            elif r.status_code == 200 and path == "/":
                shown = {int(i) for i, _ in PICK_RE.findall(r.data.decode())}
                readable = {x.id for x in w.live(entity) if oracle.may(a, "read", x.rec)}
                if shown != readable:
                    problems.append(
                        f"/r/{entity}/?view=<filtering by hidden {key}>: the list is filtered "
                        f"by the hidden field ({len(shown)} of {len(readable)} records shown)"
                    )
    finally:
        list_views.delete_shared_view(view.id, actor_id=None)


# --- read-only (and hidden) fields cannot be set by any request ----------------------------


def refusal_status(actor: str, what: str, record, entity: str) -> int:
    """The one right answer to setting a field ``actor`` may not set (nothing is written):

    - the edit form of a record they may edit saves the rest and ignores the field (303);
      a record out of their edit scope does not exist for them (404);
    - inline save refuses the field itself (403);
    - bulk edit: without the bulk edit right, 403; with it, the field is not one the form
      offers them, so the form is bad (400)."""
    if what == "edit form":
        return 303 if oracle.may(actor, "edit", record.rec) else 404
    if what == "inline save":
        return 403
    return 400 if oracle.may_entity(actor, entity, "bulk_edit") else 403


@pytest.mark.parametrize("actor", READ_ONLY)
def test_read_only_and_hidden_fields_cannot_be_set(world, actor):
    run = Run(world, actor)
    problems: list[str] = []
    pairs = _rights(actor, d.READ) + _rights(actor, d.HIDDEN)
    for entity, key in pairs:
        r = world.record(entity, ("own", actor))
        lookups = d.ENTITIES[entity]["lookups"]
        if key in lookups:
            value = str(world.record(lookups[key], ("user", "boss")).id)
        else:
            value = "12345" if key == "amount" else "CRAFTED"
        version = str(world.snapshot_value(entity, r.id, "version"))
        base = f"/r/{entity}/{r.id}"
        pick = {"pick": f"{r.id}:{version}", "field": key, "value": value, "value_for": key}
        attempts = [
            ("edit form", f"{base}/edit", {key: value, "version": version}, False),
            ("inline save", f"{base}/field/{key}", {key: value, "version": version}, True),
            ("bulk edit", f"/r/{entity}/bulk/edit", {**pick, key: value}, True),
        ]
        for what, url, data, hx in attempts:
            before = world.row(entity, r.id)
            response = run.post(url, data, hx=hx)
            after = world.row(entity, r.id)
            kind = oracle.field_access(actor, entity, key)
            if after != before:
                problems.append(
                    f"{what} changed {kind} field {entity}.{key} (HTTP {response.status_code}): "
                    f"{world.diff()}"
                )
                world.reset()
            elif response.status_code != refusal_status(actor, what, r, entity):
                problems.append(
                    f"{what} of {kind} {entity}.{key}: HTTP {response.status_code}, expected "
                    f"{refusal_status(actor, what, r, entity)}"
                )
        if oracle.may_entity(actor, entity, "create"):
            for what, hx, extra in (("create", False, {}), ("quick create", True, {"quick": "1"})):
                top = max(world.snapshot_ids(entity))
                run.post(f"/r/{entity}/new", {"name": f"by {actor}", key: value, **extra}, hx=hx)
                made = world.rows_after(entity, top)
                if any(str(m[key]) == value for m in made):
                    problems.append(f"{what} set read-only {entity}.{key}")
                world.reset()
        r2 = run.post(f"/r/{entity}/validate/{key}?record={r.id}", {key: value}, hx=True)
        if oracle.may(actor, "edit", r.rec) and "cannot be set" not in r2.data.decode():
            problems.append(f"validate/{key}: does not say the field cannot be set")
        # An entity they may not read is refused (403, crm.records.views.entity_for); a
        # record out of their edit scope does not exist for them (404, records.get).
        refused = 404 if oracle.may_entity(actor, entity, "read") else 403
        if not oracle.may(actor, "edit", r.rec) and r2.status_code != refused:
            problems.append(
                f"validate/{key} of a record they cannot edit: HTTP {r2.status_code}, "
                f"expected {refused}"
            )
    problems += run.leaks
    assert not problems, f"{actor}:\n  " + "\n  ".join(problems)


def _save_view(*args, **kw):
    from crm.errors import ValidationFailed

    try:
        return list_views.save_shared_view(*args, **kw)
    except ValidationFailed as exc:
        raise AssertionError(exc.errors) from None

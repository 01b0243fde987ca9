"""Fields keyed like the names SQLAlchemy generates for its own bind parameters
(``version_2``, ``version_1``, ``id_1``, ``param_1``, ``owner_id_1``, ``updated_at_1``)
work like any other field (issue 12, leftover of item 2): every statement that writes
records names its values explicitly, so no column key can take a generated name's place.

Each write path is run through the screens a person uses (create and edit forms, inline
edit, bulk edit, assign and delete), the import path, a field added with a default to an
entity that has records, the recycle bin, and the list's filters, sort, search and export.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from crm.metadata import specs
from crm.metadata.keys import key_problems, suggest_key
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import (
    field,
    lookup,
    make_entity,
    make_record,
    make_user,
    picklist,
    stored,
    text,
)
from tests.records.test_merge import form_of

CLASHING = ["version_2", "version_1", "id_1", "param_1", "owner_id_1", "updated_at_1"]
FIRST = {
    "version_2": "alpha",
    "version_1": "5",
    "id_1": "A-1",
    "param_1": "1.50",
    "owner_id_1": "gold",
    "updated_at_1": "2026-01-05",
}
SECOND = {
    "version_2": "beta",
    "version_1": "7",
    "id_1": "B-2",
    "param_1": "2.25",
    "owner_id_1": "silver",
    "updated_at_1": "2026-02-01",
}
STORED = {  # SECOND as the database holds it
    "version_2": "beta",
    "version_1": 7,
    "id_1": "B-2",
    "param_1": Decimal("2.25"),
    "owner_id_1": "silver",
    "updated_at_1": date(2026, 2, 1),
}


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


@pytest.fixture
def model(app, admin):
    make_entity(
        "gadget",
        "Gadget",
        [
            text("name", "Name", required=True, searchable=True),
            text("version_2", "Version", searchable=True),
            field("version_1", "integer", "Release"),
            text("id_1", "Code", unique=True),
            field("param_1", "decimal", "Weight"),
            picklist("owner_id_1", "Tier", [("gold", "Gold"), ("silver", "Silver")]),
            field("updated_at_1", "date", "Checked on"),
        ],
        name_field="name",
    )
    # A lookup keyed like a generated name, pointing at gadgets: deleting a gadget clears it.
    make_entity(
        "part",
        "Part",
        [text("title", "Title", required=True), lookup("id_1", "Gadget", "gadget")],
        name_field="title",
    )
    return specs.current()


def gadget(staff, name: str = "Gizmo", **values: str) -> int:
    return make_record(staff, "gadget", {"name": name, **FIRST, **values})


def assert_second(row) -> None:
    assert {k: row[k] for k in CLASHING} == STORED


@pytest.mark.parametrize("key", CLASHING)
def test_such_keys_are_valid_keys(key):
    assert key_problems(key) == []


def test_the_designer_may_suggest_them():
    assert suggest_key("Version") == "version_2"
    assert suggest_key("Param 1") == "param_1"


def test_the_fields_are_created_through_the_designer(admin_client, model):
    for key, label in [("id_2", "Id"), ("updated_at_2", "Updated at")]:
        r = admin_client.submit(
            "/admin/entities/gadget/fields/new?type=text",
            {"type": "text", "label": label, "key": key},
        )
        assert r.status_code == 303, r.data.decode()[:2000]
        assert specs.current().entity("gadget").field(key).label == label


def test_create_through_the_form(login_as, staff, model):
    r = login_as(staff).submit("/r/gadget/new", {"name": "Gizmo", **SECOND})
    assert r.status_code == 303, r.data.decode()[:2000]
    row = stored("gadget", int(r.headers["Location"].rsplit("/", 1)[1]))
    assert_second(row)
    assert row["version"] == 1


def test_edit_through_the_form(login_as, staff, model):
    g = gadget(staff)
    c = login_as(staff)
    form = form_of(c.get(f"/r/gadget/{g}/edit").data)
    form.update({k: [v] for k, v in SECOND.items()})
    r = c.post(f"/r/gadget/{g}/edit", data=form)
    assert r.status_code == 303, r.data.decode()[:2000]
    row = stored("gadget", g)
    assert_second(row)
    assert row["version"] == 2


def test_edit_merged_onto_someone_elses_save(login_as, staff, admin, model):
    g = gadget(staff)
    c = login_as(staff)
    form = form_of(c.get(f"/r/gadget/{g}/edit").data)
    records.update_record(
        admin, specs.current().entity("gadget"), g, {"name": "Theirs"}, expected_version=1
    )
    form.update({k: [v] for k, v in SECOND.items()})
    r = c.post(f"/r/gadget/{g}/edit", data=form)
    assert r.status_code == 303, r.data.decode()[:2000]
    row = stored("gadget", g)
    assert_second(row)
    assert (row["name"], row["version"]) == ("Theirs", 3)


@pytest.mark.parametrize("key", CLASHING)
def test_inline_edit(login_as, staff, model, key):
    g = gadget(staff)
    c = login_as(staff)
    assert c.hx_get(f"/r/gadget/{g}/field/{key}/edit").status_code == 200
    r = c.hx_post(f"/r/gadget/{g}/field/{key}", {"version": "1", key: SECOND[key]})
    assert r.status_code == 200, r.data.decode()[:2000]
    row = stored("gadget", g)
    assert row[key] == STORED[key] and row["version"] == 2


@pytest.mark.parametrize("key", CLASHING)
def test_bulk_edit(login_as, staff, model, key):
    ids = [gadget(staff, n, id_1=f"C-{n}") for n in ("A", "B")]
    value = "B-2" if key != "id_1" else ""  # a unique field is set on several records empty
    r = login_as(staff).hx_post(
        "/r/gadget/bulk/edit",
        {"pick": [f"{i}:1" for i in ids], "field": key, "value_for": key,
         key: value if key == "id_1" else SECOND[key]},
    )  # fmt: skip
    assert r.status_code == 200, r.data.decode()[:2000]
    assert "2 Gadgets updated." in r.data.decode()
    for i in ids:
        row = stored("gadget", i)
        assert row[key] == (None if key == "id_1" else STORED[key]) and row["version"] == 2


def test_bulk_assign_and_delete_and_the_bin(app, login_as, staff, admin, model):
    rep = make_user("rep@example.com", display_name="Rita Rep")
    ids = [gadget(staff, n, id_1=f"C-{n}") for n in ("A", "B")]
    part = make_record(staff, "part", {"title": "Cog", "id_1": str(ids[0])})
    c = login_as(admin)
    r = c.hx_post(
        "/r/gadget/bulk/assign", {"pick": [f"{i}:1" for i in ids], "owner_id": str(rep.id)}
    )
    assert r.status_code == 200 and "2 Gadgets" in r.data.decode()
    assert [stored("gadget", i)["owner_id"] for i in ids] == [rep.id, rep.id]
    r = c.hx_post("/r/gadget/bulk/delete", {"pick": [f"{ids[0]}:2"]})
    assert r.status_code == 200, r.data.decode()[:2000]
    assert stored("gadget", ids[0])["deleted_at"] is not None
    assert stored("part", part)["id_1"] is None  # the lookup keyed id_1 was cleared
    assert c.submit(f"/r/gadget/{ids[0]}/restore").status_code == 303
    assert stored("gadget", ids[0])["deleted_at"] is None
    assert c.submit(f"/r/gadget/{ids[1]}/delete").status_code == 303
    assert stored("gadget", ids[1])["deleted_at"] is not None


def test_import_and_a_new_field_with_a_default(staff, model):
    spec = specs.current().entity("gadget")
    ids = records.bulk_create(
        staff, spec, [{"name": f"G{i}", **SECOND, "id_1": f"I-{i}"} for i in range(3)]
    )
    assert stored("gadget", ids[0])["version_2"] == "beta"
    schema.add_field("gadget", "param_2", "integer", "Spare", default="4")
    assert [stored("gadget", i)["param_2"] for i in ids] == [4, 4, 4]


def test_sharing_and_owner_change_on_the_record_page(login_as, staff, admin, model):
    g = gadget(staff)
    rep = make_user("rep@example.com", display_name="Rita Rep")
    r = login_as(staff).submit(f"/r/gadget/{g}/owner", {"owner_id": str(rep.id), "version": "1"})
    assert r.status_code in (200, 303), r.data.decode()[:2000]
    row = stored("gadget", g)
    assert row["owner_id"] == rep.id and row["version"] == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("f.version_2.equals=beta", ["Two"]),
        ("f.version_1.gte=6", ["Two"]),
        ("f.id_1.starts_with=A", ["One"]),
        ("f.param_1.lt=2", ["One"]),
        ("f.owner_id_1.in=silver", ["Two"]),
        ("f.updated_at_1.after=2026-01-10", ["Two"]),
        ("sort=-version_2", ["Two", "One"]),
        ("sort=version_1", ["One", "Two"]),
        ("sort=-id_1", ["Two", "One"]),
        ("sort=-param_1", ["Two", "One"]),
        ("sort=-owner_id_1", ["Two", "One"]),
        ("sort=updated_at_1", ["One", "Two"]),
        ("q=beta", ["Two"]),
    ],
)
def test_filter_sort_search_and_export(login_as, staff, model, query, expected):
    gadget(staff, "One")
    gadget(staff, "Two", **SECOND)
    c = login_as(staff)
    page = c.get(f"/r/gadget/?{query}")
    assert page.status_code == 200, page.data.decode()[:2000]
    body = page.data.decode()
    shown = [n for n in ("One", "Two") if f">{n}<" in body]
    assert sorted(shown) == sorted(expected)
    r = c.get(f"/r/gadget/export.csv?{query}")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    names = [row[rows[0].index("Name")] for row in rows[1:]]
    assert names == expected
    if len(expected) == 2:  # page by page in that order: the cursor holds the clashing key
        first = c.get(f"/r/gadget/?{query}&size=1").data.decode()
        assert f">{expected[0]}<" in first and "after=" in first
        after = first.split("after=")[1].split('"')[0].split("&")[0]
        more = c.hx_get(f"/r/gadget/?{query}&size=1&after={after}")
        assert more.status_code == 200 and f">{expected[1]}<" in more.data.decode()

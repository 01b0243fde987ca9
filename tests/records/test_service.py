"""The record service: parsing, rules, optimistic locking, recycle bin, history, notes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.records.query import table_of
from crm.records.service import RecordConflict
from crm.schema import service as schema


@pytest.fixture
def crm_model(app):
    schema.create_entity(
        "account",
        "Account",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "number", "type": "auto_number", "label": "No.",
             "options": {"prefix": "ACC-", "padding": 4}},
            {"key": "vat", "type": "text", "label": "VAT", "unique": True},
            {"key": "revenue", "type": "currency", "label": "Revenue"},
            {"key": "since", "type": "date", "label": "Since"},
            {"key": "email", "type": "email", "label": "E-mail"},
            {"key": "website", "type": "url", "label": "Website"},
            {"key": "employees", "type": "integer", "label": "Employees"},
            {"key": "tier", "type": "picklist", "label": "Tier", "default": "std",
             "choices": [{"key": "std", "label": "Standard"}, {"key": "gold", "label": "Gold"}]},
        ],
    )  # fmt: skip
    for key, rule in (("contact", "clear"), ("deal", "restrict"), ("task", "cascade")):
        schema.create_entity(
            key,
            key.title(),
            fields=[
                {"key": "title", "type": "text", "label": "Title"},
                {"key": "account", "type": "lookup", "label": "Account",
                 "options": {"target": "account", "on_delete": rule}},
            ],
        )  # fmt: skip
    return specs.current()


def spec(key):
    return specs.current().entity(key)


def row(key, record_id):
    db.session.rollback()
    t = table_of(spec(key))
    return db.session.execute(select(t).where(t.c.id == record_id)).mappings().first()


def test_create_parses_assigns_owner_number_and_default(crm_model, staff):
    rid = records.create(
        staff,
        spec("account"),
        {
            "name": " 北京科技有限公司 ",
            "revenue": "1234.5",
            "since": "2024-02-29",
            "employees": "12",
        },
    )
    r = row("account", rid)
    assert r["name"] == "北京科技有限公司"
    assert r["revenue"] == Decimal("1234.50")
    assert str(r["since"]) == "2024-02-29"
    assert (r["owner_id"], r["created_by"], r["version"]) == (staff.id, staff.id, 1)
    assert r["number"] == "ACC-0001"
    assert r["tier"] == "std"
    assert (
        row("account", records.create(staff, spec("account"), {"name": "B"}))["number"]
        == "ACC-0002"
    )


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"employees": "12.5"}, "employees", "whole number"),
        ({"employees": "99999999999999999999"}, "employees", "between"),
        ({"since": "2025-02-30"}, "since", "not a date"),
        ({"email": "not-an-email"}, "email", ""),
        ({"website": "javascript:alert(1)"}, "website", ""),
        ({"name": "x" * 300}, "name", "at most 255"),
        ({"name": ""}, "name", "required"),
        ({"tier": "platinum"}, "tier", "not one of the choices"),
        ({"number": "ACC-9999"}, "number", "cannot be set"),
        ({"owner_id": 1}, "owner_id", "cannot be set"),
        ({"id": 5}, "id", "cannot be set"),
        ({"version": 9}, "version", "cannot be set"),
        ({"deleted_at": "2020-01-01"}, "deleted_at", "cannot be set"),
        ({"made_up": "x"}, "made_up", "cannot be set"),
    ],
)
def test_bad_values_are_refused_by_field_and_nothing_is_written(
    crm_model, staff, values, field, fragment
):
    with pytest.raises(ValidationFailed) as info:
        records.create(staff, spec("account"), {"name": "Acme", **values})
    assert field in info.value.errors
    assert fragment in " ".join(info.value.errors[field])
    assert db.session.scalar(select(table_of(spec("account")).c.id)) is None


def test_markup_is_stored_as_text(crm_model, staff):
    rid = records.create(staff, spec("account"), {"name": "<b>Bold</b> {{7*7}}"})
    assert row("account", rid)["name"] == "<b>Bold</b> {{7*7}}"


def test_unique_values_are_checked_among_live_records(crm_model, staff):
    first = records.create(staff, spec("account"), {"name": "A", "vat": "DE1"})
    with pytest.raises(ValidationFailed) as info:
        records.create(staff, spec("account"), {"name": "B", "vat": "DE1"})
    assert "already has this VAT" in info.value.errors["vat"][0]
    records.delete(staff, spec("account"), first)
    records.create(staff, spec("account"), {"name": "B", "vat": "DE1"})
    with pytest.raises(ValidationFailed, match="cannot be restored"):
        records.restore(staff, spec("account"), first)


def test_lookup_must_point_at_an_existing_live_record(crm_model, staff):
    acc = records.create(staff, spec("account"), {"name": "A"})
    with pytest.raises(ValidationFailed) as info:
        records.create(staff, spec("contact"), {"title": "X", "account": "999"})
    assert "Choose an existing Account" in info.value.errors["account"][0]
    cid = records.create(staff, spec("contact"), {"title": "X", "account": str(acc)})
    assert row("contact", cid)["account"] == acc


def test_optimistic_lock_keeps_the_first_save(crm_model, staff, admin):
    rid = records.create(staff, spec("account"), {"name": "Acme", "employees": "10"})
    v2 = records.update_record(admin, spec("account"), rid, {"employees": "20"}, expected_version=1)
    assert v2 == 2
    with pytest.raises(RecordConflict) as info:
        records.update_record(staff, spec("account"), rid, {"employees": "30"}, expected_version=1)
    assert info.value.current["employees"] == 20
    assert info.value.yours == {"employees": 30}
    assert row("account", rid)["employees"] == 20
    records.update_record(staff, spec("account"), rid, {"employees": "30"}, expected_version=2)
    assert row("account", rid)["employees"] == 30


def test_update_keeps_required_and_history(crm_model, staff):
    rid = records.create(staff, spec("account"), {"name": "Acme"})
    with pytest.raises(ValidationFailed):
        records.update_record(staff, spec("account"), rid, {"name": ""}, expected_version=1)
    records.update_record(
        staff, spec("account"), rid, {"name": "Acme GmbH", "tier": "gold"}, expected_version=1
    )
    entries = records.timeline(staff, spec("account"), rid)
    assert entries[0].kind == "update"
    assert set(entries[0].changes) == {("name", "Acme", "Acme GmbH"), ("tier", "std", "gold")}
    assert entries[-1].kind == "create"


def test_recycle_bin_restore_and_admin_purge(crm_model, staff, admin):
    rid = records.create(staff, spec("account"), {"name": "Acme"})
    records.delete(staff, spec("account"), rid)
    with pytest.raises(NotFound):
        records.get(staff, spec("account"), rid)
    records.restore(staff, spec("account"), rid)
    assert records.get(staff, spec("account"), rid)["name"] == "Acme"
    records.delete(staff, spec("account"), rid)
    with pytest.raises(Forbidden):
        records.purge(staff, spec("account"), rid)
    records.purge(admin, spec("account"), rid)
    assert row("account", rid) is None


def test_lookup_delete_rules(crm_model, staff):
    acc = records.create(staff, spec("account"), {"name": "Acme"})
    contact = records.create(staff, spec("contact"), {"title": "c", "account": acc})
    deal = records.create(staff, spec("deal"), {"title": "d", "account": acc})
    task = records.create(staff, spec("task"), {"title": "t", "account": acc})
    with pytest.raises(Conflict, match="still refer to this Account"):
        records.delete(staff, spec("account"), acc)
    assert row("account", acc)["deleted_at"] is None
    assert row("contact", contact)["account"] == acc  # nothing half-done
    records.delete(staff, spec("deal"), deal)
    records.delete(staff, spec("account"), acc)
    assert row("contact", contact)["account"] is None
    assert row("task", task)["deleted_at"] is not None


def test_notes_on_the_timeline(crm_model, staff):
    rid = records.create(staff, spec("account"), {"name": "Acme"})
    records.add_note(staff, spec("account"), rid, "Called <b>Ana</b> — wants a demo")
    with pytest.raises(ValidationFailed):
        records.add_note(staff, spec("account"), rid, "   ")
    entries = records.timeline(staff, spec("account"), rid)
    assert entries[0].kind == "note" and entries[0].body == "Called <b>Ana</b> — wants a demo"


def test_bulk_create_is_all_or_nothing(crm_model, staff, admin):
    acc = spec("account")
    with pytest.raises(ValidationFailed) as info:
        records.bulk_create(
            staff, acc, [{"name": "A", "vat": "X1"}, {"name": ""}, {"name": "C", "vat": "X1"}]
        )
    assert set(info.value.errors) == {"row 2: name", "row 3: vat"}
    assert db.session.scalar(select(table_of(acc).c.id)) is None
    ids = records.bulk_create(
        admin, acc, [{"name": f"Co {i}"} for i in range(1500)], owner_ids=[staff.id] * 1500
    )
    assert len(ids) == 1500
    assert row("account", ids[-1])["number"] == "ACC-1500"
    assert row("account", ids[0])["owner_id"] == staff.id


def test_bulk_create_checks_lookups_and_unique_values_of_the_whole_batch(crm_model, staff):
    acc, contact = spec("account"), spec("contact")
    live = records.create(staff, acc, {"name": "Live", "vat": "V1"})
    gone = records.create(staff, acc, {"name": "Gone"})
    records.delete(staff, acc, gone)
    rows = [
        {"title": "ok", "account": live},
        {"title": "deleted account", "account": gone},
        {"title": "no such account", "account": 999_999},
        {"title": "ok too", "account": live},
    ]
    with pytest.raises(ValidationFailed) as info:
        records.bulk_create(staff, contact, rows, typed=True)
    assert set(info.value.errors) == {"row 2: account", "row 3: account"}
    assert "Choose an existing Account" in info.value.errors["row 2: account"][0]
    with pytest.raises(ValidationFailed) as info:
        records.bulk_create(staff, acc, [{"name": "A", "vat": "V1"}, {"name": "B", "vat": "V2"}])
    assert info.value.errors == {"row 1: vat": ["Another Account already has this VAT."]}


def test_bulk_create_gives_each_row_its_own_id_history_and_number(crm_model, staff):
    acc = spec("account")
    before = records.create(staff, acc, {"name": "First"})
    names = [f"Co {i}" for i in range(2300)]
    ids = records.bulk_create(staff, acc, [{"name": n} for n in names])
    assert len(set(ids)) == 2300 and before not in ids
    for i in (0, 1, 999, 1000, 2299):
        r = row("account", ids[i])
        assert r["name"] == names[i] and r["number"] == f"ACC-{i + 2:04d}"
        assert [e.kind for e in records.timeline(staff, acc, ids[i])] == ["create"]

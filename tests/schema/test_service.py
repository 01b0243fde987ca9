"""The schema service: metadata changes become real tables and columns, safely."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.models import ConfigChange
from crm.metadata.spec import SPINE_COLUMNS
from crm.schema import service
from tests.factories import insert_rows
from tests.schema.helpers import columns, snapshot, tables, values, version

PICK = [
    {"key": "new", "label": "New", "color": "blue"},
    {"key": "won", "label": "Won 赢", "color": "green"},
    {"key": "lost", "label": "Lost", "color": "red"},
]


@pytest.fixture
def account(app):
    return service.create_entity(
        "account",
        "Account",
        "Accounts",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {
                "key": "revenue",
                "type": "currency",
                "label": "Revenue",
                "options": {"currency": "EUR"},
            },
            {"key": "stage", "type": "picklist", "label": "Stage", "choices": PICK},
        ],
        name_field="name",
    )


def test_create_entity_creates_table_with_spine_and_fields(account):
    assert "x_account" in tables()
    assert columns("x_account") == set(SPINE_COLUMNS) | {"name", "revenue", "stage"}
    compiled = specs.current()
    assert compiled.entity("account").name_field == "name"
    assert [f.key for f in compiled.entity("account").active_fields] == ["name", "revenue", "stage"]


def test_every_change_bumps_the_version_once(account):
    before = version()
    service.add_field("account", "website", "url", "Website")
    assert version() == before + 1


def test_add_field_adds_a_column_and_keeps_data(account):
    insert_rows("account", {"name": "Acme"}, {"name": "北京科技有限公司"})
    service.add_field("account", "phone", "phone", "Phone")
    assert "phone" in columns("x_account")
    assert values("account", "name") == ["Acme", "北京科技有限公司"]
    assert values("account", "phone") == [None, None]


def test_new_required_field_with_default_fills_existing_rows(account):
    insert_rows("account", {"name": "Acme"})
    service.add_field("account", "tier", "text", "Tier", required=True, default="standard")
    assert values("account", "tier") == ["standard"]


def test_new_required_field_without_default_is_refused_on_a_table_with_rows(account):
    insert_rows("account", {"name": "Acme"}, {"name": "Globex"})
    before = snapshot()
    with pytest.raises(ValidationFailed) as info:
        service.add_field("account", "tier", "text", "Tier", required=True)
    assert "2 existing records would have no value" in str(info.value.errors)
    assert snapshot() == before


def test_label_help_and_picklist_changes_touch_no_table(account):
    schema_before = snapshot()[0]
    service.update_entity("account", label_singular="Compte", label_plural="Comptes")
    service.update_field(
        "account",
        "stage",
        label="Étape",
        help_text="Where the deal is",
        choices=[*PICK, {"key": "paused", "label": "Paused ⏸", "color": "gray"}],
    )
    assert snapshot()[0] == schema_before
    spec = specs.current().entity("account")
    assert spec.label_plural == "Comptes"
    assert [c.key for c in spec.field("stage").choices] == ["new", "won", "lost", "paused"]


def test_validation_reports_every_error_at_once(app):
    with pytest.raises(ValidationFailed) as info:
        service.create_entity(
            "account",
            "",
            fields=[
                {"key": "Name", "type": "text", "label": "Name"},
                {"key": "select", "type": "text", "label": "x"},
                {"key": "amount", "type": "nonsense", "label": "Amount"},
                {"key": "ok", "type": "text", "label": ""},
            ],
        )
    errors = info.value.errors
    text = str(errors)
    assert "Enter a singular label." in text
    assert "must be lowercase" in text
    assert "reserved word" in text
    assert "Unknown field type" in text
    assert "Enter a field label." in text
    assert "x_account" not in tables()


def test_duplicate_keys_are_refused(account):
    with pytest.raises(ValidationFailed, match="Nothing was changed"):
        service.create_entity("account", "Account again")
    with pytest.raises(ValidationFailed) as info:
        service.add_field("account", "name", "text", "Name again")
    assert "already used" in str(info.value.errors)


def test_archive_hides_keeps_values_and_restore_brings_them_back(account):
    insert_rows("account", {"name": "Acme", "revenue": 1200})
    service.archive_field("account", "revenue")
    spec = specs.current().entity("account")
    assert spec.field("revenue") is None
    assert "revenue" in columns("x_account")
    service.restore_field("account", "revenue")
    assert specs.current().entity("account").field("revenue") is not None
    assert [float(v) for v in values("account", "revenue")] == [1200.0]


def test_purge_needs_archive_and_the_typed_key(account):
    insert_rows("account", {"name": "Acme", "revenue": 5})
    with pytest.raises(ValidationFailed, match="Nothing was changed") as info:
        service.purge_field("account", "revenue", confirm_key="revenue")
    assert "Archive the field before purging it." in str(info.value.errors)
    service.archive_field("account", "revenue")
    with pytest.raises(ValidationFailed) as info:
        service.purge_field("account", "revenue", confirm_key="Revenue")
    assert "Type the field key" in str(info.value.errors)
    assert "revenue" in columns("x_account")
    service.purge_field("account", "revenue", confirm_key="revenue")
    assert "revenue" not in columns("x_account")
    assert specs.current().entity("account").field("revenue", include_archived=True) is None


def test_archived_entity_keeps_its_table_and_purge_drops_it(account):
    service.archive_entity("account")
    assert specs.current().entity("account") is None
    assert "x_account" in tables()
    service.restore_entity("account")
    assert specs.current().entity("account") is not None
    service.archive_entity("account")
    service.purge_entity("account", confirm_key="account")
    assert "x_account" not in tables()


def test_type_change_along_safe_table_with_preflight(account):
    service.add_field("account", "code", "text", "Code")
    insert_rows(
        "account",
        {"name": "A", "code": "12"},
        {"name": "B", "code": "x9"},
        {"name": "C", "code": None},
    )
    before = snapshot()
    with pytest.raises(ValidationFailed) as info:
        service.update_field("account", "code", type="integer")
    assert before == snapshot()
    message = str(info.value.errors)
    assert "not be changed" in message or "would not convert" in message


def test_unsafe_type_change_is_refused(account):
    with pytest.raises(ValidationFailed) as info:
        service.update_field("account", "stage", type="date")
    assert "cannot be changed to" in str(info.value.errors)


def test_lossless_type_change_keeps_values(account):
    service.add_field("account", "employees", "integer", "Employees")
    insert_rows("account", {"name": "A", "employees": 12}, {"name": "B", "employees": None})
    service.update_field("account", "employees", type="decimal")
    assert specs.current().entity("account").field("employees").type == "decimal"
    assert [None if v is None else float(v) for v in values("account", "employees")] == [12.0, None]


def test_narrowing_text_counts_values_that_do_not_fit(account):
    insert_rows("account", {"name": "x" * 40}, {"name": "short"}, {"name": "y" * 31})
    with pytest.raises(ValidationFailed) as info:
        service.update_field("account", "name", options={"max_length": 30})
    assert "2 values would not convert" in str(info.value.errors)
    service.update_field("account", "name", options={"max_length": 40})
    assert specs.current().entity("account").field("name").option("max_length") == 40


def test_required_and_unique_are_refused_with_counts(account):
    insert_rows(
        "account",
        {"name": "Acme", "stage": "new"},
        {"name": "Acme", "stage": None},
        {"name": "Acme", "stage": "won"},
        {"name": "Globex", "stage": None},
    )
    with pytest.raises(ValidationFailed) as info:
        service.update_field("account", "stage", required=True)
    assert "2 records have no value here" in str(info.value.errors)
    with pytest.raises(ValidationFailed) as info:
        service.update_field("account", "name", unique=True)
    assert "3 records share a value" in str(info.value.errors)


def test_unique_field_is_enforced_by_the_database_for_live_records(account):
    from sqlalchemy.exc import IntegrityError

    service.add_field("account", "vat", "text", "VAT number", unique=True)
    insert_rows("account", {"name": "A", "vat": "DE1"})
    with pytest.raises(IntegrityError):
        insert_rows("account", {"name": "B", "vat": "DE1"})
    db.session.rollback()
    # A record in the recycle bin does not block the value.
    from crm.timeutil import utcnow

    table = specs.current().table("account")
    db.session.execute(table.update().values(deleted_at=utcnow()))
    db.session.commit()
    insert_rows("account", {"name": "B", "vat": "DE1"})


def test_removing_a_used_picklist_value_is_refused(account):
    insert_rows("account", {"name": "A", "stage": "lost"})
    with pytest.raises(ValidationFailed) as info:
        service.update_field("account", "stage", choices=PICK[:2])
    assert "1 record uses the removed value lost" in str(info.value.errors)
    archived = [*PICK[:2], {**PICK[2], "archived": True}]
    service.update_field("account", "stage", choices=archived)
    stage = specs.current().entity("account").field("stage")
    assert [c.key for c in stage.active_choices] == ["new", "won"]


def test_lookup_needs_an_existing_target(account):
    with pytest.raises(ValidationFailed) as info:
        service.add_field("account", "parent", "lookup", "Parent", options={"target": "nothing"})
    assert "is not an entity" in str(info.value.errors)
    service.create_entity(
        "contact",
        "Contact",
        fields=[
            {
                "key": "account",
                "type": "lookup",
                "label": "Account",
                "options": {"target": "account"},
            }
        ],
    )
    assert specs.current().entity("contact").field("account").option("target") == "account"
    with pytest.raises(ValidationFailed) as info:
        service.archive_entity("account")
        service.purge_entity("account", confirm_key="account")
    assert "Fields still look up this entity: contact.account" in str(info.value.errors)


def test_unknown_entity_or_field_is_not_found(account):
    with pytest.raises(NotFound):
        service.add_field("nothing", "x", "text", "X")
    with pytest.raises(NotFound):
        service.update_field("account", "nothing", label="X")


def test_change_log_records_who_what_before_after(account, admin):
    service.update_field("account", "name", label="Company", actor_id=admin.id)
    entry = db.session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc())).first()
    assert entry.user_id == admin.id
    assert (entry.entity_key, entry.field_key, entry.action) == ("account", "name", "update_field")
    assert entry.before["label"] == "Name" and entry.after["label"] == "Company"


def test_batch_of_changes_is_atomic(account):
    before = snapshot()
    with pytest.raises(ValidationFailed), service.change() as c:
        c.add_field("account", "ok_field", "text", "OK")
        c.create_entity("lead", "Lead")
        c.add_field("account", "bad key", "text", "Bad")
    assert snapshot() == before


def test_type_change_preview_counts_without_changing(account):
    service.add_field("account", "code", "text", "Code")
    insert_rows("account", {"name": "A", "code": "12"}, {"name": "B", "code": "x9"}, {"name": "C"})
    before = snapshot()
    preview = service.preview_type_change("account", "code", "integer")
    assert snapshot() == before
    assert (preview.allowed, preview.total, preview.unconvertible) == (False, 3, 1)
    assert preview.examples == ("x9",)
    assert preview.rebuilds_table
    ok = service.preview_type_change("account", "code", "long_text")
    assert ok.allowed and ok.unconvertible == 0
    refused = service.preview_type_change("account", "stage", "date")
    assert not refused.allowed and "cannot become" in refused.reason

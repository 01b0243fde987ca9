"""The planner is a pure function: specs in, operations out."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from crm.metadata.spec import Choice, EntitySpec, FieldSpec
from crm.schema.plan import (
    AddColumn,
    AlterColumnType,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropIndex,
    DropTable,
    describe,
    plan,
)


def entity(*fields: FieldSpec, **kw) -> EntitySpec:
    labels = {"label_singular": "Account", "label_plural": "Accounts", **kw}
    return EntitySpec(key="account", fields=fields, **labels)


NAME = FieldSpec("name", "text", "Name", options=MappingProxyType({"max_length": 255}))
OWNER = FieldSpec(
    "parent",
    "lookup",
    "Parent",
    options=MappingProxyType({"target": "account", "on_delete": "clear"}),
)


def kinds(ops):
    return [type(o).__name__ for o in ops]


def test_new_entity_creates_table_and_spine_indexes():
    ops = plan(None, entity(NAME))
    assert isinstance(ops[0], CreateTable)
    indexed = {o.columns for o in ops if isinstance(o, CreateIndex)}
    # "My records, latest change first" is read in the owner index's order.
    assert {("owner_id", "updated_at", "id"), ("created_at",), ("updated_at",)} <= indexed
    assert ("name",) not in indexed


def test_lookup_and_unique_fields_are_indexed():
    code = FieldSpec(
        "code", "text", "Code", unique=True, options=MappingProxyType({"max_length": 20})
    )
    ops = plan(None, entity(NAME, OWNER, code))
    idx = {o.columns: o.unique for o in ops if isinstance(o, CreateIndex)}
    assert idx[("parent",)] is False
    assert idx[("code",)] is True


def test_adding_a_field_adds_a_column():
    ops = plan(entity(NAME), entity(NAME, OWNER))
    assert kinds(ops) == ["AddColumn", "CreateIndex"]
    assert ops[0] == AddColumn("x_account", OWNER)


def test_label_help_and_picklist_options_change_no_table():
    pick = FieldSpec("stage", "picklist", "Stage", choices=(Choice("new", "New"),))
    before = entity(NAME, pick)
    after = entity(
        replace(NAME, label="Company name", help_text="Legal name"),
        replace(
            pick, label="Phase", choices=(Choice("new", "Nouveau", "blue"), Choice("won", "Won"))
        ),
        label_singular="Compte",
    )
    assert plan(before, after) == []


def test_archiving_changes_no_table():
    assert plan(entity(NAME, OWNER), entity(NAME, replace(OWNER, archived=True))) == []
    assert plan(entity(NAME), replace(entity(NAME), archived=True)) == []


def test_type_change_alters_and_rebuilds_indexes_on_that_column():
    code = FieldSpec(
        "code", "text", "Code", unique=True, options=MappingProxyType({"max_length": 20})
    )
    wider = replace(code, options=MappingProxyType({"max_length": 100}))
    ops = plan(entity(NAME, code), entity(NAME, wider))
    assert kinds(ops) == ["DropIndex", "AlterColumnType", "CreateIndex"]
    assert ops[1].before == code and ops[1].after == wider
    assert ops[2].unique


def test_making_a_field_unique_only_adds_an_index():
    ops = plan(entity(NAME), entity(replace(NAME, unique=True)))
    assert kinds(ops) == ["CreateIndex"] and ops[0].unique


def test_purging_a_field_drops_its_index_then_column():
    ops = plan(entity(NAME, OWNER), entity(NAME))
    assert kinds(ops) == ["DropIndex", "DropColumn"]
    assert isinstance(ops[0], DropIndex) and ops[0].columns == ("parent",)
    assert isinstance(ops[1], DropColumn)


def test_purged_entity_is_dropped_and_unchanged_is_empty():
    assert plan(entity(NAME), None) == [DropTable(entity(NAME))]
    assert plan(entity(NAME, OWNER), entity(NAME, OWNER)) == []


def test_two_type_changes_each_see_the_previous_state():
    a = FieldSpec("a", "integer", "A")
    b = FieldSpec("b", "integer", "B")
    ops = plan(
        entity(a, b),
        entity(
            replace(a, type="decimal", options=MappingProxyType({"decimal_places": 2})),
            replace(b, type="text", options=MappingProxyType({"max_length": 255})),
        ),
    )
    alters = [o for o in ops if isinstance(o, AlterColumnType)]
    assert len(alters) == 2
    assert alters[1].entity.field("a").type == "decimal"


def test_describe_is_readable():
    assert describe(AddColumn("x_account", OWNER)) == "add column x_account.parent (lookup)"

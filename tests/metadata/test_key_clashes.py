"""Keys that would clash with names the database itself keeps are refused, with a message
naming them, and never suggested (issue 12, item 2): the column names SQLite's full-text
tables keep (``rowid``, ``rank``, ``oid``, the table's own name).

Keys that read like SQLAlchemy's generated bind names (``version_1``, ``id_1``,
``param_1``) are valid: writes bind their values under explicit names
(``crm.binds``; the record flows are tested in ``tests/records/test_bind_names.py``)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from crm.binds import assign, assign_many, named_rows
from crm.errors import ValidationFailed
from crm.metadata.keys import key_problems, suggest_key
from tests.factories import make_entity
from tests.factories import text as text_field

NUMBERED = ["version_2", "version_1", "id_1", "param_1", "updated_at_1", "owner_id_3"]
SEARCH_RESERVED = ["rowid", "rank", "oid", "x_deal__fts"]


@pytest.mark.parametrize("key", SEARCH_RESERVED)
def test_the_key_is_refused_with_a_message_naming_it(key):
    problems = key_problems(key)
    assert problems and key in problems[0]


@pytest.mark.parametrize("key", [*NUMBERED, "name_2", "region_1", "version2", "ranking", "row_id"])
def test_numbered_keys_are_valid(key):
    assert key_problems(key) == []


@pytest.mark.parametrize("label", ["Version", "Id", "Param", "Updated at", "Rank", "Rowid"])
def test_suggested_keys_are_valid_and_free(label):
    key = suggest_key(label)
    assert key_problems(key) == [], key
    assert suggest_key(label, taken={key}) != key
    assert key_problems(suggest_key(label, taken={key})) == []


def test_the_designer_suggests_version_2_for_a_field_labelled_version():
    assert suggest_key("Version") == "version_2"


@pytest.mark.parametrize("key", ["rank", "rowid"])
def test_a_field_with_such_a_key_is_not_created(app, key):
    with pytest.raises(ValidationFailed) as caught:
        make_entity(
            "deal", "Deal", [text_field("name", "Name"), text_field(key, "X", searchable=True)]
        )
    assert key in str(caught.value.errors)


def _table() -> Table:
    columns = [Column("id", Integer, primary_key=True), Column("version", Integer)]
    columns += [Column(k, String) for k in [*NUMBERED, "param", "new_version", "v"]]
    return Table("t", MetaData(), *columns)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()])
def test_assigned_values_never_clash_with_generated_names(dialect):
    """Without ``assign``, ``SET id_1=:id_1 WHERE id = :id_1`` does not compile; with it
    every value has a name of its own, whatever the conditions compare."""
    t = _table()
    keys = [c.key for c in t.c if c.key != "id"]
    where = [t.c.id == 1, t.c.version == 2, t.c.param == "p"] + [t.c[k] == "w" for k in keys]
    stmt = update(t).where(*where).values(assign(t, {k: k for k in keys}, version=t.c.version + 1))
    compiled = stmt.compile(dialect=dialect)
    params = compiled.construct_params()
    assert all(params[f"NEW_{k}"] == k for k in keys if k != "version")
    assert len(set(compiled.binds)) == len(compiled.binds)
    with pytest.raises(Exception, match="conflicts"):
        update(t).where(*where).values({k: k for k in keys}).compile(dialect=dialect)


def test_many_rows_are_inserted_under_the_same_names(app):
    from crm.extensions import db

    t = _table()
    t.create(db.session.connection())
    keys = [c.key for c in t.c if c.key != "id"]
    rows = [{"version": 1, **{k: f"{k}-{n}" for k in NUMBERED}} for n in range(3)]
    db.session.execute(insert(t).values(assign_many(t, keys)), named_rows(rows, keys))
    stored = db.session.execute(t.select().order_by(t.c.id)).mappings().all()
    assert [r["id_1"] for r in stored] == ["id_1-0", "id_1-1", "id_1-2"]
    assert all(r["param"] is None for r in stored)
    db.session.rollback()

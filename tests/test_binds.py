"""Explicit bind names for written values (``crm.binds``): a statement that writes columns
keyed like SQLAlchemy's generated names (``id_1``, ``version_1``, ``param_1``) compiles
and runs, whatever its conditions compare; the same statement without ``assign`` does
not (the fault of issue 12, item 2)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import CompileError

from crm.binds import assign, assign_many, named_rows
from crm.extensions import db

NUMBERED = ["version_2", "version_1", "id_1", "param_1", "updated_at_1", "owner_id_3"]


def _table() -> Table:
    columns = [Column("id", Integer, primary_key=True), Column("version", Integer)]
    columns += [Column(k, String) for k in [*NUMBERED, "param", "new_version", "v"]]
    return Table("t", MetaData(), *columns)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()])
def test_assigned_values_never_clash_with_generated_names(dialect):
    """Without ``assign``, ``SET id_1=:id_1 WHERE id = :id_1`` does not compile; with it
    every value has a name of its own, whatever the conditions compare."""
    t = _table()
    keys = [c.key for c in t.c if c.key not in ("id", "version")]
    where = [t.c.id == 1, t.c.version == 2, t.c.param == "p"] + [t.c[k] == "w" for k in keys]
    stmt = update(t).where(*where).values(assign(t, {k: k for k in keys}, version=t.c.version + 1))
    params = stmt.compile(dialect=dialect).construct_params()
    assert {k: params[f"NEW_{k}"] for k in keys} == {k: k for k in keys}
    others = {k: v for k, v in params.items() if not k.startswith("NEW_")}
    assert sorted(others.values(), key=str) == sorted([1, 2, 1, "p", *["w"] * len(keys)], key=str)
    with pytest.raises(CompileError, match="conflicts"):
        update(t).where(*where).values({k: k for k in keys}).compile(dialect=dialect)


def test_plain_values_and_expressions(app):
    t = _table()
    stmt = insert(t).values(assign(t, {t.c.id_1: "a"}, version=1, param=t.c.version))
    params = stmt.compile().construct_params()
    assert params == {"NEW_id_1": "a", "NEW_version": 1}


def test_many_rows_are_inserted_under_the_same_names(app):
    t = _table()
    t.create(db.session.connection())
    keys = [c.key for c in t.c if c.key != "id"]
    rows = [{"version": 1, **{k: f"{k}-{n}" for k in NUMBERED}} for n in range(3)]
    db.session.execute(insert(t).values(assign_many(t, keys)), named_rows(rows, keys))
    stored = db.session.execute(t.select().order_by(t.c.id)).mappings().all()
    assert [r["id_1"] for r in stored] == ["id_1-0", "id_1-1", "id_1-2"]
    assert all(r["param"] is None for r in stored)
    db.session.rollback()

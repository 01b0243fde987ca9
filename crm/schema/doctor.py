"""Reconcile: compare the metadata with the database's real schema and list differences."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy import types as satypes
from sqlalchemy.engine import Connection

from crm.metadata.compile import spine_columns, wanted_indexes
from crm.metadata.specs import CompiledSpecs


def _family(sa_type) -> tuple:
    """A dialect-neutral description of a column type, precise enough to catch drift."""
    t = sa_type
    name = type(t).__name__.upper()
    if isinstance(t, satypes.JSON) or "JSON" in name:
        return ("json",)
    if isinstance(t, satypes.Boolean) or name == "BOOLEAN":
        return ("boolean",)
    if isinstance(t, satypes.DateTime) or name in ("DATETIME", "TIMESTAMP"):
        return ("datetime",)
    if isinstance(t, satypes.Date):
        return ("date",)
    if isinstance(t, satypes.Numeric) and not isinstance(t, satypes.Float):
        return ("numeric", t.scale)
    if isinstance(t, satypes.Integer):
        return ("integer",)
    if isinstance(t, satypes.Text) or name == "TEXT":
        return ("text",)
    if isinstance(t, satypes.String):
        return ("string", t.length)
    return (name.lower(),)


def reconcile(connection: Connection, compiled: CompiledSpecs) -> list[str]:
    """Every difference between the compiled metadata and the database; empty when in step."""
    insp = inspect(connection)
    actual_tables = {t for t in insp.get_table_names() if t.startswith("x_")}
    problems: list[str] = []
    for key in sorted(compiled.entities):
        spec = compiled.entities[key]
        table = spec.table_name
        if table not in actual_tables:
            problems.append(f"{table}: table is missing")
            continue
        actual = {c["name"]: c for c in insp.get_columns(table)}
        wanted = {c.name: c.type for c in spine_columns()}
        wanted.update(
            {c.name: c.type for c in compiled.tables[key].columns if c.name not in wanted}
        )
        for name in sorted(set(wanted) - set(actual)):
            problems.append(f"{table}.{name}: column is missing")
        for name in sorted(set(actual) - set(wanted)):
            problems.append(f"{table}.{name}: column exists but no field describes it")
        for name in sorted(set(wanted) & set(actual)):
            if name == "id":  # BigInteger, or SQLite's INTEGER rowid alias
                continue
            want_t = wanted[name]
            if _family(want_t) != _family(actual[name]["type"]):
                problems.append(
                    f"{table}.{name}: type is {_family(actual[name]['type'])}, "
                    f"metadata says {_family(want_t)}"
                )
        actual_ix = {
            ix["name"]: (tuple(ix["column_names"]), bool(ix["unique"]))
            for ix in insp.get_indexes(table)
        }
        for name, (col, unique) in sorted(wanted_indexes(spec).items()):
            got = actual_ix.get(name)
            if got is None:
                problems.append(f"{table}: index {name} is missing")
            elif got != ((col,), unique):
                problems.append(f"{table}: index {name} is {got}, metadata says {((col,), unique)}")
        for name in sorted(set(actual_ix) - set(wanted_indexes(spec))):
            problems.append(f"{table}: index {name} exists but the metadata does not ask for it")
    known = {s.table_name for s in compiled.entities.values()}
    for table in sorted(actual_tables - known):
        problems.append(f"{table}: table exists but no entity describes it")
    return problems

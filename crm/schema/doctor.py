"""Reconcile: compare the metadata with the database's real schema and list differences."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy import types as satypes
from sqlalchemy.engine import Connection

from crm.metadata.compile import spine_columns, wanted_indexes
from crm.metadata.specs import CompiledSpecs
from crm.schema import search


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
    all_tables = set(insp.get_table_names())
    actual_tables = {t for t in all_tables if t.startswith("x_") and "__fts" not in t}
    problems: list[str] = []
    for key in sorted(compiled.entities):
        spec = compiled.entities[key]
        table = spec.table_name
        if table not in actual_tables:
            problems.append(_("%(table)s: table is missing", table=table))
            continue
        actual = {c["name"]: c for c in insp.get_columns(table)}
        wanted = {c.name: c.type for c in spine_columns()}
        wanted.update(
            {c.name: c.type for c in compiled.tables[key].columns if c.name not in wanted}
        )
        for name in sorted(set(wanted) - set(actual)):
            problems.append(_("%(table)s.%(column)s: column is missing", table=table, column=name))
        for name in sorted(set(actual) - set(wanted)):
            problems.append(
                _(
                    "%(table)s.%(column)s: column exists but no field describes it",
                    table=table,
                    column=name,
                )
            )
        for name in sorted(set(wanted) & set(actual)):
            if name == "id":  # BigInteger, or SQLite's INTEGER rowid alias
                continue
            want_t = wanted[name]
            if _family(want_t) != _family(actual[name]["type"]):
                problems.append(
                    _(
                        "%(table)s.%(column)s: type is %(actual)s, metadata says %(wanted)s",
                        table=table,
                        column=name,
                        actual=str(_family(actual[name]["type"])),
                        wanted=str(_family(want_t)),
                    )
                )
        actual_ix = {
            ix["name"]: (tuple(ix["column_names"]), bool(ix["unique"]))
            for ix in insp.get_indexes(table)
        }
        expected = dict(wanted_indexes(spec))
        if connection.dialect.name == "postgresql":
            expected.update({n: ((c,), False) for n, c in search.trigram_indexes(spec).items()})
        for name, (cols, unique) in sorted(expected.items()):
            got = actual_ix.get(name)
            if got is None:
                problems.append(_("%(table)s: index %(index)s is missing", table=table, index=name))
            elif got != (cols, unique):
                problems.append(
                    _(
                        "%(table)s: index %(index)s is %(actual)s, metadata says %(wanted)s",
                        table=table,
                        index=name,
                        actual=str(got),
                        wanted=str((cols, unique)),
                    )
                )
        for name in sorted(set(actual_ix) - set(expected)):
            problems.append(
                _(
                    "%(table)s: index %(index)s exists but the metadata does not ask for it",
                    table=table,
                    index=name,
                )
            )
        if connection.dialect.name == "sqlite":
            problems += _sqlite_search_problems(connection, spec, all_tables)
    known = {s.table_name for s in compiled.entities.values()}
    for name in sorted(t for t in all_tables if t.endswith("__fts")):
        if name[: -len("__fts")] not in known:
            problems.append(
                _("%(table)s: search table exists but no entity describes it", table=name)
            )
    for table in sorted(actual_tables - known):
        problems.append(_("%(table)s: table exists but no entity describes it", table=table))
    return problems


def _sqlite_search_problems(connection: Connection, spec, all_tables: set[str]) -> list[str]:
    """The FTS5 table and its three triggers exist exactly when the entity has search
    fields, over exactly those columns."""
    name = search.fts_table(spec)
    fields = [f.column for f in search.search_fields(spec)]
    if not fields:
        return (
            [_("%(table)s: search table exists but no field is searchable", table=name)]
            if name in all_tables
            else []
        )
    if name not in all_tables:
        return [_("%(table)s: search table is missing", table=name)]
    problems = []
    columns = [row[1] for row in connection.exec_driver_sql(f'PRAGMA table_info("{name}")')]
    if columns != fields:
        problems.append(
            _(
                "%(table)s: searches %(actual)s, metadata says %(wanted)s",
                table=name,
                actual=str(columns),
                wanted=str(fields),
            )
        )
    triggers = {
        row[0]
        for row in connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
            (spec.table_name,),
        )
    }
    for suffix in ("ai", "ad", "au"):
        trigger = f"{name}_{suffix}"
        if trigger not in triggers:
            problems.append(
                _("%(table)s: trigger %(trigger)s is missing", table=name, trigger=trigger)
            )
    return problems

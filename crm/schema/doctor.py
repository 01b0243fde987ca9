"""Reconcile: compare the metadata with the database's real schema and list differences."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy import types as satypes
from sqlalchemy.engine import Connection

from crm.metadata.compile import index_name, spine_columns, wanted_indexes
from crm.metadata.specs import CompiledSpecs
from crm.schema import cjk, search


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
            problems.append(_("%(table)s.%(name)s: column is missing", table=table, name=name))
        for name in sorted(set(actual) - set(wanted)):
            problems.append(
                _(
                    "%(table)s.%(name)s: column exists but no field describes it",
                    table=table,
                    name=name,
                )
            )
        for name in sorted(set(wanted) & set(actual)):
            if name == "id":  # BigInteger, or SQLite's INTEGER rowid alias
                continue
            want_t = wanted[name]
            if _family(want_t) != _family(actual[name]["type"]):
                problems.append(
                    _(
                        "%(table)s.%(name)s: type is %(actual)s, metadata says %(wanted)s",
                        table=table,
                        name=name,
                        actual=str(_family(actual[name]["type"])),
                        wanted=str(_family(want_t)),
                    )
                )
        actual_ix = {
            ix["name"]: (tuple(ix["column_names"]), bool(ix["unique"]))
            for ix in insp.get_indexes(table)
        }
        expected = dict(wanted_indexes(spec))
        searching = _search_index_names(table, actual)  # checked by search_problems
        for name, (cols, unique) in sorted(expected.items()):
            got = actual_ix.get(name)
            if got is None:
                problems.append(_("%(table)s: index %(name)s is missing", table=table, name=name))
            elif got != (cols, unique):
                problems.append(
                    _(
                        "%(table)s: index %(name)s is %(got)s, metadata says %(wanted)s",
                        table=table,
                        name=name,
                        got=got,
                        wanted=str((cols, unique)),
                    )
                )
        for name in sorted(set(actual_ix) - set(expected) - searching):
            problems.append(
                _(
                    "%(table)s: index %(name)s exists but the metadata does not ask for it",
                    table=table,
                    name=name,
                )
            )
    known = {s.table_name for s in compiled.entities.values()}
    for table in sorted(actual_tables - known):
        problems.append(_("%(table)s: table exists but no entity describes it", table=table))
    return problems + search_problems(connection, compiled)


REPAIR = "flask --app app crm rebuild-search"


def search_problems(connection: Connection, compiled: CompiledSpecs) -> list[str]:
    """Every quick-search structure (SQLite: the trigram and gram FTS5 tables and their
    triggers; PostgreSQL: the trigram and gram indexes and the gram function) that is
    missing, out of date (made by an older definition) or left over; all of them are
    repaired by ``crm rebuild-search`` (REPAIR)."""
    insp = inspect(connection)
    all_tables = set(insp.get_table_names())
    sqlite = connection.dialect.name == "sqlite"
    problems: list[str] = []
    for key in sorted(compiled.entities):
        spec = compiled.entities[key]
        if spec.table_name not in all_tables:
            continue  # reported by reconcile
        if sqlite:
            problems += _sqlite_search_problems(connection, spec, all_tables)
        else:
            problems += _postgres_search_problems(insp, spec)
    if not sqlite:
        body = search.function_body(connection)
        needed = any(search.search_fields(s) for s in compiled.entities.values())
        if body is None and needed:
            problems.append(
                _(
                    "function %(function)s: missing (quick search needs it)",
                    function=str(cjk.PG_FUNCTION),
                )
            )
        elif body is not None and body != cjk.pg_function_body():
            problems.append(_("function %(function)s: out of date", function=str(cjk.PG_FUNCTION)))
    known = {s.table_name for s in compiled.entities.values()}
    for name in sorted(all_tables):
        for suffix in ("__fts", "__fts_cjk"):
            if name.endswith(suffix) and name[: -len(suffix)] not in known:
                problems.append(
                    _("%(name)s: search table exists but no entity describes it", name=name)
                )
    return problems


def _search_index_names(table: str, columns) -> set[str]:
    """PostgreSQL: the names a trigram or gram index of any of ``columns`` would have."""
    return {index_name(table, f"{c}_{suffix}") for c in columns for suffix in ("trgm", "cjk")}


_CAST = re.compile(r'["()]|::text')


def _postgres_search_problems(insp, spec) -> list[str]:
    table = spec.table_name
    actual = {ix["name"]: ix for ix in insp.get_indexes(table)}
    expected = {n: c for n, c in search.trigram_indexes(spec).items()}
    grams = search.gram_indexes(spec)
    expected.update({n: f"{cjk.PG_FUNCTION}({c})" for n, c in grams.items()})
    problems = []
    for name, what in sorted(expected.items()):
        ix = actual.get(name)
        if ix is None:
            problems.append(
                _("%(table)s: search index %(name)s is missing", table=table, name=name)
            )
            continue
        got = [str(e) for e in ix.get("expressions") or ix["column_names"]]
        # PostgreSQL writes a varchar column as ("name")::text inside the function call.
        if [_CAST.sub("", e) for e in got] != [_CAST.sub("", what)]:
            problems.append(
                _(
                    "%(table)s: search index %(name)s is on %(got)s, metadata says [%(wanted)s]",
                    table=table,
                    name=name,
                    got=got,
                    wanted=repr(what),
                )
            )
    columns = [c["name"] for c in insp.get_columns(table)]
    for name in sorted((_search_index_names(table, columns) & set(actual)) - set(expected)):
        problems.append(
            _(
                "%(table)s: search index %(name)s exists but its field is not searchable",
                table=table,
                name=name,
            )
        )
    return problems


def _sqlite_search_problems(connection: Connection, spec, all_tables: set[str]) -> list[str]:
    """The two FTS5 tables and their triggers exist exactly when the entity has search
    fields, each as ``search.definitions`` makes it (SQLite keeps the statement's text)."""
    wanted = search.definitions(spec, "sqlite")
    names = (search.fts_table(spec), search.cjk_table(spec))
    if not wanted:
        return [
            _("%(name)s: search table exists but no field is searchable", name=name)
            for name in names
            if name in all_tables
        ]
    stored = dict(
        connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name IN (?, ?, ?)",
            (spec.table_name, *names),
        ).all()
    )
    problems = []
    fields = [search.fts_column(f.column) for f in search.search_fields(spec)]
    for name in names:
        if name not in stored:
            problems.append(_("%(name)s: search table is missing", name=name))
        else:
            info = connection.exec_driver_sql(f'PRAGMA table_info("{name}")')
            columns = [row[1] for row in info]
            if columns != fields:
                problems.append(
                    _(
                        "%(name)s: searches %(columns)s, metadata says %(fields)s",
                        name=name,
                        columns=columns,
                        fields=fields,
                    )
                )
            elif stored[name] != wanted[name]:
                problems.append(_("%(name)s: search table is out of date", name=name))
        for suffix in search.TRIGGERS:
            trigger = f"{name}_{suffix}"
            if trigger not in stored:
                problems.append(
                    _("%(name)s: trigger %(trigger)s is missing", name=name, trigger=trigger)
                )
            elif stored[trigger] != wanted[trigger]:
                problems.append(
                    _("%(name)s: trigger %(trigger)s is out of date", name=name, trigger=trigger)
                )
    return problems

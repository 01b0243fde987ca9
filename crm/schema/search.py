"""Quick-search structures of an entity, kept in step by the schema pipeline.

- SQLite: an FTS5 table ``x_<entity>__fts`` with the trigram tokenizer over the searchable
  fields, kept in sync with ``x_<entity>`` by three triggers. A trigram MATCH finds
  substrings (3+ characters) through the index, in any script. Beside it, an FTS5 table
  ``x_<entity>__fts_cjk`` holds each field's grams (see ``crm.schema.cjk``), fed by three
  more triggers: it answers one- and two-character terms in scripts written without spaces
  (王伟, 华为, 王). Both are contentless: they index the text without keeping a copy.
- PostgreSQL: per searchable field, a GIN trigram index (``pg_trgm``), which ILIKE
  '%term%' uses, and a GIN index on the field's grams (``crm_cjk_grams(field)``).

FTS columns are the field keys prefixed with ``f_``: FTS5 keeps ``rowid``, ``rank`` and the
table's own name for itself, and any valid field key must work.

Structures follow the searchable fields; an archived entity keeps them (its table and
records stay, and restoring it must not wait for an index). ``crm doctor`` compares them
with what this module would build (``definitions``) and ``crm rebuild-search`` rebuilds
them.

Names derive from keys, which are validated identifiers (``^[a-z][a-z0-9_]*$``), so the
DDL below interpolates no user text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Text, bindparam, func, inspect, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

from crm.metadata import types
from crm.metadata.compile import index_name
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.schema import cjk

MIN_TRIGRAM = 3
FTS_PREFIX = "f_"
TRIGGERS = ("ai", "ad", "au")


def search_fields(spec: EntitySpec | None) -> tuple[FieldSpec, ...]:
    """The fields quick search looks in (active, searchable, text-like), in position order."""
    if spec is None:
        return ()
    return tuple(f for f in spec.active_fields if f.searchable and types.get(f.type).textual)


def fts_table(spec: EntitySpec) -> str:
    return f"{spec.table_name}__fts"


def cjk_table(spec: EntitySpec) -> str:
    return f"{spec.table_name}__fts_cjk"


def fts_column(column: str) -> str:
    """The FTS column of a field's column."""
    return FTS_PREFIX + column


def trigram_indexes(spec: EntitySpec | None) -> dict[str, str]:
    """PostgreSQL: index name -> column for each search field."""
    if spec is None:
        return {}
    return {index_name(spec.table_name, f"{f.column}_trgm"): f.column for f in search_fields(spec)}


def gram_indexes(spec: EntitySpec | None) -> dict[str, str]:
    """PostgreSQL: gram index name -> column for each search field."""
    if spec is None:
        return {}
    return {index_name(spec.table_name, f"{f.column}_cjk"): f.column for f in search_fields(spec)}


_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _q(name: str) -> str:
    """A quoted identifier; refuses anything but a key-derived name (defence in depth:
    keys are validated on creation, so this never fires for a real entity)."""
    if not _IDENT.match(name):
        raise ValueError(f"Refusing an unexpected identifier {name!r}")
    return f'"{name}"'


# --- definitions -------------------------------------------------------------------------


def definitions(spec: EntitySpec, dialect: str) -> dict[str, str]:
    """Every search structure of ``spec`` on ``dialect``, name -> its CREATE statement, in
    the order they are made (SQLite stores these texts, which the doctor compares)."""
    fields = search_fields(spec)
    if not fields:
        return {}
    table = _q(spec.table_name)
    if dialect != "sqlite":
        made = {
            name: f"CREATE INDEX IF NOT EXISTS {_q(name)} ON {table} "
            f"USING gin ({_q(col)} gin_trgm_ops)"
            for name, col in trigram_indexes(spec).items()
        }
        made.update(
            {
                name: f"CREATE INDEX IF NOT EXISTS {_q(name)} ON {table} "
                f"USING gin ({cjk.PG_FUNCTION}({_q(col)}))"
                for name, col in gram_indexes(spec).items()
            }
        )
        return made
    columns = [f.column for f in fields]
    made = {}
    for name, options, value in _sqlite_tables(spec):
        cols = ", ".join(_q(fts_column(c)) for c in columns)
        new = ", ".join(value(f"new.{_q(c)}") for c in columns)
        old = ", ".join(value(f"old.{_q(c)}") for c in columns)
        made[name] = f"CREATE VIRTUAL TABLE {_q(name)} USING fts5({cols}, {options})"
        made.update(
            _triggers(
                name,
                table,
                ", ".join(_q(c) for c in columns),
                f"INSERT INTO {_q(name)}(rowid, {cols}) VALUES (new.id, {new});",
                f"INSERT INTO {_q(name)}({_q(name)}, rowid, {cols}) "
                f"VALUES ('delete', old.id, {old});",
            )
        )
    return made


def _sqlite_tables(spec: EntitySpec) -> list[tuple[str, str, Callable[[str], str]]]:
    """SQLite's two FTS5 tables: name, options, and what each indexes of a column's value.

    Both are contentless (they keep no copy of the text: only ids are read back), so a
    row is deleted by giving its indexed values again, which the trigger works out from
    the old row. Every record has a row in each (one without grams costs nothing: no token,
    and no sizes are kept)."""
    return [
        (fts_table(spec), "content='', tokenize='trigram', columnsize=0", lambda v: v),
        (
            cjk_table(spec),
            "content='', tokenize='ascii', detail='column', columnsize=0",
            cjk.sqlite_grams,
        ),
    ]


def _triggers(name: str, table: str, changed: str, insert_new: str, delete_old: str) -> dict:
    """The three triggers keeping the FTS table ``name`` in step with ``table``; an update
    re-indexes a row only when it writes a searched column."""
    return {
        f"{name}_ai": f"CREATE TRIGGER {_q(name + '_ai')} AFTER INSERT ON {table} "
        f"BEGIN {insert_new} END",
        f"{name}_ad": f"CREATE TRIGGER {_q(name + '_ad')} AFTER DELETE ON {table} "
        f"BEGIN {delete_old} END",
        f"{name}_au": f"CREATE TRIGGER {_q(name + '_au')} AFTER UPDATE OF {changed} "
        f"ON {table} BEGIN {delete_old} {insert_new} END",
    }


# --- building ----------------------------------------------------------------------------


def create(connection: Connection, spec: EntitySpec) -> None:
    """Build the search structures of ``spec`` (indexing existing rows); on PostgreSQL,
    indexes that exist already are kept."""
    made = definitions(spec, connection.dialect.name)
    if not made:
        return
    if connection.dialect.name != "sqlite":
        if not function_body(connection):
            connection.execute(text(cjk.pg_function_ddl()))
        for statement in made.values():
            connection.execute(text(statement))
        return
    for statement in made.values():
        connection.execute(text(statement))
    columns = [f.column for f in search_fields(spec)]
    cols = ", ".join(_q(fts_column(c)) for c in columns)
    for name, _, value in _sqlite_tables(spec):
        values = ", ".join(value(f"x.{_q(c)}") for c in columns)
        connection.execute(
            text(
                f"INSERT INTO {_q(name)}(rowid, {cols}) "
                f"SELECT x.id, {values} FROM {_q(spec.table_name)} AS x"
            )
        )


def drop(connection: Connection, before: EntitySpec, after: EntitySpec | None) -> None:
    """Remove what ``after`` no longer needs (SQLite: everything, rebuilt by ``create``)."""
    # Identifiers only, each checked by _q(); DDL takes no bind parameters.
    if connection.dialect.name == "sqlite":
        for name in (fts_table(before), cjk_table(before)):
            for suffix in TRIGGERS:
                connection.execute(text(f"DROP TRIGGER IF EXISTS {_q(name + '_' + suffix)}"))
            connection.execute(text(f"DROP TABLE IF EXISTS {_q(name)}"))
        return
    keep = {**trigram_indexes(after), **gram_indexes(after)}
    for name in {**trigram_indexes(before), **gram_indexes(before)}:
        if name not in keep:
            connection.execute(text(f"DROP INDEX IF EXISTS {_q(name)}"))


def rebuild(connection: Connection, spec: EntitySpec) -> None:
    """Drop every search structure of ``spec``'s table, whatever made it (an older
    definition, a field since made unsearchable), and build what ``spec`` asks for: the
    repair behind ``crm rebuild-search``. On PostgreSQL an out-of-date gram function is
    replaced too (and a missing one made)."""
    if connection.dialect.name == "sqlite":
        drop(connection, spec, None)
    else:
        present = {ix["name"] for ix in inspect(connection).get_indexes(spec.table_name)}
        for column in [c["name"] for c in inspect(connection).get_columns(spec.table_name)]:
            for suffix in ("trgm", "cjk"):
                name = index_name(spec.table_name, f"{column}_{suffix}")
                if name in present:
                    # An identifier checked by _q(); DDL takes no bind parameters.
                    connection.execute(text(f"DROP INDEX {_q(name)}"))
        body = function_body(connection)
        if body is not None and body != cjk.pg_function_body():
            # Every gram index was built with the old function: the caller rebuilds them
            # all (``crm.schema.repair.rebuild`` does).
            connection.execute(text(cjk.pg_function_ddl()))
    create(connection, spec)


def drop_orphan(connection: Connection, name: str) -> None:
    """SQLite: drop a search table (and its triggers) whose entity is gone."""
    # ``name`` comes from the database's table list: _q() refuses anything but a plain
    # lower-case identifier, and DDL takes no bind parameters.
    for suffix in TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {_q(name + '_' + suffix)}"))
    connection.execute(text(f"DROP TABLE IF EXISTS {_q(name)}"))


def function_body(connection: Connection) -> str | None:
    """PostgreSQL: the body of the gram function as the database has it (None: missing)."""
    return connection.execute(
        text("SELECT prosrc FROM pg_proc WHERE proname = :name"), {"name": cjk.PG_FUNCTION}
    ).scalar()


# --- searching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexMatch:
    """How an index answers a term: SQLite gives the matching ``ids`` (a subquery), PostgreSQL
    a ``condition`` its GIN indexes answer. ``exact`` False: the matches hold the answer but
    are not all of it (a two-character term with one gram character, e.g. "王A"): the
    caller adds the substring test."""

    ids: Select | None = None
    condition: ColumnElement | None = None
    exact: bool = True


def fts_phrase(q: str) -> str:
    """A user's search text as one FTS5 phrase (quotes doubled): no FTS syntax gets through."""
    return '"' + q.replace('"', '""') + '"'


def short_term(q: str) -> bool:
    """True when no index answers ``q``: shorter than a trigram and without a gram
    character (a Latin "ab"); the search is then a scan, bounded by the caller."""
    return bool(q) and len(q) < MIN_TRIGRAM and cjk.probe(q) is None


def index_match(
    spec: EntitySpec, table, fields: list[FieldSpec], q: str, dialect: str
) -> IndexMatch | None:
    """The index lookup for ``q`` in ``fields`` (the searchable fields the user may read),
    or None when the plain substring test is the query (a short Latin term; on PostgreSQL a
    term of three or more characters, whose ILIKE the trigram indexes answer)."""
    probe = cjk.probe(q) if len(q) < MIN_TRIGRAM else None
    if dialect != "sqlite":
        if probe is None:
            return None
        gram, exact = probe
        found = [
            getattr(func, cjk.PG_FUNCTION)(table.c[f.column], type_=ARRAY(Text)).contains([gram])
            for f in fields
        ]
        return IndexMatch(condition=or_(*found), exact=exact)
    columns = " ".join(fts_column(f.column) for f in fields)
    if probe is not None:
        gram, exact = probe
        name, match = cjk_table(spec), f'{{{columns}}} : "{cjk.sqlite_token(gram)}"'
    elif len(q) >= MIN_TRIGRAM:
        name, match, exact = fts_table(spec), f"{{{columns}}} : {fts_phrase(q)}", True
    else:
        return None
    ids = (
        select(literal_column("rowid"))
        # The table name is checked by _q(); the MATCH expression is a bound parameter, and
        # the user's term reaches it only as hex (gram) or as one quoted FTS5 phrase.
        .select_from(text(_q(name)))
        .where(text(f"{_q(name)} MATCH :fts_match").bindparams(fts_match=match))
    )
    return IndexMatch(ids=ids, exact=exact)


def planned_per_term(condition: ColumnElement) -> ColumnElement:
    """PostgreSQL: ``condition`` with its values written into the statement (quoted by
    SQLAlchemy at execution: ``literal_execute``), so each term is planned with its own
    statistics.

    Why: psycopg prepares a statement run five times, after which PostgreSQL may keep a
    generic plan, made without the term. For a search the best plan depends on the term:
    a rare one (王伟, 637 of 1,000,000 contacts) must be read through the gram or trigram
    index, a common one (上海, 127,432) by walking the list's order until a page is full.
    At 1,000,000 contacts a generic plan took 0.6-0.8 s of server CPU for rare terms that
    their own plans answer in 1-2 ms (bench/README.md). The statement text then differs
    per term, which costs a plan per search, as an unprepared statement does."""

    def inline(element):
        if isinstance(element, BindParameter) and not element.literal_execute:
            return bindparam(
                element.key, element.value, type_=element.type, literal_execute=True, unique=True
            )
        return None

    return replacement_traverse(condition, {}, inline)


def signature(spec: EntitySpec | None) -> tuple:
    """What the search structures depend on: a difference means rebuilding them."""
    return tuple((f.key, f.type) for f in search_fields(spec))

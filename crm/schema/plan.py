"""Operations and the planner: a pure function from current to wanted spec.

No session, no connection: ``plan`` only compares specs, so it is unit-tested without a
database. Entities are never dropped by a plan (they are archived); a field disappears from
the wanted spec only when it is purged, which is an explicit, separate action.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask_babel import gettext as _

from crm.metadata import types
from crm.metadata.compile import wanted_indexes
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.schema.search import search_fields
from crm.schema.search import signature as search_signature


@dataclass(frozen=True)
class CreateTable:
    entity: EntitySpec


@dataclass(frozen=True)
class DropTable:
    entity: EntitySpec


@dataclass(frozen=True)
class AddColumn:
    table: str
    field: FieldSpec


@dataclass(frozen=True)
class AlterColumnType:
    """``entity`` is the table's state just before this change (SQLite rebuilds from it)."""

    entity: EntitySpec
    before: FieldSpec
    after: FieldSpec


@dataclass(frozen=True)
class DropColumn:
    table: str
    field: FieldSpec


@dataclass(frozen=True)
class CreateIndex:
    table: str
    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class DropSearch:
    """Remove quick-search structures ``after`` does not need (SQLite: all of them)."""

    before: EntitySpec
    after: EntitySpec | None


@dataclass(frozen=True)
class CreateSearch:
    """Build the quick-search structures of ``after`` (indexing the existing rows)."""

    after: EntitySpec


@dataclass(frozen=True)
class DropIndex:
    table: str
    name: str
    columns: tuple[str, ...]


Op = (
    CreateTable
    | DropTable
    | AddColumn
    | AlterColumnType
    | DropColumn
    | CreateIndex
    | DropIndex
    | DropSearch
    | CreateSearch
)


def storage_signature(f: FieldSpec) -> tuple:
    """What the column looks like in the database; a difference means an ALTER."""
    sa_type = types.get(f.type).sa_type(f)
    return (
        type(sa_type).__name__,
        getattr(sa_type, "length", None),
        getattr(sa_type, "precision", None),
        getattr(sa_type, "scale", None),
    )


def plan(current: EntitySpec | None, wanted: EntitySpec | None) -> list[Op]:
    """The DDL operations that turn ``current`` into ``wanted``, in a safe order:
    drop indexes, drop (purged) columns, alter types, add columns, create indexes."""
    if wanted is None:
        # Only an explicit purge removes an entity from the wanted state.
        if current is None:
            return []
        drop_search: list[Op] = [DropSearch(current, None)] if search_fields(current) else []
        return [*drop_search, DropTable(current)]
    table = wanted.table_name
    want_ix = wanted_indexes(wanted)
    if current is None:
        ops_new: list[Op] = [CreateTable(wanted)] + [
            CreateIndex(table, name, cols, unique)
            for name, (cols, unique) in sorted(want_ix.items())
        ]
        return ops_new + ([CreateSearch(wanted)] if search_fields(wanted) else [])

    cur_fields = {f.key: f for f in current.fields}
    want_fields = {f.key: f for f in wanted.fields}
    purged = [cur_fields[k] for k in cur_fields if k not in want_fields]
    added = [want_fields[k] for k in want_fields if k not in cur_fields]
    altered = [
        (cur_fields[k], want_fields[k])
        for k in want_fields
        if k in cur_fields and storage_signature(cur_fields[k]) != storage_signature(want_fields[k])
    ]
    altered_cols = {b.column for b, _ in altered}

    cur_ix = wanted_indexes(current)
    drop_ix = {
        name: cols
        for name, (cols, unique) in cur_ix.items()
        if want_ix.get(name) != (cols, unique) or altered_cols.intersection(cols)
    }
    create_ix = {
        name: (cols, unique)
        for name, (cols, unique) in want_ix.items()
        if cur_ix.get(name) != (cols, unique) or altered_cols.intersection(cols)
    }

    ops: list[Op] = [DropIndex(table, name, cols) for name, cols in sorted(drop_ix.items())]
    ops += [DropColumn(table, f) for f in purged]

    # Each type change sees the table as the previous steps left it.
    state = replace(current, fields=tuple(f for f in current.fields if f.key in want_fields))
    for before, after in altered:
        ops.append(AlterColumnType(state, before, after))
        state = replace(
            state, fields=tuple(after if f.key == after.key else f for f in state.fields)
        )
    ops += [AddColumn(table, f) for f in added]
    ops += [CreateIndex(table, n, c, u) for n, (c, u) in sorted(create_ix.items())]
    # Search structures follow the searchable fields; on SQLite they are also rebuilt when
    # a column they read is changed or dropped (a table rebuild loses their triggers).
    rebuild = bool(search_fields(current)) and bool(purged or altered)
    if search_signature(current) != search_signature(wanted) or rebuild:
        if search_fields(current):
            ops.insert(0, DropSearch(current, wanted))
        if search_fields(wanted):
            ops.append(CreateSearch(wanted))
    return ops


def describe(op: Op) -> str:
    """One line for logs and the administrator's preview (in the request's language)."""
    match op:
        case CreateTable(entity=e):
            return _("create table %(table)s", table=e.table_name)
        case DropTable(entity=e):
            return _("drop table %(table)s", table=e.table_name)
        case AddColumn(table=t, field=f):
            return _(
                "add column %(table)s.%(column)s (%(type)s)", table=t, column=f.column, type=f.type
            )
        case AlterColumnType(entity=e, before=b, after=a):
            return _(
                "change %(table)s.%(column)s from %(old)s to %(new)s",
                table=e.table_name,
                column=b.column,
                old=b.type,
                new=a.type,
            )
        case DropColumn(table=t, field=f):
            return _("drop column %(table)s.%(column)s", table=t, column=f.column)
        case CreateIndex(table=t, name=n, columns=c, unique=u):
            columns = ", ".join(c)
            if u:
                return _(
                    "create unique index %(index)s on %(table)s(%(columns)s)",
                    index=n,
                    table=t,
                    columns=columns,
                )
            return _(
                "create index %(index)s on %(table)s(%(columns)s)",
                index=n,
                table=t,
                columns=columns,
            )
        case DropSearch(before=b):
            return _("drop search structures of %(table)s", table=b.table_name)
        case CreateSearch(after=a):
            return _("build search structures of %(table)s", table=a.table_name)
        case DropIndex(table=t, name=n):
            return _("drop index %(index)s on %(table)s", index=n, table=t)
    raise TypeError(op)

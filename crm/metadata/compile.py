"""Rows -> frozen specs -> SQLAlchemy tables. Pure functions, no session, no caching."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from types import MappingProxyType

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, Table, text

from crm.metadata import types
from crm.metadata.models import EntityRow, FieldRow
from crm.metadata.spec import EMPTY, Choice, EntitySpec, FieldSpec

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")
MAX_IDENTIFIER = 63  # PostgreSQL silently truncates longer names; collisions would follow.


def _frozen(raw) -> MappingProxyType:
    """Stored translations (JSON; anything unexpected reads as none) as a frozen mapping."""
    from crm.metadata.labels import freeze

    return freeze(raw) if isinstance(raw, dict) else EMPTY


def field_spec(row: FieldRow) -> FieldSpec:
    """The frozen spec of one field row."""
    choices = tuple(
        Choice(
            key=c["key"],
            label=c.get("label", c["key"]),
            color=c.get("color", ""),
            order=int(c.get("order", i)),
            archived=bool(c.get("archived", False)),
            labels=_frozen(c.get("labels")),
        )
        for i, c in enumerate(row.choices or [])
    )
    return FieldSpec(
        key=row.key,
        type=row.type,
        label=row.label,
        help_text=row.help_text or "",
        required=bool(row.required),
        unique=bool(row.unique),
        default=row.default,
        position=row.position or 0,
        searchable=bool(row.searchable),
        archived=row.archived_at is not None,
        options=MappingProxyType(dict(row.options or {})),
        choices=tuple(sorted(choices, key=lambda c: c.order)),
        translations=_frozen(getattr(row, "translations", None)),
    )


def entity_spec(row: EntityRow, field_rows: Iterable[FieldRow] | None = None) -> EntitySpec:
    """The frozen spec of one entity row and its fields, in position order.

    ``row`` and ``field_rows`` may be ORM objects or Core rows (anything with the columns
    as attributes); without ``field_rows`` the ORM relationship is used.
    """
    rows = row.fields if field_rows is None else field_rows
    fields = sorted((field_spec(f) for f in rows), key=lambda f: (f.position, f.key))
    return EntitySpec(
        key=row.key,
        label_singular=row.label_singular,
        label_plural=row.label_plural,
        description=row.description or "",
        icon=row.icon or "",
        color=row.color or "",
        name_field=row.name_field,
        archived=row.archived_at is not None,
        fields=tuple(fields),
        translations=_frozen(getattr(row, "translations", None)),
    )


def index_name(table: str, column: str, *, unique: bool = False) -> str:
    """A deterministic index name that fits PostgreSQL's 63-character limit."""
    name = f"{'ux' if unique else 'ix'}_{table}__{column}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]  # noqa: S324 - a name, not security
    return f"{name[: MAX_IDENTIFIER - 11]}_{digest}"


def spine_columns() -> list[Column]:
    """The columns every entity table starts with."""
    return [
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("owner_id", BigInteger, nullable=True),
        Column("created_at", DateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
        Column("created_by", BigInteger, nullable=True),
        Column("updated_at", DateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
        Column("updated_by", BigInteger, nullable=True),
        Column("version", Integer, nullable=False, server_default=text("1")),
        Column("deleted_at", DateTime, nullable=True),
    ]


# Spine indexes, by the column they are named after. "My records, latest change first" is
# the list everyone opens: owner, last change and id (the lists' tie-breaker) in one index,
# so a database reads the first page in order instead of sorting all of the owner's
# records (it still serves owner-only lookups as its leading column).
SPINE_INDEXED: dict[str, tuple[str, ...]] = {
    "owner_id": ("owner_id", "updated_at", "id"),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
}


def field_column(f: FieldSpec) -> Column:
    """The column of a field. Always nullable: "required" is a rule of the record service,
    so making a field required never rebuilds a table (and is refused while rows lack it)."""
    return Column(f.column, types.get(f.type).sa_type(f), nullable=True)


def wanted_indexes(spec: EntitySpec) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Index name -> (columns, unique) for an entity: spine indexes, fields indexed by type,
    and a unique index (over live records only) per unique field."""
    table = spec.table_name
    out: dict[str, tuple[tuple[str, ...], bool]] = {
        index_name(table, named): (columns, False) for named, columns in SPINE_INDEXED.items()
    }
    for f in spec.fields:
        if f.unique:
            out[index_name(table, f.column, unique=True)] = ((f.column,), True)
        elif types.get(f.type).index_by_default or f.option("indexed"):
            out[index_name(table, f.column)] = ((f.column,), False)
    return out


def make_index(name: str, table: Table | str, columns: tuple[str, ...], unique: bool) -> Index:
    """An Index object; unique ones ignore soft-deleted records (the recycle bin)."""
    if isinstance(table, Table):
        cols = [table.c[c] for c in columns]
        where = table.c.deleted_at.is_(None)
        if unique:
            return Index(name, *cols, unique=True, sqlite_where=where, postgresql_where=where)
        return Index(name, *cols)
    raise TypeError("make_index needs a Table")


def build_table(spec: EntitySpec, metadata: MetaData) -> Table:
    """The SQLAlchemy table of an entity: spine, every field (archived ones too), indexes."""
    table = Table(
        spec.table_name, metadata, *spine_columns(), *(field_column(f) for f in spec.fields)
    )
    for name, (columns, unique) in wanted_indexes(spec).items():
        make_index(name, table, columns, unique)
    return table


def build_tables(specs: Iterable[EntitySpec]) -> tuple[MetaData, dict[str, Table]]:
    """Tables for all entities, in one MetaData of their own."""
    metadata = MetaData()
    tables = {s.key: build_table(s, metadata) for s in specs}
    return metadata, tables

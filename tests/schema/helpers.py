"""Small helpers for schema tests: read the real schema, insert and read raw rows."""

from __future__ import annotations

from sqlalchemy import inspect, select

from crm.extensions import db
from crm.metadata import specs


def columns(table: str) -> set[str]:
    db.session.rollback()
    return {c["name"] for c in inspect(db.session.connection()).get_columns(table)}


def tables() -> set[str]:
    db.session.rollback()
    return set(inspect(db.session.connection()).get_table_names())


def version() -> int:
    db.session.rollback()
    return specs.read_version()


def values(entity_key: str, field_key: str) -> list:
    db.session.rollback()
    table = specs.compile_all(specs.read_version()).table(entity_key)
    return list(db.session.scalars(select(table.c[field_key]).order_by(table.c.id)))


def snapshot() -> tuple:
    """Metadata rows, real schema and version, for "exactly as before" comparisons."""
    from crm.metadata.models import ConfigChange, EntityRow, FieldRow

    db.session.rollback()
    conn = db.session.connection()
    insp = inspect(conn)
    schema = {
        t: (
            sorted((c["name"], str(c["type"])) for c in insp.get_columns(t)),
            sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(t)
            ),
        )
        for t in insp.get_table_names()
        if t.startswith("x_")
    }
    entities = sorted(
        (e.key, e.label_singular, e.label_plural, e.archived_at is None, e.name_field)
        for e in db.session.scalars(select(EntityRow))
    )
    fields = sorted(
        (
            f.entity_id,
            f.key,
            f.type,
            f.label,
            f.required,
            f.unique,
            f.archived_at is None,
            str(f.options),
            str(f.choices),
        )
        for f in db.session.scalars(select(FieldRow))
    )
    changes = db.session.scalars(select(ConfigChange.id)).all()
    result = (schema, entities, fields, len(changes), specs.read_version())
    db.session.rollback()
    return result

"""Data preflights: count the rows a schema change would break, before anything changes.

Each function returns ``{where: [messages]}`` (empty when the change is safe). Counts cover
live records and those in the recycle bin alike, since a restore must not bring back a
value the column can no longer hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import has_app_context
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from sqlalchemy import Table, func, or_, select

from crm.extensions import db
from crm.metadata import types
from crm.metadata.spec import FieldSpec
from crm.schema.plan import storage_signature

BATCH = 5000
# Measured by bench/schema_bench.py (1,000,000 rows, integer -> decimal): SQLite rebuilds
# the table in about 7.6-8.7 s, PostgreSQL rewrites the column in about 7.6 s.
REWRITE_SECONDS_PER_ROW = {"sqlite": 9e-6, "postgresql": 8e-6}


def _count(n: int) -> str:
    """``n`` written as the request's language writes numbers (1,234 / 1.234)."""
    return format_number(n) if has_app_context() else f"{n:,}"


class QuotingMessage(str):
    """A message that quotes stored values, with ``redacted``: the same message without
    them, for a reader who may not read every value (``crm.designer.views_fields``)."""

    redacted: str

    def __new__(cls, text: str, redacted: str) -> QuotingMessage:
        message = super().__new__(cls, text)
        message.redacted = redacted
        return message


def _empty(table: Table, f: FieldSpec):
    col = table.c[f.column]
    conditions = [col.is_(None)]
    if types.get(f.type).storage in ("string", "text"):
        conditions.append(col == "")
    return or_(*conditions)


def count_rows(table: Table) -> int:
    return int(db.session.scalar(select(func.count()).select_from(table)) or 0)


def count_unconvertible(table: Table, old: FieldSpec, new: FieldSpec) -> tuple[int, list[str]]:
    """How many stored values of ``old`` would not survive as ``new`` (and a few examples)."""
    col = table.c[old.column]
    bad, examples = 0, []
    result = db.session.execute(
        select(col).where(col.is_not(None)).execution_options(yield_per=BATCH)
    )
    for (value,) in result:
        try:
            types.convert_value(old, new, value)
        except (ValueError, TypeError):
            bad += 1
            if len(examples) < 3:
                examples.append(str(value)[:40])
    return bad, examples


def field_change(table: Table, old: FieldSpec, new: FieldSpec) -> dict[str, list[str]]:
    """Refuse a change of type/size, or a new required/unique rule, that existing rows break."""
    where = f"{table.name[2:]}.{old.key}"
    problems: list[str] = []
    if old.type != new.type or storage_signature(old) != storage_signature(new):
        bad, examples = count_unconvertible(table, old, new)
        if bad:
            shown = ", ".join(_("“%(value)s”", value=e) for e in examples)
            without = ngettext(
                "%(count)s value would not convert. Correct it first; nothing was changed.",
                "%(count)s values would not convert. Correct them first; nothing was changed.",
                bad,
                count=_count(bad),
            )
            quoting = ngettext(
                "%(count)s value would not convert (for example %(examples)s). "
                "Correct it first; nothing was changed.",
                "%(count)s values would not convert (for example %(examples)s). "
                "Correct them first; nothing was changed.",
                bad,
                count=_count(bad),
                examples=shown,
            )
            problems.append(QuotingMessage(quoting if examples else without, without))
    if new.required and not old.required:
        missing = int(
            db.session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.deleted_at.is_(None), _empty(table, new))
            )
            or 0
        )
        if missing:
            problems.append(
                ngettext(
                    "%(count)s record has no value here, so the field cannot be required yet.",
                    "%(count)s records have no value here, so the field cannot be required yet.",
                    missing,
                    count=_count(missing),
                )
            )
    if new.unique and not old.unique:
        col = table.c[new.column]
        dupes = (
            select(col, func.count().label("n"))
            .where(table.c.deleted_at.is_(None), col.is_not(None))
            .group_by(col)
            .having(func.count() > 1)
            .subquery()
        )
        rows = int(db.session.scalar(select(func.coalesce(func.sum(dupes.c.n), 0))) or 0)
        if rows:
            problems.append(
                ngettext(
                    "%(count)s record shares a value with another record, so the field cannot "
                    "be unique yet.",
                    "%(count)s records share a value with another record, so the field cannot "
                    "be unique yet.",
                    rows,
                    count=_count(rows),
                )
            )
    return {where: problems} if problems else {}


def new_field_rules(table: Table, new: FieldSpec) -> dict[str, list[str]]:
    """A new required field without a default cannot be added to a table that has records."""
    if not new.required or new.default is not None:
        return {}
    live = int(
        db.session.scalar(
            select(func.count()).select_from(table).where(table.c.deleted_at.is_(None))
        )
        or 0
    )
    if not live:
        return {}
    return {
        f"{table.name[2:]}.{new.key}": [
            ngettext(
                "%(count)s existing record would have no value. Give the field a default "
                "value, or add it as optional first.",
                "%(count)s existing records would have no value. Give the field a default "
                "value, or add it as optional first.",
                live,
                count=_count(live),
            )
        ]
    }


def removed_choices(table: Table, f: FieldSpec, keys: list[str]) -> dict[str, list[str]]:
    """A picklist value still in use cannot be deleted (archive it instead)."""
    col = table.c[f.column]
    dialect = db.session.get_bind().dialect.name
    condition = types.build_filter(
        f,
        col,
        "contains_any" if types.get(f.type).multi_valued else "in",
        keys,
        dialect_name=dialect,
    )
    used = int(db.session.scalar(select(func.count()).select_from(table).where(condition)) or 0)
    if not used:
        return {}
    return {f"{table.name[2:]}.{f.key}": [_removed_in_use(used, keys)]}


def _removed_in_use(used: int, keys: list[str]) -> str:
    values = ", ".join(keys)
    if len(keys) == 1:
        return ngettext(
            "%(count)s record uses the removed value %(values)s. Archive the value instead.",
            "%(count)s records use the removed value %(values)s. Archive the value instead.",
            used,
            count=_count(used),
            values=values,
        )
    return ngettext(
        "%(count)s record uses the removed values %(values)s. Archive the values instead.",
        "%(count)s records use the removed values %(values)s. Archive the values instead.",
        used,
        count=_count(used),
        values=values,
    )


@dataclass(frozen=True)
class TypeChangePreview:
    """What the designer shows before asking for confirmation of a type change."""

    allowed: bool
    reason: str
    total: int
    unconvertible: int
    examples: tuple[str, ...]
    rebuilds_table: bool
    estimated_seconds: float = 0.0


def preview_type_change(
    table: Table, old: FieldSpec, new: FieldSpec, dialect: str
) -> TypeChangePreview:
    """Count what a type change would do, without changing anything."""
    kind = types.SAFE_CONVERSIONS.get((old.type, new.type)) if old.type != new.type else "lossless"
    if kind is None:
        return TypeChangePreview(
            allowed=False,
            reason=_(
                "A %(old)s field cannot become %(new)s.",
                old=types.get(old.type).label,
                new=types.get(new.type).label,
            ),
            total=0,
            unconvertible=0,
            examples=(),
            rebuilds_table=False,
        )
    total = count_rows(table)
    bad, examples = count_unconvertible(table, old, new)
    changes_storage = storage_signature(old) != storage_signature(new)
    return TypeChangePreview(
        allowed=bad == 0,
        reason=""
        if bad == 0
        else ngettext(
            "%(count)s value would not convert.",
            "%(count)s values would not convert.",
            bad,
            count=_count(bad),
        ),
        total=total,
        unconvertible=bad,
        examples=tuple(examples),
        rebuilds_table=changes_storage,
        estimated_seconds=round(total * REWRITE_SECONDS_PER_ROW[dialect], 1)
        if changes_storage
        else 0.0,
    )

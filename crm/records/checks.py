"""Checks of one value as a form field loses focus: the record service's rules, no write.

The form page asks before anything is saved, so people see a wrong date or a taken unique
value at once; the same rules run again, for real, when the record is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.service import check_unique, parse_values
from crm.uow import unit_of_work


def field_messages(
    user: Any,
    spec: EntitySpec,
    f: FieldSpec,
    raw: Mapping[str, Any],
    *,
    record_id: int | None = None,
) -> list[str]:
    """The messages saving would give for field ``f``'s value in ``raw`` (type, required,
    lookup, unique; ``record_id``: the record being edited, whose own value does not count
    as taken), or ``[]`` when it is fine. The caller checks that ``user`` may edit ``f``.
    Writes nothing: the transaction its reads opened is rolled back before it returns."""
    with unit_of_work() as unit:
        unit.discard()  # nothing to keep: a check never writes
        values, errors = parse_values(user, spec, raw, creating=record_id is None)
        if f.key in values:
            check_unique(spec, {f.key: values[f.key]}, errors, exclude_id=record_id)
    return errors.get(f.key, [])

"""Saved mappings: a mapping kept per entity under a name, found again by a file's columns.

``save`` stores (or replaces) one; ``for_columns`` lists an entity's saved mappings with
how many of their columns the new file has, the best fit first; ``apply_saved`` turns a
saved mapping into one for the new file: each column found by its name (folded), so a
file whose columns moved still maps; columns it lacks are dropped, new ones skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import policy
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.imports.mapping import ColumnChoice, Mapping
from crm.imports.matching import norm
from crm.imports.models import SavedMapping
from crm.metadata.spec import EntitySpec
from crm.timeutil import utcnow
from crm.uow import unit_of_work

__all__ = ["Fit", "apply_saved", "delete", "for_columns", "save"]

MAX_NAME = 100


@dataclass(frozen=True)
class Fit:
    """A saved mapping and how well it fits a file: ``found`` of its ``total`` mapped
    columns are in the file."""

    id: int
    name: str
    found: int
    total: int


def _require(user: Any, spec: EntitySpec) -> None:
    if not policy.can(user, "import", spec):
        raise Forbidden(_("You may not import %(entity)s.", entity=spec.label_plural))


def save(user: Any, spec: EntitySpec, name: str, mapping: Mapping) -> int:
    """Save ``mapping`` for ``spec`` as ``name`` (replacing the one of that name); its id.
    ``Forbidden`` without the import right; ``ValidationFailed`` for a bad name."""
    _require(user, spec)
    name = " ".join(str(name or "").split())
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed(
            errors={"name": [_("Name the mapping (at most %(n)s characters).", n=MAX_NAME)]}
        )
    data = replace(mapping, entity=spec.key).to_json()
    columns = [norm(c.name) for c in mapping.columns]
    with unit_of_work():
        row = db.session.scalars(
            select(SavedMapping).where(
                SavedMapping.entity_key == spec.key, SavedMapping.name == name
            )
        ).first()
        if row is None:
            row = SavedMapping(entity_key=spec.key, name=name, created_by=getattr(user, "id", None))
            db.session.add(row)
        row.columns, row.mapping, row.updated_at = columns, data, utcnow()
        db.session.flush()
        return row.id


def for_columns(user: Any, spec: EntitySpec, columns: Sequence[str]) -> list[Fit]:
    """``spec``'s saved mappings, those fitting the file's ``columns`` best first (then the
    most recently saved); mappings sharing no mapped column with the file are left out."""
    _require(user, spec)
    have = {norm(c) for c in columns}
    rows = db.session.scalars(
        select(SavedMapping)
        .where(SavedMapping.entity_key == spec.key)
        .order_by(SavedMapping.updated_at.desc(), SavedMapping.id.desc())
    ).all()
    fits = []
    for row in rows:
        mapped = [norm(c.get("name", "")) for c in row.mapping.get("columns", []) if c.get("field")]
        found = sum(1 for c in mapped if c in have)
        if found:
            fits.append(Fit(row.id, row.name, found, len(mapped)))
    fits.sort(key=lambda f: (-(f.found / max(f.total, 1)), -f.found))
    return fits


def apply_saved(user: Any, spec: EntitySpec, mapping_id: int, columns: Sequence[str]) -> Mapping:
    """Saved mapping ``mapping_id`` applied to a file with ``columns`` (see the module's
    docstring). ``NotFound`` when it is not one of ``spec``'s."""
    _require(user, spec)
    row = db.session.get(SavedMapping, mapping_id)
    if row is None or row.entity_key != spec.key:
        raise NotFound(_("This saved mapping no longer exists."))
    saved = Mapping.from_json(row.mapping)
    by_name = {norm(c.name): c for c in saved.columns if c.field}
    out = []
    for i, name in enumerate(columns):
        c = by_name.get(norm(name))
        out.append(replace(c, column=i, name=name) if c else ColumnChoice(column=i, name=name))
    return replace(saved, entity=spec.key, columns=tuple(out))


def delete(user: Any, spec: EntitySpec, mapping_id: int) -> None:
    """Delete one of ``spec``'s saved mappings (nothing when it is already gone)."""
    _require(user, spec)
    with unit_of_work():
        row = db.session.get(SavedMapping, mapping_id)
        if row is not None and row.entity_key == spec.key:
            db.session.delete(row)

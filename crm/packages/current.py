"""A stopgap reader of the installation's configuration in the package format.

``current_config()`` reads entities, fields, layouts and pipelines as the package format
has them (docs/packages.md), defaults left out, for ``plan`` and ``apply``. It stands in
for ``crm.packages.export.export_package()`` until that lands: the lead swaps the one
call in ``crm.packages.apply``. Shared list views and roles are not read here (their
stable keys come with export's key columns).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm.extensions import db
from crm.metadata import labels, types
from crm.metadata.compile import entity_spec
from crm.metadata.models import EntityRow, LayoutRow
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.packages.plan import clean
from crm.pipelines.models import PipelineRow


def _field(f: FieldSpec) -> dict[str, Any]:
    ftype = types.get(f.type)
    defaults = dict(ftype.default_options)
    options = {k: v for k, v in f.options.items() if k not in defaults or defaults[k] != v}
    out: dict[str, Any] = {
        "type": f.type,
        "label": f.label,
        "position": f.position,
        "help_text": f.help_text,
        "required": f.required,
        "unique": f.unique,
        "default": f.default,
        "searchable": f.searchable,
        "archived": f.archived,
        "options": options,
        "translations": labels.thaw(f.translations),
    }
    if ftype.has_choices and not ftype.managed:
        out["choices"] = [
            clean(
                {
                    "key": c.key,
                    "label": c.label,
                    "color": c.color,
                    "labels": dict(c.labels),
                    "archived": c.archived,
                }
            )
            for c in sorted(f.choices, key=lambda c: c.order)
        ]
    return clean(out)


def _entity(e: EntitySpec) -> dict[str, Any]:
    out = clean(
        {
            "label_singular": e.label_singular,
            "label_plural": e.label_plural,
            "description": e.description,
            "icon": e.icon,
            "color": e.color,
            "name_field": e.name_field,
            "archived": e.archived,
            "translations": labels.thaw(e.translations),
        }
    )
    out["fields"] = {f.key: _field(f) for f in e.fields}
    return out


def _pipeline(p: PipelineRow) -> dict[str, Any]:
    stages = [
        clean(
            {
                "key": s.key,
                "name": s.name,
                "probability": s.probability,
                "category": s.category,
                "color": s.color,
                "required_fields": list(s.required_fields or ()),
                "stale_days": s.stale_days,
                "translations": s.translations or {},
                "archived": s.archived_at is not None,
            }
        )
        for s in sorted(p.stages, key=lambda s: s.position)
    ]
    return clean(
        {
            "name": p.name,
            "translations": p.translations or {},
            "default": bool(p.is_default),
            "position": p.position,
            "options": p.options or {},
            "archived": p.archived_at is not None,
            "stages": stages,
        }
    )


def current_config() -> dict[str, Any]:
    """The installation's entities (with fields, layouts, pipelines) in the package
    format. Reads only."""
    entities: dict[str, Any] = {}
    for row in db.session.scalars(select(EntityRow).order_by(EntityRow.key)):
        entities[row.key] = _entity(entity_spec(row))
    for layout in db.session.scalars(select(LayoutRow)):
        if layout.entity_key in entities and layout.definition:
            entities[layout.entity_key].setdefault("layouts", {})[layout.kind] = dict(
                layout.definition
            )
    for p in db.session.scalars(select(PipelineRow)):
        if p.entity_key in entities:
            entities[p.entity_key].setdefault("pipelines", {})[p.key] = _pipeline(p)
    return {"entities": entities}

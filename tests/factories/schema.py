"""Entities and fields, created through the real schema service (the one pipeline: validate,
plan, apply, bump), so a test's model is exactly what an administrator could build.

Field builders return the dicts ``crm.schema.service`` takes; ``make_entity`` passes them on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from crm.metadata.spec import EntitySpec
from crm.schema import service

Choice = str | tuple[str, str] | tuple[str, str, str]


def field(key: str, type: str = "text", label: str | None = None, **extra: Any) -> dict:
    """A field definition of any type (``extra``: required, unique, searchable, options,
    choices...). The label defaults to the key, capitalised."""
    return {"key": key, "type": type, "label": label or key.replace("_", " ").capitalize(), **extra}


def text(key: str, label: str | None = None, **extra: Any) -> dict:
    """A one-line text field."""
    return field(key, "text", label, **extra)


def choices(*items: Choice) -> list[dict]:
    """Picklist options from "key", (key, label) or (key, label, colour)."""
    out = []
    for item in items:
        if isinstance(item, str):
            out.append({"key": item, "label": item.capitalize()})
            continue
        option = {"key": item[0], "label": item[1]}
        if len(item) > 2:
            option["color"] = item[2]
        out.append(option)
    return out


def picklist(key: str, label: str | None, items: Iterable[Choice], **extra: Any) -> dict:
    """A single-choice picklist with ``items`` (see ``choices``)."""
    return field(key, "picklist", label, choices=choices(*items), **extra)


def multi_picklist(key: str, label: str | None, items: Iterable[Choice], **extra: Any) -> dict:
    """A multiple-choice picklist with ``items`` (see ``choices``)."""
    return field(key, "multi_picklist", label, choices=choices(*items), **extra)


def lookup(
    key: str, label: str | None, target: str, *, on_delete: str | None = None, **extra: Any
) -> dict:
    """A lookup to entity ``target`` (``on_delete``: "restrict" or the default)."""
    options: dict[str, Any] = {"target": target, **extra.pop("options", {})}
    if on_delete:
        options["on_delete"] = on_delete
    return field(key, "lookup", label, options=options, **extra)


def make_entity(
    key: str,
    label: str | None = None,
    fields: Sequence[dict] = (),
    *,
    plural: str | None = None,
    actor_id: int | None = None,
    **options: Any,
) -> EntitySpec:
    """Create entity ``key`` with ``fields`` through the schema service and return its
    compiled spec (``options``: name_field, color...). Raises what the service raises
    (``ValidationFailed`` for a refused definition; nothing is created then)."""
    return service.create_entity(
        key,
        label or key.replace("_", " ").capitalize(),
        plural,
        fields=list(fields),
        actor_id=actor_id,
        **options,
    )

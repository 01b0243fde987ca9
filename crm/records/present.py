"""How records read on screen: names, lookups and users resolved in batches, formatting."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crm.extensions import db
from crm.metadata import list_views, specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.query import scoped, table_of


def record_name(spec: EntitySpec, row: Mapping[str, Any]) -> str:
    """A record's display name: its naming field, else "Account #12"."""
    f = spec.field(spec.name_field) if spec.name_field else None
    if f is not None and row.get(f.key) not in (None, ""):
        return types.get(f.type).format(f, row[f.key])
    return f"{spec.label_singular} #{row['id']}"


def names_of(user: Any, target: EntitySpec, ids: Iterable[int]) -> dict[int, str]:
    """Display names of the ``ids`` of ``target`` that ``user`` may see (one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    table = table_of(target)
    columns = [table.c.id]
    if target.name_field and target.field(target.name_field):
        columns.append(table.c[target.name_field])
    rows = db.session.execute(
        scoped(user, target, "read", columns=columns).where(table.c.id.in_(wanted))
    ).mappings()
    return {r["id"]: record_name(target, r) for r in rows}


class Display:
    """Formats values of one batch of rows, resolving lookups and users once per batch."""

    def __init__(self, user: Any, spec: EntitySpec, fields: Iterable[FieldSpec], rows: list):
        self.fields = list(fields)
        self.lookups: dict[str, dict[int, str]] = {}
        self.targets: dict[str, EntitySpec] = {}
        compiled = specs.current()
        user_ids: set[int] = set()
        for f in self.fields:
            if f.type == "lookup":
                target = compiled.entity(f.option("target"))
                if target is not None:
                    self.targets[f.key] = target
                    self.lookups[f.key] = names_of(user, target, (r[f.key] for r in rows))
            elif f.type == "user" or f.key == "owner_id":
                user_ids.update(r[f.key] for r in rows if r[f.key] is not None)
        self.users = list_views.user_names(user_ids) if user_ids else {}

    def text(self, f: FieldSpec, value: Any) -> str:
        if value is None or value == "" or value == []:
            return ""
        if f.type == "lookup":
            return self.lookups.get(f.key, {}).get(value, "(a record you cannot see)")
        if f.type == "user" or f.key == "owner_id":
            return self.users.get(value, "(former user)")
        return types.get(f.type).format(f, value)

    def target(self, f: FieldSpec) -> EntitySpec | None:
        return self.targets.get(f.key)

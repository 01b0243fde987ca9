"""The duplicate-rule editor's input: what the form posted (or a stored rule), as the
designer shows it, and as the data ``crm.dedupe.admin`` takes.

Conditions are rows ``cond-<n>-field`` (one or more), ``cond-<n>-method``,
``cond-<n>-threshold`` and ``cond-<n>-other_field``, listed by ``cond_idx``; the buttons
``add_condition``, ``remove_condition`` (a row's n) and ``refresh`` redraw the form
without saving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm.dedupe.admin import MAX_CONDITIONS
from crm.dedupe.models import ACTIONS, WARN
from crm.dedupe.rules import DEFAULT_THRESHOLD
from crm.metadata.spec import EntitySpec
from forms.designer import translations_from


@dataclass
class ConditionRow:
    """One condition as typed: its fields, method, similarity, compared fields, problems
    (by part: ``field``, ``method``, ``threshold``, ``""``)."""

    index: int
    fields: list[str] = field(default_factory=list)
    method: str = "normalized"
    threshold: str = ""
    other_fields: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def to_data(self, cross: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"field": _one(self.fields), "method": self.method}
        if self.method == "fuzzy":
            text = self.threshold.strip().replace(",", ".")
            try:
                out["threshold"] = float(text) if text else DEFAULT_THRESHOLD
            except ValueError:
                out["threshold"] = text[:20]
        if cross and self.other_fields:
            out["other_field"] = _one(self.other_fields)
        return out


def _one(names: list[str]) -> Any:
    if not names:
        return ""
    return names[0] if len(names) == 1 else list(names)


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


@dataclass
class Editor:
    """What the duplicate-rule editor shows."""

    entity: EntitySpec
    key: str = ""
    name: str = ""
    translations: dict = field(default_factory=dict)
    action: str = WARN
    on_create: bool = True
    on_edit: bool = True
    enabled: bool = True
    compare_entity_key: str = ""
    conditions: list[ConditionRow] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    editing: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(c.errors for c in self.conditions)

    def to_data(self) -> dict[str, Any]:
        """The ``data`` the duplicate-rule service takes."""
        cross = bool(self.compare_entity_key)
        return {
            "key": self.key,
            "name": self.name,
            "translations": {"name": self.translations},
            "action": self.action,
            "on_create": self.on_create,
            "on_edit": self.on_edit,
            "enabled": self.enabled,
            "compare_entity_key": self.compare_entity_key or None,
            "conditions": [c.to_data(cross) for c in self.conditions],
        }

    def place(self, errors: dict[str, list[str]]) -> None:
        """Put the service's problems by their inputs (by key, never by wording)."""
        for where, messages in errors.items():
            head, _dot, rest = where.partition(".")
            n, _dot, part = rest.partition(".")
            if head == "conditions" and n.isdigit() and int(n) < len(self.conditions):
                self.conditions[int(n)].errors.setdefault(part, []).extend(messages)
            else:
                self.errors.setdefault(head or "_", []).extend(messages)


def from_row(entity: EntitySpec, row: Any) -> Editor:
    """The editor of a stored rule."""
    conditions = []
    for i, c in enumerate(row.conditions or []):
        c = c if isinstance(c, dict) else {}
        threshold = c.get("threshold")
        conditions.append(
            ConditionRow(
                index=i,
                fields=_names(c.get("field")),
                method=str(c.get("method") or ""),
                threshold=""
                if threshold is None
                else f"{threshold:g}"
                if isinstance(threshold, int | float)
                else str(threshold),
                other_fields=_names(c.get("other_field")),
            )
        )
    return Editor(
        entity=entity,
        key=row.key,
        name=row.name,
        translations=dict((row.translations or {}).get("name") or {}),
        action=row.action,
        on_create=bool(row.on_create),
        on_edit=bool(row.on_edit),
        enabled=bool(row.enabled),
        compare_entity_key=row.compare_entity_key or "",
        conditions=conditions,
    )


def new_editor(entity: EntitySpec) -> Editor:
    """A blank rule with one condition."""
    return Editor(entity=entity, conditions=[ConditionRow(index=0)])


def _indices(form: Any) -> list[int]:
    out = []
    for raw in form.getlist("cond_idx")[: MAX_CONDITIONS * 2]:
        if raw.isascii() and raw.isdigit() and len(raw) < 4 and int(raw) not in out:
            out.append(int(raw))
    return out


def from_post(entity: EntitySpec, form: Any) -> Editor:
    """The editor as posted, with the editing button's step made."""
    action = form.get("action", WARN)
    ed = Editor(
        entity=entity,
        key=(form.get("key") or "").strip(),
        name=form.get("name", ""),
        translations=translations_from(form, "tr_name") or {},
        action=action if action in ACTIONS else action[:10],
        on_create=bool(form.get("on_create")),
        on_edit=bool(form.get("on_edit")),
        enabled=bool(form.get("enabled")),
        compare_entity_key=(form.get("compare_entity_key") or "").strip()[:41],
    )
    removed = form.get("remove_condition") or ""
    for i in _indices(form):
        if str(i) == removed:
            continue
        ed.conditions.append(
            ConditionRow(
                index=i,
                fields=[f for f in form.getlist(f"cond-{i}-field") if f][:10],
                method=(form.get(f"cond-{i}-method") or "")[:20],
                threshold=(form.get(f"cond-{i}-threshold") or "")[:20],
                other_fields=[f for f in form.getlist(f"cond-{i}-other_field") if f][:10],
            )
        )
    if form.get("add_condition") and len(ed.conditions) < MAX_CONDITIONS:
        nxt = max((c.index for c in ed.conditions), default=-1) + 1
        ed.conditions.append(ConditionRow(index=nxt))
    ed.editing = any(form.get(b) for b in ("add_condition", "remove_condition", "refresh"))
    return ed

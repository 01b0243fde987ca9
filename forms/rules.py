"""The automation rule editor's form. It only reads input into the shape the rule service
takes (``crm.automation.models``); the service checks the meaning and reports every
problem at once, keyed by part, and ``Editor.place`` puts each message by its input.

Works as a plain HTML form: "Add condition", "Add action", the remove buttons and
"Update" submit the form with their own name (``add_filter``, ``remove_filter``,
``add_action``, ``remove_action``, ``refresh``) and the view shows it again, changed and
unsaved. htmx only makes the same steps happen in place (one row or the trigger inputs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crm.automation.rule_parts import ACTIONS, MAX_ACTIONS, MAX_CONDITIONS, TRIGGERS
from crm.metadata import list_views as lv
from crm.metadata.spec import EntitySpec
from forms.designer import translations_from
from forms.list_views import (
    FilterForm,
    FilterRow,
    indices_in,
    next_index,
    row_from_form,
    row_from_spec,
)

_ACTION_RE = re.compile(r"^actions-([0-9]{1,3})-type$")
TRIGGER_PARTS = ("field", "to", "stage", "offset_days", "yearly", "what", "days")


def recipient_token(r: Any) -> str:
    """A recipient as a form value: "owner", "manager", "user:7", "role:2"..."""
    if isinstance(r, dict) and len(r) == 1:
        ((kind, rid),) = r.items()
        return f"{kind}:{rid}"
    return str(r or "")


def token_recipient(token: Any) -> Any:
    """A form value as a recipient (the service checks it)."""
    token = str(token or "").strip()
    kind, colon, rid = token.partition(":")
    if colon and kind in ("user", "role", "department"):
        return {kind: rid}
    return token


@dataclass
class ActionRow:
    """One action of the editor: its place among the rows (``index``), its type, its
    settings as the service takes them, and the problems with them."""

    index: int
    type: str
    data: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        """The recipients as form values."""
        return [recipient_token(r) for r in self.data.get("to") or ()]

    def one(self, part: str) -> str:
        """A single recipient setting (``to`` of assign, ``assignee`` of a task) as a form
        value."""
        return recipient_token(self.data.get(part))

    @property
    def set_rows(self) -> list[tuple[str, str]]:
        """The "set fields" rows, with one blank row to add a field."""
        rows = [
            (k, "" if v is None else str(v)) for k, v in (self.data.get("values") or {}).items()
        ]
        return [*rows, ("", "")]


def _action_from_post(form: Any, i: int) -> ActionRow:
    p = f"actions-{i}-"
    kind = form.get(p + "type", "")
    row = ActionRow(index=i, type=kind if kind in ACTIONS else "")
    data: dict[str, Any] = {"type": kind}
    if kind == "set":
        keys, values = form.getlist(p + "set_field"), form.getlist(p + "set_value")
        data["values"] = {k: v for k, v in zip(keys, values, strict=False) if k.strip()}
    elif kind == "assign":
        data["to"] = token_recipient(form.get(p + "to"))
        if isinstance(data["to"], dict) and "user" not in data["to"]:
            data["how"] = form.get(p + "how") or ""
    elif kind == "task":
        data["subject"] = form.get(p + "subject", "")
        data["due_in_days"] = form.get(p + "due_in_days", "0")
        data["priority"] = form.get(p + "priority", "normal")
        data["assignee"] = token_recipient(form.get(p + "assignee") or "owner")
    elif kind in ("notify", "email"):
        head = "title" if kind == "notify" else "subject"
        data["to"] = [token_recipient(t) for t in form.getlist(p + "to") if t]
        data[head] = form.get(p + head, "")
        data["body"] = form.get(p + "body", "")
    elif kind == "webhook":
        data["url"] = form.get(p + "url", "")
        data["secret"] = form.get(p + "secret", "")
    elif kind == "pool":
        data["pool"] = form.get(p + "pool", "")
        data["reason"] = form.get(p + "reason", "")
    row.data = data
    return row


def action_indices(form: Any) -> list[int]:
    """The action-row indices named in submitted data, in order."""
    return sorted({int(m.group(1)) for k in form if (m := _ACTION_RE.match(k))})


def new_action(form: Any, kind: str) -> ActionRow:
    """A new, empty action of ``kind`` placed after the rows ``form`` names."""
    return ActionRow(index=next_index(action_indices(form)), type=kind, data={"type": kind})


@dataclass
class Editor:
    """What the rule editor shows: the inputs as typed (or stored) and their problems."""

    entity: EntitySpec
    key: str = ""
    name: str = ""
    translations: dict = field(default_factory=dict)
    description: str = ""
    enabled: bool = True
    trigger: dict = field(default_factory=lambda: {"type": "created"})
    filters: list[FilterRow] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    editing: bool = False  # an editing button (not Save) sent the form

    @property
    def failed(self) -> bool:
        return (
            bool(self.errors)
            or any(r.errors for r in self.filters)
            or any(a.errors for a in self.actions)
        )

    def to_data(self) -> dict:
        """The ``data`` the rule service takes."""
        return {
            "entity_key": self.entity.key,
            "key": self.key,
            "name": self.name,
            "translations": {"name": self.translations},
            "description": self.description,
            "enabled": self.enabled,
            "trigger": self.trigger,
            "conditions": [r.to_data() for r in self.filters if not r.blank],
            "actions": [a.data for a in self.actions],
        }

    def place(self, errors: dict[str, list[str]]) -> None:
        """Put the service's problems by their inputs (by key, never by wording)."""
        sent = [r for r in self.filters if not r.blank]
        for where, messages in errors.items():
            head, _dot, rest = where.partition(".")
            n, _dot, part = rest.partition(".")
            if head == "conditions" and n.isdigit() and int(n) < len(sent):
                sent[int(n)].errors.extend(messages)
            elif head == "actions" and n.isdigit() and int(n) < len(self.actions):
                row = self.actions[int(n)]
                if part.startswith("values."):
                    f = lv.field_for(self.entity, part[7:])
                    label = str(f.label) if f is not None else part[7:]
                    messages = [f"{label}: {m}" for m in messages]
                row.errors.extend(messages)
            else:
                self.errors.setdefault(head if head != "entity_key" else "key", []).extend(messages)


def from_rule(entity: EntitySpec, row: Any) -> Editor:
    """The editor of a stored rule."""
    return Editor(
        entity=entity,
        key=row.key,
        name=row.name,
        translations=dict((row.translations or {}).get("name") or {}),
        description=row.description or "",
        enabled=bool(row.enabled),
        trigger=dict(row.trigger or {}),
        filters=[
            row_from_spec(entity, i, lv.FilterSpec(c["field"], c["op"], _tuple(c.get("value"))))
            for i, c in enumerate(row.conditions or [])
        ],
        actions=[
            ActionRow(index=i, type=a.get("type", ""), data={**a, "secret": ""})
            for i, a in enumerate(row.actions or [])
        ],
    )


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def trigger_from(form: Any) -> dict:
    """The trigger as posted (inputs ``trigger_type``, ``trigger_<part>``)."""
    kind = form.get("trigger_type", "")
    out: dict[str, Any] = {"type": kind if kind in TRIGGERS else kind[:20]}
    for part in TRIGGER_PARTS:
        value = form.get(f"trigger_{part}")
        if value not in (None, ""):
            out[part] = value
    if "yearly" in out:
        out["yearly"] = True
    return out


def from_post(entity: EntitySpec, form: Any) -> Editor:
    """The editor as posted, with the editing button's step made."""
    ed = Editor(
        entity=entity,
        key=(form.get("key") or "").strip(),
        name=form.get("name", ""),
        translations=translations_from(form, "tr_name") or {},
        description=form.get("description", ""),
        enabled=bool(form.get("enabled")),
        trigger=trigger_from(form),
    )
    removed = form.get("remove_filter") or ""
    for i in indices_in(form):
        if str(i) != removed:
            ed.filters.append(row_from_form(entity, i, FilterForm(form, prefix=f"filters-{i}")))
    if form.get("add_filter") and len(ed.filters) < MAX_CONDITIONS:
        ed.filters.append(FilterRow(index=next_index(r.index for r in ed.filters)))
    gone = form.get("remove_action") or ""
    ed.actions = [_action_from_post(form, i) for i in action_indices(form) if str(i) != gone]
    kind = form.get("add_action") or ""
    if kind in ACTIONS and len(ed.actions) < MAX_ACTIONS:
        ed.actions.append(new_action(form, kind))
    ed.editing = any(
        form.get(b)
        for b in ("add_filter", "remove_filter", "add_action", "remove_action", "refresh")
    )
    return ed

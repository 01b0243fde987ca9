"""A plan in words: the lines an implementer reads before applying a package.

``groups(plan)`` gives the plan's steps grouped by entity (roles last), each step one
``Line`` (its sign, its text, the JSON pointer it concerns, why it is destructive);
``lines(plan)`` flattens them into indented text for the command line. The signs:
``+`` add, ``~`` change (old → new), ``-`` archive, ``!`` conflict (mine / theirs),
``=`` a local change that is kept (written in brackets). Seed records follow, per entity:
``+`` add, ``~`` update (field old → new), ``=`` local edits kept, ``-`` deleted here and
not recreated. Pure: reads only the plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.packages import seed_plan
from crm.packages.plan import (
    ADD,
    ARCHIVE,
    DUPLICATE_RULE,
    ENTITY,
    FIELD,
    KEEP,
    LAYOUT,
    LIST_VIEW,
    PIPELINE,
    POOL,
    REMOVE,
    ROLE,
    RULE,
    Change,
    Conflict,
    Plan,
)
from crm.packages.seed_plan import Counts, FieldStep, SeedStep

_KINDS = {
    ENTITY: _l("entity"),
    FIELD: _l("field"),
    LAYOUT: _l("layout"),
    LIST_VIEW: _l("list view"),
    PIPELINE: _l("pipeline"),
    ROLE: _l("role"),
    RULE: _l("automation rule"),
    DUPLICATE_RULE: _l("duplicate rule"),
    POOL: _l("customer pool"),
}
# What an added item's line shows of its settings, by kind.
_SUMMARY = {
    ENTITY: ("label_singular", "label_plural"),
    FIELD: ("type", "label", "required"),
    PIPELINE: ("name", "stages"),
    LIST_VIEW: ("name",),
    ROLE: ("name",),
    RULE: ("entity", "name"),
    DUPLICATE_RULE: ("entity", "name"),
    POOL: ("entity", "name"),
    LAYOUT: (),
}
_LONGEST = 160


@dataclass(frozen=True)
class Line:
    """One step of a plan: ``sign`` (+ ~ - ! =), ``text`` in words, ``path`` (the JSON
    pointer to name in --take-theirs/--keep-mine for a conflict), ``why`` when the step is
    destructive."""

    sign: str
    text: str
    path: str
    why: str = ""


def value(v: Any) -> str:
    """A setting's value, short: JSON for data, "(none)" for absent; a list of keyed items
    (stages, choices) by its keys; cut at about 160 characters."""
    if v is None:
        return _("(none)")
    if (
        isinstance(v, list)
        and v
        and all(isinstance(i, dict) and isinstance(i.get("key"), str) for i in v)
    ):
        text = "[" + ", ".join(i["key"] for i in v) + "]"
        return text if len(text) <= _LONGEST else text[: _LONGEST - 1] + "…"
    return _json(v)


def _keys(v: Any) -> list | None:
    if isinstance(v, list) and v and all(isinstance(i, dict) and "key" in i for i in v):
        return [i["key"] for i in v]
    return None


def _pair(old: Any, new: Any) -> tuple[str, str]:
    old_keys, new_keys = _keys(old), _keys(new)
    if old_keys is None or new_keys is None or old == new:
        return value(old), value(new)
    if old_keys == new_keys:
        # Same keys, other settings: the short form ([a, b]) would read as no change, so
        # the entries that differ are shown in full.
        changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        return _json([a for a, _b in changed]), _json([b for _a, b in changed])
    before = {i["key"]: i for i in old}
    edited = [i["key"] for i in new if i["key"] in before and before[i["key"]] != i]
    if not edited:
        return value(old), value(new)
    return value(old), value(new) + " " + _("(settings changed: %(keys)s)", keys=", ".join(edited))


def _json(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _LONGEST else text[: _LONGEST - 1] + "…"


def _relative(path: str, entity: str | None) -> str:
    """The path inside its entity's group ("fields/amount/label"), or without the leading
    slash outside one ("roles/sales_rep/name")."""
    if entity is not None:
        prefix = "/entities/" + entity.replace("~", "~0").replace("/", "~1")
        if path == prefix:
            return ""
        if path.startswith(prefix + "/"):
            return path[len(prefix) + 1 :]
    return path.lstrip("/")


def _item(kind: str, path: str, entity: str | None) -> str:
    key = path.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
    return f"{_KINDS.get(kind, kind)} {key}"


def _where(step: Change | Conflict) -> str:
    rel = _relative(step.path, step.entity)
    return rel or _item(step.kind, step.item, step.entity)


def _added(step: Change) -> str:
    settings = step.new if isinstance(step.new, dict) else {}
    shown = [
        f"{prop}={value(settings[prop])}"
        for prop in _SUMMARY.get(step.kind, ())
        if settings.get(prop) not in (None, "", False, [], {})
    ]
    what = _item(step.kind, step.item, step.entity)
    return f"{what} ({', '.join(shown)})" if shown else what


def line(step: Change | Conflict) -> Line:
    """The words for one step, conflict or kept change."""
    if isinstance(step, Conflict):
        mine, theirs = _pair(step.mine, step.theirs)
        text = _(
            "conflict %(path)s: mine=%(mine)s theirs=%(theirs)s",
            path=step.path,
            mine=mine,
            theirs=theirs,
        )
        return Line("!", text, step.path, step.why)
    if step.action == ADD:
        return Line("+", _("add %(item)s", item=_added(step)), step.path, step.why)
    if step.action == ARCHIVE:
        what = _item(step.kind, step.item, step.entity)
        return Line("-", _("archive %(item)s", item=what), step.path, step.why)
    if step.action == REMOVE:
        what = _item(step.kind, step.item, step.entity)
        return Line("-", _("remove %(item)s", item=what), step.path, step.why)
    if step.action == KEEP:
        mine, theirs = _pair(step.new, step.old)
        text = _(
            "kept local change %(path)s: %(mine)s (the package says %(theirs)s)",
            path=_where(step),
            mine=mine,
            theirs=theirs,
        )
        return Line("=", text, step.path, "")
    old, new = _pair(step.old, step.new)
    text = _("change %(path)s: %(old)s → %(new)s", path=_where(step), old=old, new=new)
    return Line("~", text, step.path, step.why)


def groups(p: Plan) -> list[tuple[str, list[Line]]]:
    """The plan's lines grouped by entity, in key order, items outside any entity (roles)
    last; each group with its heading."""
    out: list[tuple[str, list[Line]]] = []
    grouped = p.by_entity()
    for key in sorted(k for k in grouped if k):
        out.append((_("Entity %(key)s", key=key), [line(s) for s in grouped[key]]))
    if "" in grouped:
        out.append((_("Outside entities"), [line(s) for s in grouped[""]]))
    return out


def _fields(changes: tuple[FieldStep, ...]) -> str:
    return "; ".join(f"{c.field}: {value(c.old)} → {value(c.new)}" for c in changes)


def _kept(kept: tuple[FieldStep, ...]) -> str:
    return "; ".join(
        _("%(field)s: %(mine)s (the package says %(theirs)s)", field=c.field,
          mine=value(c.new), theirs=value(c.old))
        for c in kept
    )  # fmt: skip


def seed_line(step: SeedStep) -> list[Line]:
    """The words for one seed record's step (and its kept local edits)."""
    out = []
    if step.action == seed_plan.ADD:
        out.append(Line("+", _("add %(key)s", key=step.key), step.path))
    elif step.action == seed_plan.DELETED:
        text = _("%(key)s was deleted here: not recreated", key=step.key)
        out.append(Line("-", text, step.path))
    elif step.changes:
        text = _("update %(key)s: %(fields)s", key=step.key, fields=_fields(step.changes))
        out.append(Line("~", text, step.path))
    if step.kept and step.action != seed_plan.DELETED:
        text = _("kept local edits %(key)s: %(fields)s", key=step.key, fields=_kept(step.kept))
        out.append(Line("=", text, step.path))
    return out


def seed_counts(counts: Counts) -> str:
    """A seed entity's counts in words."""
    return _(
        "%(add)d to add, %(update)d to update, %(kept)d kept as edited locally, "
        "%(deleted)d deleted locally (not recreated), %(unchanged)d unchanged",
        add=counts.add,
        update=counts.update,
        kept=counts.kept,
        deleted=counts.deleted,
        unchanged=counts.unchanged,
    )


def seed_groups(p: Plan) -> list[tuple[str, list[Line]]]:
    """The seed records' lines, one group per entity: a heading with the counts, a line
    per record added, updated, kept as edited or deleted here."""
    out: list[tuple[str, list[Line]]] = []
    for entity, counts, steps in p.seed.by_entity() if p.seed is not None else ():
        heading = _("Seed records of %(entity)s: %(counts)s", entity=entity,
                    counts=seed_counts(counts))  # fmt: skip
        out.append((heading, [line for s in steps for line in seed_line(s)]))
    return out


def lines(p: Plan) -> list[str]:
    """The plan as text: a heading per entity, one indented line per step, destructive
    steps followed by why, then the seed records per entity; "Nothing would change." when
    applying would change nothing."""
    out: list[str] = []
    for heading, steps in [*groups(p), *seed_groups(p)]:
        out.append(heading)
        for s in steps:
            text = f"  ({s.text})" if s.sign == "=" else f"  {s.sign} {s.text}"
            out.append(text)
            if s.why:
                out.append("      " + _("destructive: %(why)s", why=s.why))
    for text in p.notes:
        out.append(_("note: %(text)s", text=text))
    for path, messages in p.problems.items():
        if not path.endswith("/actions"):
            out.extend(
                _("problem at %(path)s: %(message)s", path=path, message=m) for m in messages
            )
    if p.empty:
        out.append(_("Nothing would change."))
    return out

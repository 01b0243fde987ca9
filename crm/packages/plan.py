"""Planning a package: what applying it would add, change, archive; what conflicts.

``plan(mine, theirs, base)`` is pure: it reads three configurations in the package format
(docs/packages.md) — the installation now, the package, and what the package said last
time it was applied (its provenance, or None) — and returns a ``Plan``. Nothing is read
from or written to the database, except through the optional ``probe`` that counts the
records a destructive step would touch.

Items are the things with a key: an entity's own settings, a field, a layout, a shared
list view, a pipeline (its stages are one ordered property), a role. Each is compared
property by property; paths are JSON pointers into the package
(``/entities/deal/fields/amount/label``).

The merge, per property, with base b, mine m, theirs t:
  m == t              -> nothing
  no base             -> take theirs
  b == m, b != t      -> take theirs (only the package changed it)
  b == t, b != m      -> keep mine ("kept local change")
  b, m, t all differ  -> Conflict: the caller chooses {path: "mine" | "theirs"}
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask_babel import gettext as _

from crm.metadata import types
from crm.packages.seed_plan import SeedPlan

ADD = "add"
CHANGE = "change"
ARCHIVE = "archive"
KEEP = "keep"
REMOVE = "remove"  # an automation rule the package had last time and no longer has

MINE = "mine"
THEIRS = "theirs"

ENTITY = "entity"
FIELD = "field"
LAYOUT = "layout"
LIST_VIEW = "list_view"
PIPELINE = "pipeline"
ROLE = "role"
RULE = "rule"  # an automation rule (``/rules/<key>``; its entity is the rule's)
DUPLICATE_RULE = "duplicate_rule"  # ``/duplicate_rules/<key>``; its entity is the rule's
POOL = "pool"  # a customer pool (``/pools/<key>``; its entity is the pool's)
SEED = "seed"  # a seed record to create or update (``Plan.seed``; no item of ``items``)

# Children of an entity in the package, by item kind.
_CHILDREN = {"fields": FIELD, "layouts": LAYOUT, "list_views": LIST_VIEW, "pipelines": PIPELINE}
# Items whose absence from the package archives them (the others are left as they are:
# a layout, a shared view or a role the package does not name stays the company's own).
_ARCHIVABLE = {ENTITY, FIELD, PIPELINE}
# Properties a plan does not compare: a pipeline's or a shared view's position follows
# the order they were made in (save_pipeline and save_shared_view assign it).
_IGNORED = {PIPELINE: {"position"}, LIST_VIEW: {"position"}}
# Items a package deletes when it named them last time and names them no more (the
# company's own, never named by the package, stay).
_REMOVABLE = {RULE, DUPLICATE_RULE, POOL}


class Unresolved(ValueError):
    """A conflict without a choice, or a choice that is not "mine" or "theirs"."""


class Probe(Protocol):
    """Counts records, so that a plan can say which steps touch data."""

    def empty_values(self, entity: str, field: str) -> int:
        """Live records of ``entity`` whose ``field`` is empty."""

    def stage_records(self, entity: str, stage: str) -> int:
        """Live records of ``entity`` in ``stage``."""


@dataclass(frozen=True)
class Change:
    """One step: ``action`` ADD (``new`` is the item's own settings), CHANGE (``old`` ->
    ``new``; None means absent, i.e. the default), ARCHIVE, or KEEP (a local change that
    is kept: ``old`` is what the package says, ``new`` what the installation has)."""

    path: str
    item: str
    kind: str
    entity: str | None
    action: str
    old: Any = None
    new: Any = None
    destructive: bool = False
    why: str = ""


@dataclass(frozen=True)
class Conflict:
    """Both the installation and the package changed ``path`` since ``base``, differently."""

    path: str
    item: str
    kind: str
    entity: str | None
    base: Any
    mine: Any
    theirs: Any
    destructive: bool = False
    why: str = ""


@dataclass
class Plan:
    """The steps of applying ``theirs`` to ``mine``. ``changes`` would be applied,
    ``kept`` are local changes left alone, ``conflicts`` need a choice each."""

    mine: dict
    theirs: dict
    base: dict | None
    changes: list[Change] = field(default_factory=list)
    kept: list[Change] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # The seed records' steps (``crm.packages.seed.plan_seed``); None: not planned.
    seed: SeedPlan | None = None
    # References that do not resolve here, by JSON pointer (applying is refused), and
    # what the implementer must do by hand afterwards (``crm.packages.apply``).
    problems: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when applying would change nothing ("nothing would change")."""
        seeds = self.seed is None or self.seed.empty
        return not self.changes and not self.conflicts and seeds

    def by_entity(self) -> dict[str, list[Change | Conflict]]:
        """Every step, conflict and kept change grouped by entity key ("" for roles and
        other items outside an entity), in path order."""
        out: dict[str, list[Change | Conflict]] = {}
        for item in sorted([*self.changes, *self.conflicts, *self.kept], key=lambda c: c.path):
            out.setdefault(item.entity or "", []).append(item)
        return out

    def steps(self, choices: Mapping[str, str] | None = None) -> list[Change]:
        """The changes to make once conflicts are resolved by ``choices`` ({path: "mine" |
        "theirs"}); ``Unresolved`` names the first conflict without a valid choice."""
        choices = choices or {}
        out = list(self.changes)
        for c in self.conflicts:
            choice = choices.get(c.path)
            if choice not in (MINE, THEIRS):
                raise Unresolved(c.path)
            if choice == THEIRS:
                out.append(
                    Change(
                        c.path, c.item, c.kind, c.entity, CHANGE, c.mine, c.theirs,
                        c.destructive, c.why,
                    )
                )  # fmt: skip
        for s in self.seed.writes() if self.seed is not None else ():
            out.append(Change(s.path, s.path, SEED, s.entity, ADD if s.action == ADD else CHANGE))
        return out

    def destructive(self, choices: Mapping[str, str] | None = None) -> list[Change]:
        """The destructive steps among ``steps(choices)``."""
        return [c for c in self.steps(choices) if c.destructive]

    def wanted(self, choices: Mapping[str, str] | None = None) -> dict:
        """The configuration the installation would have: ``mine`` with the steps made."""
        out = copy.deepcopy(self.mine)
        for step in self.steps(choices):
            _put(out, step)
        return out


# -- items ---------------------------------------------------------------------------------


def _esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unesc(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _blank(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def clean(props: Mapping[str, Any]) -> dict:
    """Item settings with the defaults left out (absent, "", false, empty list or map)."""
    return {k: v for k, v in props.items() if not _blank(v)}


def _canonical(kind: str, value: Mapping[str, Any]) -> dict:
    """Settings as an export writes them: a field's options equal to its type's defaults
    are left out too (so a package spelling out a default plans no change)."""
    out = clean(value)
    if kind == LIST_VIEW and "sort" in out:
        out["sort"] = _sort(out["sort"])
    if kind == ROLE:
        for prop, canon in (("grants", _grants), ("field_rights", _field_rights)):
            if prop in out:
                out[prop] = canon(out[prop])
        out = clean(out)
    ftype = out.get("type") if kind == FIELD else None
    if ftype in types.REGISTRY and isinstance(out.get("options"), Mapping):
        defaults = types.get(ftype).default_options
        options = {k: v for k, v in out["options"].items() if k not in defaults or defaults[k] != v}
        if options:
            out["options"] = options
        else:
            out.pop("options")
    return out


def _sort(raw: Any) -> Any:
    """A view's sort as export writes it: a list of {"field", "dir"} ("asc" spelled out)."""
    entries = raw if isinstance(raw, list) else [raw]
    out = []
    for item in entries:
        if isinstance(item, Mapping) and "field" in item:
            out.append({"field": item["field"], "dir": item.get("dir") or "asc"})
        else:
            return raw  # not the format's shape: the loader's problem, compared as it is
    return out


def _grants(raw: Any) -> Any:
    """A role's grants as the role service stores them, by level key: the "*" actions
    above none, and an entity's action only where it differs from "*" (so a package that
    spells out what "*" already gives plans no change)."""
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        return raw
    star = {a: lv for a, lv in (raw.get("*") or {}).items() if lv != "none"}
    out: dict[str, dict] = {"*": star} if star else {}
    for entity, actions in raw.items():
        if entity == "*":
            continue
        own = {a: lv for a, lv in actions.items() if lv != star.get(a, "none")}
        if own:
            out[entity] = own
    return out


def _field_rights(raw: Any) -> Any:
    """Field rights without "edit" (the default)."""
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        return raw
    out = {e: {f: a for f, a in fs.items() if a != "edit"} for e, fs in raw.items()}
    return {e: fs for e, fs in out.items() if fs}


def items(config: Mapping[str, Any] | None) -> dict[str, tuple[str, str | None, Any]]:
    """Every item of a configuration: JSON pointer -> (kind, entity key, own settings).
    A layout's settings are its definition; the others' are a map of properties."""
    out: dict[str, tuple[str, str | None, Any]] = {}
    if not config:
        return out
    for ekey, entity in (config.get("entities") or {}).items():
        epath = f"/entities/{_esc(ekey)}"
        own = {k: v for k, v in entity.items() if k not in _CHILDREN}
        out[epath] = (ENTITY, ekey, clean(own))
        for part, kind in _CHILDREN.items():
            for key, value in (entity.get(part) or {}).items():
                path = f"{epath}/{part}/{_esc(key)}"
                out[path] = (kind, ekey, value if kind == LAYOUT else _canonical(kind, value))
    for rkey, role in (config.get("roles") or {}).items():
        out[f"/roles/{_esc(rkey)}"] = (ROLE, None, _canonical(ROLE, role))
    for rkey, rule in (config.get("rules") or {}).items():
        entity = rule.get("entity") if isinstance(rule, Mapping) else None
        out[f"/rules/{_esc(rkey)}"] = (RULE, entity, clean(rule))
    for rkey, rule in (config.get("duplicate_rules") or {}).items():
        entity = rule.get("entity") if isinstance(rule, Mapping) else None
        out[f"/duplicate_rules/{_esc(rkey)}"] = (DUPLICATE_RULE, entity, clean(rule))
    for pkey, pool in (config.get("pools") or {}).items():
        entity = pool.get("entity") if isinstance(pool, Mapping) else None
        out[f"/pools/{_esc(pkey)}"] = (POOL, entity, clean(pool))
    return out


def _put(config: dict, step: Change) -> None:
    """Make ``step`` in ``config`` (a configuration in the package format); seed steps
    change records, not the configuration."""
    if step.kind == SEED:
        return
    parts = [_unesc(p) for p in step.item.split("/")[1:]]
    parent = config
    for p in parts[:-1]:
        parent = parent.setdefault(p, {})
    key = parts[-1]
    if step.action == REMOVE:
        parent.pop(key, None)
        return
    if step.action == ADD:
        value = copy.deepcopy(step.new)
        if step.kind == ENTITY:
            old = parent.get(key) or {}
            value.update({part: old.get(part, {}) for part in _CHILDREN})
        parent[key] = value
        return
    item = parent.setdefault(key, {})
    if step.action == ARCHIVE:
        item["archived"] = True
    elif step.path == step.item:  # a layout: the whole definition
        parent[key] = copy.deepcopy(step.new)
    else:
        prop = _unesc(step.path.rsplit("/", 1)[1])
        if _blank(step.new):
            item.pop(prop, None)
        else:
            item[prop] = copy.deepcopy(step.new)


# -- destructive steps ---------------------------------------------------------------------


def _destructive(
    kind: str, entity: str | None, item: str, prop: str | None, old: Any, new: Any, probe
) -> str:
    """Why changing ``prop`` from ``old`` to ``new`` may lose or refuse data ("" if not)."""
    field_key = _unesc(item.rsplit("/", 1)[1])
    if kind == FIELD and prop == "type" and old is not None and new != old:
        return _("The field changes type: its stored values are converted.")
    if kind == FIELD and prop == "unique" and new and not old:
        return _("The field becomes unique: duplicate values stop the change.")
    if kind == FIELD and prop == "required" and new and not old:
        empty = probe.empty_values(entity, field_key) if probe is not None else None
        if empty is None or empty > 0:
            return _("The field becomes required while records leave it empty.")
    if kind == PIPELINE and prop == "stages":
        leaving = _stages_leaving(old, new)
        held = [s for s in leaving if probe is None or probe.stage_records(entity, s) > 0]
        if held:
            return _(
                "Stages that hold records are removed (%(stages)s): their records move "
                "to the first stage.",
                stages=", ".join(held),
            )
    return ""


def _stages_leaving(old: Any, new: Any) -> list[str]:
    def active(stages: Any) -> list[str]:
        return [s["key"] for s in stages or () if isinstance(s, dict) and not s.get("archived")]

    kept = set(active(new))
    return [k for k in active(old) if k not in kept]


# -- the plan ------------------------------------------------------------------------------

_NONE = object()  # "this item is not in base"


def _props(kind: str, value: Any) -> Iterator[str | None]:
    if kind == LAYOUT:
        yield None
        return
    ignored = _IGNORED.get(kind, set())
    yield from (p for p in sorted(value) if p not in ignored)


def _get(value: Any, prop: str | None) -> Any:
    if value is _NONE or value is None:
        return _NONE if value is _NONE else None
    if prop is None:
        return value
    return value.get(prop)


def _managed(kind: str, value: Any) -> bool:
    t = value.get("type") if kind == FIELD and isinstance(value, dict) else None
    return t in types.REGISTRY and types.get(t).managed


def plan(
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    base: Mapping[str, Any] | None = None,
    *,
    probe: Probe | None = None,
) -> Plan:
    """Compare the installation (``mine``) with a package (``theirs``), three-way when
    ``base`` (what the package said last time) is given. ``probe`` counts the records a
    step would touch; without it, steps that could touch data are flagged destructive.
    Pure; raises nothing for well-formed configurations (the loader checks them)."""
    result = Plan(copy.deepcopy(dict(mine)), copy.deepcopy(dict(theirs)), base)
    m_items, t_items = items(mine), items(theirs)
    b_items = items(base) if base is not None else None
    for path in sorted(set(m_items) | set(t_items)):
        kind, entity, _v = t_items.get(path) or m_items[path]
        m = m_items[path][2] if path in m_items else _NONE
        t = t_items[path][2] if path in t_items else _NONE
        b = _NONE if b_items is None else (b_items[path][2] if path in b_items else _NONE)
        if m is _NONE:
            if b is not _NONE:  # removed here (purged) since the package made it: keep so
                result.kept.append(Change(path, path, kind, entity, KEEP, t, None))
            else:
                result.changes.append(Change(path, path, kind, entity, ADD, None, t))
            continue
        if t is _NONE:
            local = b_items is not None and b is _NONE  # the company's own item
            if kind in _REMOVABLE:
                if b_items is not None and b is not _NONE:
                    result.changes.append(Change(path, path, kind, entity, REMOVE, m, None))
                continue
            archived = kind == LAYOUT or bool(m.get("archived"))
            if kind in _ARCHIVABLE and not local and not archived and not _managed(kind, m):
                result.changes.append(Change(f"{path}/archived", path, kind, entity, ARCHIVE))
            continue
        for prop in sorted(set(_props(kind, m)) | set(_props(kind, t)), key=lambda p: p or ""):
            mv, tv = _get(m, prop), _get(t, prop)
            if mv == tv:
                continue
            ppath = path if prop is None else f"{path}/{_esc(prop)}"
            bv = _get(b, prop)
            why = _destructive(kind, entity, path, prop, mv, tv, probe)
            if b_items is None or bv == mv:
                result.changes.append(
                    Change(ppath, path, kind, entity, CHANGE, mv, tv, bool(why), why)
                )
            elif bv is not _NONE and bv == tv:
                result.kept.append(Change(ppath, path, kind, entity, KEEP, tv, mv))
            else:
                base_value = None if bv is _NONE else bv
                result.conflicts.append(
                    Conflict(ppath, path, kind, entity, base_value, mv, tv, bool(why), why)
                )
    return result

"""The schema service: the only code path that changes entities, fields and their tables.

Every change — from the designer, a configuration package or the command line — runs as
one ``SchemaChange``: every edit is validated against the evolving wanted state (all errors
are reported together), data preflights count rows a change would break, then in ONE
transaction the metadata rows are written, the planned DDL is applied on the same
connection, the metadata version is bumped and the change log written. Any failure rolls
all of it back: no orphan column, no orphan metadata row, no version bump.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select, text, update

from crm import uow
from crm.binds import assign
from crm.errors import Conflict, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import labels, types
from crm.metadata import specs as spec_cache
from crm.metadata.compile import build_tables, entity_spec
from crm.metadata.keys import (
    MAX_LABEL,
    N_,
    clean_label,
    key_problems,
    label_problems,
    suggest_plural,
)
from crm.metadata.models import EntityRow, FieldRow, LayoutRow, ListViewRow, Sequence
from crm.metadata.palette import PALETTE
from crm.metadata.spec import Choice, EntitySpec, FieldSpec
from crm.metadata.versioning import bump_version, log_change
from crm.schema import preflight, stats
from crm.schema.apply import apply_ops
from crm.schema.plan import AlterColumnType, CreateIndex, CreateSearch, CreateTable, Op, plan
from crm.timeutil import utcnow
from crm.uow import unit_of_work

CHOICE_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
MAX_FIELDS = 500
DEFAULT_LOCK_TIMEOUT_MS = 3000

Checkpoint = Callable[[str], None]


@dataclass
class _Log:
    entity_key: str
    field_key: str | None
    action: str
    before: Any
    after: Any


def _field_public(f: FieldSpec | None) -> dict | None:
    if f is None:
        return None
    return {
        "key": f.key,
        "type": f.type,
        "label": f.label,
        "help_text": f.help_text,
        "required": f.required,
        "unique": f.unique,
        "default": f.default,
        "position": f.position,
        "searchable": f.searchable,
        "archived": f.archived,
        "options": dict(f.options),
        "choices": [_choice_public(c) for c in f.choices],
        "translations": labels.thaw(f.translations),
    }


def _choice_public(c: Choice) -> dict:
    out = {k: v for k, v in c.__dict__.items() if k != "labels"}
    if c.labels:
        out["labels"] = dict(c.labels)
    return out


def _entity_public(e: EntitySpec | None) -> dict | None:
    if e is None:
        return None
    return {
        "key": e.key,
        "label_singular": e.label_singular,
        "label_plural": e.label_plural,
        "description": e.description,
        "icon": e.icon,
        "color": e.color,
        "name_field": e.name_field,
        "archived": e.archived,
        "translations": labels.thaw(e.translations),
    }


class SchemaChange:
    """A unit of schema work. Use through ``change()``; edits only touch the wanted state
    until ``commit`` runs the pipeline."""

    def __init__(self, current: dict[str, EntitySpec], actor_id: int | None):
        self.current = current
        self.wanted: dict[str, EntitySpec] = dict(current)
        self.actor_id = actor_id
        self.errors: dict[str, list[str]] = {}
        self.logs: list[_Log] = []
        self.checks: list[Callable[[], dict[str, list[str]]]] = []
        self.backfills: list[tuple[str, FieldSpec]] = []
        # Set by the feature that owns managed field types (``FieldType.managed``: the
        # pipeline service); any other change may not add, retype, archive or purge them.
        self.managing = False

    # -- errors ------------------------------------------------------------------------
    def _err(self, where: str, message: str) -> None:
        self.errors.setdefault(where, []).append(message)

    def _errs(self, where: str, messages: list[str]) -> bool:
        for m in messages:
            self._err(where, m)
        return bool(messages)

    def _entity(self, key: str) -> EntitySpec:
        spec = self.wanted.get(key)
        if spec is None:
            raise NotFound(_("There is no entity with the key “%(key)s”.", key=key))
        return spec

    def _field(self, entity_key: str, field_key: str) -> FieldSpec:
        spec = self._entity(entity_key).field(field_key, include_archived=True)
        if spec is None:
            raise NotFound(
                _(
                    "There is no field “%(field)s” on “%(entity)s”.",
                    field=field_key,
                    entity=entity_key,
                )
            )
        return spec

    def _managed(self, where: str, *type_keys: str) -> bool:
        """Refuse (with an error at ``where``) a change to a managed field outside its
        feature's service; True when refused."""
        if self.managing:
            return False
        if any(t in types.REGISTRY and types.get(t).managed for t in type_keys):
            self._err(where, _("This field belongs to the pipelines; change it there."))
            return True
        return False

    def _put_field(self, entity_key: str, new: FieldSpec) -> None:
        e = self.wanted[entity_key]
        fields = [new if f.key == new.key else f for f in e.fields]
        if not any(f.key == new.key for f in e.fields):
            fields.append(new)
        self.wanted[entity_key] = replace(e, fields=tuple(fields))

    # -- entities ----------------------------------------------------------------------
    def create_entity(
        self,
        key: str,
        label_singular: str,
        label_plural: str | None = None,
        *,
        description: str = "",
        icon: str = "",
        color: str = "",
        name_field: str | None = None,
        fields: list[dict] | tuple = (),
        translations: dict | None = None,
    ) -> None:
        """Add an entity (and, optionally, its first fields) to the wanted state.
        ``translations``: ``{"singular": {locale: text}, "plural": {...}}``."""
        where = "key"
        problems = key_problems(key, what="entity key")
        if not problems and key in self.wanted:
            problems.append(_("An entity with the key “%(key)s” already exists.", key=key))
        bad = self._errs(where, problems)
        bad |= self._errs("label_singular", label_problems(label_singular, what="singular label"))
        plural = (
            label_plural
            if label_plural and clean_label(label_plural)
            else suggest_plural(label_singular or "")
        )
        bad |= self._errs("label_plural", label_problems(plural, what="plural label"))
        bad |= self._errs("description", _text_problems(description, 4000, "description"))
        bad |= self._errs("icon", _text_problems(icon, 40, "icon"))
        bad |= self._errs("color", _color_problems(color))
        translated, bad_tr = labels.check_parts(translations, ENTITY_LIMITS)
        for part, messages in bad_tr.items():
            bad |= self._errs(_ENTITY_PART_WHERE.get(part, "translations"), messages)
        if bad and (not isinstance(key, str) or key in self.wanted):
            return
        # Even when the entity itself has problems, its fields are checked too, so the
        # administrator sees every problem at once (nothing is written while any remain).
        self.wanted[key] = EntitySpec(
            key=key,
            label_singular=clean_label(label_singular),
            label_plural=clean_label(plural),
            description=(description or "").strip(),
            icon=(icon or "").strip(),
            color=(color or "").strip(),
            translations=labels.freeze(translated),
        )
        self.logs.append(_Log(key, None, "create_entity", None, None))
        for i, f in enumerate(fields):
            self.add_field(key, **{"position": (i + 1) * 10, **f})
        if name_field:
            self.update_entity(key, name_field=name_field)

    def update_entity(self, key: str, **changes: Any) -> None:
        """Change labels, description, icon, colour or the naming field (no table change)."""
        e = self._entity(key)
        allowed = {
            "label_singular", "label_plural", "description", "icon", "color", "name_field",
            "translations",
        }  # fmt: skip
        unknown = set(changes) - allowed
        if unknown:
            self._err("entity", _unchangeable(unknown))
            return
        new = e
        for name, value in changes.items():
            if name in ("label_singular", "label_plural"):
                what = "singular label" if name == "label_singular" else "plural label"
                if self._errs(name, label_problems(value or "", what=what)):
                    continue
                new = replace(new, **{name: clean_label(value)})
            elif name == "description":
                if not self._errs(name, _text_problems(value, 4000, "description")):
                    new = replace(new, description=(value or "").strip())
            elif name == "icon":
                if not self._errs(name, _text_problems(value, 40, "icon")):
                    new = replace(new, icon=(value or "").strip())
            elif name == "color":
                if not self._errs(name, _color_problems(value)):
                    new = replace(new, color=(value or "").strip())
            elif name == "translations":
                translated, bad_tr = labels.check_parts(value, ENTITY_LIMITS)
                for part, messages in bad_tr.items():
                    self._errs(_ENTITY_PART_WHERE.get(part, "translations"), messages)
                if not bad_tr:
                    new = replace(new, translations=labels.freeze(translated))
            elif name == "name_field":
                if value:
                    f = e.field(value)
                    if f is None:
                        self._err(
                            name,
                            _("There is no active field “%(key)s” to name records by.", key=value),
                        )
                        continue
                    if not types.get(f.type).can_name_records:
                        self._err(name, _("Records can be named only by a text-like field."))
                        continue
                new = replace(new, name_field=value or None)
        if new != e:
            self.wanted[key] = new
            self.logs.append(
                _Log(key, None, "update_entity", _entity_public(e), _entity_public(new))
            )

    def archive_entity(self, key: str) -> None:
        """Hide an entity everywhere; its table and records stay."""
        e = self._entity(key)
        if not e.archived:
            self.wanted[key] = replace(e, archived=True)
            self.logs.append(_Log(key, None, "archive_entity", None, None))

    def restore_entity(self, key: str) -> None:
        e = self._entity(key)
        if e.archived:
            self.wanted[key] = replace(e, archived=False)
            self.logs.append(_Log(key, None, "restore_entity", None, None))

    def purge_entity(self, key: str, *, confirm_key: str) -> None:
        """Drop an archived entity's table and every record in it, for good."""
        e = self._entity(key)
        if not e.archived:
            self._err(key, _("Archive the entity before purging it."))
            return
        if confirm_key != key:
            self._err(key, _("Type the entity key “%(key)s” to confirm the purge.", key=key))
            return
        users = [
            f"{other.key}.{f.key}"
            for other in self.wanted.values()
            if other.key != key
            for f in other.fields
            if types.lookup_target(f) == key
        ]
        if users:
            self._err(
                key,
                _(
                    "Fields still look up this entity: %(fields)s. Purge them first.",
                    fields=", ".join(users),
                ),
            )
            return
        del self.wanted[key]
        self.logs.append(_Log(key, None, "purge_entity", _entity_public(e), None))

    # -- fields ------------------------------------------------------------------------
    def add_field(
        self,
        entity_key: str,
        key: str,
        type: str,
        label: str,
        *,
        help_text: str = "",
        required: bool = False,
        unique: bool = False,
        default: Any = None,
        position: int | None = None,
        searchable: bool = False,
        options: dict | None = None,
        choices: list[dict] | None = None,
        translations: dict | None = None,
    ) -> None:
        """Add a field (a new nullable column) to an entity in the wanted state.
        ``translations``: ``{"label": {locale: text}, "help": {...}}``."""
        e = self._entity(entity_key)
        where = f"{entity_key}.{key}" if isinstance(key, str) else entity_key
        problems = key_problems(key, what="field key")
        if not problems and e.field(key, include_archived=True) is not None:
            problems.append(_("The field key “%(key)s” is already used in this entity.", key=key))
        bad = self._errs(f"{where}.key", problems)
        if len(e.fields) >= MAX_FIELDS:
            bad |= self._errs(
                where, [_("An entity can have at most %(max)d fields.", max=MAX_FIELDS)]
            )
        if type not in types.REGISTRY:
            self._err(f"{where}.type", _("Unknown field type “%(type)s”.", type=type))
            return
        if self._managed(f"{where}.type", type):
            return
        bad |= self._errs(f"{where}.label", label_problems(label, what="field label"))
        bad |= self._errs(f"{where}.help_text", _text_problems(help_text, 2000, "help text"))
        translated, bad_tr = labels.check_parts(translations, FIELD_LIMITS)
        for part, messages in bad_tr.items():
            bad |= self._errs(f"{where}.{_FIELD_PART_WHERE.get(part, 'translations')}", messages)
        ftype = types.get(type)
        merged = {**dict(ftype.default_options), **(options or {})}
        for option, messages in types.check_options(type, merged).items():
            bad |= self._errs(f"{where}.{option}", messages)
        if ftype.reference == "record" and not bad:
            target = merged.get("target")
            if target not in self.wanted:
                bad |= self._errs(
                    f"{where}.target",
                    [_("The lookup target “%(target)s” is not an entity.", target=target)],
                )
        parsed_choices, choice_problems = _parse_choices(choices, type)
        bad |= self._errs(f"{where}.choices", choice_problems)
        if unique and not ftype.can_be_unique:
            bad |= self._errs(f"{where}.unique", [_cannot_be_unique(type)])
        if bad:
            return
        if position is None:
            position = max((f.position for f in e.fields), default=0) + 10
        new = FieldSpec(
            key=key,
            type=type,
            label=clean_label(label),
            help_text=(help_text or "").strip(),
            required=bool(required),
            unique=bool(unique),
            position=int(position),
            searchable=bool(searchable),
            options=MappingProxyType(merged),
            choices=parsed_choices,
            translations=labels.freeze(translated),
        )
        if default not in (None, ""):
            try:
                new = replace(new, default=_jsonable(ftype.parse(new, default)))
            except ValueError as exc:
                self._err(f"{where}.default", str(exc))
                return
        self._put_field(entity_key, new)
        self.logs.append(_Log(entity_key, key, "add_field", None, _field_public(new)))
        # The first text field of an entity names its records until the administrator
        # chooses otherwise: a record page is never titled "Member #12" by oversight.
        if self.wanted[entity_key].name_field is None and ftype.names_new_entities:
            self.wanted[entity_key] = replace(self.wanted[entity_key], name_field=key)
        if entity_key in self.current:  # a new field on an existing table with rows
            self.checks.append(lambda: preflight.new_field_rules(self._table(entity_key), new))
            if new.default is not None:
                self.backfills.append((entity_key, new))

    def update_field(self, entity_key: str, field_key: str, **changes: Any) -> None:
        """Change a field. Labels, help text and picklist options change no table; a type
        change goes through the safe-conversion table and a preflight; making a field
        required or unique is refused while existing rows break the rule."""
        old = self._field(entity_key, field_key)
        where = f"{entity_key}.{field_key}"
        allowed = {
            "label", "help_text", "required", "unique", "default", "position",
            "searchable", "options", "choices", "type", "translations",
        }  # fmt: skip
        unknown = set(changes) - allowed
        if unknown:
            self._err(where, _unchangeable(unknown))
            return
        new = old
        if "label" in changes and not self._errs(
            f"{where}.label", label_problems(changes["label"] or "")
        ):
            new = replace(new, label=clean_label(changes["label"]))
        help_text = changes.get("help_text")
        if "help_text" in changes and not self._errs(
            f"{where}.help_text", _text_problems(help_text, 2000, "help text")
        ):
            new = replace(new, help_text=(help_text or "").strip())
        if "translations" in changes:
            translated, bad_tr = labels.check_parts(changes["translations"], FIELD_LIMITS)
            for part, messages in bad_tr.items():
                self._errs(f"{where}.{_FIELD_PART_WHERE.get(part, 'translations')}", messages)
            if not bad_tr:
                new = replace(new, translations=labels.freeze(translated))
        if "position" in changes:
            try:
                new = replace(new, position=int(changes["position"]))
            except (TypeError, ValueError):
                self._err(f"{where}.position", _("The position must be a whole number."))
        if "searchable" in changes:
            new = replace(new, searchable=bool(changes["searchable"]))
        new_type = changes.get("type", old.type)
        if new_type not in types.REGISTRY:
            self._err(f"{where}.type", _("Unknown field type “%(type)s”.", type=new_type))
            return
        if new_type != old.type and self._managed(f"{where}.type", old.type, new_type):
            return
        if "choices" in changes and self._managed(f"{where}.choices", old.type):
            return
        if "options" in changes or new_type != old.type:
            options = {**dict(types.get(new_type).default_options)}
            if new_type == old.type:
                options.update(dict(old.options))
            options.update(changes.get("options") or {})
            same_lookup = old.type == new_type and types.get(new_type).reference == "record"
            if same_lookup and options.get("target") != old.option("target"):
                self._err(
                    f"{where}.target", _("The target of a lookup cannot change; add a new field.")
                )
                return
            problems = types.check_options(new_type, options)
            for option, messages in problems.items():
                self._errs(f"{where}.{option}", messages)
            if problems:
                return
            new = replace(new, options=MappingProxyType(options))
        if "choices" in changes:
            parsed, problems = _parse_choices(changes["choices"], new_type)
            if self._errs(f"{where}.choices", problems):
                return
            removed = {c.key for c in old.choices} - {c.key for c in parsed}
            new = replace(new, choices=parsed)
            if removed and entity_key in self.current:
                self.checks.append(
                    lambda r=removed: preflight.removed_choices(
                        self._table(entity_key), old, sorted(r)
                    )
                )
        if new_type != old.type:
            kind = types.SAFE_CONVERSIONS.get((old.type, new_type))
            if kind is None:
                self._err(
                    f"{where}.type",
                    _(
                        "A %(old)s field cannot be changed to %(new)s. "
                        "Add a new field and copy the values instead.",
                        old=types.get(old.type).label,
                        new=types.get(new_type).label,
                    ),
                )
                return
            new = replace(new, type=new_type)
        if "unique" in changes:
            if changes["unique"] and not types.get(new.type).can_be_unique:
                self._err(f"{where}.unique", _cannot_be_unique(new.type))
                return
            new = replace(new, unique=bool(changes["unique"]))
        if "required" in changes:
            new = replace(new, required=bool(changes["required"]))
        if "default" in changes:
            value = changes["default"]
            if value in (None, ""):
                new = replace(new, default=None)
            else:
                try:
                    new = replace(new, default=_jsonable(types.get(new.type).parse(new, value)))
                except ValueError as exc:
                    self._err(f"{where}.default", str(exc))
                    return
        if new == old:
            return
        if entity_key in self.current:
            self.checks.append(lambda: preflight.field_change(self._table(entity_key), old, new))
        self._put_field(entity_key, new)
        self.logs.append(
            _Log(entity_key, field_key, "update_field", _field_public(old), _field_public(new))
        )

    def archive_field(self, entity_key: str, field_key: str) -> None:
        """Hide a field everywhere; its column and values stay, intact, for restore."""
        f = self._field(entity_key, field_key)
        if self._managed(f"{entity_key}.{field_key}", f.type):
            return
        if self.wanted[entity_key].name_field == field_key:
            self._err(
                f"{entity_key}.{field_key}",
                _("This field names the records; choose another naming field first."),
            )
            return
        if not f.archived:
            self._put_field(entity_key, replace(f, archived=True))
            self.logs.append(_Log(entity_key, field_key, "archive_field", None, None))

    def restore_field(self, entity_key: str, field_key: str) -> None:
        f = self._field(entity_key, field_key)
        if f.archived:
            self._put_field(entity_key, replace(f, archived=False))
            self.logs.append(_Log(entity_key, field_key, "restore_field", None, None))

    def purge_field(self, entity_key: str, field_key: str, *, confirm_key: str) -> None:
        """Drop an archived field's column and values for good. The administrator confirms
        by typing the field key."""
        f = self._field(entity_key, field_key)
        where = f"{entity_key}.{field_key}"
        if self._managed(where, f.type):
            return
        if not f.archived:
            self._err(where, _("Archive the field before purging it."))
            return
        if confirm_key != field_key:
            self._err(where, _("Type the field key “%(key)s” to confirm the purge.", key=field_key))
            return
        e = self.wanted[entity_key]
        self.wanted[entity_key] = replace(
            e, fields=tuple(x for x in e.fields if x.key != field_key)
        )
        self.logs.append(_Log(entity_key, field_key, "purge_field", _field_public(f), None))

    # -- pipeline ----------------------------------------------------------------------
    def _table(self, entity_key: str):
        _metadata, tables = build_tables([self.current[entity_key]])
        return tables[entity_key]

    def plan(self) -> list[Op]:
        """All DDL operations of this change (pure: from current and wanted specs)."""
        ops: list[Op] = []
        for key in sorted(set(self.current) | set(self.wanted)):
            ops += plan(self.current.get(key), self.wanted.get(key))
        return ops


# Where the problems of each part's translations show: beside its plain label's input.
ENTITY_LIMITS = {"singular": MAX_LABEL, "plural": MAX_LABEL}
_ENTITY_PART_WHERE = {"singular": "label_singular", "plural": "label_plural"}
FIELD_LIMITS = {"label": MAX_LABEL, "help": labels.MAX_HELP}
_FIELD_PART_WHERE = {"label": "label", "help": "help_text"}


def _unchangeable(names: set[str]) -> str:
    return _("These cannot be changed: %(names)s.", names=", ".join(sorted(names)))


def _cannot_be_unique(field_type: str) -> str:
    return _("A %(type)s field cannot be unique.", type=types.get(field_type).label)


# Whole sentences per text setting (see ``crm.metadata.keys``): not text, a NUL, too long.
_TEXT_MESSAGES: dict[str, tuple[str, str, str]] = {
    "description": (
        N_("The description must be text."),
        N_("The description contains a NUL character."),
        N_("The description is too long: use at most %(max)d characters."),
    ),
    "icon": (
        N_("The icon must be text."),
        N_("The icon contains a NUL character."),
        N_("The icon is too long: use at most %(max)d characters."),
    ),
    "help text": (
        N_("The help text must be text."),
        N_("The help text contains a NUL character."),
        N_("The help text is too long: use at most %(max)d characters."),
    ),
}


def _text_problems(value: Any, limit: int, what: str) -> list[str]:
    not_text, nul, too_long = _TEXT_MESSAGES[what]
    if value is None:
        return []
    if not isinstance(value, str):
        return [_(not_text)]
    if "\x00" in value:
        return [_(nul)]
    if len(value) > limit:
        return [_(too_long, max=limit)]
    return []


def _color_problems(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, str) or value.strip() not in PALETTE:
        return [_("Choose a colour from the palette (%(colours)s).", colours=", ".join(PALETTE))]
    return []


def _parse_choices(raw: list[dict] | None, field_type: str) -> tuple[tuple[Choice, ...], list[str]]:
    if not types.get(field_type).has_choices:
        return (), ([_("Only picklists have choices.")] if raw else [])
    problems: list[str] = []
    out: list[Choice] = []
    seen: set[str] = set()
    for i, item in enumerate(raw or []):
        if not isinstance(item, dict):
            problems.append(_("Choice %(num)d is not a value with a key and a label.", num=i + 1))
            continue
        key = item.get("key")
        if not isinstance(key, str) or not CHOICE_KEY_RE.match(key):
            problems.append(
                _(
                    "Choice %(num)d: the key must be 1–64 lowercase letters, digits or "
                    "underscores.",
                    num=i + 1,
                )
            )
            continue
        if key in seen:
            problems.append(_("The choice key “%(key)s” is used twice.", key=key))
            continue
        seen.add(key)
        label = item.get("label", key)
        lp = label_problems(
            label if isinstance(label, str) else "", what="choice label", choice=key
        )
        problems += lp
        color = item.get("color", "") or ""
        problems += _color_problems(color)
        try:
            order = int(item.get("order", i))
        except (TypeError, ValueError):
            problems.append(_("Choice “%(key)s”: the order must be a whole number.", key=key))
            continue
        translated, bad_tr = labels.check(item.get("labels"))
        problems += [
            _("Choice “%(key)s”: %(problem)s", key=key, problem=problem) for problem in bad_tr
        ]
        if not lp and not bad_tr:
            out.append(
                Choice(
                    key,
                    clean_label(label),
                    color,
                    order,
                    bool(item.get("archived")),
                    labels.freeze(translated),
                )
            )
    return tuple(sorted(out, key=lambda c: c.order)), problems


def _jsonable(value: Any) -> Any:
    """Defaults are stored as JSON: dates and decimals as their ISO / string form."""
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value) if not hasattr(value, "isoformat") else value.isoformat()


# -- running a change ----------------------------------------------------------------------


def _load_current() -> dict[str, EntitySpec]:
    rows = db.session.scalars(select(EntityRow).order_by(EntityRow.key)).all()
    return {r.key: entity_spec(r) for r in rows}


def _checkpoint(step: str) -> None:
    """A seam for fault-injection tests: ``SCHEMA_CHECKPOINT`` (a callable) may raise here."""
    hook = current_app.config.get("SCHEMA_CHECKPOINT")
    if hook is not None:
        hook(step)


def _write_rows(change: SchemaChange) -> None:
    """Make the metadata rows match the wanted specs (inserts, updates, purges)."""
    now = utcnow()
    rows = {r.key: r for r in db.session.scalars(select(EntityRow)).all()}
    for key in set(change.current) - set(change.wanted):
        db.session.delete(rows[key])
        for model in (Sequence, LayoutRow, ListViewRow):
            db.session.execute(delete(model).where(model.entity_key == key))
    for key, want in change.wanted.items():
        if change.current.get(key) == want:
            continue
        row = rows.get(key)
        if row is None:
            row = EntityRow(key=key)
            db.session.add(row)
        row.label_singular = want.label_singular
        row.label_plural = want.label_plural
        row.description = want.description
        row.icon = want.icon
        row.color = want.color
        row.name_field = want.name_field
        row.translations = labels.thaw(want.translations)
        if want.archived and row.archived_at is None:
            row.archived_at = now
        elif not want.archived:
            row.archived_at = None
        db.session.flush()
        existing = {f.key: f for f in row.fields}
        wanted_keys = {f.key for f in want.fields}
        for fkey, frow in existing.items():
            if fkey not in wanted_keys:
                row.fields.remove(frow)
                db.session.execute(
                    delete(Sequence).where(Sequence.entity_key == key, Sequence.field_key == fkey)
                )
        for f in want.fields:
            frow = existing.get(f.key)
            if frow is None:
                frow = FieldRow(key=f.key)
                row.fields.append(frow)
                if types.get(f.type).assigned:  # its numbers come from a sequence
                    db.session.add(
                        Sequence(
                            entity_key=key,
                            field_key=f.key,
                            next_value=int(f.option("start", 1) or 1),
                        )
                    )
            frow.type = f.type
            frow.label = f.label
            frow.help_text = f.help_text
            frow.required = f.required
            frow.unique = f.unique
            frow.default = f.default
            frow.position = f.position
            frow.searchable = f.searchable
            frow.options = dict(f.options)
            frow.translations = labels.thaw(f.translations)
            frow.choices = [
                {
                    "key": c.key,
                    "label": c.label,
                    "color": c.color,
                    "order": c.order,
                    "archived": c.archived,
                    **({"labels": dict(c.labels)} if c.labels else {}),
                }
                for c in f.choices
            ]
            if f.archived and frow.archived_at is None:
                frow.archived_at = now
            elif not f.archived:
                frow.archived_at = None
    db.session.flush()


def _backfill(change: SchemaChange) -> None:
    """Existing records get a new field's default value (in the same transaction)."""
    for entity_key, f in change.backfills:
        _metadata, tables = build_tables([change.wanted[entity_key]])
        col = tables[entity_key].c[f.column]
        value = types.get(f.type).parse(f, f.default)
        table = tables[entity_key]
        db.session.execute(update(table).where(col.is_(None)).values(assign(table, {col: value})))


def _lock_timeout() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        ms = int(current_app.config.get("SCHEMA_LOCK_TIMEOUT_MS", DEFAULT_LOCK_TIMEOUT_MS))
        # SET takes no bind parameters; ms is an int, so nothing else can get in.
        db.session.execute(text(f"SET LOCAL lock_timeout = {ms}"))


def _analyzed_after(ops: list[Op], work: SchemaChange) -> list[str]:
    """Tables holding records whose statistics a change outdates: an index made on them, a
    column rebuilt, a new field's default written to every record (new tables are empty)."""
    created = {op.entity.table_name for op in ops if isinstance(op, CreateTable)}
    touched = [op.table for op in ops if isinstance(op, CreateIndex)]
    # PostgreSQL keeps statistics of index expressions (the gram indexes') once analyzed.
    touched += [op.after.table_name for op in ops if isinstance(op, CreateSearch)]
    touched += [op.entity.table_name for op in ops if isinstance(op, AlterColumnType)]
    touched += [work.wanted[key].table_name for key, _ in work.backfills]
    return [t for t in dict.fromkeys(touched) if t not in created]


BUSY_TABLE = N_(
    "The table is busy (another task is using it). Nothing was changed; try again in a moment."
)


@contextmanager
def change(actor_id: int | None = None) -> Iterator[SchemaChange]:
    """Collect schema edits, then run the whole pipeline atomically on leaving the block.

    Raises ``ValidationFailed`` (every problem at once) or ``Conflict`` (a busy table);
    in both cases nothing at all has changed. ``RuntimeError`` when the session holds
    changes made outside a unit of work (they are not the schema service's to commit).
    """
    with unit_of_work(
        fresh=True,
        on_error={uow.BUSY: lambda _exc: Conflict(_(BUSY_TABLE))},
        after_commit=[spec_cache.forget_request_specs],
    ):
        _lock_timeout()
        # Taking the version row first serialises concurrent schema changes.
        version = bump_version()
        current = _load_current()
        work = SchemaChange(current, actor_id)
        yield work
        if work.errors:
            raise ValidationFailed(_("Nothing was changed."), errors=work.errors)
        problems: dict[str, list[str]] = {}
        for check in work.checks:
            for where, messages in check().items():
                problems.setdefault(where, []).extend(messages)
        if problems:
            raise ValidationFailed(_("Nothing was changed."), errors=problems)
        ops = work.plan()
        _write_rows(work)
        _checkpoint("after_metadata_write")
        apply_ops(db.session.connection(), ops)
        _backfill(work)
        # The planner's statistics, for the indexes just made and the rows just rewritten.
        stats.refresh_statistics(_analyzed_after(ops, work))
        _checkpoint("after_ddl")
        for log in work.logs:
            log_change(
                version=version,
                actor_id=actor_id,
                entity_key=log.entity_key,
                field_key=log.field_key,
                action=log.action,
                before=log.before,
                after=log.after,
            )
        db.session.flush()
        _checkpoint("at_commit")


# -- convenience wrappers (one edit, one transaction) --------------------------------------


def create_entity(
    key: str,
    label_singular: str,
    label_plural: str | None = None,
    *,
    actor_id: int | None = None,
    **kw: Any,
) -> EntitySpec:
    """Create an entity (table ``x_<key>`` with the spine columns and indexes)."""
    with change(actor_id) as c:
        c.create_entity(key, label_singular, label_plural, **kw)
    return spec_cache.current().entities[key]


def update_entity(key: str, *, actor_id: int | None = None, **changes: Any) -> EntitySpec:
    with change(actor_id) as c:
        c.update_entity(key, **changes)
    return spec_cache.current().entities[key]


def archive_entity(key: str, *, actor_id: int | None = None) -> None:
    with change(actor_id) as c:
        c.archive_entity(key)


def restore_entity(key: str, *, actor_id: int | None = None) -> None:
    with change(actor_id) as c:
        c.restore_entity(key)


def add_field(
    entity_key: str, key: str, type: str, label: str, *, actor_id: int | None = None, **kw: Any
) -> FieldSpec:
    """Add a field (a nullable column; indexed when its type calls for it)."""
    with change(actor_id) as c:
        c.add_field(entity_key, key, type, label, **kw)
    return spec_cache.current().entities[entity_key].field(key)


def update_field(
    entity_key: str, field_key: str, *, actor_id: int | None = None, **changes: Any
) -> FieldSpec:
    with change(actor_id) as c:
        c.update_field(entity_key, field_key, **changes)
    return spec_cache.current().entities[entity_key].field(field_key, include_archived=True)


def archive_field(entity_key: str, field_key: str, *, actor_id: int | None = None) -> None:
    with change(actor_id) as c:
        c.archive_field(entity_key, field_key)


def restore_field(entity_key: str, field_key: str, *, actor_id: int | None = None) -> None:
    with change(actor_id) as c:
        c.restore_field(entity_key, field_key)


def purge_field(
    entity_key: str, field_key: str, *, confirm_key: str, actor_id: int | None = None
) -> None:
    with change(actor_id) as c:
        c.purge_field(entity_key, field_key, confirm_key=confirm_key)


def purge_entity(key: str, *, confirm_key: str, actor_id: int | None = None) -> None:
    with change(actor_id) as c:
        c.purge_entity(key, confirm_key=confirm_key)


def preview_type_change(
    entity_key: str, field_key: str, new_type: str, options: dict | None = None
) -> preflight.TypeChangePreview:
    """What changing a field's type would do (values that would not convert, whether the
    table is rebuilt and roughly how long that takes); changes nothing."""
    compiled = spec_cache.current()
    entity = compiled.entity(entity_key, include_archived=True)
    old = entity.field(field_key, include_archived=True) if entity else None
    if old is None:
        raise NotFound(
            _("There is no field “%(field)s” on “%(entity)s”.", field=field_key, entity=entity_key)
        )
    if new_type not in types.REGISTRY:
        raise ValidationFailed(_("Unknown field type “%(type)s”.", type=new_type))
    merged = {**dict(types.get(new_type).default_options)}
    if new_type == old.type:
        merged.update(dict(old.options))
    merged.update(options or {})
    new = replace(old, type=new_type, options=MappingProxyType(merged))
    dialect = db.session.get_bind().dialect.name
    with unit_of_work() as unit:
        unit.discard()  # a preview changes nothing, whatever it ran to measure
        return preflight.preview_type_change(compiled.table(entity_key), old, new, dialect)

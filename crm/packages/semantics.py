"""The rules of a package that its JSON Schema cannot say: references that must resolve
(in the package or in the target installation), keys that must not be reserved, stage keys
unique within an entity, type options, levels and actions, languages.

Runs on data that may also have failed the schema (every problem is reported at once), so
it reads defensively: anything of the wrong shape is the schema's problem and skipped here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm.access import levels
from crm.access.policy import UNSCOPED_ACTIONS
from crm.i18n import LANGUAGES
from crm.metadata import types
from crm.metadata.keys import KEY_RE, N_, clean_label, key_problems
from crm.metadata.list_views import SPINE_BY_KEY
from crm.metadata.spec import EntitySpec
from crm.packages import seed_values
from crm.packages.problems import Problem, pointer

_NOT_A_LANGUAGE = N_("“%(code)s” is not a language of this CRM.")
_NOT_A_FIELD = N_("“%(field)s” is not a field of “%(entity)s”.")
_NO_ENTITY = N_("There is no entity with the key “%(key)s”.")


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class _Field:
    type: str
    archived: bool = False


@dataclass
class _Check:
    """The problems found so far, and what the package and the installation define."""

    existing: Mapping[str, EntitySpec]
    entities: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(pointer(*path), message))

    def texts(self, texts: Any, path: tuple) -> None:
        """Translations ``{locale: text}``: every locale must be one of the CRM's."""
        for code in _obj(texts):
            if code not in LANGUAGES:
                self.add((*path, code), _(_NOT_A_LANGUAGE, code=str(code)[:20]))

    def parts(self, translations: Any, path: tuple) -> None:
        """Translations by part ``{part: {locale: text}}``."""
        for part, texts in _obj(translations).items():
            self.texts(texts, (*path, part))

    def key(self, key: str, path: tuple, what: str) -> None:
        """Reserved words and the like (the key's form is the schema's)."""
        if isinstance(key, str) and KEY_RE.match(key):
            for message in key_problems(key, what=what):
                self.add(path, message)

    def label(self, value: Any, path: tuple) -> None:
        if isinstance(value, str) and value and not clean_label(value):
            self.add(path, _("Enter a label."))


def _fields(entity_key: str, entity: dict, existing: Mapping[str, EntitySpec]) -> dict:
    """The fields an entity will have: the installation's, overlaid by the package's."""
    out: dict[str, _Field] = {}
    spec = existing.get(entity_key)
    if spec is not None:
        out = {f.key: _Field(f.type, f.archived) for f in spec.fields}
    for key, f in _obj(entity.get("fields")).items():
        if isinstance(f, dict):
            out[key] = _Field(str(f.get("type")), bool(f.get("archived")))
    return out


def _type(f: _Field | None) -> types.FieldType | None:
    return types.REGISTRY.get(f.type) if f is not None else None


def _field(c: _Check, fields: dict, key: Any, entity: str, path: tuple) -> _Field | None:
    """The active field ``key``, or None with a problem at ``path``."""
    f = fields.get(key) if isinstance(key, str) else None
    if f is None or f.archived:
        c.add(path, _(_NOT_A_FIELD, field=str(key)[:41], entity=entity))
        return None
    return f


def _check_field(c: _Check, entity: str, key: str, f: dict, path: tuple) -> None:
    c.key(key, path, "field key")
    c.label(f.get("label"), (*path, "label"))
    c.parts(f.get("translations"), (*path, "translations"))
    ftype = types.REGISTRY.get(f.get("type")) if isinstance(f.get("type"), str) else None
    if ftype is None:
        return  # the schema names the unknown type
    choices = f.get("choices")
    if choices is not None and ftype.managed:
        c.add(
            (*path, "choices"),
            _("%(type)s fields take their choices from the pipelines: leave out “choices”.",
              type=str(ftype.label)),
        )  # fmt: skip
    elif choices is not None and not ftype.has_choices:
        c.add((*path, "choices"), _("Only picklists have choices."))
    seen: set[str] = set()
    for i, choice in enumerate(_list(choices)):
        choice = _obj(choice)
        ckey = choice.get("key")
        if isinstance(ckey, str) and ckey in seen:
            message = _("The choice key “%(key)s” is used twice.", key=ckey)
            c.add((*path, "choices", i, "key"), message)
        seen.add(ckey)
        c.label(choice.get("label"), (*path, "choices", i, "label"))
        c.texts(choice.get("labels"), (*path, "choices", i, "labels"))
    options = _obj(f.get("options"))
    for name, messages in types.check_options(ftype.key, options).items():
        for message in messages:
            c.add((*path, "options", name), message)
    target = options.get("target")
    if (
        ftype.reference == "record"
        and isinstance(target, str)
        and KEY_RE.match(target)
        and target not in c.entities
    ):
        c.add(
            (*path, "options", "target"),
            _("The lookup's entity “%(key)s” is neither in the package nor in this CRM.",
              key=target),
        )  # fmt: skip
    old = c.existing.get(entity)
    old_field = old.field(key, include_archived=True) if old is not None else None
    if (
        old_field is not None
        and old_field.type != ftype.key
        and (old_field.type, ftype.key) not in types.SAFE_CONVERSIONS
    ):
        old_type = types.REGISTRY.get(old_field.type)
        c.add(
            (*path, "type"),
            _(
                "“%(field)s” is a %(old)s field in this CRM; it cannot become a %(new)s "
                "field without losing values.",
                field=key,
                old=str(old_type.label) if old_type else old_field.type,
                new=str(ftype.label),
            ),
        )


def _check_layouts(c: _Check, entity: str, fields: dict, layouts: dict, path: tuple) -> None:
    form = _obj(layouts.get("form"))
    placed: set[str] = set()
    for s, section in enumerate(_list(form.get("sections"))):
        section = _obj(section)
        where = (*path, "form", "sections", s)
        c.label(section.get("title"), (*where, "title"))
        c.texts(section.get("titles"), (*where, "titles"))
        for col, column in enumerate(_list(section.get("fields"))):
            for i, key in enumerate(_list(column)):
                at = (*where, "fields", col, i)
                if _field(c, fields, key, entity, at) is not None and key in placed:
                    c.add(at, _("“%(field)s” is placed twice on the form.", field=key))
                placed.add(key)
    quick = _obj(layouts.get("quick"))
    for i, key in enumerate(_list(quick.get("fields"))):
        _field(c, fields, key, entity, (*path, "quick", "fields", i))


def _view_field(c: _Check, fields: dict, key: Any, entity: str, path: tuple):
    """A field a list view may use (spine columns included) as (key, FieldType) or None."""
    if isinstance(key, str) and key in SPINE_BY_KEY:
        return types.REGISTRY[SPINE_BY_KEY[key].type], SPINE_BY_KEY[key]
    f = _field(c, fields, key, entity, path)
    ftype = _type(f)
    return (ftype, None) if ftype is not None else None


def _check_view(c: _Check, entity: str, fields: dict, view: dict, path: tuple) -> None:
    c.label(view.get("name"), (*path, "name"))
    c.parts(view.get("translations"), (*path, "translations"))
    for i, key in enumerate(_list(view.get("columns"))):
        _view_field(c, fields, key, entity, (*path, "columns", i))
    sort = view.get("sort")
    items = [((*path, "sort"), sort)] if isinstance(sort, dict) else [
        ((*path, "sort", i), s) for i, s in enumerate(_list(sort))
    ]  # fmt: skip
    for where, item in items:
        found = _view_field(c, fields, _obj(item).get("field"), entity, (*where, "field"))
        if found is not None and not found[0].sortable:
            c.add((*where, "field"), _("A list cannot be sorted by “%(field)s”.",
                                       field=_obj(item).get("field")))  # fmt: skip
    for i, item in enumerate(_list(view.get("filters"))):
        item = _obj(item)
        where = (*path, "filters", i)
        found = _view_field(c, fields, item.get("field"), entity, (*where, "field"))
        op = item.get("op")
        if found is not None and isinstance(op, str):
            ftype, spine = found
            ops = types.operators_of(spine) if spine is not None else ftype.operators
            if op not in ops:
                c.add(
                    (*where, "op"),
                    _("“%(op)s” is not a condition for “%(field)s”: choose one of %(ops)s.",
                      op=op[:30], field=item.get("field"), ops=", ".join(ops)),
                )  # fmt: skip


def _check_pipelines(c: _Check, entity: str, fields: dict, pipelines: dict, path: tuple) -> None:
    stage_keys: dict[str, str] = {}
    defaults = [k for k, p in pipelines.items() if _obj(p).get("default")]
    if len(defaults) > 1:
        c.add(path, _("Only one pipeline of an entity can be the default."))
    for pkey, pipeline in pipelines.items():
        pipeline = _obj(pipeline)
        where = (*path, pkey)
        c.label(pipeline.get("name"), (*where, "name"))
        c.parts(pipeline.get("translations"), (*where, "translations"))
        options = _obj(pipeline.get("options"))
        if "amount_field" in options:
            at = (*where, "options", "amount_field")
            f = _field(c, fields, options["amount_field"], entity, at)
            if f is not None and (not _type(f) or not _type(f).numeric):
                c.add(at, _("Choose a number or currency field of this entity."))
        if "close_field" in options:
            at = (*where, "options", "close_field")
            f = _field(c, fields, options["close_field"], entity, at)
            if f is not None and (not _type(f) or _type(f).storage != "date"):
                c.add(at, _("Choose a date field of this entity."))
        for i, key in enumerate(_list(options.get("card_fields"))):
            _field(c, fields, key, entity, (*where, "options", "card_fields", i))
        stages = _list(pipeline.get("stages"))
        seen: set[str] = set()
        for i, stage in enumerate(stages):
            stage = _obj(stage)
            at = (*where, "stages", i)
            skey = stage.get("key")
            if isinstance(skey, str):
                c.key(skey, (*at, "key"), "key")
                if skey in seen:
                    c.add((*at, "key"), _("Two stages have the key “%(key)s”.", key=skey))
                elif stage_keys.get(skey, pkey) != pkey:
                    c.add(
                        (*at, "key"),
                        _("Another pipeline of this entity has a stage “%(key)s”.", key=skey),
                    )
                seen.add(skey)
                stage_keys.setdefault(skey, pkey)
            c.label(stage.get("name"), (*at, "name"))
            c.parts(stage.get("translations"), (*at, "translations"))
            for g, key in enumerate(_list(stage.get("required_fields"))):
                f = _field(c, fields, key, entity, (*at, "required_fields", g))
                ftype = _type(f)
                if ftype is not None and (ftype.managed or ftype.assigned):
                    c.add(
                        (*at, "required_fields", g),
                        _("“%(field)s” is not a field a stage can require.", field=key),
                    )
        active = [_obj(s) for s in stages if not _obj(s).get("archived")]
        if stages and not any(s.get("category", "open") == "open" for s in active):
            c.add((*where, "stages"), _("A pipeline needs at least one open stage."))


def _check_entity(c: _Check, key: str, entity: dict) -> None:
    path = ("entities", key)
    c.key(key, path, "entity key")
    for name in ("label_singular", "label_plural"):
        c.label(entity.get(name), (*path, name))
    c.parts(entity.get("translations"), (*path, "translations"))
    fields = _fields(key, entity, c.existing)
    for fkey, f in _obj(entity.get("fields")).items():
        if isinstance(f, dict):
            _check_field(c, key, fkey, f, (*path, "fields", fkey))
    name_field = entity.get("name_field")
    if isinstance(name_field, str):
        f = fields.get(name_field)
        ftype = _type(f)
        if f is None or f.archived:
            c.add(
                (*path, "name_field"),
                _("“%(field)s” is not an active field of “%(entity)s”.", field=name_field,
                  entity=key),
            )  # fmt: skip
        elif ftype is not None and not ftype.can_name_records:
            c.add(
                (*path, "name_field"),
                _("%(type)s fields cannot name records.", type=str(ftype.label)),
            )
    _check_layouts(c, key, fields, _obj(entity.get("layouts")), (*path, "layouts"))
    views = _obj(entity.get("list_views"))
    if sum(1 for v in views.values() if _obj(v).get("default")) > 1:
        c.add((*path, "list_views"), _("Only one list view of an entity can be the default."))
    for vkey, view in views.items():
        if isinstance(view, dict):
            c.key(vkey, (*path, "list_views", vkey), "key")
            _check_view(c, key, fields, view, (*path, "list_views", vkey))
    _check_pipelines(c, key, fields, _obj(entity.get("pipelines")), (*path, "pipelines"))


def _check_role(c: _Check, key: str, role: dict, fields_of: dict) -> None:
    path = ("roles", key)
    c.key(key, path, "key")
    c.label(role.get("name"), (*path, "name"))
    c.parts(role.get("translations"), (*path, "translations"))
    level_keys = [levels.level(v).key for v in levels.LEVELS]
    for entity, grants in _obj(role.get("grants")).items():
        where = (*path, "grants", entity)
        if entity != "*" and entity not in c.entities:
            c.add(where, _(_NO_ENTITY, key=str(entity)[:41]))
        for action, level in _obj(grants).items():
            if not isinstance(level, str) or level not in level_keys:
                c.add(
                    (*where, action),
                    _("“%(level)s” is not a scope level: choose one of %(names)s.",
                      level=str(level)[:41], names=", ".join(level_keys)),
                )  # fmt: skip
            elif action in UNSCOPED_ACTIONS and level not in ("none", "all"):
                c.add(
                    (*where, action),
                    _("“%(action)s” is given to all records or to none.", action=action),
                )
    for entity, rights in _obj(role.get("field_rights")).items():
        where = (*path, "field_rights", entity)
        if entity not in c.entities:
            c.add(where, _(_NO_ENTITY, key=str(entity)[:41]))
            continue
        fields = fields_of.get(entity, {})
        for fkey in _obj(rights):
            if fkey not in fields:
                c.add(
                    (*where, fkey),
                    _("%(entity)s has no field with the key “%(key)s”.", entity=entity,
                      key=str(fkey)[:41]),
                )  # fmt: skip


def check(
    data: Mapping[str, Any],
    existing: Mapping[str, EntitySpec],
    seeded: Mapping[str, Collection[str]] | None = None,
) -> list[Problem]:
    """Every problem with the references and rules of package ``data`` (which may also
    have failed the schema), resolving references against the package and ``existing``
    (the target installation's entities by key); seed records' lookups also against
    ``seeded`` (entity -> the "@key"s already seeded here)."""
    entities = _obj(data.get("entities"))
    c = _Check(existing)
    c.entities = set(existing) | set(entities)
    locale = _obj(data.get("package")).get("default_locale")
    if isinstance(locale, str) and locale not in LANGUAGES:
        c.add(("package", "default_locale"), _(_NOT_A_LANGUAGE, code=locale[:20]))
    fields_of = {
        key: _fields(key, _obj(entities.get(key)), existing)
        for key in c.entities
    }  # fmt: skip
    for key, entity in entities.items():
        if isinstance(entity, dict):
            _check_entity(c, key, entity)
    for key, role in _obj(data.get("roles")).items():
        if isinstance(role, dict):
            _check_role(c, key, role, fields_of)
    c.problems.extend(seed_values.problems(data, existing, seeded))
    return c.problems

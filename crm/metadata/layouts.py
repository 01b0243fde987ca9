"""Form layouts: how an entity's fields are arranged on its forms.

Two kinds are stored per entity in ``meta_layouts`` (``LayoutRow``):

* ``"form"`` — the create/edit form and the record page: titled sections of one to three
  columns, each column an ordered list of field keys. Stored as
  ``{"sections": [{"key": "s1", "title": "Details", "columns": 2,
  "fields": [["name", "email"], ["phone"]]}]}``.
* ``"quick"`` — the compact quick-create form: an ordered list of field keys, stored as
  ``{"fields": ["name", "email"]}``.

What the runtime uses is the *effective* layout (``effective_layout`` / ``effective_quick``,
cached per metadata version by ``CompiledSpecs.layout`` / ``quick_layout``): the stored
definition cleaned of fields that are archived or gone, plus every active field it does not
place — a new field lands on the form by itself and is never invisible by accident.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.i18n import pick
from crm.metadata import labels, types
from crm.metadata.compile import entity_spec
from crm.metadata.keys import KEY_RE, N_, clean_label
from crm.metadata.models import EntityRow, LayoutRow
from crm.metadata.spec import EntitySpec
from crm.metadata.versioning import bump_version, log_change
from crm.uow import unit_of_work

KINDS = ("form", "quick")
SECTION_KEY_RE = re.compile(r"^s[0-9]{1,4}$")
MAX_SECTIONS = 20
MAX_COLUMNS = 3
MAX_TITLE = 100
MAX_PAYLOAD = 64 * 1024
# The title of the section a layout starts with (and of a stored section without one):
# lazy, so each reader sees it in their language until an administrator renames it.
DEFAULT_TITLE = _l("Details")
DEFAULT_COLUMNS = 2
QUICK_DEFAULT_SIZE = 5
# Assigned by the system when a record is created: pointless on a quick create form.

SHAPE_MESSAGE = N_("The layout was not sent in the expected shape. Reload the page and try again.")


@dataclass(frozen=True)
class SectionSpec:
    """One titled section of a form: ``fields`` holds one tuple of field keys per column."""

    key: str
    title: str
    columns: int
    fields: tuple[tuple[str, ...], ...]
    titles: Mapping[str, str] = field(default_factory=dict, compare=False)  # locale -> title

    @property
    def field_keys(self) -> tuple[str, ...]:
        """Every field of the section, column by column."""
        return tuple(k for column in self.fields for k in column)


@dataclass(frozen=True)
class LayoutSpec:
    """The sections of a form, in display order."""

    sections: tuple[SectionSpec, ...]

    @property
    def field_keys(self) -> tuple[str, ...]:
        """Every placed field, section by section."""
        return tuple(k for s in self.sections for k in s.field_keys)

    def as_definition(self) -> dict:
        """The JSON-ready definition (the stored shape)."""
        return {
            "sections": [
                {
                    "key": s.key,
                    "title": str(s.title),
                    "columns": s.columns,
                    "fields": [list(c) for c in s.fields],
                    **({"titles": dict(s.titles)} if s.titles else {}),
                }
                for s in self.sections
            ]
        }


# -- effective layouts (lenient: stored data only ever loses what no longer exists) --------


def _next_section_key(taken: set[str]) -> str:
    n = 1
    while f"s{n}" in taken:
        n += 1
    return f"s{n}"


def _columns_of(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, 1), MAX_COLUMNS)
    return 1


def _fold(columns: list[list[str]], count: int) -> list[list[str]]:
    """Exactly ``count`` columns: extra ones are folded into the last, missing ones added."""
    head = [list(c) for c in columns[:count]]
    while len(head) < count:
        head.append([])
    for extra in columns[count:]:
        head[-1].extend(extra)
    return head


def default_layout(spec: EntitySpec) -> LayoutSpec:
    """One "Details" section of two columns, fields in position order, alternating."""
    columns: list[list[str]] = [[] for _ in range(DEFAULT_COLUMNS)]
    for i, f in enumerate(spec.active_fields):
        columns[i % DEFAULT_COLUMNS].append(f.key)
    section = SectionSpec("s1", DEFAULT_TITLE, DEFAULT_COLUMNS, tuple(tuple(c) for c in columns))
    return LayoutSpec((section,))


def effective_layout(spec: EntitySpec, definition: dict | None) -> LayoutSpec:
    """The form layout the runtime shows for ``spec``.

    The stored ``definition`` minus unknown or archived fields and repeated ones, plus every
    active field it does not place, appended one by one to the shortest column of the last
    section (so a new field is never invisible). Without a usable definition: the default
    (``default_layout``). Never raises, whatever ``definition`` holds.
    """
    raw = definition.get("sections") if isinstance(definition, dict) else None
    if not isinstance(raw, list) or not raw:
        return default_layout(spec)
    active = {f.key for f in spec.active_fields}
    seen: set[str] = set()
    keys: set[str] = set()
    sections: list[tuple[str, str, int, list[list[str]]]] = []
    titles: dict[int, dict[str, str]] = {}
    for item in raw[:MAX_SECTIONS]:
        if not isinstance(item, dict):
            continue
        key = item.get("key")
        if not isinstance(key, str) or not SECTION_KEY_RE.fullmatch(key) or key in keys:
            key = ""
        title = item.get("title")
        title = clean_label(title)[:MAX_TITLE] if isinstance(title, str) else ""
        count = _columns_of(item.get("columns"))
        raw_columns = item.get("fields")
        columns: list[list[str]] = []
        for raw_column in raw_columns if isinstance(raw_columns, list) else []:
            column = []
            for k in raw_column if isinstance(raw_column, list) else []:
                if isinstance(k, str) and k in active and k not in seen:
                    seen.add(k)
                    column.append(k)
            columns.append(column)
        if key:
            keys.add(key)
        translated, _bad = labels.check(item.get("titles"), limit=MAX_TITLE)
        titles[len(sections)] = labels.freeze(translated)
        sections.append((key, title or DEFAULT_TITLE, count, _fold(columns, count)))
    if not sections:
        return default_layout(spec)
    named = []
    for key, title, count, columns in sections:
        if not key:
            key = _next_section_key(keys)
            keys.add(key)
        named.append((key, title, count, columns))
    last = named[-1][3]
    for f in spec.active_fields:
        if f.key not in seen:
            min(last, key=len).append(f.key)  # min() returns the first of the shortest
    return LayoutSpec(
        tuple(
            SectionSpec(key, title, count, tuple(tuple(c) for c in columns), titles[i])
            for i, (key, title, count, columns) in enumerate(named)
        )
    )


def localize_layout(layout: LayoutSpec, locale: str) -> LayoutSpec:
    """``layout`` with each section titled in ``locale`` where it has that translation."""
    return LayoutSpec(
        tuple(
            replace(s, title=pick(s.title, s.titles, locale)) if s.titles else s
            for s in layout.sections
        )
    )


def default_quick(spec: EntitySpec) -> tuple[str, ...]:
    """The naming field first, then every required field and further fields in position
    order until there are five (auto-numbers are left out: they are assigned)."""
    name = spec.field(spec.name_field) if spec.name_field else None
    chosen = [name.key] if name is not None else []
    chosen += [f.key for f in spec.active_fields if f.required and f.key not in chosen]
    for f in spec.active_fields:
        if len(chosen) >= QUICK_DEFAULT_SIZE:
            break
        if f.key not in chosen and not types.get(f.type).assigned:  # never typed
            chosen.append(f.key)
    head = chosen[:1] if name is not None else []
    rest = [f.key for f in spec.active_fields if f.key in chosen and f.key not in head]
    return (*head, *rest)


def _with_required(spec: EntitySpec, keys: list[str]) -> tuple[str, ...]:
    missing = [f.key for f in spec.active_fields if f.required and f.key not in keys]
    return (*keys, *missing)


def effective_quick(spec: EntitySpec, definition: dict | list | None) -> tuple[str, ...]:
    """The fields of the quick create form, in order.

    The stored list minus unknown, archived and repeated keys, plus any required field it
    lacks (a record cannot be created without them). Without a stored list — or when
    nothing of it is left — the default (``default_quick``). Never raises.
    """
    raw = definition.get("fields") if isinstance(definition, dict) else definition
    if not isinstance(raw, list):
        return default_quick(spec)
    active = {f.key for f in spec.active_fields}
    keys: list[str] = []
    for k in raw:
        if isinstance(k, str) and k in active and k not in keys:
            keys.append(k)
    if not keys:
        return default_quick(spec)
    return _with_required(spec, keys)


# -- validation (strict: what an administrator sends is checked, every problem reported) ---


def parse_payload(raw: Any) -> Any:
    """The JSON the editor posts, parsed. Raises ``ValidationFailed`` with a message for
    people when it is missing, larger than 64 KB or not JSON."""
    if not isinstance(raw, str) or not raw.strip():
        message = _("The layout was not sent. Reload the page and try again.")
        raise ValidationFailed(message, errors={"layout": [message]})
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD:
        message = _("The layout is too large to be saved (at most 64 KB).")
        raise ValidationFailed(message, errors={"layout": [message]})
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        message = _(SHAPE_MESSAGE)
        raise ValidationFailed(message, errors={"layout": [message]}) from None


def _not_a_field(key: Any) -> str:
    """Only a well-formed key is repeated back in the message."""
    if isinstance(key, str) and KEY_RE.fullmatch(key):
        return _("The layout names “%(key)s”, which is not a field of this entity.", key=key)
    return _("The layout names a value that is not a field key.")


def _check_field(spec: EntitySpec, key: Any, seen: set[str], problems: list[str]) -> bool:
    if not isinstance(key, str) or spec.field(key) is None:
        problems.append(_not_a_field(key))
        return False
    if key in seen:
        problems.append(_("The field “%(key)s” is placed twice; place each field once.", key=key))
        return False
    seen.add(key)
    return True


def _shape(n: int) -> str:
    return _(
        "Section %(num)d was not sent in the expected shape. Reload the page and try again.",
        num=n,
    )


def validate_layout(spec: EntitySpec, data: Any) -> tuple[dict, dict[str, list[str]]]:
    """Check a form layout sent by the editor: ``{"sections": [{"key", "title", "columns",
    "fields": [[keys of column 1], ...]}]}``.

    Returns ``(normalised definition, errors)``; errors, when any, as
    ``{"layout": [messages]}`` (every problem at once). Rules: 1–20 sections; titles of
    1–100 characters (cleaned); 1–3 columns; every key an active field, each placed once;
    section keys ``s<digits>`` (generated when missing). Fields sent in more columns than
    the section has are folded into its last column. Fields left out are not an error: the
    effective layout appends them to the last section.
    """
    problems: list[str] = []
    raw = data.get("sections") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return {}, {"layout": [_(SHAPE_MESSAGE)]}
    if not raw:
        problems.append(_("Keep at least one section."))
    if len(raw) > MAX_SECTIONS:
        problems.append(_("A form can have at most %(max)d sections.", max=MAX_SECTIONS))
        raw = raw[:MAX_SECTIONS]
    seen: set[str] = set()
    given_keys = set()
    parsed: list[dict] = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            problems.append(_shape(n))
            continue
        key = item.get("key")
        if key in (None, ""):
            key = None
        elif not isinstance(key, str) or not SECTION_KEY_RE.fullmatch(key):
            problems.append(_("Section %(num)d has a key that is not valid.", num=n))
            key = None
        elif key in given_keys:
            problems.append(_("Section %(num)d has the same key as another section.", num=n))
            key = None
        else:
            given_keys.add(key)
        title_raw = item.get("title")
        title = clean_label(title_raw) if isinstance(title_raw, str) else ""
        if not title:
            problems.append(_("Section %(num)d: Enter a section title.", num=n))
        elif len(title) > MAX_TITLE:
            problems.append(
                _(
                    "Section %(num)d: the title is too long; use at most %(max)d characters.",
                    num=n,
                    max=MAX_TITLE,
                )
            )
        translated, bad = labels.check(item.get("titles"), limit=MAX_TITLE)
        problems += [_("Section %(num)d: %(problem)s", num=n, problem=p) for p in bad]
        columns = item.get("columns")
        if not isinstance(columns, int) or isinstance(columns, bool) or not 1 <= columns <= 3:
            problems.append(_("Section %(num)d: choose 1, 2 or 3 columns.", num=n))
            columns = 1
        raw_columns = item.get("fields", [])
        if not isinstance(raw_columns, list) or not all(isinstance(c, list) for c in raw_columns):
            problems.append(_shape(n))
            raw_columns = []
        if len(raw_columns) > MAX_COLUMNS:
            problems.append(_shape(n))
            raw_columns = raw_columns[:MAX_COLUMNS]
        cols = [[k for k in c if _check_field(spec, k, seen, problems)] for c in raw_columns]
        section = {"key": key, "title": title, "columns": columns, "fields": cols}
        if translated:
            section["titles"] = translated
        parsed.append(section)
    if problems:
        return {}, {"layout": problems}
    for section in parsed:
        if section["key"] is None:
            section["key"] = _next_section_key(given_keys)
            given_keys.add(section["key"])
        section["fields"] = _fold(section["fields"], section["columns"])
    return {"sections": parsed}, {}


def validate_quick(spec: EntitySpec, data: Any) -> tuple[dict, dict[str, list[str]]]:
    """Check a quick create layout sent by the editor: ``{"fields": [keys]}`` (or the bare
    list). Every key an active field, each once; required fields the list lacks are added
    at its end (they cannot be left out). Returns ``(normalised definition, errors)``."""
    raw = data.get("fields") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        return {}, {"layout": [_(SHAPE_MESSAGE)]}
    problems: list[str] = []
    seen: set[str] = set()
    keys = [k for k in raw if _check_field(spec, k, seen, problems)]
    if problems:
        return {}, {"layout": problems}
    keys = list(_with_required(spec, keys))
    if not keys and spec.active_fields:
        return {}, {"layout": [_("Choose at least one field for quick create.")]}
    return {"fields": keys}, {}


# -- saving --------------------------------------------------------------------------------


def _entity(entity_key: str) -> EntitySpec:
    """The entity as its rows say now (not the cache: the version was just bumped)."""
    row = (
        db.session.scalar(select(EntityRow).where(EntityRow.key == entity_key))
        if isinstance(entity_key, str)
        else None
    )
    if row is None or row.archived_at is not None:
        raise NotFound(_("There is no such entity."))
    return entity_spec(row)


def save_layout(entity_key: str, kind: str, data: Any, *, actor_id: int | None) -> None:
    """Validate and store the ``kind`` ("form" or "quick") layout of an entity, in one
    transaction with a version bump and a change log entry (``update_layout`` or
    ``update_quick_layout``, with the previous and the new definition).

    Sending the layout already stored changes nothing (no bump, no log entry). Raises
    ``ValidationFailed`` (every problem, in ``errors["layout"]``) or ``NotFound`` (no such
    entity, or an archived one); in both cases nothing has changed.
    """
    from crm.metadata import specs  # specs compiles layouts: import late, no cycle

    # fresh: the version row's lock is the first thing taken, as in the schema service.
    with unit_of_work(fresh=True, after_commit=[specs.forget_request_specs]) as unit:
        version = bump_version()  # taking the version row first serialises metadata writers
        if kind not in KINDS:
            message = _("There is no such kind of layout.")
            raise ValidationFailed(message, errors={"layout": [message]})
        spec = _entity(entity_key)
        validate = validate_layout if kind == "form" else validate_quick
        definition, errors = validate(spec, data)
        if errors:
            raise ValidationFailed(_("Nothing was changed."), errors=errors)
        row = db.session.scalar(
            select(LayoutRow).where(LayoutRow.entity_key == entity_key, LayoutRow.kind == kind)
        )
        before = dict(row.definition) if row is not None and row.definition else None
        if before == definition:
            unit.discard()  # the version bump must not stay either
            return
        if row is None:
            row = LayoutRow(entity_key=entity_key, kind=kind)
            db.session.add(row)
        row.definition = definition
        log_change(
            version=version,
            actor_id=actor_id,
            entity_key=entity_key,
            action="update_layout" if kind == "form" else "update_quick_layout",
            before=before,
            after=definition,
        )

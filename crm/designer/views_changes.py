"""Designer: the configuration change log, newest first, for all entities or one.

Entries are read by ``crm.metadata.versioning.change_log_page`` and their authors' names by
``crm.access.directory.user_names`` (this module runs no SQL), and turned into words by
``describe``: the action ("Added field"), and a before → after line for
each key that changed ("label: Name → Company name", "required: no → yes", "choices added:
Won").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from crm.access import directory, policy
from crm.designer import bp
from crm.designer.views_entities import nav_entities
from crm.i18n import LANGUAGES
from crm.metadata import list_views as lv
from crm.metadata import specs, types, versioning
from crm.metadata.keys import KEY_RE
from crm.metadata.models import ConfigChange
from crm.metadata.palette import COLOUR_NAMES
from crm.metadata.spec import EntitySpec
from crm.web.htmx import render_page_or_block

Hidden = Callable[[str], bool] | None

PER_PAGE = 50
MAX_PAGE = 100_000
MAX_TEXT = 120

ACTIONS = {
    "create_entity": _l("Created entity"),
    "save_duplicate_rule": _l("Changed duplicate rule"),
    "enable_duplicate_rule": _l("Turned a duplicate rule on"),
    "disable_duplicate_rule": _l("Turned a duplicate rule off"),
    "delete_duplicate_rule": _l("Deleted duplicate rule"),
    "update_entity": _l("Changed entity"),
    "archive_entity": _l("Archived entity"),
    "restore_entity": _l("Restored entity"),
    "purge_entity": _l("Purged entity"),
    "add_field": _l("Added field"),
    "update_field": _l("Changed field"),
    "archive_field": _l("Archived field"),
    "restore_field": _l("Restored field"),
    "purge_field": _l("Purged field"),
    "update_layout": _l("Updated layout"),
    "update_quick_layout": _l("Updated quick-create layout"),
    "save_list_view": _l("Changed list view"),
    "delete_list_view": _l("Deleted list view"),
    "default_list_view": _l("Changed the default list view"),
    "save_pipeline": _l("Changed pipeline"),
    "archive_pipeline": _l("Archived pipeline"),
    "rule.create": _l("Added automation rule"),
    "rule.update": _l("Changed automation rule"),
    "rule.delete": _l("Deleted automation rule"),
    "rule.enable": _l("Turned an automation rule on"),
    "rule.disable": _l("Turned an automation rule off"),
    "rule.reorder": _l("Reordered automation rules"),
    "approval_rule.create": _l("Added approval rule"),
    "approval_rule.update": _l("Changed approval rule"),
    "approval_rule.delete": _l("Deleted approval rule"),
    "approval_rule.enable": _l("Turned an approval rule on"),
    "approval_rule.disable": _l("Turned an approval rule off"),
}
PIPELINE_ACTIONS = frozenset({"save_pipeline", "archive_pipeline"})
# The settings a change may touch, in words (a key not listed reads as itself).
KEY_WORDS = {
    "label": _l("label"),
    "label_singular": _l("singular label"),
    "label_plural": _l("plural label"),
    "description": _l("description"),
    "icon": _l("icon"),
    "color": _l("color"),
    "name_field": _l("named by"),
    "archived": _l("archived"),
    "type": _l("type"),
    "help_text": _l("help text"),
    "required": _l("required"),
    "unique": _l("unique"),
    "default": _l("default value"),
    "position": _l("position"),
    "searchable": _l("searchable"),
    "name": _l("name"),
    "columns": _l("columns"),
    "sort": _l("sort"),
    "filters": _l("filters"),
    "conditions": _l("conditions"),
    "sections": _l("sections"),
    "fields": _l("fields"),
    "is_default": _l("default view"),
    "default_view": _l("default view"),
    "max_length": _l("maximum length"),
    "decimal_places": _l("decimal places"),
    "currency": _l("currency"),
    "target": _l("target"),
    "on_delete": _l("when the looked-up record is deleted"),
    "prefix": _l("prefix"),
    "padding": _l("padding"),
}
SKIP_KEYS = frozenset({"key"})  # never changes; shown in its own column


@dataclass
class Line:
    """One line of a diff: ``key: before → after`` (either side may be absent)."""

    key: str
    before: str | None = None
    after: str | None = None


@dataclass
class Entry:
    at: datetime
    who: str | None  # None: the system
    entity_key: str
    entity: EntitySpec | None
    field_key: str | None
    field_label: str | None
    action: str
    lines: list[Line] = field(default_factory=list)


# --- reading ----------------------------------------------------------------------------------


# --- describing -------------------------------------------------------------------------------


def _words(key: str) -> str:
    return str(KEY_WORDS[key]) if key in KEY_WORDS else key.replace("_", " ")


def plain_text(value: Any) -> str:
    """A stored value in words: yes/no, "—" for nothing, long text shortened."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        titles = [str(v.get("title") or v.get("label") or v.get("key") or "") for v in value]
        text = ", ".join(t for t in titles if t) or ngettext(
            "%(num)d item", "%(num)d items", len(value)
        )
    elif isinstance(value, dict):
        text = ", ".join(f"{_words(str(k))} {plain_text(v)}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def colour_text(value: Any) -> str:
    """A palette colour by its name in the reader's language ("—" for none)."""
    return str(COLOUR_NAMES[value]) if value in COLOUR_NAMES else plain_text(value)


def _choice_lines(before: list, after: list) -> list[Line]:
    old = {c.get("key"): c for c in before or [] if isinstance(c, dict)}
    new = {c.get("key"): c for c in after or [] if isinstance(c, dict)}
    lines: list[Line] = []
    added = [c.get("label", k) for k, c in new.items() if k not in old]
    removed = [c.get("label", k) for k, c in old.items() if k not in new]
    if added:
        lines.append(Line(_("choices added"), after=", ".join(added)))
    if removed:
        lines.append(Line(_("choices removed"), before=", ".join(removed)))
    for k, c in new.items():
        if k not in old:
            continue
        was = old[k]
        if was.get("label") != c.get("label"):
            lines.append(Line(_("choice renamed"), str(was.get("label")), str(c.get("label"))))
        if bool(was.get("archived")) != bool(c.get("archived")):
            verb = _("choice archived") if c.get("archived") else _("choice restored")
            lines.append(Line(verb, after=str(c.get("label"))))
        if (was.get("labels") or {}) != (c.get("labels") or {}):
            setting = _("label of %(value)s", value=c.get("label"))
            lines += _languages_lines(setting, was.get("labels"), c.get("labels"))
        if (was.get("color") or "") != (c.get("color") or ""):
            colours = colour_text(was.get("color")), colour_text(c.get("color"))
            lines.append(Line(_("colour of %(value)s", value=c.get("label")), *colours))
    same = [k for k in new if k in old]
    if [k for k in old if k in new] != same:
        lines.append(
            Line(_("choices reordered"), after=", ".join(str(new[k].get("label")) for k in same))
        )
    return lines


# The label each translated part translates (``crm.metadata.labels``).
PART_KEYS = {
    "singular": "label_singular",
    "plural": "label_plural",
    "label": "label",
    "help": "help_text",
    "name": "name",
}


def _languages_lines(setting: str, old: Any, new: Any) -> list[Line]:
    """One line per language whose translation of ``setting`` changed."""
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    return [
        Line(
            _("%(setting)s in %(language)s", setting=setting, language=LANGUAGES[code]),
            plain_text(old.get(code)),
            plain_text(new.get(code)),
        )
        for code in LANGUAGES
        if (old.get(code) or "") != (new.get(code) or "")
    ]


def translation_lines(before: Any, after: Any) -> list[Line]:
    """Translations changed ("plural label in Español: — → Cuentas"), part by part."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    lines: list[Line] = []
    for part in dict.fromkeys([*before, *after]):
        setting = _words(PART_KEYS.get(str(part), str(part)))
        lines += _languages_lines(setting, before.get(part), after.get(part))
    return lines


def _hidden_filter(entity: EntitySpec | None, raw: Any, hidden: Hidden) -> str | None:
    """The words for a filter on a field the reader may not read ("Margin: (hidden)"), or
    None when they may read it: its values are data they cannot see elsewhere either."""
    key = raw.get("field") if isinstance(raw, dict) else None
    if not isinstance(key, str) or not hidden(key):
        return None
    found = entity.field(key, include_archived=True) if entity is not None else None
    return _("%(field)s: (hidden)", field=found.label if found is not None else key)


def _view_value(entity: EntitySpec | None, key: str, value: Any, hidden: Hidden = None) -> str:
    """List-view keys in words, through the entity's current fields when it still exists.
    ``hidden(field_key)`` says which fields the reader may not read: the values of filters
    on them are shown as "(hidden)"."""
    hidden = hidden or _nothing_hidden
    if entity is None or not isinstance(value, list):
        return plain_text(value)  # a purged entity's filters read as "2 items": no values
    if key == "filters":
        texts = []
        for raw in value:
            concealed = _hidden_filter(entity, raw, hidden)
            if concealed is not None:
                texts.append(concealed)
            else:
                spec, _problems = lv.check_filter(entity, raw, lenient=True)
                texts.append(lv.describe_filter(entity, spec) if spec else plain_text(raw))
        return "; ".join(texts) or "—"
    if key == "columns":
        return plain_text([lv.column_label(entity, k) for k in value if isinstance(k, str)])
    if key == "sort":
        pairs = [tuple(s) for s in value if isinstance(s, list) and len(s) == 2]
        return lv.describe_sort(entity, pairs) or "—"
    return plain_text(value)


def diff(
    before: Any, after: Any, entity: EntitySpec | None = None, hidden: Hidden = None
) -> list[Line]:
    """Lines for the keys whose value changed (both sides dicts), or a short summary of
    what was added (only ``after``) or removed (only ``before``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines: list[Line] = []
        for key in [*after, *(k for k in before if k not in after)]:
            old, new = before.get(key), after.get(key)
            if key in SKIP_KEYS or old == new:
                continue
            if key == "choices":
                lines.extend(_choice_lines(old, new))
            elif key == "translations":
                lines.extend(translation_lines(old, new))
            elif key == "options" and isinstance(old, dict) and isinstance(new, dict):
                lines.extend(diff(old, new, hidden=hidden))
            elif key == "type":
                lines.append(Line(_words("type"), _type_label(old), _type_label(new)))
            elif key == "color":
                lines.append(Line(_words("color"), colour_text(old), colour_text(new)))
            elif key == "name_field" and entity is not None:
                lines.append(Line(_words(key), field_label(entity, old), field_label(entity, new)))
            elif key in ("columns", "sort", "filters", "conditions"):
                # A rule's conditions are list-view filters: hidden fields' values stay hidden.
                as_view = "filters" if key == "conditions" else key
                lines.append(
                    Line(
                        _words(key),
                        _view_value(entity, as_view, old, hidden),
                        _view_value(entity, as_view, new, hidden),
                    )
                )
            else:
                lines.append(Line(_words(key), plain_text(old), plain_text(new)))
        return lines
    one = after if isinstance(after, dict) else before if isinstance(before, dict) else None
    if one is None:
        return []
    side = "after" if one is after else "before"
    summary = []
    keys = ("name", "label", "label_singular", "type", "required", "columns", "sort", "filters")
    for key in (*keys, "sections"):
        if key in one and one[key] not in (None, "", False):
            value = (
                _type_label(one[key])
                if key == "type"
                else _view_value(entity, key, one[key], hidden)
            )
            summary.append(Line(_words(key), **{side: value}))
    return summary


def _nothing_hidden(_key: str) -> bool:
    return False


def _hidden_for(reader: Any, entity: EntitySpec | None) -> Callable[[str], bool]:
    """Whether ``reader`` may not read a field of ``entity`` (by key). Without a reader
    or an entity nothing is hidden; a key of no field (a spine column) is never hidden."""
    if reader is None or entity is None:
        return _nothing_hidden

    def hidden(key: str) -> bool:
        if entity.field(key, include_archived=True) is None:
            return False
        return policy.field_access(reader, entity, key) == policy.HIDDEN

    return hidden


def field_label(entity: EntitySpec, key: Any) -> str:
    f = entity.field(key, include_archived=True) if isinstance(key, str) else None
    return f.label if f is not None else plain_text(key)


def _type_label(value: Any) -> str:
    return types.REGISTRY[value].label if value in types.REGISTRY else plain_text(value)


def describe(row: ConfigChange, names: dict[int, str], entities: dict, reader: Any = None) -> Entry:
    """One change in words; with ``reader``, values of filters on fields they may not
    read are "(hidden)"."""
    entity = entities.get(row.entity_key)
    f = entity.field(row.field_key, include_archived=True) if entity and row.field_key else None
    known = ACTIONS.get(row.action)
    action = str(known) if known else row.action.replace("_", " ").capitalize()
    if row.action == "save_list_view" and row.before is None:
        action = _("Added list view")
    if row.action == "save_pipeline" and row.before is None:
        action = _("Added pipeline")
    if row.action in PIPELINE_ACTIONS:
        from crm.designer.changes_pipelines import pipeline_lines  # it builds on this module

        lines = pipeline_lines(row.before, row.after, entity)
    else:
        lines = diff(row.before, row.after, entity, _hidden_for(reader, entity))
    who = (
        None if row.user_id is None else names.get(row.user_id) or _("user #%(id)s", id=row.user_id)
    )
    return Entry(
        at=row.at,
        who=who,
        entity_key=row.entity_key,
        entity=entity,
        field_key=row.field_key,
        field_label=f.label if f else None,
        action=action,
        lines=lines,
    )


# --- the page ---------------------------------------------------------------------------------


def _page_number() -> int:
    raw = request.args.get("page", "1").strip()
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


@bp.get("/changes")
def changes():
    compiled = specs.current()
    entity_key = request.args.get("entity", "").strip() or None
    entity = compiled.entity(entity_key, include_archived=True) if entity_key else None
    unknown = entity_key is not None and entity is None
    page = _page_number()
    rows, more = versioning.change_log_page(entity_key, page, PER_PAGE)
    names = directory.user_names({r.user_id for r in rows if r.user_id is not None})
    entries = [describe(r, names, compiled.entities, current_user) for r in rows]
    return render_page_or_block(
        "designer/changes.html",
        "changes_main",
        entries=entries,
        entity=entity,
        entity_key=entity_key,
        # only a well-formed key goes into links (and so into hx-get attributes)
        link_key=entity_key if entity_key and KEY_RE.fullmatch(entity_key) else None,
        unknown=unknown,
        page=page,
        more=more,
        entity_choices=sorted(compiled.entities.values(), key=lambda e: e.label_plural.lower()),
        nav_entities=nav_entities(),
    )

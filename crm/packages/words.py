"""A plan step in an implementer's words, for the plan page.

The plan itself speaks in JSON pointers and stored values (``/roles/sales_rep/grants``,
``{"deal": {"read": "all"}}``); the command line shows those, as scripts name them. The
page shows what they mean: "Role “Sales rep” · Rights", "Deals · Read: Own → All";
fields and views by their labels in the reader's language, field keys as field labels,
yes/no, "—" for nothing. Pure: reads only the plan's two configurations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.access import levels
from crm.access.policy import ACTION_LABELS, ACTIONS
from crm.access.rights import EDIT, FIELD_LABELS
from crm.metadata import types
from crm.packages.plan import Change, Conflict, Plan

_PROPS = {
    "label": _l("Label"),
    "label_singular": _l("Singular label"),
    "label_plural": _l("Plural label"),
    "description": _l("Description"),
    "icon": _l("Icon"),
    "color": _l("Color"),
    "name_field": _l("Name field"),
    "archived": _l("Archived"),
    "type": _l("Type"),
    "position": _l("Position"),
    "required": _l("Required"),
    "searchable": _l("Searchable"),
    "unique": _l("Unique"),
    "help_text": _l("Help text"),
    "default": _l("Default value"),
    "options": _l("Settings"),
    "choices": _l("Choices"),
    "translations": _l("Translations"),
    "name": _l("Name"),
    "columns": _l("Columns"),
    "sort": _l("Sort"),
    "filters": _l("Filters"),
    "stages": _l("Stages"),
    "grants": _l("Rights"),
    "field_rights": _l("Field rights"),
    "can_configure": _l("Can configure the CRM"),
    "can_manage_access": _l("Can manage access"),
}
# Properties whose value is a list of field keys of the step's entity.
_FIELD_LISTS = {"columns", "card_fields", "required_fields"}
_ANY = "*"
# Yes/no settings: absent means "no".
_FLAGS = {
    "archived",
    "required",
    "searchable",
    "unique",
    "can_configure",
    "can_manage_access",
    "default",
    "probability_override",
}


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _parts(path: str) -> list[str]:
    return [_unescape(p) for p in path.split("/")[1:]]


def _translated(item: Mapping[str, Any], plain: str, which: str) -> str:
    """``item[plain]`` in the reader's language when the item carries that translation."""
    locale = str(get_locale() or "")
    words = ((item.get("translations") or {}).get(which) or {}).get(locale)
    return words or item.get(plain) or ""


class Words:
    """Words for the steps of one plan: items by the labels they have here (the
    installation's, as the implementer knows them), the package's for new items."""

    def __init__(self, p: Plan) -> None:
        self._configs = (p.mine or {}, p.theirs or {})

    # -- labels --------------------------------------------------------------------------

    def _find(self, *keys: str) -> Mapping[str, Any]:
        for config in self._configs:
            node: Any = config
            for key in keys:
                node = node.get(key) if isinstance(node, Mapping) else None
            if isinstance(node, Mapping):
                return node
        return {}

    def entity(self, key: str) -> str:
        """An entity's plural label (the reader's language), its key when unknown."""
        if key == _ANY:
            return _("All entities")
        own = self._find("entities", key)
        return _translated(own, "label_plural", "plural") or key

    def field(self, entity: str, key: str) -> str:
        own = self._find("entities", entity, "fields", key)
        return _translated(own, "label", "label") or key

    def _named(self, entity: str, section: str, key: str) -> str:
        own = self._find("entities", entity, section, key)
        return _translated(own, "name", "name") or key

    def _role(self, key: str) -> str:
        return _translated(self._find("roles", key), "name", "name") or key

    # -- the item ------------------------------------------------------------------------

    def item(self, step: Change | Conflict) -> str:
        """What a step concerns: "Field “Amount” · Label", "Role “Sales rep” · Rights"."""
        parts = _parts(step.path)
        where: list[str] = []
        rest: list[str] = []
        if parts[:1] == ["entities"] and len(parts) >= 2:
            entity, rest = parts[1], parts[2:]
            if not rest:
                return _("Entity “%(name)s”", name=self.entity(entity))
            section = rest[0]
            if section in ("fields", "list_views", "pipelines", "layouts") and len(rest) >= 2:
                where.append(self._child(entity, section, rest[1]))
                rest = rest[2:]
        elif parts[:1] == ["roles"] and len(parts) >= 2:
            where.append(_("Role “%(name)s”", name=self._role(parts[1])))
            rest = parts[2:]
        elif parts[:1] == ["rules"] and len(parts) >= 2:
            own = self._find("rules", parts[1])
            name = _translated(own, "name", "name") or parts[1]
            where.append(_("Automation rule “%(name)s”", name=name))
            rest = parts[2:]
        elif parts[:1] == ["duplicate_rules"] and len(parts) >= 2:
            own = self._find("duplicate_rules", parts[1])
            name = _translated(own, "name", "name") or parts[1]
            where.append(_("Duplicate rule “%(name)s”", name=name))
            rest = parts[2:]
        elif parts[:1] == ["pools"] and len(parts) >= 2:
            own = self._find("pools", parts[1])
            name = _translated(own, "name", "name") or parts[1]
            where.append(_("Customer pool “%(name)s”", name=name))
            rest = parts[2:]
        else:
            rest = parts
        where.extend(str(_PROPS.get(p, p)) for p in rest[:1])
        where.extend(rest[1:])
        return " · ".join(where)

    def _child(self, entity: str, section: str, key: str) -> str:
        if section == "fields":
            return _("Field “%(name)s”", name=self.field(entity, key))
        if section == "list_views":
            return _("List view “%(name)s”", name=self._named(entity, section, key))
        if section == "pipelines":
            return _("Pipeline “%(name)s”", name=self._named(entity, section, key))
        return _("Quick-create layout") if key == "quick" else _("Form layout")

    # -- values --------------------------------------------------------------------------

    @staticmethod
    def plain(v: Any) -> str:
        """A stored value as it is: text as written, yes/no, "—" for nothing, else JSON."""
        if v is None:
            return "—"
        if isinstance(v, bool):
            return _("yes") if v else _("no")
        if isinstance(v, str):
            return v
        return json.dumps(v, sort_keys=True, ensure_ascii=False)

    def record(self, entity: str, values: Mapping[str, Any]) -> str:
        """A seed record's values: "Name: Acme · Industry: software"."""
        return " · ".join(
            f"{self.field(entity, key)}: {self.plain(v)}" for key, v in values.items()
        )

    def value(self, step: Change | Conflict, v: Any) -> str:
        """One side of a step, in words."""
        prop = _parts(step.path)[-1]
        entity = step.entity or ""
        if v is None:
            return _("no") if prop in _FLAGS else "—"
        if isinstance(v, bool):
            return _("yes") if v else _("no")
        if isinstance(v, str):
            if prop == "type" and v in types.REGISTRY:
                return str(types.get(v).label)
            if prop == "name_field":
                return self.field(entity, v)
            return v
        if prop in _FIELD_LISTS and isinstance(v, list):
            return ", ".join(self.field(entity, str(k)) for k in v) or "—"
        if isinstance(v, list) and v and all(isinstance(i, Mapping) and "key" in i for i in v):
            return ", ".join(self._keyed_label(i) for i in v)
        if isinstance(v, Mapping) and self._is_item(step):
            return self._summary(step, v)
        return json.dumps(v, sort_keys=True, ensure_ascii=False)

    @staticmethod
    def _keyed_label(item: Mapping[str, Any]) -> str:
        label = item.get("label") or item.get("name") or item["key"]
        return f"{label} (-)" if item.get("archived") else str(label)

    @staticmethod
    def _is_item(step: Change | Conflict) -> bool:
        return step.path == step.item

    def _summary(self, step: Change | Conflict, settings: Mapping[str, Any]) -> str:
        """An added (or archived) item's settings in a line."""
        entity = step.entity or ""
        bits: list[str] = []
        ftype = settings.get("type")
        if isinstance(ftype, str) and ftype in types.REGISTRY:
            bits.append(str(types.get(ftype).label))
        for prop in ("label_plural", "name", "label"):
            text = settings.get(prop)
            if isinstance(text, str) and text:
                bits.append(f"“{text}”")
                break
        if settings.get("required"):
            bits.append(str(_PROPS["required"]).lower())
        if isinstance(settings.get("fields"), Mapping):
            bits.append(_("%(num)d fields", num=len(settings["fields"])))
        if isinstance(settings.get("stages"), list):
            names = [self._keyed_label(s) for s in settings["stages"] if isinstance(s, Mapping)]
            bits.append(_("stages: %(names)s", names=" → ".join(names)))
        if isinstance(settings.get("columns"), list):
            names = [self.field(entity, str(k)) for k in settings["columns"]]
            bits.append(_("columns: %(names)s", names=", ".join(names)))
        if isinstance(settings.get("grants"), Mapping):
            rights = list(self._grant_lines({}, settings["grants"]))
            bits.append("; ".join(rights))
        return " · ".join(b for b in bits if b) or json.dumps(settings, ensure_ascii=False)

    # -- rights, one line per right that differs -----------------------------------------

    def details(self, step: Change | Conflict, old: Any, new: Any) -> list[str]:
        """For a role's rights or field rights: one line per right that differs ("Deals ·
        Read: Own → All"); empty for every other property (the page shows old → new)."""
        prop = _parts(step.path)[-1]
        if not step.path.startswith("/roles/"):
            return []
        old = old if isinstance(old, Mapping) else {}
        new = new if isinstance(new, Mapping) else {}
        if prop == "grants":
            return list(self._grant_lines(old, new))
        if prop == "field_rights":
            return list(self._field_right_lines(old, new))
        return []

    @staticmethod
    def _level(key: Any) -> str:
        if key is None:
            return "—"
        for value in levels.LEVELS:
            lv = levels.level(value)
            if lv.key == key:
                return str(lv.label)
        return str(key)

    def _grant_lines(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
        scopes = sorted(set(old) | set(new), key=lambda k: (k != _ANY, self.entity(k)))
        for scope in scopes:
            before, after = old.get(scope) or {}, new.get(scope) or {}
            for action in ACTIONS:
                a, b = before.get(action), after.get(action)
                if a != b:
                    # An entity's right not written is the one all entities have.
                    if scope != _ANY:
                        a = a or (old.get(_ANY) or {}).get(action)
                        b = b or (new.get(_ANY) or {}).get(action)
                    yield _(
                        "%(entity)s · %(action)s: %(old)s → %(new)s",
                        entity=self.entity(scope),
                        action=ACTION_LABELS[action],
                        old=self._level(a or "none"),
                        new=self._level(b or "none"),
                    )

    def _field_right_lines(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
        for entity in sorted(set(old) | set(new), key=self.entity):
            before, after = old.get(entity) or {}, new.get(entity) or {}
            for field in sorted(set(before) | set(after), key=lambda f: self.field(entity, f)):
                a, b = before.get(field, EDIT), after.get(field, EDIT)
                if a != b:
                    yield _(
                        "%(entity)s › %(field)s: %(old)s → %(new)s",
                        entity=self.entity(entity),
                        field=self.field(entity, field),
                        old=FIELD_LABELS.get(a, a),
                        new=FIELD_LABELS.get(b, b),
                    )

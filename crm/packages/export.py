"""Export the company's configuration as a package (docs/packages.md).

Deterministic: the same configuration always gives the same bytes (``dumps``: sorted
keys, two-space indent, UTF-8 text, a final newline). What is exported is what is stored:
entities and fields (read from their rows and compiled the plain way, without what the
pipelines add to the managed fields), layouts as stored definitions, shared list views,
pipelines with their stages, roles with their grants and field rights, and the records
packages seeded (``crm.packages.seed``: by "@key", with their values now). No database ids, no
timestamps, no user ids. A property equal to its default is omitted; the default of every
property is "empty": ``None``, ``False``, ``""``, ``[]`` or ``{}`` (numbers are always
written: a probability of 0 says something).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import levels
from crm.access.models import FieldRight, Role, RoleGrant
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import company_locale
from crm.metadata import types
from crm.metadata.compile import entity_spec
from crm.metadata.keys import clean_label, suggest_key
from crm.metadata.labels import thaw
from crm.metadata.models import EntityRow, FieldRow, LayoutRow, ListViewRow
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.packages import dedupe_rules as dedupe_package
from crm.packages import pools as pool_package
from crm.packages import rules as rule_package
from crm.packages import seed
from crm.pipelines.compile import load_all
from crm.pipelines.spec import PipelineSpec, StageSpec

FORMAT = "atelier.package"
FORMAT_VERSION = 1
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_VERSION = 40
MAX_DESCRIPTION = 2000


def _empty(value: Any) -> bool:
    return value is None or value is False or (not isinstance(value, int | float) and not value)


def _compact(items: Iterable[tuple[str, Any]]) -> dict:
    """A dict of ``items`` without those equal to their default (see the module doc)."""
    return {k: v for k, v in items if not _empty(v)}


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a stored or frozen value (mappings, tuples and lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- entities and fields ------------------------------------------------------------------


def _field(f: FieldSpec) -> dict:
    managed = f.type in types.REGISTRY and types.get(f.type).managed
    choices = []
    if not managed:  # a managed field's choices are its feature's (the pipelines)
        for c in f.choices:  # in order: the list order is the order
            choices.append(
                _compact(
                    (
                        ("key", c.key),
                        ("label", c.label),
                        ("color", c.color),
                        ("labels", thaw(c.labels)),
                        ("archived", c.archived),
                    )
                )
            )
    return _compact(
        (
            ("type", f.type),
            ("label", f.label),
            ("help_text", f.help_text),
            ("position", f.position),
            ("required", f.required),
            ("unique", f.unique),
            ("searchable", f.searchable),
            ("default", _plain(f.default)),
            ("options", _plain(f.options)),
            ("choices", choices),
            ("archived", f.archived),
            ("translations", thaw(f.translations)),
        )
    )


def _stored_entities() -> list[EntitySpec]:
    """Every entity (archived ones too) as stored: compiled from its rows alone."""
    by_entity: dict[int, list] = {}
    for f in db.session.execute(select(FieldRow.__table__)).all():
        by_entity.setdefault(f.entity_id, []).append(f)
    rows = db.session.execute(select(EntityRow.__table__).order_by(EntityRow.key)).all()
    return [entity_spec(r, by_entity.get(r.id, ())) for r in rows]


def _layouts() -> dict[str, dict]:
    found: dict[str, dict] = {}
    rows = db.session.execute(select(LayoutRow.entity_key, LayoutRow.kind, LayoutRow.definition))
    for entity_key, kind, definition in rows:
        if definition:
            found.setdefault(entity_key, {})[kind] = _plain(definition)
    return found


def _filter(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return {k: _plain(v) for k, v in raw.items() if v is not None}
    return _plain(raw)


def _sort(raw: Any) -> list:
    out = []
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, list | tuple) and len(item) == 2:
            out.append({"field": item[0], "dir": item[1]})
        else:
            out.append(_plain(item))
    return out


def _list_views() -> dict[str, dict]:
    """Shared views by entity and key (private views are people's own: never exported)."""
    found: dict[str, dict] = {}
    rows = db.session.scalars(
        select(ListViewRow)
        .where(ListViewRow.owner_id.is_(None))
        .order_by(ListViewRow.entity_key, ListViewRow.position, ListViewRow.id)
    )
    for row in rows:
        views = found.setdefault(row.entity_key, {})
        key = row.key or suggest_key(row.name, taken=set(views))  # written around the service
        views[key] = _compact(
            (
                ("name", row.name),
                ("translations", _plain(row.translations or {})),
                ("columns", _plain(row.columns or [])),
                ("sort", _sort(row.sort)),
                ("filters", [_filter(f) for f in row.filters or []]),
                ("default", bool(row.is_default)),
                ("position", row.position or 0),
            )
        )
    return found


def _stage(s: StageSpec) -> dict:
    return _compact(
        (
            ("key", s.key),
            ("name", s.name),
            ("translations", thaw(s.translations)),
            ("probability", s.probability),
            ("category", s.category),
            ("color", s.color),
            ("required_fields", list(s.required_fields)),
            ("stale_days", s.stale_days),
            ("archived", s.archived),
        )
    )


def _pipeline(p: PipelineSpec) -> dict:
    return _compact(
        (
            ("name", p.name),
            ("translations", thaw(p.translations)),
            ("default", p.is_default),
            ("position", p.position),
            ("options", _compact((k, _plain(v)) for k, v in p.options.items())),
            ("archived", p.archived),
            ("stages", [_stage(s) for s in p.stages]),  # in order
        )
    )


def _entities() -> dict[str, dict]:
    layouts, views, pipelines = _layouts(), _list_views(), load_all()
    out = {}
    for e in _stored_entities():
        mine = pipelines.get(e.key)
        out[e.key] = _compact(
            (
                ("label_singular", e.label_singular),
                ("label_plural", e.label_plural),
                ("description", e.description),
                ("icon", e.icon),
                ("color", e.color),
                ("name_field", e.name_field),
                ("archived", e.archived),
                ("translations", thaw(e.translations)),
                ("fields", {f.key: _field(f) for f in e.fields}),
                ("layouts", layouts.get(e.key, {})),
                ("list_views", views.get(e.key, {})),
                (
                    "pipelines",
                    {p.key: _pipeline(p) for p in mine.pipelines} if mine is not None else {},
                ),
            )
        )
    return out


# --- roles --------------------------------------------------------------------------------


def _roles() -> dict[str, dict]:
    grants: dict[int, dict] = {}
    for g in db.session.scalars(select(RoleGrant)):
        grants.setdefault(g.role_id, {}).setdefault(g.entity_key, {})[g.action] = levels.level(
            g.level
        ).key
    rights: dict[int, dict] = {}
    for r in db.session.scalars(select(FieldRight)):
        if r.access != "edit":  # the default
            rights.setdefault(r.role_id, {}).setdefault(r.entity_key, {})[r.field_key] = r.access
    out: dict[str, dict] = {}
    roles = db.session.scalars(select(Role).order_by(Role.key, Role.name)).all()
    taken = {r.key for r in roles if r.key}
    for role in roles:
        key = role.key
        if not key:  # a role written around the service: a key from its (unique) name
            key = suggest_key(role.name, taken=taken)
            taken.add(key)
        out[key] = _compact(
            (
                ("name", role.name),
                ("translations", _plain(role.translations or {})),
                ("description", role.description),
                ("can_configure", bool(role.can_configure)),
                ("can_manage_access", bool(role.can_manage_access)),
                ("grants", grants.get(role.id, {})),
                ("field_rights", rights.get(role.id, {})),
            )
        )
    return out


# --- the package --------------------------------------------------------------------------


def header_problems(name: Any, version: Any, description: Any = None) -> dict[str, list[str]]:
    """What is wrong with a package's name, version and description, keyed by which."""
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors["name"] = [
            _(
                "The package name must start with a lowercase letter (a–z) and use only "
                "lowercase letters, digits, “-” and “_” (at most 64 characters)."
            )
        ]
    cleaned = clean_label(version) if isinstance(version, str) else ""
    if not cleaned or cleaned != version:
        errors["version"] = [_("Enter a version, such as 1.0.0, on one line.")]
    elif len(version) > MAX_VERSION:
        errors["version"] = [_("Use at most %(num)d characters.", num=MAX_VERSION)]
    if description is not None:
        if not isinstance(description, str) or "\x00" in description:
            errors["description"] = [_("The description must be text.")]
        elif len(description) > MAX_DESCRIPTION:
            errors["description"] = [_("Use at most %(num)d characters.", num=MAX_DESCRIPTION)]
    return errors


def export_package(*, name: str, version: str, description: str | None = None) -> dict:
    """The company's whole configuration as a package dict (docs/packages.md), named
    ``name`` (a package key) at ``version``. Reads only; the same configuration gives an
    equal dict. Raises ``ValidationFailed`` (keyed "name", "version", "description") for a
    bad header, before reading anything."""
    errors = header_problems(name, version, description)
    if errors:
        raise ValidationFailed(_("The package was not exported."), errors=errors)
    header = _compact(
        (
            ("name", name),
            ("version", version),
            ("description", (description or "").strip()),
            ("default_locale", company_locale()),
        )
    )
    return _compact(
        (
            ("format", FORMAT),
            ("format_version", FORMAT_VERSION),
            ("package", header),
            *configuration().items(),
            ("seed", seed.exported()),
        )
    )


def configuration() -> dict:
    """The installation's configuration as export writes it, without the header: entities
    (fields, layouts, shared list views, pipelines), roles and automation rules (only
    when there are any). What a plan compares a
    package with (``crm.packages.current``): one reader for both. Reads only."""
    out = {"entities": _entities(), "roles": _roles()}
    found = rule_package.exported()
    if found:
        out["rules"] = found
    duplicates = dedupe_package.exported()
    if duplicates:
        out["duplicate_rules"] = duplicates
    pools = pool_package.exported()
    if pools:
        out["pools"] = pools
    return out


def dumps(package: Mapping[str, Any]) -> str:
    """The package as text: JSON with sorted keys, two-space indent, non-ASCII kept as
    it is, and a final newline. Equal packages give equal text."""
    return json.dumps(package, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def filename(package: Mapping[str, Any]) -> str:
    """The file a package downloads as: ``<name>-<version>.json`` (the version reduced to
    characters every file system takes)."""
    header = package.get("package", {})
    version = re.sub(r"[^A-Za-z0-9._-]+", "_", str(header.get("version", ""))).strip("._")
    return f"{header.get('name', 'package')}-{version or 'version'}.json"

"""Customer pools in configuration packages (``"pools": {key: pool}``).

Export is by key and deterministic, with defaults left out (a limit or a day count of 0,
an empty audience, an enabled pool). Audiences are portable: roles by their key,
departments by their name (departments have no key; a name several departments share
does not resolve). Applying resolves them back to this installation's ids (``resolve``); a
name that resolves to nothing, an unknown entity or protected field, or a number out of
range is a plan problem (``problems``) and nothing is applied then. Pools are written
through ``crm.pools.config`` only (the same checks as the administration screen).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.packages.rules import portable_names
from crm.pools import config
from crm.pools.models import Pool

POOLS = "pools"
AUDIENCE_KINDS = {
    "see_roles": "role",
    "claim_roles": "role",
    "see_departments": "department",
    "claim_departments": "department",
}


def _compact(items: Mapping[str, Any]) -> dict:
    return {
        k: v
        for k, v in items.items()
        if v is not None and v is not False and v != 0 and v != "" and v != [] and v != {}
    }


def _portable(pool: Pool, names: dict) -> dict:
    out: dict[str, Any] = {
        "entity": pool.entity_key,
        "name": pool.name,
        "translations": {"name": dict(pool.translations)} if pool.translations else None,
        "disabled": not pool.enabled,
        "protected_field": pool.protected_field,
    }
    for number in config.NUMBERS:
        out[number] = int(getattr(pool, number) or 0)
    for prop, kind in AUDIENCE_KINDS.items():
        out[prop] = sorted(names[kind].get(i, f"#{i}") for i in getattr(pool, prop) or [])
    return _compact(out)


def exported() -> dict[str, dict]:
    """Every pool by key, portable, defaults omitted. Reads only."""
    rows = db.session.scalars(select(Pool).order_by(Pool.key)).all()
    if not rows:
        return {}
    names = portable_names()
    return {row.key: _portable(row, names) for row in rows}


def resolve(
    pool: Mapping[str, Any], names: dict, package_roles: set[str] = frozenset()
) -> tuple[dict[str, list], dict[str, list[str]]]:
    """The pool's audiences as this installation's ids (role keys the package itself
    makes stay keys until apply), and the problems by property."""
    out: dict[str, list] = {}
    problems: dict[str, list[str]] = {}
    for prop, kind in AUDIENCE_KINDS.items():
        resolved: list = []
        raw = pool.get(prop) or []
        for name in raw if isinstance(raw, list) else [raw]:
            found = names[f"{kind}_back"].get(name)
            if found is not None:
                resolved.append(found)
            elif kind == "role" and name in package_roles:
                resolved.append(name)
            elif kind == "role":
                problems.setdefault(prop, []).append(
                    _("There is no role with the key “%(key)s”.", key=str(name)[:41])
                )
            else:
                problems.setdefault(prop, []).append(
                    _(
                        "There is no department named “%(name)s” (or several have that name).",
                        name=str(name)[:120],
                    )
                )
        out[prop] = resolved
    return out, problems


def _entity_problem(key: str, pool: Mapping[str, Any], package: Mapping[str, Any]) -> str | None:
    from crm.metadata import specs

    entity = pool.get("entity")
    known = specs.current().entity(str(entity or "")[:41]) is not None
    if not known and entity not in (package.get("entities") or {}):
        return _("There is no entity with the key “%(key)s”.", key=str(entity)[:41])
    row = db.session.scalar(select(Pool).where(Pool.key == key))
    if row is not None and row.entity_key != entity:
        return _(
            "The pool “%(key)s” is a pool of %(entity)s here: a pool cannot move to another "
            "entity.",
            key=key,
            entity=row.entity_key,
        )
    return None


def problems(package: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every problem of the package's pools a plan can tell before applying (an unknown
    entity, role or department; a pool moving to another entity), by JSON pointer
    (``/pools/<key>`` and ``/pools/<key>/<property>``)."""
    pools = package.get(POOLS) if isinstance(package.get(POOLS), Mapping) else {}
    if not pools:
        return {}
    names = portable_names()
    package_roles = set((package.get("roles") or {}).keys())
    out: dict[str, list[str]] = {}
    for key, pool in pools.items():
        if not isinstance(pool, Mapping):
            continue
        found: dict[str, list[str]] = {}
        entity = _entity_problem(key, pool, package)
        if entity:
            found["entity"] = [entity]
        _ids, refs = resolve(pool, names, package_roles)
        found.update(refs)
        if found:
            out[f"/{POOLS}/{key}"] = [m for ms in found.values() for m in ms]
            for prop, messages in found.items():
                out[f"/{POOLS}/{key}/{prop}"] = messages
    return out


def _data(key: str, value: Mapping[str, Any], ids: Mapping[str, list]) -> dict[str, Any]:
    """The pool as ``crm.pools.config.check`` reads a posted form."""
    role_ids = dict(portable_names()["role_back"])
    data: dict[str, Any] = {
        "key": key,
        "entity_key": value.get("entity"),
        "name": value.get("name", ""),
        "translations": (value.get("translations") or {}).get("name") or {},
        "enabled": not value.get("disabled"),
        "protected_field": value.get("protected_field") or "",
    }
    for number in config.NUMBERS:
        data[number] = str(value.get(number, 0))
    for prop, resolved in ids.items():
        # role keys made by this package are roles by now
        data[prop] = [str(role_ids.get(v, v)) if isinstance(v, str) else str(v) for v in resolved]
    return data


def apply_pools(before: Mapping, target: Mapping, actor_id: int | None, pool_kind: str) -> None:
    """Create, change or delete the pools whose package items differ (``before`` and
    ``target``: the plan's items by JSON pointer), after the schema and the roles. Raises
    ``ValidationFailed`` keyed by JSON pointer (the caller's unit of work undoes all)."""
    names = None
    for path in sorted(set(before) | set(target)):
        kind = (target.get(path) or before.get(path))[0]
        if kind != pool_kind:
            continue
        key = path.rsplit("/", 1)[1]
        row = db.session.scalar(select(Pool).where(Pool.key == key))
        if path not in target:
            if row is not None:
                config.delete(row, actor_id=actor_id)
            continue
        value = target[path][2]
        if before.get(path, (None, None, None))[2] == value:
            continue
        if names is None:
            names = portable_names()  # after the roles: those this package made resolve too
        ids, found = resolve(value, names)
        try:
            if found:
                raise ValidationFailed(_("Nothing was changed."), errors=found)
            if row is not None and row.entity_key != value.get("entity"):
                raise ValidationFailed(
                    _("Nothing was changed."),
                    errors={"entity": [_("A pool cannot move to another entity.")]},
                )
            values = config.check(_data(key, value, ids), row)
            config.write(values, row, actor_id=actor_id)
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message, errors={f"{path}/{k}": v for k, v in exc.errors.items()}
            ) from exc

"""Defining pools (administrators with the configure right): check a definition and save
it, or delete a pool. A pool is configuration: each change bumps the metadata version (so
every worker compiles the pools again, ``crm.pools.spec``) and goes to the change log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.access import policy
from crm.access.models import Department, Role
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.i18n import LANGUAGES
from crm.metadata import specs, types
from crm.metadata.keys import key_problems
from crm.metadata.versioning import bump_version, log_change
from crm.pools.models import Pool, PoolEntry
from crm.uow import unit_of_work

NUMBERS = (
    "daily_limit",
    "holding_cap",
    "cooldown_days",
    "no_activity_days",
    "no_stage_move_days",
    "no_won_days",
    "warn_days",
)
AUDIENCES = ("see_roles", "see_departments", "claim_roles", "claim_departments")
MAX_NUMBER = 10_000
MAX_ID = 2**31 - 1


def all_pools() -> list[Pool]:
    """Every pool, by entity and name."""
    return list(db.session.scalars(select(Pool).order_by(Pool.entity_key, Pool.name)))


def get_pool(pool_id: int) -> Pool:
    """The pool with ``pool_id``; ``NotFound`` otherwise."""
    pool = db.session.get(Pool, pool_id) if 1 <= pool_id <= MAX_ID else None
    if pool is None:
        raise NotFound(_("There is no such pool."))
    return pool


def protected_choices(entity_key: str) -> list[tuple[str, str]]:
    """The checkbox fields of ``entity_key`` that can mark records as protected."""
    spec = specs.current().entity(entity_key)
    if spec is None:
        return []
    return [(f.key, f.label) for f in spec.active_fields if types.get(f.type).storage == "boolean"]


def role_choices() -> list[tuple[int, str]]:
    """Every role as (id, name), for the audience inputs."""
    return [(r.id, r.name) for r in db.session.scalars(select(Role).order_by(Role.name))]


def department_choices() -> list[tuple[int, str]]:
    """Every department as (id, name), in tree order, for the audience inputs."""
    rows = db.session.scalars(select(Department).order_by(Department.path))
    return [(d.id, d.name) for d in rows]


def _ids(raw: Any, known: set[int], key: str, errors: dict) -> list[int]:
    values = raw if isinstance(raw, list | tuple) else ([raw] if raw else [])
    out: list[int] = []
    for v in values[:200]:
        text = str(v).strip()
        if not text:
            continue
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
            errors.setdefault(key, []).append(_("Choose from the list."))
            continue
        if int(text) not in known:
            errors.setdefault(key, []).append(_("One of these no longer exists."))
            continue
        out.append(int(text))
    return sorted(set(out))


def _translations(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {
        code: str(text).strip()[:200]
        for code, text in raw.items()
        if code in LANGUAGES and isinstance(text, str) and text.strip()
    }


def check(data: Mapping[str, Any], pool: Pool | None) -> dict[str, Any]:
    """The cleaned values of a pool definition posted as ``data`` (for a new pool when
    ``pool`` is None: its key and entity too). ``ValidationFailed`` lists every problem,
    by input name."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if pool is None:
        key = str(data.get("key") or "").strip()
        problems = key_problems(key)
        if not problems and db.session.scalar(select(Pool.id).where(Pool.key == key)):
            problems = [_("Another pool has this key.")]
        if problems:
            errors["key"] = problems
        out["key"] = key
        entity_key = str(data.get("entity_key") or "")
        if specs.current().entity(entity_key[:41]) is None:
            errors["entity_key"] = [_("Choose an entity.")]
        out["entity_key"] = entity_key
    entity_key = pool.entity_key if pool is not None else out["entity_key"]
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("Give the pool a name.")]
    elif len(name) > 200:
        errors["name"] = [_("Keep the name under 200 characters.")]
    out["name"] = name
    out["translations"] = _translations(data.get("translations"))
    out["enabled"] = bool(data.get("enabled"))
    for key in NUMBERS:
        text = str(data.get(key) or "0").strip()
        if not text.isascii() or not text.isdigit() or int(text) > MAX_NUMBER:
            errors[key] = [_("A whole number from 0 to %(max)d.", max=MAX_NUMBER)]
            continue
        out[key] = int(text)
    role_ids = set(db.session.scalars(select(Role.id)))
    department_ids = set(db.session.scalars(select(Department.id)))
    for key in AUDIENCES:
        known = role_ids if key.endswith("roles") else department_ids
        out[key] = _ids(data.get(key), known, key, errors)
    protected = str(data.get("protected_field") or "").strip()
    if protected and protected not in dict(protected_choices(entity_key)):
        errors["protected_field"] = [_("Choose a checkbox field of this entity.")]
    out["protected_field"] = protected or None
    if (
        not errors
        and out["warn_days"]
        and not any(out[k] > out["warn_days"] for k in NUMBERS[3:6] if out[k])
    ):
        errors["warn_days"] = [_("Warn fewer days ahead than a reclaim rule's days.")]
    if errors:
        raise ValidationFailed(_("Nothing was saved."), errors=errors)
    return out


def save(actor: Any, data: Mapping[str, Any], pool_id: int | None = None) -> int:
    """Create a pool (``pool_id`` None) or change one from the posted ``data``; returns its
    id. ``Forbidden`` without the configure right; ``ValidationFailed`` (nothing saved)."""
    policy.require(actor, policy.CONFIGURE)
    pool = get_pool(pool_id) if pool_id is not None else None
    return write(check(data, pool), pool, actor_id=actor.id)


def write(values: Mapping[str, Any], pool: Pool | None, *, actor_id: int | None) -> int:
    """Save ``values`` (from ``check``) as a new pool (``pool`` None) or into ``pool``, bump
    the metadata version and log the change; returns the pool's id. The caller has checked
    the right to configure (the screen, or a package's apply)."""
    with unit_of_work():
        if pool is None:
            pool = Pool(**values)
            db.session.add(pool)
        else:
            for k, v in values.items():
                setattr(pool, k, v)
        db.session.flush()
        version = bump_version()
        log_change(
            version=version, actor_id=actor_id, entity_key=pool.entity_key,
            action="pool_saved", after={"pool": pool.key},
        )  # fmt: skip
        saved = pool.id
    return saved


def remove(actor: Any, pool_id: int) -> None:
    """Delete a pool. Its records keep no owner: they go to the entity's first other
    pool, else stay ownerless (readable by who may read every record)."""
    policy.require(actor, policy.CONFIGURE)
    delete(get_pool(pool_id), actor_id=actor.id)


def delete(pool: Pool, *, actor_id: int | None) -> None:
    """Delete ``pool`` (see ``remove``); the caller has checked the right to configure."""
    with unit_of_work():
        other = db.session.scalar(
            select(Pool.id)
            .where(Pool.entity_key == pool.entity_key, Pool.id != pool.id)
            .order_by(Pool.id)
        )
        if other is not None:
            db.session.execute(
                update(PoolEntry).where(PoolEntry.pool_id == pool.id).values(pool_id=other)
            )
        key, entity_key = pool.key, pool.entity_key
        db.session.delete(pool)
        db.session.flush()
        version = bump_version()
        log_change(
            version=version, actor_id=actor_id, entity_key=entity_key,
            action="pool_deleted", before={"pool": key},
        )  # fmt: skip

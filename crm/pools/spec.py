"""Pools as the runtime reads them: frozen ``PoolSpec``s compiled from the ``pools`` rows and
cached with the compiled metadata (every pool change bumps the metadata version, so every
worker sees it at its next request at no extra query), and the audience rule (who sees a
pool, who may claim from it) shared by the access policy and the claim service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from crm.extensions import db
from crm.i18n import pick, request_locale
from crm.metadata import specs

DERIVED_KEY = "pools"


@dataclass(frozen=True)
class PoolSpec:
    """One pool, as compiled. Days of 0 switch a rule off; a limit or cap of 0: none."""

    id: int
    key: str
    entity_key: str
    name: str
    translations: Mapping[str, str]
    enabled: bool
    see_roles: frozenset[int]
    see_departments: frozenset[int]
    claim_roles: frozenset[int]
    claim_departments: frozenset[int]
    daily_limit: int
    holding_cap: int
    cooldown_days: int
    no_activity_days: int
    no_stage_move_days: int
    no_won_days: int
    warn_days: int
    protected_field: str | None

    @property
    def label(self) -> str:
        """The name in the request's language (its translation, else the plain name)."""
        return pick(self.name, self.translations, request_locale())

    @property
    def rules(self) -> tuple[tuple[str, int], ...]:
        """The reclaim rules that are on: (reason, days)."""
        found = (
            ("no_activity", self.no_activity_days),
            ("no_stage_move", self.no_stage_move_days),
            ("no_won", self.no_won_days),
        )
        return tuple((reason, days) for reason, days in found if days > 0)


def _ids(values: Iterable[Any] | None) -> frozenset[int]:
    return frozenset(int(v) for v in (values or ()) if isinstance(v, int) and v > 0)


def load_all() -> Mapping[str, tuple[PoolSpec, ...]]:
    """Every pool row compiled, by entity key (ordered by id). No caching here."""
    from crm.pools.models import Pool

    by_entity: dict[str, list[PoolSpec]] = {}
    for p in db.session.scalars(select(Pool).order_by(Pool.id)):
        by_entity.setdefault(p.entity_key, []).append(
            PoolSpec(
                p.id, p.key, p.entity_key, p.name, MappingProxyType(dict(p.translations or {})),
                bool(p.enabled), _ids(p.see_roles), _ids(p.see_departments),
                _ids(p.claim_roles), _ids(p.claim_departments), p.daily_limit or 0,
                p.holding_cap or 0, p.cooldown_days or 0, p.no_activity_days or 0,
                p.no_stage_move_days or 0, p.no_won_days or 0, p.warn_days or 0,
                p.protected_field or None,
            )
        )  # fmt: skip
    return MappingProxyType({k: tuple(v) for k, v in by_entity.items()})


def _compiled() -> Mapping[str, tuple[PoolSpec, ...]]:
    derived = specs.raw().derived
    found = derived.get(DERIVED_KEY)
    if found is None:
        found = derived[DERIVED_KEY] = load_all()
    return found


def pools_of(entity_key: str, *, enabled_only: bool = True) -> tuple[PoolSpec, ...]:
    """The pools of ``entity_key`` (the enabled ones unless ``enabled_only`` is False)."""
    pools = _compiled().get(entity_key, ())
    return tuple(p for p in pools if p.enabled) if enabled_only else pools


def by_key(entity_key: str, key: str) -> PoolSpec | None:
    """The enabled pool ``key`` of ``entity_key``, or None."""
    return next((p for p in pools_of(entity_key) if p.key == key), None)


def by_id(pool_id: int) -> PoolSpec | None:
    """Any pool by id (enabled or not), or None."""
    for pools in _compiled().values():
        for p in pools:
            if p.id == pool_id:
                return p
    return None


def in_audience(roles: frozenset[int], departments: frozenset[int], rights: Any) -> bool:
    """Whether the holder of ``rights`` (``policy.Rights``) is in an audience of ``roles``
    and ``departments`` (a department reaches its members and those of the departments
    below it, as a share does). An empty audience is everyone."""
    if not roles and not departments:
        return True
    if roles and not roles.isdisjoint(r.id for r in rights.roles):
        return True
    return bool(departments) and not departments.isdisjoint(rights.department_chain)


def may_see(pool: PoolSpec, rights: Any) -> bool:
    """Whether ``rights``' holder sees ``pool`` (administrators see every pool)."""
    return rights.is_admin or in_audience(pool.see_roles, pool.see_departments, rights)


def may_claim(pool: PoolSpec, rights: Any) -> bool:
    """Whether ``rights``' holder may claim from ``pool``: they see it and are in its claim
    audience."""
    return may_see(pool, rights) and (
        rights.is_admin or in_audience(pool.claim_roles, pool.claim_departments, rights)
    )


def visible_ids(rights: Any, entity_key: str) -> tuple[int, ...]:
    """The ids of the enabled pools of ``entity_key`` that ``rights``' holder sees."""
    return tuple(p.id for p in pools_of(entity_key) if may_see(p, rights))

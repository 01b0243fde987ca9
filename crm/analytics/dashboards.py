"""Dashboards: personal ones (their owner changes them) and ones for a role (whoever
holds the role sees them; people who may configure change them). A dashboard's tiles are
ordered by ``position``; ``reorder`` takes the whole new order at once (drag and drop).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm.access import policy
from crm.access.models import Role, user_roles
from crm.analytics.models import Dashboard, Tile
from crm.analytics.tiles import KINDS
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.ids import as_id, row_of
from crm.metadata import specs
from crm.uow import unit_of_work

MAX_TILES = 24
MAX_NAME = 120


def _my_roles(user: Any):
    return select(user_roles.c.role_id).where(user_roles.c.user_id == user.id)


def visible(user: Any) -> list[Dashboard]:
    """The dashboards ``user`` sees: their own, and those of their roles (administrators:
    every role's), by name."""
    condition = Dashboard.user_id == user.id
    if user.is_admin:
        condition = or_(condition, Dashboard.role_id.is_not(None))
    else:
        condition = or_(condition, Dashboard.role_id.in_(_my_roles(user)))
    return list(db.session.scalars(select(Dashboard).where(condition).order_by(Dashboard.name)))


def get(user: Any, dashboard_id: Any) -> Dashboard:
    """A dashboard ``user`` sees; ``NotFound`` otherwise (no telling others' exist)."""
    found = row_of(Dashboard, dashboard_id)
    if found is None or found not in visible(user):
        raise NotFound(_("There is no such dashboard."))
    return found


def may_change(user: Any, dashboard: Dashboard) -> bool:
    """The owner of a personal dashboard; for a role's, who may configure."""
    if dashboard.user_id is not None:
        return dashboard.user_id == user.id
    return policy.can(user, "configure")


def _require_change(user: Any, dashboard: Dashboard) -> None:
    if not may_change(user, dashboard):
        raise Forbidden(
            _("Only its owner, or for a role's dashboard who may configure, changes it.")
        )


def create(user: Any, name: str, role_id: Any = None) -> Dashboard:
    """A new dashboard: personal, or for the role ``role_id`` (who may configure only)."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        message = _("Give the dashboard a name of at most %(max)d characters.", max=MAX_NAME)
        raise ValidationFailed(message, errors={"name": [message]})
    role = None
    if role_id not in (None, ""):
        if not policy.can(user, "configure"):
            raise Forbidden(_("Only people who may configure make dashboards for a role."))
        role = row_of(Role, as_id(role_id))
        if role is None:
            message = _("Choose one of the roles offered.")
            raise ValidationFailed(message, errors={"role": [message]})
    with unit_of_work():
        dashboard = Dashboard(
            name=name,
            user_id=None if role else user.id,
            role_id=role.id if role else None,
            created_by=user.id,
        )
        db.session.add(dashboard)
        db.session.flush()
    return dashboard


def tiles(dashboard: Dashboard) -> list[Tile]:
    return list(
        db.session.scalars(
            select(Tile).where(Tile.dashboard_id == dashboard.id).order_by(Tile.position, Tile.id)
        )
    )


def add_tile(
    user: Any,
    dashboard: Dashboard,
    kind: str,
    entity_key: str,
    form: Mapping[str, Any] | None = None,
) -> Tile:
    """Add a tile of ``kind`` about ``entity_key`` at the end (a kind with its own
    ``configure`` reads its settings from ``form`` instead)."""
    _require_change(user, dashboard)
    entry = KINDS.get(kind or "")
    if entry is None:
        message = _("Choose one of the kinds of tile offered.")
        raise ValidationFailed(message, errors={"kind": [message]})
    if entry.configure is not None:
        config = entry.configure(user, form or {})
    else:
        spec = specs.current().entity(entity_key or "")
        if spec is None or not policy.can(user, "read", spec.key):
            message = _("Choose one of the entities offered.")
            raise ValidationFailed(message, errors={"entity": [message]})
        config = {"entity": spec.key}
    existing = tiles(dashboard)
    if len(existing) >= MAX_TILES:
        message = _("A dashboard holds at most %(max)d tiles.", max=MAX_TILES)
        raise ValidationFailed(message, errors={"kind": [message]})
    with unit_of_work():
        tile = Tile(
            dashboard_id=dashboard.id,
            kind=entry.key,
            config=config,
            position=max((t.position for t in existing), default=-1) + 1,
        )
        db.session.add(tile)
        db.session.flush()
    return tile


def get_tile(user: Any, tile_id: Any) -> Tile:
    tile = row_of(Tile, tile_id)
    if tile is None:
        raise NotFound(_("There is no such tile."))
    get(user, tile.dashboard_id)
    return tile


def remove_tile(user: Any, dashboard: Dashboard, tile_id: Any) -> None:
    _require_change(user, dashboard)
    tile = row_of(Tile, tile_id)
    if tile is None or tile.dashboard_id != dashboard.id:
        raise NotFound(_("There is no such tile."))
    with unit_of_work():
        db.session.delete(tile)


def reorder(user: Any, dashboard: Dashboard, order: Iterable[Any]) -> None:
    """Put the tiles in ``order`` (every tile id of the dashboard once); anything else is
    refused and nothing moves."""
    _require_change(user, dashboard)
    current = {t.id: t for t in tiles(dashboard)}
    wanted = [as_id(v) for v in order]
    if None in wanted or len(wanted) != len(set(wanted)) or set(wanted) != set(current):
        raise ValidationFailed(_("The order must list every tile of the dashboard once."))
    with unit_of_work():
        for position, tile_id in enumerate(wanted):
            current[tile_id].position = position


def changeable(user: Any) -> list[Dashboard]:
    """The dashboards ``user`` sees and may change (where they may add a tile)."""
    return [b for b in visible(user) if may_change(user, b)]


def roles_offered(user: Any) -> list[Role]:
    """The roles ``user`` may make a dashboard for: every role for who may configure,
    none for others."""
    if not policy.can(user, "configure"):
        return []
    return list(db.session.scalars(select(Role).order_by(Role.name)))

"""Roles: their name and administration flags, their scope matrix and their field rights.

A role's grants are stored compactly: the "*" row (every entity without its own row) for
each action above "none", and a row for an entity only where it differs from "*". Field
rights are stored only where they are not "editable". Entity keys, field keys, actions and
levels are checked against the metadata and the policy's constants before anything is
written; an unknown one is a clear error and nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, func, insert, select

from crm.access import audit, names, policy
from crm.access.models import FieldRight, Role, RoleGrant, User, user_roles
from crm.access.policy import ANY_ENTITY, NONE, Rights, RoleRights
from crm.access.rules import covers, field_problems, level_problems, user_problems
from crm.access.service import access_change, fail, refuse, require_manager
from crm.errors import NotFound
from crm.extensions import db
from crm.ids import row_of
from crm.metadata import specs
from crm.metadata.keys import clean_label, new_key

MAX_NAME = 80
MAX_DESCRIPTION = 2000

Grants = Mapping[tuple[str, str], int]
Fields = Mapping[tuple[str, str], str]


def listing(actor: Any) -> list[tuple[Role, int]]:
    """Every role with the number of users holding it, by name."""
    require_manager(actor)
    counts = dict(
        db.session.execute(
            select(user_roles.c.role_id, func.count()).group_by(user_roles.c.role_id)
        ).all()
    )
    roles = db.session.scalars(select(Role).order_by(func.lower(Role.name), Role.id)).all()
    return [(r, counts.get(r.id, 0)) for r in roles]


def get(actor: Any, role_id: int) -> Role:
    """One role, or ``NotFound``."""
    require_manager(actor)
    return _role(role_id)


def _role(role_id: Any) -> Role:
    found = row_of(Role, role_id)
    if found is None:
        raise NotFound(_("There is no such role."))
    return found


def rights_of(role_id: int) -> RoleRights:
    """The stored rules of one role."""
    found = policy.load_role_rights([role_id])
    if not found:
        raise NotFound(_("There is no such role."))
    return found[0]


def holds(actor: Any, role_id: int) -> bool:
    """True when ``actor`` holds the role."""
    return role_id in {r.id for r in policy.rights(actor).roles}


def edit_problems(actor: Any, role_id: int) -> list[str]:
    """Why ``actor`` may not change or delete this role as it stands (empty: they may)."""
    mine = require_manager(actor)
    if mine.is_admin:
        return []
    if holds(actor, role_id):
        return [
            _(
                "You hold this role yourself: changing it would change your own rights. "
                "Ask a full administrator."
            )
        ]
    problems = covers(mine, rights_of(role_id))
    if problems:
        return [
            _("This role holds rights you do not hold, so only someone who does can change it.")
        ]
    return []


# --- validation --------------------------------------------------------------------------


def _grant_problems(grants: Grants) -> list[str]:
    entities = {e.key for e in specs.current().active_entities} | {ANY_ENTITY}
    problems = []
    for item in grants.items():
        if not (isinstance(item[0], tuple) and len(item[0]) == 2):
            problems.append(_("A grant must name an entity and an action."))
            continue
        (entity_key, action), level = item
        if entity_key not in entities:
            problems.append(_("There is no entity with the key “%(key)s”.", key=entity_key))
        elif action not in policy.ACTIONS:
            problems.append(_("There is no action “%(action)s”.", action=action))
        elif isinstance(level, bool) or level not in policy.LEVELS:
            problems.append(_("“%(level)s” is not a scope level.", level=level))
        elif action in policy.UNSCOPED_ACTIONS and level not in (NONE, policy.ALL):
            problems.append(
                _(
                    "%(action)s is either allowed or not: choose None or All.",
                    action=policy.ACTION_LABELS[action],
                )
            )
    return sorted(set(problems))


def _field_problems(fields: Fields) -> list[str]:
    problems = []
    for item in fields.items():
        if not (isinstance(item[0], tuple) and len(item[0]) == 2):
            problems.append(_("A field right must name an entity and a field."))
            continue
        (entity_key, field_key), access = item
        spec = specs.current().entity(entity_key) if isinstance(entity_key, str) else None
        if spec is None:
            problems.append(_("There is no entity with the key “%(key)s”.", key=entity_key))
        elif not isinstance(field_key, str) or spec.field(field_key) is None:
            problems.append(
                _(
                    "%(entity)s has no field with the key “%(key)s”.",
                    entity=spec.label_plural,
                    key=field_key,
                )
            )
        elif access not in policy.FIELD_ACCESS:
            problems.append(
                _("“%(access)s” is not a field access (hidden, read or edit).", access=access)
            )
    return sorted(set(problems))


def _name_problems(name: str, *, exclude: int | None = None) -> list[str]:
    if not name:
        return [_("Enter a name.")]
    if len(name) > MAX_NAME:
        return [_("Use at most %(num)d characters.", num=MAX_NAME)]
    taken = db.session.execute(select(Role.id, Role.name)).all()
    if any(n.casefold() == name.casefold() and i != exclude for i, n in taken):
        return [_("A role named “%(name)s” already exists.", name=name)]
    return []


# --- the resulting role, computed before anything is written ------------------------------


def _merged_grants(current: Grants, posted: Grants | None) -> dict[tuple[str, str], int]:
    """The compact rows after saving ``posted`` (which replaces the entities it names)."""
    if posted is None:
        return dict(current)
    posted_keys = {entity for entity, _action in posted}
    star = {
        a: posted.get((ANY_ENTITY, a), NONE)
        if ANY_ENTITY in posted_keys
        else current.get((ANY_ENTITY, a), NONE)
        for a in policy.ACTIONS
    }
    rows = {k: v for k, v in current.items() if k[0] not in posted_keys}
    for action, level in star.items():
        if level > NONE:
            rows[(ANY_ENTITY, action)] = level
    for (entity, action), level in posted.items():
        if entity != ANY_ENTITY and level != star[action]:
            rows[(entity, action)] = level
    return rows


def _merged_fields(current: Fields, posted: Fields | None) -> dict[tuple[str, str], str]:
    if posted is None:
        return dict(current)
    posted_entities = {entity for entity, _field in posted}
    rows = {k: v for k, v in current.items() if k[0] not in posted_entities}
    rows.update({k: v for k, v in posted.items() if v != policy.EDIT})
    return rows


def _escalation(mine: Rights, result: RoleRights) -> dict[str, list[str]]:
    """The no-escalation rule for one role, by the part of the form it concerns."""
    if mine.is_admin:
        return {}
    errors = {
        "grants": level_problems(mine, result),
        "fields": field_problems(mine, result),
        "can_configure": [],
        "can_manage_access": [],
    }
    if result.can_configure and not mine.can_configure:
        errors["can_configure"] = [_("You cannot open the configuration area yourself.")]
    if result.can_manage_access and not mine.can_manage_access:
        errors["can_manage_access"] = [_("You cannot manage access yourself.")]
    return {k: v for k, v in errors.items() if v}


def _write(role: Role, grants: Grants, fields: Fields) -> None:
    db.session.execute(delete(RoleGrant).where(RoleGrant.role_id == role.id))
    db.session.execute(delete(FieldRight).where(FieldRight.role_id == role.id))
    if grants:
        db.session.execute(
            insert(RoleGrant),
            [
                {"role_id": role.id, "entity_key": e, "action": a, "level": lv}
                for (e, a), lv in sorted(grants.items())
            ],
        )
    if fields:
        db.session.execute(
            insert(FieldRight),
            [
                {"role_id": role.id, "entity_key": e, "field_key": f, "access": acc}
                for (e, f), acc in sorted(fields.items())
            ],
        )


def _check_input(name: str | None, description: str | None, grants, fields, exclude=None):
    errors = {
        "grants": _grant_problems(grants or {}),
        "fields": _field_problems(fields or {}),
        "name": _name_problems(name, exclude=exclude) if name is not None else [],
        "description": [],
    }
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors["description"] = [_("Use at most %(num)d characters.", num=MAX_DESCRIPTION)]
    return errors


# --- services ----------------------------------------------------------------------------


@access_change
def create(
    actor: Any,
    *,
    name: str,
    description: str = "",
    can_configure: bool = False,
    can_manage_access: bool = False,
    grants: Grants | None = None,
    fields: Fields | None = None,
    translations: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> Role:
    """Create a role. ``grants`` maps (entity key or "*", action) to a level; ``fields``
    maps (entity key, field key) to "hidden", "read" or "edit" (the default);
    ``translations`` the name's (``{"name": {locale: text}}``, ``crm.access.names``);
    ``key`` its stable key (packages name it by this; never changes), suggested from the
    name when not given.

    Raises ``ValidationFailed`` for bad input and ``Forbidden`` when an access manager asks
    for more than they hold; either way nothing is created."""
    mine = require_manager(actor)
    name = clean_label(name)
    description = (description or "").strip()
    errors = _check_input(name, description, grants, fields)
    translations, bad = names.check(translations, MAX_NAME)
    errors["name"] += bad
    taken = set(db.session.scalars(select(Role.key).where(Role.key.is_not(None))))
    key, errors["key"] = new_key(name, taken, key)
    if any(errors.values()):
        fail(_("The role was not created."), errors)
    result = RoleRights(
        0,
        name,
        bool(can_configure),
        bool(can_manage_access),
        _merged_grants({}, grants or {}),
        _merged_fields({}, fields or {}),
    )
    too_wide = _escalation(mine, result)
    if too_wide:
        refuse(_("The role was not created: it would give rights you do not hold."), too_wide)
    role = Role(
        name=name,
        key=key,
        translations=translations,
        description=description,
        can_configure=result.can_configure,
        can_manage_access=result.can_manage_access,
    )
    db.session.add(role)
    db.session.flush()
    _write(role, result.grants, result.fields)
    audit.record(actor, "role", "created", role.name, after=audit.role_state(role), role_id=role.id)
    return role


@access_change
def update(
    actor: Any,
    role_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    can_configure: bool | None = None,
    can_manage_access: bool | None = None,
    grants: Grants | None = None,
    fields: Fields | None = None,
    translations: Mapping[str, Any] | None = None,
) -> Role:
    """Change a role; ``None`` leaves a part as it is. ``grants`` replaces the rows of
    the entities it names ("*" included); ``fields`` replaces the field rights of the
    entities it names (a field it leaves out becomes editable); ``translations`` all of
    the name's (``{"name": {locale: text}}``; an empty text removes that translation).

    An access manager may not change a role they hold (that would widen their own
    rights), nor a role holding rights they do not hold, nor make one wider than their
    own: ``Forbidden`` with the reasons. Bad input: ``ValidationFailed``."""
    mine = require_manager(actor)
    role = _role(role_id)
    problems = edit_problems(actor, role.id)
    if problems:
        refuse(_("The role was not changed."), {"role": problems})
    if name is not None:
        name = clean_label(name)
    if description is not None:
        description = description.strip()
    errors = _check_input(name, description, grants, fields, exclude=role.id)
    if translations is not None:
        translations, bad = names.check(translations, MAX_NAME)
        errors["name"] += bad
    if any(errors.values()):
        fail(_("The role was not changed."), errors)
    current = rights_of(role.id)
    result = RoleRights(
        role.id,
        name if name is not None else role.name,
        role.can_configure if can_configure is None else bool(can_configure),
        role.can_manage_access if can_manage_access is None else bool(can_manage_access),
        _merged_grants(current.grants, grants),
        _merged_fields(current.fields, fields),
    )
    too_wide = _escalation(mine, result)
    if too_wide:
        refuse(_("The role was not changed: it would give rights you do not hold."), too_wide)
    if not mine.is_admin:
        beyond = _holders_beyond(mine, role.id, result)
        if beyond:
            refuse(
                _("The role was not changed."),
                {
                    "role": [
                        _(
                            "It would give rights you do not hold to %(names)s.",
                            names=", ".join(beyond),
                        )
                    ]
                },
            )
    before = audit.role_state(role)
    role.name = result.name
    if translations is not None:
        role.translations = translations
    if description is not None:
        role.description = description
    role.can_configure = result.can_configure
    role.can_manage_access = result.can_manage_access
    if grants is not None or fields is not None:
        _write(role, result.grants, result.fields)
    db.session.flush()
    audit.record(
        actor,
        "role",
        "changed",
        role.name,
        before=before,
        after=audit.role_state(role),
        role_id=role.id,
    )
    return role


def _holders_beyond(mine: Rights, role_id: int, result: RoleRights) -> list[str]:
    """Holders of the role who, with ``result`` in its place, would hold rights or reach
    (their department) beyond ``mine``: a role is shared, so widening it widens them."""
    holders = db.session.scalars(
        select(User)
        .join(user_roles, user_roles.c.user_id == User.id)
        .where(user_roles.c.role_id == role_id)
    ).all()
    if not holders:
        return []
    held = db.session.execute(
        select(user_roles.c.user_id, user_roles.c.role_id).where(
            user_roles.c.user_id.in_([u.id for u in holders])
        )
    ).all()
    others = policy.load_role_rights({r for _, r in held if r != role_id})
    by_id = {r.id: r for r in others}
    beyond = []
    for u in holders:
        if u.is_admin:
            continue  # a full administrator's rights do not come from roles
        roles = tuple(result if r == role_id else by_id[r] for uid, r in held if uid == u.id)
        path = u.department.path if u.department is not None else None
        after = Rights(u.id, u.is_admin, u.department_id, path, roles)
        if covers(mine, after):
            beyond.append(u.display_name)
    return beyond


@access_change
def delete_role(actor: Any, role_id: int, *, move_to: int | None = None) -> int:
    """Delete a role. While users hold it, ``move_to`` must name the role they get
    instead; returns how many users were moved. Access managers may only move users
    they may change, to a role within their own rights."""
    mine = require_manager(actor)
    role = _role(role_id)
    problems = edit_problems(actor, role.id)
    if problems:
        refuse(_("The role was not deleted."), {"role": problems})
    holders = db.session.scalars(
        select(User)
        .join(user_roles, user_roles.c.user_id == User.id)
        .where(user_roles.c.role_id == role.id)
    ).all()
    target = None
    if holders:
        if move_to is None:
            fail(
                _("The role was not deleted."),
                {
                    "move_to": [
                        ngettext(
                            "%(num)d user holds this role: choose the role they get instead.",
                            "%(num)d users hold this role: choose the role they get instead.",
                            len(holders),
                        )
                    ]
                },
            )
        target = db.session.get(Role, move_to) if isinstance(move_to, int) else None
        if target is None or target.id == role.id:
            fail(_("The role was not deleted."), {"move_to": [_("Choose another existing role.")]})
        if not mine.is_admin:
            blocked = [u.display_name for u in holders if user_problems(actor, u)]
            if blocked:
                refuse(
                    _("The role was not deleted."),
                    {
                        "move_to": [
                            _("You cannot change these users: %(names)s.", names=", ".join(blocked))
                        ]
                    },
                )
            if covers(mine, rights_of(target.id)):
                held = _("“%(name)s” holds rights you do not hold.", name=target.display_name)
                refuse(_("The role was not deleted."), {"move_to": [held]})
    audit.record(
        actor,
        "role",
        "deleted",
        role.name,
        before={
            **audit.role_state(role),
            audit.HELD_BY: ", ".join(u.display_name for u in holders),
        },
        after={
            audit.HELD_BY: audit.MOVED_TO + target.name if target is not None else audit.NOTHING
        },
        role_id=role.id,
    )
    moved_before = {u.id: audit.user_state(u) for u in holders}
    if target is not None:
        have = set(
            db.session.scalars(
                select(user_roles.c.user_id).where(user_roles.c.role_id == target.id)
            )
        )
        rows = [{"user_id": u.id, "role_id": target.id} for u in holders if u.id not in have]
        if rows:
            db.session.execute(insert(user_roles), rows)
    # Core statements only: no ORM collection of the deleted role is left to flush.
    db.session.execute(delete(user_roles).where(user_roles.c.role_id == role.id))
    db.session.execute(delete(RoleGrant).where(RoleGrant.role_id == role.id))
    db.session.execute(delete(FieldRight).where(FieldRight.role_id == role.id))
    db.session.execute(delete(Role).where(Role.id == role.id))
    db.session.expire_all()  # Core statements went around the identity map
    for u in holders:
        audit.record(
            actor,
            "user",
            "changed",
            u.display_name,
            before=moved_before[u.id],
            after=audit.user_state(u),
            user_id=u.id,
        )
    return len(holders)

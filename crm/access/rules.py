"""The no-escalation rule: no one grants a right they do not hold.

``covers(actor, target)`` lists every reason why ``target`` (a role as stored, or a user's
rights with their department) reaches beyond ``actor``; an empty list means "covered".
The services refuse a change whose result is not covered, and the screens use the same
function to grey out what an access manager cannot grant. Full administrators
(``User.is_admin``) hold every right, so they cover everything but another full
administrator's account, which only they may change.

What is compared, for an access manager:

- for "every other entity" ("*"), every entity (archived ones included, so restoring an
  entity does not widen anything) and every action: the target's scope level against the
  actor's (``Rights.level`` / ``RoleRights.level``, both falling back to "*");
- for every field of every entity the target may read: its access (hidden < read-only <
  editable) against the actor's own;
- the administration flags: opening the configuration area needs the actor to hold it;
- for a user (not a bare role): their department. Levels "own department" and
  "department and below" are relative to it, so a user placed outside the actor's own
  department (or subtree) would reach records the actor cannot. The actor's "all records"
  reaches everywhere, so placement then does not matter. Records shared with the
  department, or one above it, come with the placement too: where the user's roles let
  shares count (a level between none and all) and the actor cannot reach such a record,
  the placement is not covered.

Which levels are department-relative, what they reach from a department, and when shares
count all come from the levels' entries (``crm.access.levels``), as the policy's SQL does.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.access import levels, policy
from crm.access.policy import ALL, FIELD_RANK, NONE, Rights, RoleRights

EVERY_OTHER_ENTITY = _l("Every other entity")


def entity_label(key: str) -> str:
    """How an entity key reads on screen ("*" is every entity without its own row)."""
    if key == policy.ANY_ENTITY:
        return str(EVERY_OTHER_ENTITY)
    from crm.metadata import specs

    spec = specs.current().entity(key, include_archived=True)
    return spec.label_plural if spec is not None else key


def _action_on(action: str, key: str) -> str:
    """ "Read on Deals": an action on an entity, in the request's language."""
    return _(
        "%(action)s on %(entity)s", action=policy.ACTION_LABELS[action], entity=entity_label(key)
    )


def _roles_of(target: RoleRights | Rights) -> tuple[RoleRights, ...]:
    return target.roles if isinstance(target, Rights) else (target,)


def _entity_keys(target: RoleRights | Rights) -> list[str]:
    from crm.metadata import specs

    keys = {policy.ANY_ENTITY, *specs.current().entities}
    for role in _roles_of(target):
        keys.update(entity for entity, _action in role.grants)
    return sorted(keys, key=lambda k: (k != policy.ANY_ENTITY, k))


def _field_access(target: RoleRights | Rights, entity_key: str, field_key: str) -> str:
    """The target's access to a field, counting only where the target may read at all."""
    if target.level(entity_key, "read") == NONE:
        return policy.HIDDEN
    return target.field_access(entity_key, field_key)


def level_problems(actor: Rights, target: RoleRights | Rights) -> list[str]:
    """One message per entity where ``target`` holds a wider scope than ``actor``."""
    problems = []
    for key in _entity_keys(target):
        wider = [
            _(
                "%(action)s: %(level)s (yours: %(mine)s)",
                action=policy.ACTION_LABELS[action],
                level=policy.LEVEL_LABELS[target.level(key, action)],
                mine=policy.LEVEL_LABELS[actor.level(key, action)],
            )
            for action in policy.ACTIONS
            if levels.wider(target.level(key, action), actor.level(key, action))
        ]
        if wider:
            problems.append(
                _(
                    "%(entity)s — more than you hold: %(rights)s.",
                    entity=entity_label(key),
                    rights=", ".join(wider),
                )
            )
    return problems


def field_problems(actor: Rights, target: RoleRights | Rights) -> list[str]:
    """One message per entity where ``target`` sees or changes a field ``actor`` cannot."""
    from crm.metadata import specs

    problems = []
    for spec in specs.current().entities.values():
        if target.level(spec.key, "read") == NONE:
            continue
        wider = []
        for f in spec.fields:
            mine = actor.field_access(spec.key, f.key)
            theirs = _field_access(target, spec.key, f.key)
            if FIELD_RANK[theirs] > FIELD_RANK[mine]:
                wider.append(
                    _(
                        "%(field)s %(access)s (yours: %(mine)s)",
                        field=f.label,
                        access=policy.FIELD_LABELS[theirs],
                        mine=policy.FIELD_LABELS[mine],
                    )
                )
        if wider:
            problems.append(
                _(
                    "Fields of %(entity)s — more than you hold: %(rights)s.",
                    entity=spec.label_plural,
                    rights=", ".join(wider),
                )
            )
    return problems


def placement_problems(actor: Rights, target: Rights) -> list[str]:
    """Why ``target``'s department-relative scopes reach records ``actor`` cannot."""
    if target.department_path is None:
        return []  # without a department, "own department" means own records only
    outside = []
    for key in _entity_keys(target):
        for action in policy.ACTIONS:
            theirs, mine = target.level(key, action), actor.level(key, action)
            if not levels.level(theirs).department_relative or mine == ALL:
                continue
            if not _reach_covered(actor, target, theirs, mine):
                outside.append(_action_on(action, key))
    problems = []
    if outside:
        problems.append(
            _(
                "Their department lies outside your reach, so these scopes would cover"
                " records you cannot: %(rights)s.",
                rights=", ".join(outside),
            )
        )
    tied = _share_tied_outside(actor, target)
    if tied:
        problems.append(
            _(
                "Their department lies outside your reach, and records shared with it (now"
                " or later) would reach them: %(rights)s.",
                rights=", ".join(tied),
            )
        )
    return problems


def _share_tied_outside(actor: Rights, target: Rights) -> list[str]:
    """The actions where ``target``'s level lets shares count (own records included: a
    share with their department reaches them whatever their level's reach) while their
    department lies outside ``actor``'s reach (for that action or reading). Shares are tied to the
    department, so placing someone there hands them whatever is shared with it later too;
    ``share_problems`` names the shares that already exist within reach."""
    found = []
    for key in _entity_keys(target):
        for action in sorted(levels.SHARES.widening):
            theirs, mine = target.level(key, action), actor.level(key, action)
            if mine == ALL or not levels.SHARES.widens(levels.level(theirs), action):
                continue
            if levels.level(theirs).department_relative:
                continue  # the department-relative check above already names it
            # The actor's reach is where they see records: their level for the action
            # or, wider, for reading (they may place an "edit own" rep where they read).
            if not any(
                _department_in_reach(actor, target, level)
                for level in (mine, actor.level(key, "read"))
            ):
                found.append(_action_on(action, key))
    return found


def _department_in_reach(actor: Rights, target: Rights, mine: int) -> bool:
    """Whether ``target``'s department lies within what ``actor``'s level ``mine``
    reaches; for a level without a department reach (own records), whether every
    department whose shares reach ``target`` also reaches the actor."""
    reach = levels.level(mine).reach
    if reach is not None and actor.department_path is not None:
        department = SimpleNamespace(id=target.department_id, path=target.department_path)
        return reach(actor).holds(department)
    return set(target.department_chain) <= set(actor.department_chain)


def share_problems(actor: Rights, target: Rights) -> list[str]:
    """Records shared with ``target``'s department (or one above it) that ``target``
    would read or edit through the share while ``actor`` cannot: placing someone in a
    department hands them its shares, so those count as part of the placement's reach."""
    chain = target.department_chain
    if not chain:
        return []
    beyond = []
    for key, accesses in sorted(_shared_with(chain).items()):
        for action in ("read", "edit"):
            theirs, mine = target.level(key, action), actor.level(key, action)
            if not levels.SHARES.widens(levels.level(theirs), action) or mine == ALL:
                continue  # no share reaches them, or the actor reaches every record
            if not levels.SHARES.counts(action, accesses):
                continue
            if _shared_beyond(actor, chain, key, action):
                beyond.append(_action_on(action, key))
    if not beyond:
        return []
    return [
        _(
            "Records shared with their department (or one above it) lie outside your reach,"
            " and they would reach them through the share: %(rights)s.",
            rights=", ".join(beyond),
        )
    ]


def _memo() -> dict:
    """Answers kept for one request: a users list asks for every user, and people of one
    department share the same answers."""
    from flask import g, has_request_context

    return g.setdefault("_share_reach", {}) if has_request_context() else {}


def _shared_with(chain: tuple[int, ...]) -> dict[str, set[str]]:
    """Entity key -> the accesses ("read", "edit") of shares to these departments."""
    from sqlalchemy import select

    from crm.access.models import RecordShare
    from crm.extensions import db

    memo = _memo()
    found = memo.get(("shared", chain))
    if found is None:
        found = {}
        rows = db.session.execute(
            select(RecordShare.entity_key, RecordShare.access)
            .where(RecordShare.department_id.in_(chain))
            .distinct()
        )
        for key, access in rows:
            found.setdefault(key, set()).add(access)
        memo[("shared", chain)] = found
    return found


def _shared_beyond(actor: Rights, chain: tuple[int, ...], key: str, action: str) -> bool:
    """Whether a live record of ``key`` shared with these departments (for ``action``)
    lies outside what ``actor`` may ``action`` (one query, kept per request)."""
    from sqlalchemy import not_, select

    from crm.access.models import RecordShare
    from crm.extensions import db
    from crm.metadata import specs

    memo = _memo()
    memo_key = ("beyond", actor.user_id, chain, key, action)
    if memo_key in memo:
        return memo[memo_key]
    compiled = specs.current()
    if compiled.entity(key, include_archived=True) is None:
        memo[memo_key] = False
        return False
    table = compiled.table(key)
    shared = select(RecordShare.record_id).where(
        RecordShare.entity_key == key, RecordShare.department_id.in_(chain)
    )
    access = levels.SHARES.access_condition(action)
    if access is not None:
        shared = shared.where(access)
    found = db.session.scalar(
        select(table.c.id)
        .where(
            table.c.id.in_(shared),
            table.c.deleted_at.is_(None),
            not_(policy.rights_scope(actor, key, action, table)),
        )
        .limit(1)
    )
    memo[memo_key] = found is not None
    return memo[memo_key]


def _reach_covered(actor: Rights, target: Rights, theirs: int, mine: int) -> bool:
    """Whether the departments ``target``'s level ``theirs`` reaches from their department
    all lie within what ``actor``'s level ``mine`` reaches from the actor's."""
    if actor.department_path is None or target.department_path is None:
        return False
    my_reach, their_reach = levels.level(mine).reach, levels.level(theirs).reach
    if my_reach is None or their_reach is None:
        return False  # own records only, or a level that does not say: not covered
    return my_reach(actor).covers(their_reach(target))


def covers(actor: Rights, target: RoleRights | Rights) -> list[str]:
    """Every reason why ``target`` holds a right that ``actor`` does not (empty: covered).

    ``target`` is a role (``RoleRights``) or a user's rights with their department
    (``Rights``, e.g. as they would be after a change)."""
    if actor.is_admin:
        return []
    if isinstance(target, Rights) and target.is_admin:
        return [_("This is a full administrator: only full administrators can change it.")]
    problems = []
    if target.can_configure and not actor.can_configure:
        problems.append(_("It opens the configuration area, which you cannot open yourself."))
    if target.can_manage_access and not actor.can_manage_access:
        problems.append(_("It manages access, which you cannot do yourself."))
    problems += level_problems(actor, target)
    problems += field_problems(actor, target)
    if isinstance(target, Rights):
        problems += placement_problems(actor, target)
        problems += share_problems(actor, target)
    return problems


def rights_with(
    user_id: int,
    *,
    role_ids: Iterable[int],
    department_id: int | None,
    department_path: str | None,
    is_admin: bool = False,
) -> Rights:
    """The rights a user would have with these roles and this department."""
    return Rights(
        user_id,
        is_admin,
        department_id,
        department_path,
        policy.load_role_rights(role_ids) if not is_admin else (),
    )


def user_problems(actor: Any, user: Any) -> list[str]:
    """Why ``actor`` may not change ``user``'s account (empty: they may).

    Access managers may not change themselves (no self-assignment of roles or
    departments), a full administrator, or a user whose rights or reach exceed their own.
    Full administrators may change anyone (the services refuse the few self-changes that
    would lock them out)."""
    mine = policy.rights(actor)
    if mine.is_admin:
        return []
    if user.id == actor.id:
        return [_("This is your own account: ask a full administrator to change it.")]
    return covers(mine, policy.rights(user))

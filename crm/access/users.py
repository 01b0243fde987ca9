"""User management: list, create with an invitation, change department and roles,
re-invite, deactivate and reactivate.

New users get no password: they receive a one-time link (``crm.access.invites``) that the
administrator passes on. Access managers who are not full administrators work under the
no-escalation rule (``crm.access.rules``): they cannot change themselves, a full
administrator or anyone whose rights or reach exceed their own, cannot give a role or a
department that would, and cannot make full administrators.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from crm.access import audit, invites, policy
from crm.access.models import Department, Role, User, user_roles
from crm.access.policy import Rights
from crm.access.rules import covers, rights_with, user_problems
from crm.access.service import access_change, fail, refuse, require_manager
from crm.auth.service import email_problem, normalise_email, revoke_sessions
from crm.errors import NotFound
from crm.extensions import db
from crm.ids import row_of
from crm.metadata.keys import clean_label

PER_PAGE = 50
STATUSES = ("active", "inactive", "invited")


@dataclass
class Row:
    user: User
    department: Department | None
    roles: list[Role]
    invited: bool  # has not chosen a password yet
    blocked: list[str]  # why the actor may not change this user (empty: they may)


@dataclass
class UserPage:
    rows: list[Row]
    total: int
    page: int
    pages: int


def listing(
    actor: Any,
    *,
    q: str = "",
    department_id: int | None = None,
    role_id: int | None = None,
    status: str = "",
    page: int = 1,
) -> UserPage:
    """One page of users, filtered by a search text (name or e-mail), department, role
    and status ("active", "inactive", "invited"), sorted by name."""
    mine = require_manager(actor)
    query = select(User)
    text = (q or "").strip()[:200]
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        pattern += "%"
        query = query.where(
            or_(
                func.lower(User.display_name).like(pattern, escape="\\"),
                User.email.like(pattern, escape="\\"),
            )
        )
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    if role_id is not None:
        query = query.where(
            exists().where(user_roles.c.user_id == User.id, user_roles.c.role_id == role_id)
        )
    if status == "active":
        query = query.where(User.is_active.is_(True))
    elif status == "inactive":
        query = query.where(User.is_active.is_(False))
    elif status == "invited":
        query = query.where(User.password_hash.startswith(invites.NO_PASSWORD[:1]))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    users = db.session.scalars(
        query.order_by(func.lower(User.display_name), User.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return UserPage(_rows(actor, mine, users), total, page, pages)


def _rows(actor: Any, mine: Rights, users: list[User]) -> list[Row]:
    """Rows with departments and roles read in two queries, and, for an access manager,
    each user's rights built from roles read once (not three queries per user)."""
    ids = [u.id for u in users]
    links = db.session.execute(
        select(user_roles.c.user_id, user_roles.c.role_id).where(user_roles.c.user_id.in_(ids))
    ).all()
    role_ids = {r for _u, r in links}
    roles = {r.id: r for r in db.session.scalars(select(Role).where(Role.id.in_(role_ids)))}
    rules = {r.id: r for r in policy.load_role_rights(role_ids)} if not mine.is_admin else {}
    departments = {
        d.id: d
        for d in db.session.scalars(
            select(Department).where(Department.id.in_({u.department_id for u in users}))
        )
    }
    by_user: dict[int, list[int]] = {}
    for user_id, role_id in links:
        by_user.setdefault(user_id, []).append(role_id)
    rows = []
    for u in users:
        held = sorted((roles[i] for i in by_user.get(u.id, [])), key=lambda r: r.name.lower())
        department = departments.get(u.department_id)
        if mine.is_admin:
            blocked = []
        elif u.id == actor.id:
            blocked = [_("This is your own account.")]
        else:
            theirs = Rights(
                u.id,
                u.is_admin,
                u.department_id,
                department.path if department else None,
                tuple(rules[r.id] for r in held),
            )
            blocked = covers(mine, theirs)
        rows.append(Row(u, department, held, not invites.has_password(u), blocked))
    return rows


def get(actor: Any, user_id: int) -> User:
    """One user, or ``NotFound``."""
    require_manager(actor)
    return _user(user_id)


def _user(user_id: Any) -> User:
    found = row_of(User, user_id)
    if found is None:
        raise NotFound(_("There is no such user."))
    return found


def grantable_roles(actor: Any) -> dict[int, list[str]]:
    """For every role, why ``actor`` may not give it (empty list: they may)."""
    mine = require_manager(actor)
    ids = db.session.scalars(select(Role.id)).all()
    if mine.is_admin:
        return {i: [] for i in ids}
    return {r.id: covers(mine, r) for r in policy.load_role_rights(ids)}


def placeable_departments(actor: Any) -> set[int] | None:
    """The departments where a user holding exactly ``actor``'s rights stays within them
    (for greying out choices); None means every department."""
    mine = require_manager(actor)
    if mine.is_admin:
        return None
    allowed = set()
    for d in db.session.scalars(select(Department)):
        probe = Rights(-1, False, d.id, d.path, mine.roles)
        if not covers(mine, probe):
            allowed.add(d.id)
    return allowed


def _department(department_id: int | None, errors: dict[str, list[str]]) -> Department | None:
    if department_id is None:
        return None
    found = row_of(Department, department_id)
    if found is None:
        errors["department"] = [_("There is no such department.")]
    return found


def _roles(role_ids: Iterable[int], errors: dict[str, list[str]]) -> list[Role]:
    ids = sorted({i for i in role_ids})
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        errors["roles"] = [_("Choose roles from the list.")]
        return []
    found = list(db.session.scalars(select(Role).where(Role.id.in_(ids))))
    if len(found) != len(ids):
        errors["roles"] = [_("One of the chosen roles does not exist (any more).")]
    return found


def _within_rights(
    actor: Any, mine: Rights, user_id: int, roles: list[Role], department: Department | None
) -> dict[str, list[str]]:
    """The no-escalation rule for a user's new roles and department."""
    if mine.is_admin:
        return {}
    errors: dict[str, list[str]] = {"roles": [], "department": []}
    rules = policy.load_role_rights(r.id for r in roles)
    shown = {r.id: r.display_name for r in roles}
    for role in rules:
        if covers(mine, role):
            name = shown.get(role.id, role.name)
            errors["roles"].append(_("“%(name)s” holds rights you do not hold.", name=name))
    if not errors["roles"]:
        result = rights_with(
            user_id,
            role_ids=[r.id for r in roles],
            department_id=department.id if department else None,
            department_path=department.path if department else None,
        )
        errors["department"] = covers(mine, result)
    return {k: v for k, v in errors.items() if v}


def _name_problems(name: str) -> list[str]:
    if not name:
        return [_("Enter a name.")]
    if len(name) > 120:
        return [_("Use at most %(num)d characters.", num=120)]
    return []


def _email_problems(email: str) -> list[str]:
    from email_validator import EmailNotValidError, validate_email

    if len(email) > 254:
        return [_("Use at most %(num)d characters.", num=254)]
    try:
        # As at first run: no DNS look-up, company-internal domains are fine.
        validate_email(email, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        return [email_problem(exc)]
    if db.session.scalar(select(User.id).where(User.email == email)):
        return [_("An account with this e-mail address already exists.")]
    return []


@access_change
def create(
    actor: Any,
    *,
    email: str,
    display_name: str,
    department_id: int | None = None,
    role_ids: Iterable[int] = (),
    is_admin: bool = False,
) -> tuple[User, str]:
    """Create an active user without a password and an invitation for them; return the
    user and the raw invitation token (shown once, never stored).

    ``ValidationFailed`` for bad input, ``Forbidden`` when an access manager asks for a
    role, department or administrator right beyond their own; nothing is created then."""
    mine = require_manager(actor)
    if is_admin and not mine.is_admin:
        refuse(_("The user was not created."), {"is_admin": [_("Only full administrators can.")]})
    email = normalise_email(email)
    name = clean_label(display_name)
    errors: dict[str, list[str]] = {"email": _email_problems(email), "display_name": []}
    errors["display_name"] = _name_problems(name)
    department = _department(department_id, errors)
    roles = _roles(role_ids, errors)
    if any(errors.values()):
        fail(_("The user was not created."), errors)
    too_wide = _within_rights(actor, mine, -1, roles, department)
    if too_wide:
        refuse(_("The user was not created: they would hold rights you do not hold."), too_wide)
    user = User(
        email=email,
        display_name=name,
        password_hash=invites.NO_PASSWORD,
        is_admin=bool(is_admin),
        is_active=True,
        department_id=department.id if department else None,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        fail(
            _("The user was not created."),
            {"email": [_("An account with this e-mail address already exists.")]},
        )
    if roles:
        db.session.execute(
            insert(user_roles), [{"user_id": user.id, "role_id": r.id} for r in roles]
        )
    token = invites.issue(user, created_by=actor.id)
    db.session.flush()
    audit.record(
        actor, "user", "created", user.display_name, after=audit.user_state(user), user_id=user.id
    )
    return user, token


def _manageable(actor: Any, user: User, refusal: str) -> None:
    """``Forbidden`` (``refusal``, then why) unless ``actor`` may change ``user``."""
    problems = user_problems(actor, user)
    if problems:
        refuse(_("%(refusal)s You cannot change this user.", refusal=refusal), {"user": problems})


@access_change
def update(
    actor: Any,
    user_id: int,
    *,
    display_name: str,
    department_id: int | None,
    role_ids: Iterable[int],
    is_admin: bool | None = None,
) -> User:
    """Change a user's name, department and roles (and, for full administrators only,
    the full-administrator right: ``is_admin=None`` leaves it as it is)."""
    mine = require_manager(actor)
    user = _user(user_id)
    _manageable(actor, user, _("Nothing was changed."))
    if is_admin is not None and bool(is_admin) != user.is_admin:
        if not mine.is_admin:
            refuse(_("Nothing was changed."), {"is_admin": [_("Only full administrators can.")]})
        if user.id == actor.id:
            fail(
                _("Nothing was changed."),
                {"is_admin": [_("You cannot take away your own full-administrator right.")]},
            )
    name = clean_label(display_name)
    errors: dict[str, list[str]] = {"display_name": _name_problems(name)}
    department = _department(department_id, errors)
    roles = _roles(role_ids, errors)
    if any(errors.values()):
        fail(_("Nothing was changed."), errors)
    too_wide = _within_rights(actor, mine, user.id, roles, department)
    if too_wide:
        refuse(_("Nothing was changed: they would hold rights you do not hold."), too_wide)
    before = audit.user_state(user)
    user.display_name = name
    user.department_id = department.id if department else None
    if is_admin is not None:
        user.is_admin = bool(is_admin)
    user.roles = roles
    db.session.flush()
    audit.record(
        actor,
        "user",
        "changed",
        user.display_name,
        before=before,
        after=audit.user_state(user),
        user_id=user.id,
    )
    return user


@access_change
def reinvite(actor: Any, user_id: int) -> str:
    """A new one-time link for ``user`` (older links stop working); returns its token.
    Following it lets them choose a new password, so it is refused for deactivated
    users and for one's own account, and, except for full administrators, for accounts
    already in use."""
    mine = require_manager(actor)
    user = _user(user_id)
    _manageable(actor, user, _("No link was made."))
    if user.id == actor.id:
        refuse(
            _("No link was made."),
            {"user": [_("Change your own password on the Password page.")]},
        )
    if not user.is_active:
        fail(_("No link was made."), {"user": [_("Reactivate the account first.")]})
    if not mine.is_admin and invites.has_password(user):
        # A link resets the password: whoever holds it can sign in as that person. Only
        # full administrators may do that to an account already in use.
        refuse(
            _("No link was made."),
            {"user": [_("They already chose a password; ask a full administrator to reset it.")]},
        )
    action = "password_reset" if invites.has_password(user) else "invited"
    token = invites.issue(user, created_by=actor.id)
    audit.record(actor, "user", action, user.display_name, user_id=user.id)
    return token


@access_change
def set_active(actor: Any, user_id: int, active: bool) -> User:
    """Reactivate or deactivate a user; deactivating ends all of their sessions at once
    and stops their invitation links. No one deactivates their own account."""
    require_manager(actor)
    user = _user(user_id)
    _manageable(actor, user, _("Nothing was changed."))
    if user.id == actor.id:
        refuse(_("Nothing was changed."), {"user": [_("You cannot deactivate your own account.")]})
    was = user.is_active
    user.is_active = bool(active)
    if was != user.is_active:
        audit.record(
            actor,
            "user",
            "reactivated" if active else "deactivated",
            user.display_name,
            before={"Active": audit.yes_no(was)},
            after={"Active": audit.yes_no(active)},
            user_id=user.id,
        )
    if not active:
        revoke_sessions(user.id)
        invites.end_open(user.id)  # a reactivated account needs a new link
    return user

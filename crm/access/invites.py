"""One-time invitation links: a new user (or one whose access was reset) chooses a password.

The link carries a random token (``secrets.token_urlsafe``); only its SHA-256 hash is
stored, so the database never holds a usable link. A link works once, for seven days, and
a newer invitation replaces the older ones. Accepting is race-safe: the invitation is
marked used by a conditional UPDATE that only one request can win.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from crm.access.models import User, UserInvite
from crm.auth import service as auth
from crm.auth.passwords import hash_password, password_problems
from crm.errors import DomainError, NotFound, ValidationFailed
from crm.extensions import db
from crm.timeutil import utcnow
from crm.uow import unit_of_work

VALID_FOR = timedelta(days=7)
# The password hash of an account that has never chosen a password: not an Argon2 hash,
# so no password verifies against it (``verify_password`` answers False).
NO_PASSWORD = "!invited"  # noqa: S105 - a marker, not a password

UNKNOWN = _l("This invitation link is not valid. Check that you copied all of it.")
USED = _l("This invitation link has already been used. Sign in, or ask for a new link.")
EXPIRED = _l("This invitation link has expired or was replaced by a newer one. Ask for a new link.")
INACTIVE = _l("This account is deactivated. Ask an administrator.")


class InviteGone(DomainError):
    """The link was valid once: used, expired, replaced, or its account deactivated."""

    status = 410
    title = _l("This invitation can no longer be used")


def has_password(user: User) -> bool:
    """False for an invited user who has not chosen a password yet."""
    return not (user.password_hash or "").startswith("!")


def end_open(user_id: int) -> None:
    """End ``user_id``'s unused invitation links (the caller commits)."""
    now = utcnow()
    db.session.execute(
        update(UserInvite)
        .where(
            UserInvite.user_id == user_id,
            UserInvite.used_at.is_(None),
            UserInvite.expires_at > now,
        )
        .values(expires_at=now)
    )


def issue(user: User, *, created_by: int | None) -> str:
    """Make a new invitation for ``user`` (ending the older unused ones) and return its
    raw token. The caller commits."""
    now = utcnow()
    end_open(user.id)
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserInvite(
            user_id=user.id,
            token_hash=auth.token_hash(token),
            created_by=created_by,
            created_at=now,
            expires_at=now + VALID_FOR,
        )
    )
    return token


def check(token: str) -> tuple[UserInvite, User]:
    """The invitation and its user, or ``NotFound`` (unknown) / ``InviteGone``."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise NotFound(UNKNOWN)
    found = db.session.execute(
        select(UserInvite, User)
        .join(User, User.id == UserInvite.user_id)
        .where(UserInvite.token_hash == auth.token_hash(token))
    ).first()
    if found is None:
        raise NotFound(UNKNOWN)
    invite, user = found
    if invite.used_at is not None:
        raise InviteGone(USED)
    if invite.expires_at <= utcnow():
        raise InviteGone(EXPIRED)
    if not user.is_active:
        raise InviteGone(INACTIVE)
    return invite, user


def accept(
    token: str, password: str, *, ip: str | None = None, user_agent: str | None = None
) -> User:
    """Set the password chosen through an invitation, use the invitation up and open a
    session (``user.auth_session``) for the caller to sign in with.

    The password rules are those of the first-run and change-password pages. Raises
    ``NotFound`` / ``InviteGone`` for an unusable link and ``ValidationFailed`` for a
    password that breaks the rules; in every case nothing changes."""
    with unit_of_work():
        invite, user = check(token)
        problems = password_problems(password or "", email=user.email)
        if problems:
            raise ValidationFailed(_("The password was not set."), errors={"password": problems})
        now = utcnow()
        won = db.session.execute(
            update(UserInvite)
            .where(
                UserInvite.id == invite.id,
                UserInvite.used_at.is_(None),
                UserInvite.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            raise InviteGone(USED)
        user.password_hash = hash_password(password)
        user.password_changed_at = now
        user.last_login_at = now
        # A link that resets a password ends every session of the old one.
        auth.revoke_sessions(user.id)
        user.auth_session = auth.open_session(user, ip=ip, user_agent=user_agent)
    return user


def latest(user_id: int) -> Any:
    """The newest invitation of a user (for the user page), or None."""
    return db.session.scalar(
        select(UserInvite)
        .where(UserInvite.user_id == user_id)
        .order_by(UserInvite.created_at.desc(), UserInvite.id.desc())
        .limit(1)
    )

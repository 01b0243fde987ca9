"""Accounts and sign-in: the only code that creates users, sessions and lock-outs.

Services own their transactions: each public function commits on success and leaves the
session clean (rolled back) when it raises.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from crm import uow
from crm.access.models import User
from crm.auth.models import AppSetting, AuthSession, LoginFailure
from crm.auth.passwords import hash_password, needs_rehash, password_problems, verify_password
from crm.errors import Conflict, NotFound, TooManyAttempts, ValidationFailed
from crm.extensions import db
from crm.timeutil import utcnow
from crm.uow import unit_of_work

SIGN_IN_REFUSED = _l("That e-mail and password do not match an active account.")
SETUP_KEY = "first_admin_created"
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def email_problem(exc: Exception) -> str:
    """What to tell someone whose e-mail address ``email_validator`` refused (``exc``).
    The library explains the fault in English only: English readers get its explanation,
    everyone else a sentence in their language."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return str(exc)
    return _("This is not a valid e-mail address.")


def normalise_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively and without outer spaces."""
    return (email or "").strip().lower()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Lockout:
    until: datetime

    @property
    def minutes_left(self) -> int:
        seconds = max(0, (self.until - utcnow()).total_seconds())
        return max(1, int((seconds + 59) // 60))


def current_lockout(email: str) -> Lockout | None:
    """The lock-out in force for ``email``, if its recent failures reached the limit."""
    cfg = current_app.config
    limit = int(cfg["LOGIN_MAX_FAILURES"])
    window = timedelta(seconds=int(cfg["LOGIN_FAILURE_WINDOW_SECONDS"]))
    now = utcnow()
    recent = db.session.scalars(
        select(LoginFailure.at)
        .where(LoginFailure.email == normalise_email(email), LoginFailure.at > now - window)
        .order_by(LoginFailure.at.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    until = recent[0] + timedelta(seconds=int(cfg["LOGIN_LOCKOUT_SECONDS"]))
    return Lockout(until) if until > now else None


def sign_in(
    email: str, password: str, *, ip: str | None = None, user_agent: str | None = None
) -> User:
    """Check the credentials and open a new server-side session for the user.

    Raises ``TooManyAttempts`` (without checking the password) while the account is locked
    out, and ``ValidationFailed`` with one message for an unknown e-mail, a wrong password
    and an inactive account alike.
    """
    email = normalise_email(email)
    lock = current_lockout(email)
    if lock:
        raise TooManyAttempts(
            ngettext(
                "Too many failed sign-ins for this account. Try again in %(num)d minute.",
                "Too many failed sign-ins for this account. Try again in %(num)d minutes.",
                lock.minutes_left,
            )
        )
    user = db.session.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        # The failure is kept (it counts towards the lock-out) although sign-in is refused.
        with unit_of_work():
            db.session.add(LoginFailure(email=email[:254], ip=ip))
        raise ValidationFailed(str(SIGN_IN_REFUSED))
    with unit_of_work():
        db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        user.auth_session = open_session(user, ip=ip, user_agent=user_agent)
    return user


def open_session(user: User, *, ip: str | None, user_agent: str | None) -> AuthSession:
    token = secrets.token_urlsafe(32)
    row = AuthSession(
        token_hash=token_hash(token),
        user_id=user.id,
        ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
    )
    row.token = token
    db.session.add(row)
    db.session.flush()
    return row


def load_session_user(token: str) -> User | None:
    """The user of a live session token, or None when revoked, unknown or deactivated."""
    if not token or len(token) > 200:
        return None
    found = db.session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.token_hash == token_hash(token),
            AuthSession.revoked_at.is_(None),
            User.is_active.is_(True),
        )
    ).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        _touch(row.id, now)
    row.token = token
    user.auth_session = row
    return user


def _touch(session_id: int, now: datetime) -> None:
    """Note when a session was last seen: bookkeeping, never a reason to fail a request.

    Its own short transaction, begun by the write (on SQLite a read transaction that
    turns into a write fails at once, without waiting, when another connection has written
    since it began: busy answers under load). When the database stays busy anyway, or
    the request already holds changes of its own, the note waits for a later request."""
    session = db.session
    if uow.in_unit() or session.new or session.dirty or session.deleted:
        return
    try:
        with unit_of_work(fresh=True):
            session.execute(
                update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=now)
            )
    except Conflict:
        pass


def revoke_sessions(user_id: int, *, keep: AuthSession | None = None) -> int:
    """Revoke every live session of a user except ``keep``; return how many were revoked.

    The caller commits (this runs inside other services' transactions).
    """
    stmt = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep.id)
    return db.session.execute(stmt.values(revoked_at=utcnow())).rowcount or 0


def sign_out(user: User) -> None:
    """Sign the user out here and everywhere else they are signed in."""
    with unit_of_work():
        revoke_sessions(user.id)


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password after checking the current one; ends the user's other sessions."""
    errors: dict[str, list[str]] = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = [_("That is not your current password.")]
    problems = password_problems(new, email=user.email)
    if problems:
        errors["new_password"] = problems
    if errors:
        raise ValidationFailed(_("The password was not changed."), errors=errors)
    with unit_of_work():
        user.password_hash = hash_password(new)
        user.password_changed_at = utcnow()
        revoke_sessions(user.id, keep=user.auth_session)


def set_preferences(user: User, *, locale: str | None, timezone: str | None) -> None:
    """Set the user's interface language and time zone; empty values follow the browser
    and the company (``crm.i18n``). An unknown language or zone is refused, never stored."""
    from crm import i18n

    errors: dict[str, list[str]] = {}
    if locale and i18n.known_locale(locale) != locale:
        errors["locale"] = [_("Choose one of the languages offered.")]
    if timezone and i18n.known_timezone(timezone) is None:
        errors["timezone"] = [_("Choose one of the time zones offered.")]
    if errors:
        raise ValidationFailed(_("Your preferences were not changed."), errors=errors)
    with unit_of_work():
        user.locale = locale or None
        user.timezone = timezone or None


def company_defaults() -> tuple[str, str]:
    """The company's default language and time zone (English and UTC until set)."""
    from crm import i18n

    return i18n.company_locale(), i18n.company_timezone()


def set_company_defaults(actor: Any, *, locale: str | None, timezone: str | None) -> None:
    """Set the company's default language and time zone (``app_settings``), which apply to
    whoever has not chosen their own (``crm.i18n``). Needs the configure right
    (``Forbidden``); an unknown language or zone is refused (``ValidationFailed``, keyed
    ``locale`` / ``timezone``) and nothing is stored."""
    from crm import i18n
    from crm.access import policy
    from crm.metadata import specs

    policy.require(actor, policy.CONFIGURE)
    errors: dict[str, list[str]] = {}
    if not locale or i18n.known_locale(locale) != locale:
        errors["locale"] = [_("Choose one of the languages offered.")]
    if not timezone or i18n.known_timezone(timezone) is None:
        errors["timezone"] = [_("Choose one of the time zones offered.")]
    if errors:
        raise ValidationFailed(_("The company defaults were not changed."), errors=errors)
    with unit_of_work(after_commit=[specs.forget_request_specs]):
        # Bumps the metadata version: every worker reads the defaults with its specs.
        i18n.set_company_defaults(locale=locale, timezone=timezone)


def set_active(user_id: int, active: bool) -> User:
    """Activate or deactivate a user; deactivation ends all of their sessions at once."""
    with unit_of_work():
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound(_("No such user."))
        user.is_active = active
        if not active:
            revoke_sessions(user.id)
    return user


def create_user(*, email: str, display_name: str, password: str, is_admin: bool = False) -> User:
    """Create an active user; raises ``ValidationFailed`` listing every problem at once."""
    taken = ValidationFailed(
        _("The account was not created."),
        errors={"email": [_("An account with this e-mail address already exists.")]},
    )
    with unit_of_work(on_error={uow.UNIQUE: taken}):
        user = _new_user(
            email=email, display_name=display_name, password=password, is_admin=is_admin
        )
    return user


def _new_user(*, email: str, display_name: str, password: str, is_admin: bool) -> User:
    from email_validator import EmailNotValidError, validate_email

    errors: dict[str, list[str]] = {}
    email = normalise_email(email)
    try:
        # No DNS look-ups and no "globally deliverable" demand: staff accounts are often on
        # company-internal domains.
        validate_email(email, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        errors["email"] = [email_problem(exc)]
    name = (display_name or "").strip()
    if not name:
        errors["display_name"] = [_("Enter a name.")]
    elif len(name) > 120:
        errors["display_name"] = [_("Use at most %(num)d characters.", num=120)]
    problems = password_problems(password, email=email)
    if problems:
        errors["password"] = problems
    if not errors.get("email") and db.session.scalar(select(User.id).where(User.email == email)):
        errors["email"] = [_("An account with this e-mail address already exists.")]
    if errors:
        raise ValidationFailed(_("The account was not created."), errors=errors)
    user = User(
        email=email,
        display_name=name,
        password_hash=hash_password(password),
        is_admin=is_admin,
        is_active=True,
    )
    db.session.add(user)
    db.session.flush()
    return user


def needs_first_admin() -> bool:
    """True until the first administrator exists (the first-run page is open until then)."""
    return db.session.get(AppSetting, SETUP_KEY) is None and not db.session.scalar(
        select(func.count()).select_from(User)
    )


def create_first_admin(*, email: str, display_name: str, password: str) -> User:
    """Create the first administrator, once. A second attempt raises ``Conflict``.

    The setting row's primary key makes two racing first-run submissions safe: only one
    transaction can insert it.
    """
    done = Conflict(_("This installation already has an administrator. Sign in instead."))
    with unit_of_work(on_error={uow.UNIQUE: done}):
        if not needs_first_admin():
            raise done
        user = _new_user(email=email, display_name=display_name, password=password, is_admin=True)
        db.session.add(AppSetting(key=SETUP_KEY, value=str(user.id)))
    return user

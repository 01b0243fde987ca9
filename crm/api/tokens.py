"""Personal API tokens: create (the secret shown once), find by the bearer header, revoke,
list. A token reads ``atl_<prefix>_<secret>``: the prefix finds the row by a unique index,
the SHA-256 of the whole token (compared in constant time) proves it. The secret carries 256
bits of randomness, so a plain fast hash is safe here (no password to guess)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import uow
from crm.access.models import User
from crm.api.models import ApiToken
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.timeutil import utcnow
from crm.uow import unit_of_work

PREFIX = "atl_"
TOKEN_RE = re.compile(r"^atl_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")
NAME_MAX = 120
MAX_DAYS = 3650
# last_used_at is written at most this often per token: one UPDATE a minute, not one a call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` is the whole token, shown once and never again."""

    token: ApiToken
    secret: str


def digest(secret: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _check(
    name: str, expires_days: int | None, entities: Iterable[str] | None
) -> tuple[str, list | None]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Give the token a name.")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("At most %(n)d characters.", n=NAME_MAX)]
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        errors["expires"] = [_("Between 1 and %(n)d days.", n=MAX_DAYS)]
    keys = None
    if entities:
        keys = sorted({k.strip() for k in entities if k and k.strip()})
        compiled = specs.current()
        unknown = [k for k in keys if compiled.entity(k) is None]
        if unknown:
            errors["entities"] = [_("Unknown entity: %(keys)s", keys=", ".join(unknown))]
        keys = keys or None
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    return name, keys


def create(
    user: User,
    name: str,
    *,
    read_only: bool = False,
    expires_days: int | None = None,
    entities: Iterable[str] | None = None,
) -> NewToken:
    """Create a token for ``user``. Raises ``ValidationFailed`` (name empty or too long,
    expiry outside 1..3650 days, unknown entity) and ``Forbidden`` for an inactive person."""
    name, keys = _check(name, expires_days, entities)
    if not user.is_active:
        raise Forbidden(_("This person is deactivated."))
    prefix = secrets.token_hex(6)
    secret = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    with unit_of_work():
        token = ApiToken(
            user_id=user.id,
            name=name,
            prefix=prefix,
            secret_hash=digest(secret),
            read_only=read_only,
            entities=keys,
            created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
        )
        db.session.add(token)
    return NewToken(token, secret)


def authenticate(secret: str | None) -> ApiToken | None:
    """The live token (its person active) named by ``secret``, else None. Notes the time of
    use at most once a minute, in its own short transaction."""
    match = TOKEN_RE.match(secret or "")
    if match is None:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.prefix == match.group(1).lower()))
    if token is None or not hmac.compare_digest(token.secret_hash, digest(secret)):
        return None
    now = utcnow()
    if not token.live(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        _touch(token, now)
    return token


def _touch(token: ApiToken, now: datetime) -> None:
    """Bookkeeping, never a reason to fail a request (a busy database: next time)."""
    session = db.session
    if uow.in_unit() or session.new or session.dirty or session.deleted:
        return
    try:
        with unit_of_work(fresh=True):
            session.execute(
                update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
            )
    except Conflict:
        return
    token.last_used_at = now


def revoke(token_id: int, *, by: User, any_owner: bool = False) -> ApiToken:
    """Revoke one token: ``by``'s own, or anyone's with ``any_owner`` (the administrators'
    list, behind its right). ``NotFound`` otherwise; revoking twice changes nothing."""
    with unit_of_work():
        token = db.session.get(ApiToken, token_id)
        if token is None or (not any_owner and token.user_id != by.id):
            raise NotFound(_("No such token."))
        if token.revoked_at is None:
            token.revoked_at = utcnow()
    return token


def of_user(user: User) -> list[ApiToken]:
    """``user``'s tokens, newest first (revoked ones too: the list says so)."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def everyone(limit: int = 500) -> list[ApiToken]:
    """Every token with its person, newest first (the administrators' list)."""
    return list(
        db.session.scalars(
            select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc()).limit(limit)
        )
    )


def user_by_email(email: str) -> User:
    """The person with ``email`` (case-insensitive), ``NotFound`` otherwise."""
    from sqlalchemy import func

    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise NotFound(_("No person has the e-mail address %(email)s.", email=email))
    return user

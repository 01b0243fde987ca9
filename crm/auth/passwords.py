"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("atelier-timing-equaliser")

MIN_LENGTH = 10
MAX_LENGTH = 256


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; an absent hash still costs one verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, *, email: str = "") -> list[str]:
    """Every reason ``password`` is not acceptable, in words a user understands."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("Use at least %(num)d characters.", num=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_("Use at most %(num)d characters.", num=MAX_LENGTH))
    if email and password.strip().lower() == email.strip().lower():
        problems.append(_("Do not use your e-mail address as the password."))
    if password and len(set(password)) < 4:
        problems.append(_("Use a less repetitive password."))
    return problems

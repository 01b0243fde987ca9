"""Uploaded packages between the plan and the apply step, kept on the server.

The browser never carries the package itself: the upload is stored in the database (a
worker on another machine applies it) under a random token, tied to the user who
uploaded it, and the plan page posts back only that token, the package's content hash
and the plan's fingerprint. The apply step reads the upload again, loads and plans it
again, and goes ahead only when all three still agree; so nothing the client sends can
change what is applied beyond the conflict choices and the destructive consent the page
asks for. Another user's token is not found (``NotFound``), whoever sends it.

Staged uploads live at most ``MAX_AGE`` seconds: each new upload sweeps older ones away,
and a successful apply discards its own in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select

from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.packages.load import MAX_BYTES
from crm.packages.models import PackageUpload
from crm.packages.plan import Plan
from crm.timeutil import utcnow
from crm.uow import unit_of_work

MAX_AGE = 60 * 60
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
# The stored name keeps only the kind of the upload's name (the loader reads YAML by it).
_SUFFIXES = {".json": ".json", ".yaml": ".yaml", ".yml": ".yaml"}


def sweep(now: Any = None) -> int:
    """Remove staged uploads older than ``MAX_AGE`` (``now``: a naive UTC datetime, default
    now); returns how many were removed. Runs in the caller's unit, or one of its own."""
    cutoff = (now or utcnow()) - timedelta(seconds=MAX_AGE)
    with unit_of_work():
        result = db.session.execute(delete(PackageUpload).where(PackageUpload.created_at < cutoff))
    return int(result.rowcount or 0)


def stage(data: bytes, filename: str | None, user_id: int) -> str:
    """Store ``data`` for ``user_id`` under a new random token (returned); sweeps stale
    uploads first. Raises ``ValidationFailed`` for more than ``MAX_BYTES``."""
    if len(data) > MAX_BYTES:
        raise ValidationFailed(_("The file is larger than 10 MB."))
    token = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]
    suffix = _SUFFIXES.get(Path(filename or "").suffix.lower(), ".json")
    with unit_of_work():
        sweep()
        db.session.add(
            PackageUpload(
                token=token,
                user_id=user_id,
                filename=f"package{suffix}",
                data=data,
                created_at=utcnow(),
            )
        )
    return token


def read(token: str, user_id: int | None) -> tuple[bytes, str] | None:
    """The staged bytes and a file name telling their kind, or None when ``token`` names
    no staged upload (never was, malformed, expired or already applied).

    Raises ``NotFound`` when the upload is another user's."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    row = db.session.execute(
        select(PackageUpload.user_id, PackageUpload.data, PackageUpload.filename,
               PackageUpload.created_at).where(PackageUpload.token == token)
    ).one_or_none()  # fmt: skip
    if row is None:
        return None
    if user_id is None or row.user_id != user_id:
        raise NotFound()
    if (utcnow() - row.created_at).total_seconds() > MAX_AGE:
        return None
    return bytes(row.data), row.filename


def discard(token: str) -> None:
    """Forget a staged upload (nothing happens when there is none); in the caller's unit
    of work, so an apply and the removal of its upload commit together."""
    with unit_of_work():
        db.session.execute(delete(PackageUpload).where(PackageUpload.token == token))


def fingerprint(p: Plan) -> str:
    """A digest of everything the plan would do or ask: equal fingerprints, same plan."""

    def change(c: Any) -> list:
        return [c.path, c.action, c.old, c.new, c.destructive]

    body = {
        "changes": [change(c) for c in p.changes],
        "kept": [change(c) for c in p.kept],
        "conflicts": [[c.path, c.base, c.mine, c.theirs, c.destructive] for c in p.conflicts],
        "seed": [
            [s.path, s.action, s.record_id, [[c.field, c.old, c.new] for c in s.changes]]
            for s in (p.seed.steps if p.seed else ())
        ],
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""Uploaded packages between the plan and the apply step, kept on the server.

The browser never carries the package itself: the upload is stored under the instance
folder with a random token for a name, and the plan page posts back only that token, the
package's content hash and the plan's fingerprint. The apply step reads the file again,
loads and plans it again, and goes ahead only when all three still agree; so nothing the
client sends can change what is applied beyond the conflict choices and the destructive
consent the page asks for.

Staged files live at most ``MAX_AGE`` seconds: each new upload sweeps older ones away, and
a successful apply discards its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import current_app

from crm.packages.plan import Plan

MAX_AGE = 60 * 60
FOLDER = "package-uploads"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
# The stored file keeps only the kind of the upload's name (the loader reads YAML by it).
_SUFFIXES = {".json": ".json", ".yaml": ".yaml", ".yml": ".yaml"}


def _folder() -> Path:
    folder = Path(current_app.instance_path) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(token: str) -> Path | None:
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    for suffix in set(_SUFFIXES.values()):
        path = _folder() / f"{token}{suffix}"
        if path.is_file():
            return path
    return None


def sweep(now: float | None = None) -> int:
    """Remove staged uploads older than ``MAX_AGE``; returns how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    for path in _folder().iterdir():
        try:
            if path.is_file() and now - path.stat().st_mtime > MAX_AGE:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another worker swept it first
            continue
    return removed


def stage(data: bytes, filename: str | None) -> str:
    """Store ``data`` under a new random token (returned); sweeps stale uploads first."""
    sweep()
    token = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]
    suffix = _SUFFIXES.get(Path(filename or "").suffix.lower(), ".json")
    path = _folder() / f"{token}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return token


def read(token: str) -> tuple[bytes, str] | None:
    """The staged bytes and a file name telling their kind, or None when ``token`` names
    no staged upload (never was, malformed, expired or already applied)."""
    path = _path(token)
    if path is None or time.time() - path.stat().st_mtime > MAX_AGE:
        return None
    try:
        return path.read_bytes(), path.name
    except FileNotFoundError:
        return None


def discard(token: str) -> None:
    """Forget a staged upload (nothing happens when there is none)."""
    path = _path(token)
    if path is not None:
        path.unlink(missing_ok=True)


def fingerprint(p: Plan) -> str:
    """A digest of everything the plan would do or ask: equal fingerprints, same plan."""

    def change(c: Any) -> list:
        return [c.path, c.action, c.old, c.new, c.destructive]

    body = {
        "changes": [change(c) for c in p.changes],
        "kept": [change(c) for c in p.kept],
        "conflicts": [[c.path, c.base, c.mine, c.theirs, c.destructive] for c in p.conflicts],
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

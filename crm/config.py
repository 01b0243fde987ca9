"""Settings read from the environment, with safe defaults for a local install."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE = Path(__file__).resolve().parent.parent / "instance"


def instance_path() -> Path:
    """Return the folder for local state (SQLite file, generated secret key)."""
    return Path(os.environ.get("ATELIER_INSTANCE_PATH", DEFAULT_INSTANCE)).resolve()


def database_url(folder: Path | None = None) -> str:
    """``DATABASE_URL`` from the environment, else an SQLite file under ``instance/``.

    ``postgres://`` and ``postgresql://`` URLs are mapped to the psycopg 3 driver.
    """
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        folder = folder or instance_path()
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'atelier.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def secret_key(folder: Path | None = None) -> str:
    """``SECRET_KEY`` from the environment, else one generated once and kept under ``instance/``.

    There is deliberately no hard-coded fallback: a leaked default would let anyone forge
    sessions on every install that kept it.
    """
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    folder = folder or instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret_key"
    if not path.exists():
        # Several workers may start at once: each writes a whole key to a file of its own
        # and links it into place; the first link wins, and nobody reads a half-written key.
        draft = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another worker's key is in place
                os.link(draft, path)
        finally:
            draft.unlink()
    return path.read_text().strip()


def load(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask configuration: environment first, then explicit overrides."""
    overrides = dict(overrides or {})
    folder = Path(overrides.get("INSTANCE_PATH") or instance_path())
    config: dict[str, Any] = {
        "INSTANCE_PATH": str(folder),
        "SQLALCHEMY_DATABASE_URI": overrides.get("SQLALCHEMY_DATABASE_URI") or database_url(folder),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "SESSION_COOKIE_NAME": "atelier_session",
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 12,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "WTF_CSRF_SSL_STRICT": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_FAILURE_WINDOW_SECONDS": 15 * 60,
        "LOGIN_LOCKOUT_SECONDS": 15 * 60,
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # The job queue's consumer threads (``flask --app app crm worker``).
        "JOBS_WORKERS": int(os.environ.get("JOBS_WORKERS", "2") or 2),
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
        # An import's file (``crm.web.uploads.large_upload`` routes): the reader's limit.
        "IMPORT_MAX_BYTES": 256 * 1024 * 1024,
        # E-mail: defaults for the SMTP settings of the configuration area (which override
        # them); no host: messages are only kept in the outbox (crm/notifications/smtp.py).
        "MAIL_HOST": os.environ.get("MAIL_HOST", ""),
        "MAIL_PORT": os.environ.get("MAIL_PORT", ""),
        "MAIL_SECURITY": os.environ.get("MAIL_SECURITY", ""),
        "MAIL_USER": os.environ.get("MAIL_USER", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_FROM": os.environ.get("MAIL_FROM", ""),
        # Tries per message (the pause between two grows: MAIL_RETRY_SECONDS, twice that...).
        "MAIL_MAX_ATTEMPTS": int(os.environ.get("MAIL_MAX_ATTEMPTS", "3") or 3),
        "MAIL_RETRY_SECONDS": float(os.environ.get("MAIL_RETRY_SECONDS", "2") or 2),
        "MAIL_TIMEOUT_SECONDS": float(os.environ.get("MAIL_TIMEOUT_SECONDS", "20") or 20),
    }
    config.update(overrides)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = secret_key(folder)
    return config

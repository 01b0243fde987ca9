"""The demo company for ``make run``. Later issues grow it with entities and records."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from crm.extensions import db
from crm.security import service
from crm.security.models import User

DEMO_EMAIL = "admin@demo.atelier.example"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


def _credentials_file() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "demo-login.txt"


def ensure_demo() -> DemoLogin | None:
    """Create the demo administrator if there are no users; return the demo log-in.

    The password is generated once and kept in ``instance/demo-login.txt`` (mode 600) so
    that every ``make run`` can print it; it is never a constant in the code.
    """
    path = _credentials_file()
    has_users = db.session.scalar(select(func.count()).select_from(User))
    if not has_users:
        password = "-".join(secrets.token_hex(3) for _ in range(3))
        service.create_first_admin(email=DEMO_EMAIL, display_name="Demo Admin", password=password)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{DEMO_EMAIL}\n{password}\n")
        return DemoLogin(DEMO_EMAIL, password)
    if path.exists():
        email, password = path.read_text().splitlines()[:2]
        if db.session.scalar(select(User.id).where(User.email == email)):
            return DemoLogin(email, password)
    return None

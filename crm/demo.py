"""The demo company for ``make run``: the B2B sales starter (its configuration), a
department tree with people holding the starter's roles, and demo records."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from crm.access.models import User
from crm.auth import service
from crm.extensions import db

DEMO_EMAIL = "admin@demo.atelier.example"
# The demo's configuration: the built-in starter, applied as it is (one source).
STARTER = Path(__file__).resolve().parent.parent / "schemas" / "starters" / "b2b-sales.json"
# How many demo accounts (the other records are in proportion: ``demo_data.load``).
ACCOUNTS = 250


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    others: tuple[tuple[str, str], ...] = ()  # (e-mail, roles) of people to try access as


def _credentials_file() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "demo-login.txt"


def install_starter(admin: User) -> bool:
    """Install the B2B sales starter (``STARTER``) in an installation without entities, as
    ``admin``, as the first-run page does (``crm.packages.starters.install``: load, plan,
    apply through the package service). Returns False, changing nothing, when the
    installation already has entities.

    The starter is the demo's one configuration: the demo adds people and records only,
    so it cannot drift from the starter (``tests/test_demo.py`` exports it back)."""
    from crm.packages import starters

    if not starters.installation_is_empty():
        return False
    starters.install(STARTER.stem, admin)  # the same path as the first-run page's
    return True


def ensure_demo() -> DemoLogin | None:
    """Create the demo administrator if there are no users; return the demo log-in.

    The password is generated once and kept in ``instance/demo-login.txt`` (mode 600) so
    that every ``make run`` can print it; it is never a constant in the code.
    """
    path = _credentials_file()
    has_users = db.session.scalar(select(func.count()).select_from(User))
    if not has_users:
        password = "-".join(secrets.token_hex(3) for _ in range(3))
        admin = service.create_first_admin(
            email=DEMO_EMAIL, display_name="Demo Admin", password=password
        )
        if install_starter(admin):
            from crm import demo_data, demo_labels, demo_org

            org = demo_org.load(admin, password)
            demo_labels.load()
            # The records within one request context: outside a request every read of the
            # compiled specs asks the database for the metadata version (several per
            # record); the configuration does not change while the records are made.
            with current_app.test_request_context():
                demo_data.load(admin, accounts=ACCOUNTS, owners=org.sales_owner_ids)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{DEMO_EMAIL}\n{password}\n")
        return DemoLogin(DEMO_EMAIL, password, _others())
    if path.exists():
        email, password = path.read_text().splitlines()[:2]
        if db.session.scalar(select(User.id).where(User.email == email)):
            return DemoLogin(email, password, _others())
    return None


def _others() -> tuple[tuple[str, str], ...]:
    """One demo person per role, to sign in as and see what that role sees."""
    from crm.access.models import Role

    seen: dict[str, str] = {}
    rows = db.session.execute(
        select(Role.name, User.email)
        .join(User.roles)
        .where(User.email.like("%@demo.atelier.example"), User.is_active.is_(True))
        .order_by(Role.name, User.id)
    ).all()
    for role, email in rows:
        seen.setdefault(role, email)
    return tuple((email, role) for role, email in seen.items())

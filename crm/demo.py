"""The demo company for ``make run``. Later issues grow it with entities and records."""

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


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    others: tuple[tuple[str, str], ...] = ()  # (e-mail, roles) of people to try access as


def _credentials_file() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "demo-login.txt"


INDUSTRIES = [
    {"key": k, "label": label, "color": c}
    for k, label, c in [
        ("manufacturing", "Manufacturing", "brown"),
        ("retail", "Retail", "pink"),
        ("software", "Software", "indigo"),
        ("health", "Healthcare", "teal"),
        ("finance", "Finance", "green"),
        ("education", "Education", "amber"),
    ]
]
PRIORITIES = [
    {"key": "low", "label": "Low", "color": "slate"},
    {"key": "normal", "label": "Normal", "color": "blue"},
    {"key": "high", "label": "High", "color": "amber"},
    {"key": "urgent", "label": "Urgent", "color": "red"},
]


def ensure_demo_model(actor_id: int | None = None) -> bool:
    """Create the demo company's entities (Accounts, Contacts, Deals, Tickets) and their
    pipelines if there are none.

    Everything goes through the schema service, exactly as an administrator's changes do.
    Returns True when the model was created.
    """
    from crm.metadata import specs
    from crm.schema import service as schema

    if specs.current().entities:
        return False
    with schema.change(actor_id) as c:
        c.create_entity(
            "account",
            "Account",
            "Accounts",
            description="Companies we sell to or work with.",
            color="teal",
            icon="🏢",
            fields=[
                {
                    "key": "name",
                    "type": "text",
                    "label": "Account name",
                    "required": True,
                    "searchable": True,
                },
                {
                    "key": "number",
                    "type": "auto_number",
                    "label": "Account no.",
                    "options": {"prefix": "ACC-", "padding": 5},
                },
                {"key": "industry", "type": "picklist", "label": "Industry", "choices": INDUSTRIES},
                {"key": "website", "type": "url", "label": "Website"},
                {"key": "phone", "type": "phone", "label": "Phone"},
                {"key": "country", "type": "text", "label": "Country", "searchable": True},
                {"key": "city", "type": "text", "label": "City"},
                {
                    "key": "annual_revenue",
                    "type": "currency",
                    "label": "Annual revenue",
                    "options": {"currency": "EUR", "decimal_places": 0},
                },
                {"key": "employees", "type": "integer", "label": "Employees"},
                {"key": "customer_since", "type": "date", "label": "Customer since"},
                {"key": "notes", "type": "long_text", "label": "Notes"},
            ],
            name_field="name",
        )
        c.create_entity(
            "contact",
            "Contact",
            "Contacts",
            description="People at our accounts.",
            color="blue",
            icon="👤",
            fields=[
                {
                    "key": "full_name",
                    "type": "text",
                    "label": "Name",
                    "required": True,
                    "searchable": True,
                },
                {
                    "key": "account",
                    "type": "lookup",
                    "label": "Account",
                    "options": {"target": "account", "on_delete": "clear"},
                },
                {"key": "job_title", "type": "text", "label": "Job title"},
                {"key": "email", "type": "email", "label": "E-mail", "searchable": True},
                {"key": "phone", "type": "phone", "label": "Phone"},
                {"key": "newsletter", "type": "boolean", "label": "Receives newsletter"},
            ],
            name_field="full_name",
        )
        c.create_entity(
            "deal",
            "Deal",
            "Deals",
            description="Opportunities in the sales pipeline.",
            color="violet",
            icon="🤝",
            fields=[
                {
                    "key": "title",
                    "type": "text",
                    "label": "Deal",
                    "required": True,
                    "searchable": True,
                },
                {
                    "key": "account",
                    "type": "lookup",
                    "label": "Account",
                    "options": {"target": "account", "on_delete": "restrict"},
                },
                {
                    "key": "contact",
                    "type": "lookup",
                    "label": "Main contact",
                    "options": {"target": "contact", "on_delete": "clear"},
                },
                {
                    "key": "amount",
                    "type": "currency",
                    "label": "Amount",
                    "options": {"currency": "EUR", "decimal_places": 2},
                },
                {"key": "probability", "type": "percent", "label": "Probability"},
                {"key": "close_date", "type": "date", "label": "Expected close"},
                {
                    "key": "products",
                    "type": "multi_picklist",
                    "label": "Products",
                    "choices": [
                        {"key": "core", "label": "Core licence", "color": "indigo"},
                        {"key": "support", "label": "Premium support", "color": "teal"},
                        {"key": "training", "label": "Training", "color": "amber"},
                    ],
                },
            ],
            name_field="title",
        )
        c.create_entity(
            "ticket",
            "Ticket",
            "Tickets",
            description="Customers' questions and problems, from first report to solution.",
            color="amber",
            icon="🎫",
            fields=[
                {
                    "key": "subject",
                    "type": "text",
                    "label": "Subject",
                    "required": True,
                    "searchable": True,
                },
                {
                    "key": "account",
                    "type": "lookup",
                    "label": "Account",
                    "options": {"target": "account", "on_delete": "clear"},
                },
                {
                    "key": "contact",
                    "type": "lookup",
                    "label": "Reported by",
                    "options": {"target": "contact", "on_delete": "clear"},
                },
                {"key": "priority", "type": "picklist", "label": "Priority", "choices": PRIORITIES},
                {"key": "description", "type": "long_text", "label": "Description"},
                {"key": "resolution", "type": "long_text", "label": "Resolution"},
            ],
            name_field="subject",
        )
    # The processes: stages of Deals (the old stage picklist's keys) and of Tickets.
    from crm import demo_pipelines

    demo_pipelines.load_model(actor_id)
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
        if ensure_demo_model(admin.id):
            from crm import demo_data, demo_labels, demo_org

            org = demo_org.load(admin, password)
            demo_labels.load(admin.id)
            demo_data.load(admin, owners=org.sales_owner_ids)
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

"""The demo company's organisation: a department tree and people in it, each holding one
of the B2B sales starter's roles (by its stable key: the roles are the starter's
configuration, the people are the demo's base data), so that access rules can be tried by
signing in as each.

Everyone shares the demo administrator's password (printed by ``make run``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crm.access import policy
from crm.access.models import Department, Role, User
from crm.auth.passwords import hash_password
from crm.extensions import db

# (name, parent, members: (display name, e-mail local part, role keys))
DEPARTMENTS = [
    ("Atelier Demo", None, []),
    (
        "Sales",
        "Atelier Demo",
        [
            ("Grace Hopper", "grace", ("sales_manager",)),
            ("Ingrid Johansson", "ingrid", ("sales_ops",)),
        ],
    ),
    (
        "Sales EMEA",
        "Sales",
        [
            ("Amélie Laurent", "amelie", ("sales_rep",)),
            ("Jonas Becker", "jonas", ("sales_rep",)),
        ],
    ),
    (
        "Sales APAC",
        "Sales",
        [("林美华 Lin Meihua", "meihua", ("sales_rep",)), ("Kenji Sato", "kenji", ("sales_rep",))],
    ),
    ("Sales Americas", "Sales", [("Lucía Fernández", "lucia", ("sales_rep",))]),
    ("Customer Care", "Atelier Demo", [("Omar Haddad", "omar", ("customer_care",))]),
    ("Finance", "Atelier Demo", [("Priya Natarajan", "priya", ("finance",))]),
]
SALES_REP, SALES_MANAGER = "sales_rep", "sales_manager"


@dataclass(frozen=True)
class DemoOrg:
    sales_owner_ids: list[int]
    people: list[tuple[str, str, str]]  # (email, name, role keys)


def load(admin: User, password: str, domain: str = "demo.atelier.example") -> DemoOrg:
    """Create the tree and the people, holding the roles (which must exist: the starter's)
    named by key; one transaction. ``KeyError`` names a role key that is missing."""
    keys = {k for _name, _parent, members in DEPARTMENTS for *_rest, ks in members for k in ks}
    roles = {r.key: r for r in db.session.scalars(select(Role).where(Role.key.in_(keys)))}
    missing = sorted(keys - set(roles))
    if missing:
        raise KeyError(f"the demo needs the starter's roles: {', '.join(missing)}")
    hashed = hash_password(password)
    departments: dict[str, Department] = {}
    people: list[tuple[str, str, str]] = []
    owners: list[int] = []
    for name, parent_name, members in DEPARTMENTS:
        parent = departments.get(parent_name) if parent_name else None
        dept = Department(name=name, parent_id=parent.id if parent else None, path="/")
        db.session.add(dept)
        db.session.flush()
        dept.path = f"{parent.path if parent else '/'}{dept.id}/"
        departments[name] = dept
        for display_name, local, role_keys in members:
            user = User(
                email=f"{local}@{domain}",
                display_name=display_name,
                password_hash=hashed,
                department_id=dept.id,
            )
            user.roles = [roles[k] for k in role_keys]
            db.session.add(user)
            db.session.flush()
            if dept.manager_id is None and SALES_MANAGER in role_keys:
                dept.manager_id = user.id
            people.append((user.email, display_name, ", ".join(role_keys)))
            if SALES_REP in role_keys:
                owners.append(user.id)
    admin.department_id = departments["Atelier Demo"].id
    departments["Atelier Demo"].manager_id = admin.id
    db.session.commit()
    policy.forget()
    return DemoOrg(sales_owner_ids=owners, people=people)

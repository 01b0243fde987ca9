"""The demo company's organisation: a department tree, roles that differ the way real sales
teams differ, and people in them, so that access rules can be tried by signing in as each.

Everyone shares the demo administrator's password (printed by ``make run``)."""

from __future__ import annotations

from dataclasses import dataclass

from crm.access import policy
from crm.access.models import Department, FieldRight, Role, RoleGrant, User
from crm.auth.passwords import hash_password
from crm.extensions import db
from crm.metadata.keys import suggest_key

P = policy
# (name, parent, members: (display name, email, role names))
DEPARTMENTS = [
    ("Atelier Demo", None, []),
    ("Sales", "Atelier Demo", [("Grace Hopper", "grace", ("Sales manager",))]),
    (
        "Sales EMEA",
        "Sales",
        [
            ("Amélie Laurent", "amelie", ("Sales rep",)),
            ("Jonas Becker", "jonas", ("Sales rep",)),
        ],
    ),
    (
        "Sales APAC",
        "Sales",
        [("林美华 Lin Meihua", "meihua", ("Sales rep",)), ("Kenji Sato", "kenji", ("Sales rep",))],
    ),
    ("Sales Americas", "Sales", [("Lucía Fernández", "lucia", ("Sales rep",))]),
    ("Customer Care", "Atelier Demo", [("Omar Haddad", "omar", ("Customer care",))]),
    ("Finance", "Atelier Demo", [("Priya Natarajan", "priya", ("Finance",))]),
]

ALL_ACTIONS = P.ACTIONS


def _grants(levels: dict[str, dict[str, int]]) -> list[tuple[str, str, int]]:
    return [(e, a, lvl) for e, by_action in levels.items() for a, lvl in by_action.items()]


ROLES: dict[str, dict] = {
    "Sales rep": {
        "description": "Their own customers and deals; reads every account to avoid duplicates.",
        "grants": _grants(
            {
                "*": {"create": P.ALL, "read": P.OWN, "edit": P.OWN, "export": P.OWN},
                "account": {"read": P.ALL, "create": P.ALL, "edit": P.OWN, "export": P.OWN},
            }
        ),
        "fields": [("account", "annual_revenue", P.READ)],
    },
    "Sales manager": {
        "description": "Everything of their department and the teams below it.",
        "grants": _grants(
            {"*": {a: P.SUBTREE for a in ALL_ACTIONS} | {"create": P.ALL, "import": P.ALL}}
        )
        + _grants({"account": {"read": P.ALL}}),
        "fields": [],
    },
    "Customer care": {
        "description": "Reads customers, keeps contacts current, works tickets; no margins.",
        "grants": _grants(
            {
                "account": {"read": P.ALL},
                "contact": {"read": P.ALL, "edit": P.ALL, "create": P.ALL},
                "deal": {"read": P.ALL},
                "ticket": {"read": P.ALL, "edit": P.ALL, "create": P.ALL},
            }
        ),
        "fields": [("deal", "amount", P.HIDDEN), ("account", "annual_revenue", P.HIDDEN)],
    },
    "Finance": {
        "description": "Reads every deal and account with amounts; not the sales notes.",
        "grants": _grants(
            {
                "account": {"read": P.ALL, "export": P.ALL},
                "deal": {"read": P.ALL, "export": P.ALL},
            }
        ),
        "fields": [("account", "notes", P.HIDDEN), ("deal", "amount", P.READ)],
    },
}


@dataclass(frozen=True)
class DemoOrg:
    sales_owner_ids: list[int]
    people: list[tuple[str, str, str]]  # (email, name, roles)


def load(admin: User, password: str, domain: str = "demo.atelier.example") -> DemoOrg:
    """Create the tree, the roles and the people (one transaction)."""
    roles: dict[str, Role] = {}
    taken: set[str] = set()
    for name, spec in ROLES.items():
        key = suggest_key(name, taken=taken)
        taken.add(key)
        role = Role(name=name, key=key, description=spec["description"])
        db.session.add(role)
        db.session.flush()
        roles[name] = role
        for entity, action, level in spec["grants"]:
            db.session.merge(
                RoleGrant(role_id=role.id, entity_key=entity, action=action, level=level)
            )
        for entity, field, access in spec["fields"]:
            db.session.add(
                FieldRight(role_id=role.id, entity_key=entity, field_key=field, access=access)
            )
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
        for display_name, local, role_names in members:
            user = User(
                email=f"{local}@{domain}",
                display_name=display_name,
                password_hash=hashed,
                department_id=dept.id,
            )
            user.roles = [roles[r] for r in role_names]
            db.session.add(user)
            db.session.flush()
            if dept.manager_id is None and "Sales manager" in role_names:
                dept.manager_id = user.id
            people.append((user.email, display_name, ", ".join(role_names)))
            if "Sales rep" in role_names:
                owners.append(user.id)
    admin.department_id = departments["Atelier Demo"].id
    departments["Atelier Demo"].manager_id = admin.id
    db.session.commit()
    policy.forget()
    return DemoOrg(sales_owner_ids=owners, people=people)

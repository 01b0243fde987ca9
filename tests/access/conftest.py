"""Fixtures for the access screens: a small organisation with an access manager who is
not a full administrator, and helpers to compare the access tables before and after."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from crm.access import policy as P
from crm.access.models import (
    Department,
    FieldRight,
    Role,
    RoleGrant,
    User,
    UserInvite,
    user_roles,
)
from crm.auth.models import AuthSession
from crm.extensions import db
from tests.factories import field, make_department, make_entity, make_role, make_user, text


def snapshot() -> dict:
    """Every row of the access tables, for "nothing changed" comparisons."""
    db.session.rollback()

    def rows(*columns, order=None):
        return [
            tuple(r) for r in db.session.execute(select(*columns).order_by(*(order or columns)))
        ]

    return {
        "users": rows(
            User.id,
            User.email,
            User.display_name,
            User.is_admin,
            User.is_active,
            User.department_id,
            User.password_hash,
            order=[User.id],
        ),
        "user_roles": rows(user_roles.c.user_id, user_roles.c.role_id),
        "roles": rows(
            Role.id,
            Role.name,
            Role.description,
            Role.can_configure,
            Role.can_manage_access,
            Role.translations,
            order=[Role.id],
        ),
        "grants": rows(RoleGrant.role_id, RoleGrant.entity_key, RoleGrant.action, RoleGrant.level),
        "fields": rows(
            FieldRight.role_id, FieldRight.entity_key, FieldRight.field_key, FieldRight.access
        ),
        "departments": rows(
            Department.id,
            Department.name,
            Department.parent_id,
            Department.path,
            Department.manager_id,
            Department.translations,
            order=[Department.id],
        ),
        "invites": rows(
            UserInvite.id,
            UserInvite.user_id,
            UserInvite.token_hash,
            UserInvite.expires_at,
            UserInvite.used_at,
            order=[UserInvite.id],
        ),
        "sessions": rows(AuthSession.id, AuthSession.revoked_at, order=[AuthSession.id]),
    }


def success_status(url: str) -> int:
    """The status a change answers with when it worked: a redirect (post/redirect/get),
    except creating a user and re-inviting, whose answer shows the one-time link itself
    (200) so the token never rides in the session cookie."""
    if url.endswith("/users/new") or url.endswith("/invite"):
        return 200
    return 303


def role_ids(user_id: int) -> set[int]:
    db.session.rollback()
    return set(
        db.session.scalars(select(user_roles.c.role_id).where(user_roles.c.user_id == user_id))
    )


def grants_of(role_id: int) -> dict:
    db.session.rollback()
    return {
        (g.entity_key, g.action): g.level
        for g in db.session.scalars(select(RoleGrant).where(RoleGrant.role_id == role_id))
    }


def fields_of(role_id: int) -> dict:
    db.session.rollback()
    return {
        (f.entity_key, f.field_key): f.access
        for f in db.session.scalars(select(FieldRight).where(FieldRight.role_id == role_id))
    }


def matrix_post(entities: list[str], levels: dict | None = None) -> dict:
    """A complete matrix form as the page posts it: "*" cells None and entity cells as
    their "*" cell, unless ``levels`` says otherwise."""
    levels = levels or {}
    data = {}
    for key in ["*", *entities]:
        for action in P.ACTIONS:
            default = levels.get(("*", action), P.NONE)
            data[f"g-{key}-{action}"] = str(levels.get((key, action), default))
    return data


@pytest.fixture
def org(app):
    """Company > Sales > Sales East, Company > Finance; entities deal and account; an access
    manager ("mgr", in Sales) whose own rights are: read department-and-below, edit own,
    create all, margin hidden and amount read-only; and people around them."""
    make_entity(
        "deal",
        "Deal",
        [
            text("title", "Title"),
            field("amount", "currency", "Amount"),
            field("margin", "percent", "Margin"),
        ],
    )
    make_entity("account", "Account", [text("name", "Name")])
    company = make_department("Company")
    sales = make_department("Sales", company)
    east = make_department("Sales East", sales)
    finance = make_department("Finance", company)
    hidden = {("deal", "margin"): P.HIDDEN, ("deal", "amount"): P.READ}
    access = make_role(
        "Access",
        {("*", "read"): P.SUBTREE, ("*", "edit"): P.OWN, ("*", "create"): P.ALL},
        hidden,
        can_manage_access=True,
    )
    rep = make_role("Rep", {("*", "read"): P.OWN, ("*", "edit"): P.OWN}, hidden)
    dept_lead = make_role("Dept lead", {("*", "read"): P.DEPARTMENT}, hidden)
    wide = make_role("Wide", {("*", "read"): P.ALL})
    configurer = make_role("Configurer", {}, can_configure=True)
    spare = make_role("Spare", {("*", "read"): P.OWN}, hidden)
    people = SimpleNamespace(
        admin=make_user("admin@example.com", display_name="Ada Admin", is_admin=True, roles=()),
        mgr=make_user(
            "mgr@example.com", display_name="Mia Manager", roles=("Access",), department=sales
        ),
        rep_east=make_user(
            "east@example.com", display_name="Eli East", roles=("Rep",), department=east
        ),
        lead_east=make_user("lead.east@example.com", roles=("Dept lead",), department=east),
        lead_fin=make_user("lead.fin@example.com", roles=("Dept lead",), department=finance),
        staff=make_user(
            "staff@example.com", display_name="Sam Staff", roles=("Staff",), department=sales
        ),
        newbie=make_user("new@example.com", display_name="Nia New", roles=()),
    )
    return SimpleNamespace(
        company=company,
        sales=sales,
        east=east,
        finance=finance,
        access=access,
        rep=rep,
        dept_lead=dept_lead,
        wide=wide,
        configurer=configurer,
        spare=spare,
        staff_role=db.session.scalar(select(Role).where(Role.name == "Staff")),
        **vars(people),
    )

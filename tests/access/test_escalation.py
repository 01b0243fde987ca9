"""The escalation table: an access manager who is not a full administrator tries to grant
what they do not hold. Each attempt is refused with every access table unchanged, and
each has a positive control: the legitimate version of the same action works.

The manager ("mgr", in Sales) reads department-and-below, edits own records, creates
everything, cannot see deal margins and only reads deal amounts (see ``conftest.org``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from crm.access import invites
from crm.access import policy as P
from crm.access.models import Department, Role, User, UserInvite
from crm.extensions import db
from tests.access.conftest import (
    fields_of,
    grants_of,
    matrix_post,
    role_ids,
    snapshot,
    success_status,
)
from tests.factories import make_user

ENTITIES = ["account", "deal"]


def user_form(u: User, **changes) -> dict:
    """The user page's form as it stands, with ``changes``."""
    data = {
        "display_name": u.display_name,
        "department": str(u.department_id or ""),
        "roles": [str(i) for i in sorted(role_ids(u.id))],
    }
    data.update(changes)
    return data


def fresh(model, id_):
    db.session.rollback()
    return db.session.get(model, id_)


@dataclass
class Case:
    attempt: Callable  # org -> (url, data)
    positive: Callable  # org -> (url, data)
    verify: Callable  # org -> None: the positive control's effect
    status: int = 403  # what the attempt gets
    positive_as: str = "mgr"


def _rep_grants_ok(o):
    assert grants_of(o.rep.id) == {("*", "read"): P.SUBTREE, ("*", "edit"): P.OWN}


def _role_named(name):
    db.session.rollback()
    return db.session.scalar(select(Role).where(Role.name == name))


def _user_by_email(email):
    db.session.rollback()
    return db.session.scalar(select(User).where(User.email == email))


def _pending(o) -> User:
    """An invited user in Sales East who has not chosen a password yet."""
    found = _user_by_email("pat@example.com")
    if found is None:
        found = make_user("pat@example.com", display_name="Pat Pending", roles=(),
                          department=o.east)  # fmt: skip
        found.password_hash = invites.NO_PASSWORD
        db.session.commit()
    return found


def _positive_rep_matrix(o):
    levels = {("*", "read"): P.SUBTREE, ("*", "edit"): P.OWN}
    return f"/admin/access/roles/{o.rep.id}/grants", matrix_post(ENTITIES, levels)


def _positive_give_rep(o):
    return f"/admin/access/users/{o.newbie.id}", user_form(o.newbie, roles=[str(o.rep.id)])


def _verify_newbie_rep(o):
    assert role_ids(o.newbie.id) == {o.rep.id}


def _positive_rename_east(o):
    return f"/admin/access/users/{o.rep_east.id}", user_form(o.rep_east, display_name="Eli E.")


def _verify_east_renamed(o):
    assert fresh(User, o.rep_east.id).display_name == "Eli E."


CASES = {
    # --- self-grant -------------------------------------------------------------------
    "self-grant: add a wider role to oneself": Case(
        lambda o: (
            f"/admin/access/users/{o.mgr.id}",
            user_form(o.mgr, roles=[str(o.access.id), str(o.wide.id)]),
        ),
        _positive_give_rep,
        _verify_newbie_rep,
    ),
    "self-grant: even a role within one's rights": Case(
        lambda o: (
            f"/admin/access/users/{o.mgr.id}",
            user_form(o.mgr, roles=[str(o.access.id), str(o.spare.id)]),
        ),
        _positive_give_rep,
        _verify_newbie_rep,
    ),
    "assign oneself another department": Case(
        lambda o: (
            f"/admin/access/users/{o.mgr.id}",
            user_form(o.mgr, department=str(o.company.id)),
        ),
        lambda o: (
            f"/admin/access/users/{o.newbie.id}",
            user_form(o.newbie, department=str(o.east.id)),
        ),
        lambda o: fresh(User, o.newbie.id).department_id == o.east.id or pytest.fail("not moved"),
    ),
    # --- widening one's own scope -------------------------------------------------------
    "widen the scope of a role one holds": Case(
        lambda o: (
            f"/admin/access/roles/{o.access.id}/grants",
            matrix_post(ENTITIES, {("*", "read"): P.ALL, ("*", "edit"): P.OWN}),
        ),
        _positive_rep_matrix,
        _rep_grants_ok,
    ),
    "change a role one holds, even within one's rights": Case(
        lambda o: (
            f"/admin/access/roles/{o.access.id}/grants",
            matrix_post(ENTITIES, {("*", "read"): P.SUBTREE, ("*", "create"): P.ALL}),
        ),
        _positive_rep_matrix,
        _rep_grants_ok,
    ),
    "give one's own role the configuration right": Case(
        lambda o: (
            f"/admin/access/roles/{o.access.id}/settings",
            {"name": "Access", "can_manage_access": "y", "can_configure": "y"},
        ),
        lambda o: (f"/admin/access/roles/{o.rep.id}/settings", {"name": "Sales rep"}),
        lambda o: _role_named("Sales rep") or pytest.fail("not renamed"),
    ),
    "delete a role one holds": Case(
        lambda o: (f"/admin/access/roles/{o.access.id}/delete", {"move_to": str(o.spare.id)}),
        lambda o: (f"/admin/access/roles/{o.spare.id}/delete", {}),
        lambda o: _role_named("Spare") is None or pytest.fail("not deleted"),
    ),
    # --- creating or widening a role beyond one's rights ---------------------------------
    "create a role with a wider scope": Case(
        lambda o: (
            "/admin/access/roles/new",
            {"name": "Big", **matrix_post(ENTITIES, {("*", "read"): P.ALL})},
        ),
        lambda o: (
            "/admin/access/roles/new",
            {"name": "Big", **matrix_post(ENTITIES, {("*", "read"): P.SUBTREE})},
        ),
        lambda o: (
            (
                grants_of(_role_named("Big").id) == {("*", "read"): P.SUBTREE}
                and fields_of(_role_named("Big").id)
                == {("deal", "margin"): P.HIDDEN, ("deal", "amount"): P.READ}
            )
            or pytest.fail("wrong role")
        ),
    ),
    "create a role with an action one lacks on one entity": Case(
        lambda o: (
            "/admin/access/roles/new",
            {"name": "Deleter", **matrix_post(ENTITIES, {("deal", "delete"): P.OWN})},
        ),
        lambda o: (
            "/admin/access/roles/new",
            {"name": "Deleter", **matrix_post(ENTITIES, {("deal", "edit"): P.OWN})},
        ),
        lambda o: (
            grants_of(_role_named("Deleter").id) == {("deal", "edit"): P.OWN}
            or pytest.fail("wrong role")
        ),
    ),
    "create a role that opens the configuration area": Case(
        lambda o: (
            "/admin/access/roles/new",
            {"name": "Cfg", "can_configure": "y", **matrix_post(ENTITIES)},
        ),
        lambda o: (
            "/admin/access/roles/new",
            {"name": "Cfg", "can_manage_access": "y", **matrix_post(ENTITIES)},
        ),
        lambda o: _role_named("Cfg").can_manage_access or pytest.fail("not created"),
    ),
    "widen another role beyond one's rights": Case(
        lambda o: (
            f"/admin/access/roles/{o.rep.id}/grants",
            matrix_post(ENTITIES, {("*", "read"): P.OWN, ("account", "read"): P.ALL}),
        ),
        _positive_rep_matrix,
        _rep_grants_ok,
    ),
    "show a role a field one cannot see": Case(
        lambda o: (
            f"/admin/access/roles/{o.rep.id}/fields/deal",
            {"f-title": "edit", "f-amount": "read", "f-margin": "read"},
        ),
        lambda o: (
            f"/admin/access/roles/{o.rep.id}/fields/deal",
            {"f-title": "read", "f-amount": "read", "f-margin": "hidden"},
        ),
        lambda o: (
            fields_of(o.rep.id)
            == {("deal", "title"): "read", ("deal", "amount"): "read", ("deal", "margin"): "hidden"}
            or pytest.fail("wrong fields")
        ),
    ),
    "let a role edit a field one can only read": Case(
        lambda o: (
            f"/admin/access/roles/{o.rep.id}/fields/deal",
            {"f-title": "edit", "f-amount": "edit", "f-margin": "hidden"},
        ),
        lambda o: (
            f"/admin/access/roles/{o.rep.id}/fields/deal",
            {"f-title": "read", "f-amount": "read", "f-margin": "hidden"},
        ),
        lambda o: fields_of(o.rep.id)[("deal", "title")] == "read" or pytest.fail("not saved"),
    ),
    "change a role that is above oneself (even to narrow it)": Case(
        lambda o: (f"/admin/access/roles/{o.wide.id}/grants", matrix_post(ENTITIES)),
        _positive_rep_matrix,
        _rep_grants_ok,
    ),
    # --- editing a higher user -----------------------------------------------------------
    "edit a full administrator": Case(
        lambda o: (f"/admin/access/users/{o.admin.id}", user_form(o.admin, display_name="Pwned")),
        _positive_rename_east,
        _verify_east_renamed,
    ),
    "deactivate a full administrator": Case(
        lambda o: (f"/admin/access/users/{o.admin.id}/deactivate", {}),
        lambda o: (f"/admin/access/users/{o.rep_east.id}/deactivate", {}),
        lambda o: not fresh(User, o.rep_east.id).is_active or pytest.fail("still active"),
    ),
    "re-invite a full administrator (the link would take the account over)": Case(
        lambda o: (f"/admin/access/users/{o.admin.id}/invite", {}),
        lambda o: (f"/admin/access/users/{_pending(o).id}/invite", {}),
        lambda o: snapshot()["invites"][-1][1] == _pending(o).id or pytest.fail("no link"),
    ),
    "edit a user whose roles are wider": Case(
        lambda o: (
            f"/admin/access/users/{o.staff.id}",
            user_form(o.staff, roles=[str(o.rep.id)]),
        ),
        _positive_rename_east,
        _verify_east_renamed,
    ),
    "deactivate a user whose roles are wider": Case(
        lambda o: (f"/admin/access/users/{o.staff.id}/deactivate", {}),
        lambda o: (f"/admin/access/users/{o.rep_east.id}/deactivate", {}),
        lambda o: not fresh(User, o.rep_east.id).is_active or pytest.fail("still active"),
    ),
    "edit a department lead outside one's reach": Case(
        lambda o: (
            f"/admin/access/users/{o.lead_fin.id}",
            user_form(o.lead_fin, display_name="Moved"),
        ),
        lambda o: (
            f"/admin/access/users/{o.lead_east.id}",
            user_form(o.lead_east, display_name="Lee East"),
        ),
        lambda o: fresh(User, o.lead_east.id).display_name == "Lee East" or pytest.fail("no"),
    ),
    # --- assigning roles and departments beyond one's rights ------------------------------
    "give a user a wider role": Case(
        lambda o: (
            f"/admin/access/users/{o.newbie.id}",
            user_form(o.newbie, roles=[str(o.wide.id)]),
        ),
        _positive_give_rep,
        _verify_newbie_rep,
    ),
    "give a user the configuration right": Case(
        lambda o: (
            f"/admin/access/users/{o.newbie.id}",
            user_form(o.newbie, roles=[str(o.configurer.id)]),
        ),
        _positive_give_rep,
        _verify_newbie_rep,
    ),
    "place a department lead outside one's reach": Case(
        lambda o: (
            f"/admin/access/users/{o.newbie.id}",
            user_form(o.newbie, roles=[str(o.dept_lead.id)], department=str(o.finance.id)),
        ),
        lambda o: (
            f"/admin/access/users/{o.newbie.id}",
            user_form(o.newbie, roles=[str(o.dept_lead.id)], department=str(o.east.id)),
        ),
        lambda o: fresh(User, o.newbie.id).department_id == o.east.id or pytest.fail("no"),
    ),
    "create a user with a wider role": Case(
        lambda o: (
            "/admin/access/users/new",
            {
                "display_name": "Wu",
                "email": "wu@example.com",
                "department": "",
                "roles": [str(o.wide.id)],
            },
        ),
        lambda o: (
            "/admin/access/users/new",
            {
                "display_name": "Wu",
                "email": "wu@example.com",
                "department": "",
                "roles": [str(o.rep.id)],
            },
        ),
        lambda o: (
            role_ids(_user_by_email("wu@example.com").id) == {o.rep.id}
            or pytest.fail("wrong roles")
        ),
    ),
    "create a department lead outside one's reach": Case(
        lambda o: (
            "/admin/access/users/new",
            {
                "display_name": "Fa",
                "email": "fa@example.com",
                "department": str(o.finance.id),
                "roles": [str(o.dept_lead.id)],
            },
        ),
        lambda o: (
            "/admin/access/users/new",
            {
                "display_name": "Fa",
                "email": "fa@example.com",
                "department": str(o.east.id),
                "roles": [str(o.dept_lead.id)],
            },
        ),
        lambda o: (
            _user_by_email("fa@example.com").department_id == o.east.id
            or pytest.fail("not created")
        ),
    ),
    # --- a role is shared: widening it widens every holder ------------------------------
    "widen a role held by someone outside one's reach": Case(
        lambda o: (
            f"/admin/access/roles/{o.dept_lead.id}/grants",
            matrix_post(ENTITIES, {("*", "read"): P.DEPARTMENT, ("*", "edit"): P.OWN}),
        ),
        lambda o: (
            f"/admin/access/roles/{o.spare.id}/grants",
            matrix_post(ENTITIES, {("*", "read"): P.OWN, ("*", "edit"): P.OWN}),
        ),
        lambda o: (
            grants_of(o.spare.id) == {("*", "read"): P.OWN, ("*", "edit"): P.OWN}
            or pytest.fail(str(grants_of(o.spare.id)))
        ),
    ),
    # --- a new link resets a password: taking over an account in use --------------------
    "re-invite an account already in use": Case(
        lambda o: (f"/admin/access/users/{o.rep_east.id}/invite", {}),
        lambda o: (f"/admin/access/users/{o.rep_east.id}/invite", {}),
        lambda o: (
            db.session.scalar(select(UserInvite.id).where(UserInvite.user_id == o.rep_east.id))
            or pytest.fail("no invitation made")
        ),
        positive_as="admin",
    ),
    # --- the department tree is for full administrators ---------------------------------
    "add a department": Case(
        lambda o: (
            "/admin/access/departments/new",
            {"name": "Shadow", "parent": "", "manager": ""},
        ),
        lambda o: (
            "/admin/access/departments/new",
            {"name": "Shadow", "parent": "", "manager": ""},
        ),
        lambda o: (
            db.session.scalar(select(Department).where(Department.name == "Shadow"))
            or pytest.fail("not created")
        ),
        positive_as="admin",
    ),
    "move one's department to the top of the tree": Case(
        lambda o: (f"/admin/access/departments/{o.sales.id}/move", {"parent": ""}),
        lambda o: (f"/admin/access/departments/{o.east.id}/move", {"parent": str(o.finance.id)}),
        lambda o: (
            fresh(Department, o.east.id).path == f"/{o.company.id}/{o.finance.id}/{o.east.id}/"
            or pytest.fail("not moved")
        ),
        positive_as="admin",
    ),
    "make oneself manager of a department": Case(
        lambda o: (
            f"/admin/access/departments/{o.company.id}",
            {"name": "Company", "manager": str(o.mgr.id)},
        ),
        lambda o: (
            f"/admin/access/departments/{o.company.id}",
            {"name": "Company", "manager": str(o.mgr.id)},
        ),
        lambda o: fresh(Department, o.company.id).manager_id == o.mgr.id or pytest.fail("no"),
        positive_as="admin",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_escalation_is_refused_and_the_legitimate_version_works(name, org, login_as):
    case = CASES[name]
    mgr = login_as(org.mgr)
    before = snapshot()
    url, data = case.attempt(org)
    r = mgr.submit(url, data)
    assert r.status_code == case.status, r.data.decode()[:2000]
    assert snapshot() == before, "a refused change left a trace"

    client = mgr if case.positive_as == "mgr" else login_as(org.admin)
    url, data = case.positive(org)
    r = client.submit(url, data)
    assert r.status_code == success_status(url), r.data.decode()[:2000]
    case.verify(org)


# --- mass assignment: fields that are not offered change nothing -------------------------


def test_is_admin_posted_to_a_users_page_by_a_manager_changes_nothing(org, login_as):
    mgr = login_as(org.mgr)
    before = snapshot()
    r = mgr.submit(f"/admin/access/users/{org.newbie.id}", user_form(org.newbie, is_admin="y"))
    assert r.status_code == 303  # the offered fields were saved as they were
    assert snapshot() == before
    # Positive control: a full administrator is offered the box, and it works.
    r = login_as(org.admin).submit(
        f"/admin/access/users/{org.newbie.id}", user_form(org.newbie, is_admin="y")
    )
    assert r.status_code == 303 and fresh(User, org.newbie.id).is_admin


def test_is_admin_posted_with_a_new_user_by_a_manager_is_ignored(org, login_as):
    data = {"display_name": "Ivy", "email": "ivy@example.com", "department": "", "is_admin": "y"}
    r = login_as(org.mgr).submit("/admin/access/users/new", data)
    assert r.status_code == 200 and 'id="invite-link"' in r.data.decode()
    assert _user_by_email("ivy@example.com").is_admin is False
    data["email"] = "ivy2@example.com"
    r = login_as(org.admin).submit("/admin/access/users/new", data)
    assert r.status_code == 200 and 'id="invite-link"' in r.data.decode()
    assert _user_by_email("ivy2@example.com").is_admin is True


def test_matrix_cells_posted_to_the_settings_form_change_nothing(org, login_as):
    mgr = login_as(org.mgr)
    before = snapshot()
    data = {"name": "Rep", "description": "", "g-*-read": "4", "g-deal-delete": "4"}
    r = mgr.submit(f"/admin/access/roles/{org.rep.id}/settings", data)
    assert r.status_code == 303
    assert snapshot() == before


def test_email_and_password_posted_to_a_users_page_change_nothing(org, login_as):
    mgr = login_as(org.mgr)
    before = snapshot()
    data = user_form(org.rep_east, email="evil@example.com", password_hash="x", is_active="")
    r = mgr.submit(f"/admin/access/users/{org.rep_east.id}", data)
    assert r.status_code == 303
    assert snapshot() == before


def test_roles_posted_to_a_new_role_form_are_not_assigned(org, login_as):
    data = {"name": "Plain", "roles": [str(org.wide.id)], "user_id": str(org.mgr.id)}
    data.update(matrix_post(ENTITIES))
    assert login_as(org.mgr).submit("/admin/access/roles/new", data).status_code == 303
    assert role_ids(org.mgr.id) == {org.access.id}


# --- what the screens grey out is what the services refuse --------------------------------


def test_the_user_form_greys_out_what_the_manager_cannot_give(org, login_as):
    html = login_as(org.mgr).get(f"/admin/access/users/{org.newbie.id}").data.decode()
    for role in (org.wide, org.configurer, org.staff_role):
        assert f'name="roles" value="{role.id}" disabled' in html
    for role in (org.rep, org.spare, org.dept_lead):
        assert f'name="roles" value="{role.id}">' in html
    assert f'<option value="{org.finance.id}" disabled>' in html  # outside Sales and below
    assert f'<option value="{org.east.id}">' in html
    assert "is_admin" not in html  # only full administrators are offered it


def test_the_matrix_greys_out_levels_above_the_managers_own(org, login_as):
    html = login_as(org.mgr).get("/admin/access/roles/new").data.decode()
    read = html.split('name="g-*-read"')[1].split("</select>")[0]
    assert 'value="3" title="Department and below"' in read
    assert 'value="4" title="All records" disabled' in read
    assert 'value="3" title="Department and below" disabled' not in read
    delete = html.split('name="g-*-delete"')[1].split("</select>")[0]
    assert 'value="1" title="Own records" disabled' in delete


def test_a_role_above_the_manager_is_read_only_for_them(org, login_as):
    html = login_as(org.mgr).get(f"/admin/access/roles/{org.wide.id}").data.decode()
    assert "holds rights you do not hold" in html
    assert "Save record access" not in html and "Delete this role" not in html
    html = login_as(org.mgr).get(f"/admin/access/roles/{org.access.id}").data.decode()
    assert "You hold this role yourself" in html


def test_users_above_the_manager_are_marked_in_the_list(org, login_as):
    html = login_as(org.mgr).get("/admin/access/users").data.decode()
    assert html.count("above you") == 4  # admin, staff, lead_fin, and oneself


# --- placement hands over the department's shares ------------------------------------------


def _deal_shared_with(department: Department, admin: User, access: str = "read") -> int:
    """A deal the manager cannot reach (owned by an administrator outside Sales), shared
    with ``department``."""
    from crm.access.models import RecordShare
    from crm.metadata import specs
    from crm.records import service as records

    deal = records.create(admin, specs.current().entity("deal"), {"title": "Finance only"})
    db.session.add(
        RecordShare(
            entity_key="deal",
            record_id=deal,
            department_id=department.id,
            access=access,
            created_by=admin.id,
        )
    )
    db.session.commit()
    return deal


def test_placing_someone_where_a_share_reaches_beyond_the_manager_is_refused(org, login_as):
    """Sales East holds a share of a deal the manager (Sales, department and below)
    cannot read: putting a new rep in Sales East would hand it to them."""
    _deal_shared_with(org.east, org.admin)
    mgr = login_as(org.mgr)
    before = snapshot()
    attempt = user_form(org.newbie, roles=[str(org.rep.id)], department=str(org.east.id))
    r = mgr.submit(f"/admin/access/users/{org.newbie.id}", attempt)
    assert r.status_code == 403, r.data.decode()[:2000]
    assert "shared with their department" in r.data.decode()
    assert snapshot() == before, "a refused change left a trace"
    # Positive control: one level up, the share does not reach them.
    ok = user_form(org.newbie, roles=[str(org.rep.id)], department=str(org.sales.id))
    assert mgr.submit(f"/admin/access/users/{org.newbie.id}", ok).status_code == 303
    assert fresh(User, org.newbie.id).department_id == org.sales.id


def test_a_share_the_manager_reaches_too_is_no_obstacle(org, login_as):
    """A share with Sales reaches the manager as well as everyone below: placing a rep in
    Sales East hands over nothing the manager cannot read."""
    _deal_shared_with(org.sales, org.admin)
    mgr = login_as(org.mgr)
    placed = user_form(org.newbie, roles=[str(org.rep.id)], department=str(org.east.id))
    assert mgr.submit(f"/admin/access/users/{org.newbie.id}", placed).status_code == 303
    assert fresh(User, org.newbie.id).department_id == org.east.id


def test_an_edit_share_is_named_for_edit_too(org, login_as):
    _deal_shared_with(org.east, org.admin, access="edit")
    placed = user_form(org.newbie, roles=[str(org.rep.id)], department=str(org.east.id))
    r = login_as(org.mgr).submit(f"/admin/access/users/{org.newbie.id}", placed)
    body = r.data.decode()
    assert r.status_code == 403 and "Read on Deals" in body and "Edit on Deals" in body


def test_an_own_records_user_placed_outside_the_managers_reach_is_refused(org, login_as):
    """Shares are tied to the department: a rep ("own records") placed in Finance, outside
    the manager's reach (Sales and below), would receive whatever is shared with Finance,
    now or later, although nothing is shared with it yet."""
    mgr = login_as(org.mgr)
    before = snapshot()
    attempt = user_form(org.newbie, roles=[str(org.rep.id)], department=str(org.finance.id))
    r = mgr.submit(f"/admin/access/users/{org.newbie.id}", attempt)
    assert r.status_code == 403, r.data.decode()[:2000]
    assert "records shared with it (now or later) would reach them" in r.data.decode()
    assert "Read on Every other entity" in r.data.decode()
    assert snapshot() == before, "a refused change left a trace"
    r = mgr.submit(
        "/admin/access/users/new",
        {
            "display_name": "Fin",
            "email": "fin@example.com",
            "department": str(org.finance.id),
            "roles": [str(org.rep.id)],
        },
    )
    assert r.status_code == 403 and snapshot() == before
    # Positive controls: within reach (Sales East), and a full administrator anywhere.
    ok = user_form(org.newbie, roles=[str(org.rep.id)], department=str(org.east.id))
    assert mgr.submit(f"/admin/access/users/{org.newbie.id}", ok).status_code == 303
    r = login_as(org.admin).submit(f"/admin/access/users/{org.newbie.id}", attempt)
    assert r.status_code == 303 and fresh(User, org.newbie.id).department_id == org.finance.id

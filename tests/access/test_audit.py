"""The access audit log: every access change is recorded with who, when and before ->
after, in the change's own transaction; shown (filtered, paginated) and exported only to
access managers, each seeing what lies within their reach."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from crm.access import audit, departments, roles, users
from crm.access import policy as P
from crm.access.models import AccessAuditEntry
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.uow import unit_of_work
from tests.access.conftest import matrix_post


def entries(**where) -> list[AccessAuditEntry]:
    db.session.rollback()
    query = select(AccessAuditEntry).order_by(AccessAuditEntry.id)
    for key, value in where.items():
        query = query.where(getattr(AccessAuditEntry, key) == value)
    return list(db.session.scalars(query))


def changes(entry: AccessAuditEntry) -> dict[str, tuple[str, str]]:
    before, after = json.loads(entry.before), json.loads(entry.after)
    return {k: (before.get(k, "—"), after.get(k, "—")) for k in {**before, **after}}


def rows_of(response) -> str:
    """The entries' table of the audit page (not its filters, which name everyone)."""
    return response.data.decode().split('id="audit-rows"', 1)[1]


def count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AccessAuditEntry))


def test_user_changes_are_recorded_with_before_and_after(org, login_as):
    client = login_as(org.admin)
    client.submit(
        "/admin/access/users/new",
        {"display_name": "Zoë", "email": "zoe@example.com", "department": str(org.east.id)},
    )
    created = entries(kind="user", action="created")[-1]
    assert created.actor_id == org.admin.id and created.actor_name == "Ada Admin"
    assert changes(created)["Department"] == ("—", "Sales East")
    uid = created.user_id
    client.submit(
        f"/admin/access/users/{uid}",
        {"display_name": "Zoë", "department": str(org.sales.id), "roles": [str(org.rep.id)]},
    )
    changed = entries(kind="user", action="changed", user_id=uid)[-1]
    assert changes(changed) == {"Department": ("Sales East", "Sales"), "Roles": ("—", "Rep")}
    client.submit(f"/admin/access/users/{uid}/invite", {})
    client.submit(f"/admin/access/users/{uid}/deactivate", {})
    client.submit(f"/admin/access/users/{uid}/reactivate", {})
    actions = [e.action for e in entries(user_id=uid)]
    assert actions == ["created", "changed", "invited", "deactivated", "reactivated"]
    assert changes(entries(action="deactivated")[-1]) == {"Active": ("yes", "no")}


def test_role_and_department_changes_are_recorded(org, login_as):
    client = login_as(org.admin)
    client.submit(
        f"/admin/access/roles/{org.rep.id}/grants",
        matrix_post(["account", "deal"], {("*", "read"): P.DEPARTMENT, ("*", "edit"): P.OWN}),
    )
    grants = entries(kind="role", role_id=org.rep.id)[-1]
    assert grants.action == "changed"
    assert changes(grants)["Every other entity: Read"] == ("Own records", "Own department")
    client.submit(f"/admin/access/roles/{org.rep.id}/settings", {"name": "Sales rep"})
    renamed = entries(kind="role", role_id=org.rep.id)[-1]
    assert changes(renamed) == {"Name": ("Rep", "Sales rep")}
    spare = org.spare.id
    client.submit(f"/admin/access/roles/{spare}/delete", {})
    assert entries(kind="role", role_id=spare)[-1].action == "deleted"
    client.submit(f"/admin/access/departments/{org.east.id}/move", {"parent": ""})
    moved = entries(kind="department", department_id=org.east.id)[-1]
    assert moved.action == "moved" and changes(moved) == {"Parent": ("Sales", "(top level)")}


def test_a_refused_change_leaves_no_entry_and_an_entry_needs_a_unit(org):
    before = count()
    with pytest.raises(Forbidden):
        users.update(org.mgr, org.admin.id, display_name="X", department_id=None, role_ids=[])
    with pytest.raises(ValidationFailed):
        roles.create(org.admin, name="")
    with pytest.raises(ValidationFailed):
        departments.create(org.admin, name="Sales", parent_id=org.company.id)
    assert count() == before
    with pytest.raises(RuntimeError):
        audit.record(org.admin, "user", "created", "x")
    # An entry written inside a unit that rolls back goes with it.
    with pytest.raises(ValidationFailed), unit_of_work():
        audit.record(org.admin, "user", "created", "x")
        raise ValidationFailed("no")
    assert count() == before


def test_shares_and_owner_changes_are_recorded(org):
    from crm.metadata import specs
    from crm.records import service as records
    from crm.records import sharing

    deal_spec = specs.current().entity("deal")
    deal = records.create(org.admin, deal_spec, {"title": "Big"})
    sharing.share(org.admin, deal_spec, deal, department_id=org.east.id, access="edit")
    version = db.session.scalar(
        select(specs.current().table("deal").c.version).where(
            specs.current().table("deal").c.id == deal
        )
    )
    sharing.transfer(org.admin, deal_spec, deal, org.rep_east.id, expected_version=version)
    shared = entries(kind="share")[-1]
    assert shared.department_id == org.east.id and shared.record_id == deal
    assert changes(shared) == {"Access": ("—", "Read and edit")}
    owner = entries(kind="owner")[-1]
    assert owner.user_id == org.rep_east.id
    assert changes(owner) == {"Owner": ("Ada Admin", "Eli East")}


def test_the_page_filters_paginates_and_exports(org, login_as):
    for i in range(audit.PER_PAGE + 3):
        roles.create(org.admin, name=f"R{i}")
    client = login_as(org.admin)
    html = client.get("/admin/access/audit?kind=role").data.decode()
    assert "Page 1 of 2" in html and "R52" in html and "R0<" not in html
    assert "R0" in client.get("/admin/access/audit?kind=role&page=2").data.decode()
    assert "No access change matches." in client.get("/admin/access/audit?kind=user").data.decode()
    mine = client.get(f"/admin/access/audit?person={org.mgr.id}").data.decode()
    assert "No access change matches." in mine
    assert "Page 1 of 2" in client.get("/admin/access/audit?since=2000-01-01").data.decode()
    old = client.get("/admin/access/audit?until=2000-01-01").data.decode()
    assert "No access change matches." in old
    bad = client.get("/admin/access/audit?since=yesterday&kind=nope")
    assert bad.status_code == 400 and "Not a valid" in bad.data.decode()
    r = client.get("/admin/access/audit.csv?kind=role")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["When (UTC)", "Who", "Kind", "Action", "About"]
    assert {row[4] for row in rows[1:]} == {f"R{i}" for i in range(audit.PER_PAGE + 3)}


def test_a_formula_in_a_name_is_exported_as_text(org, login_as):
    roles.create(org.admin, name="=HYPERLINK(1)")
    r = login_as(org.admin).get("/admin/access/audit.csv")
    assert "'=HYPERLINK(1)" in r.data.decode("utf-8-sig")


def test_only_access_managers_see_it_and_managers_see_only_their_reach(org, login_as):
    users.update(
        org.admin,
        org.lead_fin.id,
        display_name="Finance lead",
        department_id=org.finance.id,
        role_ids=[org.dept_lead.id, org.spare.id],
    )
    users.update(
        org.admin, org.rep_east.id, display_name="Eli", department_id=org.east.id, role_ids=[]
    )
    roles.update(org.admin, org.wide.id, name="Everything")
    roles.update(org.admin, org.spare.id, name="Spare two")
    assert login_as(org.rep_east).get("/admin/access/audit").status_code == 403
    assert login_as(org.rep_east).get("/admin/access/audit.csv").status_code == 403
    admin = rows_of(login_as(org.admin).get("/admin/access/audit"))
    assert "Finance lead" in admin and "Everything" in admin
    mgr = rows_of(login_as(org.mgr).get("/admin/access/audit"))
    assert "Eli" in mgr and "Spare two" in mgr  # in reach: Sales East, a narrower role
    assert "Finance lead" not in mgr and "Everything" not in mgr  # Finance; a wider role
    export = login_as(org.mgr).get("/admin/access/audit.csv").data.decode("utf-8-sig")
    assert "Eli" in export and "Finance lead" not in export and "Everything" not in export
    with pytest.raises(Forbidden):
        audit.page(org.rep_east)


def test_user_and_role_pages_show_their_recent_entries(org, login_as):
    roles.update(org.admin, org.rep.id, name="Field rep")
    users.update(
        org.admin, org.rep_east.id, display_name="Eli Easton", department_id=org.east.id,
        role_ids=[org.rep.id],
    )  # fmt: skip
    client = login_as(org.admin)
    role_page = client.get(f"/admin/access/roles/{org.rep.id}").data.decode()
    assert "Recent access changes" in role_page and "Field rep" in role_page
    assert (
        "Eli East → Eli Easton"
        in client.get(f"/admin/access/users/{org.rep_east.id}").data.decode()
    )

"""Importing the organisation (issue 16, go-live packs): departments by parent name or
path, users with department, roles and invitations; idempotent, bad rows by line, only
for full administrators."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from crm.access import invites
from crm.access.models import Department, User, UserInvite
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.imports import org
from crm.imports.models import Import, ImportProblem
from crm.jobs.models import Job
from tests.factories import make_role, make_user


def csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.strip().encode() + b"\n")


def load(actor, target, text, *, dry_run=False):
    imp = org.start(actor, target, csv(text), "org.csv", queue=False)
    return imp.id, org.run(imp.id, dry_run=dry_run)


def paths() -> dict[str, str]:
    """Department name -> its names from the top ("Sales/EMEA/Berlin")."""
    rows = db.session.scalars(select(Department)).all()
    by_id = {d.id: d for d in rows}
    out = {}
    for d in rows:
        ids = [int(p) for p in d.path.strip("/").split("/")]
        out[d.name] = "/".join(by_id[i].name for i in ids)
    return out


TREE = """
Department,Parent department,Manager
EMEA,Sales,
Berlin,Sales/EMEA,
Sales,,
Support,,
Madrid,EMEA,
"""


def test_departments_form_a_tree_by_parent_name_or_path_in_any_row_order(admin):
    _id, summary = load(admin, org.DEPARTMENTS, TREE)
    assert (summary.created, summary.errors) == (5, 0)
    assert paths() == {
        "Sales": "Sales", "EMEA": "Sales/EMEA", "Berlin": "Sales/EMEA/Berlin",
        "Support": "Support", "Madrid": "Sales/EMEA/Madrid",
    }  # fmt: skip


def test_importing_the_same_departments_twice_creates_nothing(admin):
    load(admin, org.DEPARTMENTS, TREE)
    _id, again = load(admin, org.DEPARTMENTS, TREE)
    assert (again.created, again.skipped, again.errors) == (0, 5, 0)
    assert db.session.scalar(select(func.count()).select_from(Department)) == 5


def test_a_bad_parent_is_reported_with_its_line_and_the_other_rows_are_kept(admin):
    import_id, summary = load(
        admin, org.DEPARTMENTS, "Name,Parent\nSales,\nGhost,Nowhere\nEMEA,Sales\n"
    )
    assert (summary.created, summary.errors) == (2, 1)
    problem = db.session.scalars(
        select(ImportProblem).where(ImportProblem.import_id == import_id)
    ).one()
    assert problem.line == 3
    assert "Nowhere" in problem.reasons[""][0]
    assert "Ghost" not in paths()
    assert db.session.get(Import, import_id).errors == 1


def test_a_manager_known_by_e_mail_is_set_and_one_not_yet_known_is_set_on_the_next_import(admin):
    load(admin, org.DEPARTMENTS, "Name,Manager\nSales,ann@example.com\n")
    sales = db.session.scalars(select(Department)).one()
    assert sales.manager_id is None
    ann = make_user("ann@example.com", display_name="Ann")
    _id, again = load(admin, org.DEPARTMENTS, "Name,Manager\nSales,ANN@example.com\n")
    assert (again.created, again.updated) == (0, 1)
    db.session.refresh(sales)
    assert sales.manager_id == ann.id


USERS = """
E-mail,Name,Department,Roles,Manager
ann@example.com,Ann Archer,EMEA,Staff,yes
bob@example.com,Bob Baker,Sales,,
ANN@example.com,Ann Again,Sales,,
cy@example.com,Cy,Nowhere,,
dee@example.com,Dee,Sales,Astronaut,
"""


def test_users_get_department_roles_invitations_and_bad_rows_are_reported(admin):
    load(admin, org.DEPARTMENTS, TREE)
    import_id, summary = load(admin, org.USERS, USERS)
    assert (summary.created, summary.errors) == (2, 3)
    ann = db.session.scalar(select(User).where(User.email == "ann@example.com"))
    assert ann.display_name == "Ann Archer"
    assert ann.department.name == "EMEA"
    assert [r.name for r in ann.roles] == ["Staff"]
    assert not invites.has_password(ann)  # chooses a password through the invitation
    assert db.session.scalar(select(func.count()).select_from(UserInvite)) == 2
    assert [email for email, _t in summary.invites] == ["ann@example.com", "bob@example.com"]
    emea = db.session.scalar(select(Department).where(Department.name == "EMEA"))
    assert emea.manager_id == ann.id
    problems = {
        p.line: p.reasons[""][0]
        for p in db.session.scalars(
            select(ImportProblem).where(ImportProblem.import_id == import_id)
        )
    }
    assert "line 2" in problems[4]  # the same address twice: the second is refused
    assert "Nowhere" in problems[5]
    assert "Astronaut" in problems[6]
    # a job's stored result never holds the invitation tokens
    assert "invites" not in summary.as_dict()


def test_importing_the_same_users_twice_creates_nothing(admin):
    load(admin, org.DEPARTMENTS, TREE)
    text = "Email,Name,Department\nann@example.com,Ann,EMEA\nbob@example.com,Bob,\n"
    load(admin, org.USERS, text)
    _id, again = load(admin, org.USERS, text)
    assert (again.created, again.skipped, again.errors) == (0, 2, 0)
    assert db.session.scalar(select(func.count()).select_from(User)) == 3  # with the admin


def test_a_dry_run_writes_nothing(admin):
    _id, summary = load(admin, org.DEPARTMENTS, TREE, dry_run=True)
    assert summary.created == 5
    assert db.session.scalar(select(func.count()).select_from(Department)) == 0


def test_only_full_administrators_import_the_organisation(app):
    manager_role = make_role("Access managers", can_manage_access=True)
    manager = make_user("m@example.com", roles=(manager_role.name,))
    staff = make_user("s@example.com")
    for actor in (manager, staff):
        for target in org.TARGETS:
            with pytest.raises(Forbidden):
                org.start(actor, target, csv("Name\nX\n"), "x.csv", queue=False)
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def test_a_file_without_the_needed_column_is_refused_whole(admin):
    with pytest.raises(ValidationFailed):
        org.start(admin, org.USERS, csv("Name,Department\nAnn,Sales\n"), "u.csv", queue=False)
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def test_the_job_imports_the_file(admin):
    imp = org.start(admin, org.DEPARTMENTS, csv(TREE), "d.csv")
    job = db.session.get(Job, imp.job_id)
    assert job.status == "done", job.error
    assert job.result["created"] == 5
    assert set(paths()) == {"Sales", "EMEA", "Berlin", "Support", "Madrid"}

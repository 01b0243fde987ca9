"""The go-live checklist page (issue 16): what it shows, the pack it starts, who may see
it, the links to it."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from crm.access.models import Department
from crm.extensions import db
from crm.golive.models import GoLivePack
from tests.factories import make_role, make_user
from tests.records.runtime_model import build_model, make

URL = "/admin/go-live/"


def upload(text: str, name: str = "f.csv") -> tuple[io.BytesIO, str]:
    return io.BytesIO(text.encode()), name


def test_the_checklist_shows_every_step_with_counts_and_what_is_missing(app, admin, login_as):
    build_model()
    make(admin, "account", name="Acme")
    client = login_as(admin)
    r = client.get(URL)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    for label in ("Departments", "Users", "Accounts", "Contacts", "Deals"):
        assert 'data-step="' in page and label in page
    assert page.index('data-step="@departments"') < page.index('data-step="@users"')
    assert page.index('data-step="account"') < page.index('data-step="contact"')
    assert "1 record" in page  # the account
    assert "Contacts: 0 records." in page
    assert "No departments yet." in page
    assert "1 of 5 steps loaded" in page  # the administrator is a user; one account
    assert "Looks up: Accounts" in page


def test_files_posted_on_the_page_run_as_a_pack_and_the_page_says_how_it_went(app, admin, login_as):
    build_model()
    client = login_as(admin)
    r = client.submit(URL, {
        "org-departments": upload("Name,Parent\nSales,\nEMEA,Sales\n"),
        "entity-account": upload("Name,Code\nAcme,A1\n"),
        "entity-contact": upload("Full name,Account\nCarla,Acme\nEve,Initech\n"),
    }, content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 303
    pack = db.session.scalars(select(GoLivePack)).one()
    assert pack.status == "failed"
    page = client.get(URL).get_data(as_text=True)
    assert "The pack stopped at “Contacts”: 1 row was not imported." in page
    assert "Contacts: 1 row names Accounts that were not found." in page
    assert "2 departments" in page
    assert "errors.csv" in page
    error_link = page.split('href="/admin/go-live/imports/')[1].split('"')[0]
    r = client.get("/admin/go-live/imports/" + error_link)
    assert r.status_code == 200 and "Initech" in r.get_data(as_text=True)


def test_a_bad_file_is_refused_on_the_page_and_nothing_is_written(app, admin, login_as):
    build_model()
    client = login_as(admin)
    r = client.submit(URL, {
        "org-departments": upload("Name\nSales\n"),
        "entity-contact": upload("Nickname\nCarla\n"),
    }, content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 400
    assert "Contacts:" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Department)) == 0


def test_only_full_administrators_open_the_page(app, login_as):
    build_model()
    manager = make_user("m@example.com", roles=(make_role("Mgr", can_manage_access=True,
                                                          can_configure=True).name,))  # fmt: skip
    staff = make_user("s@example.com")
    for user in (manager, staff):
        client = login_as(user)
        assert client.get(URL).status_code == 403
        r = client.submit(URL, {"org-departments": upload("Name\nSales\n")},
                          content_type="multipart/form-data")  # fmt: skip
        assert r.status_code == 403
        assert client.get("/admin/go-live/imports/1/errors.csv").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Department)) == 0


def test_hostile_import_ids_are_not_found(app, admin, login_as):
    client = login_as(admin)
    for number in ("0", "99999999999", "2147483648"):
        assert client.get(f"/admin/go-live/imports/{number}/errors.csv").status_code == 404


def test_a_post_without_the_csrf_token_is_refused(app, admin, login_as):
    client = login_as(admin)
    r = client.post(URL, data={"org-departments": upload("Name\nSales\n")},
                    content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Department)) == 0


def test_the_empty_home_and_the_admin_areas_link_to_the_checklist(app, admin, login_as):
    build_model()
    client = login_as(admin)
    assert URL in client.get("/").get_data(as_text=True)
    assert URL in client.get("/admin/access/users").get_data(as_text=True)
    staff = make_user("s@example.com")
    assert URL not in login_as(staff).get("/").get_data(as_text=True)


def test_invited_users_are_counted_with_a_link_to_their_invitations(app, admin, login_as):
    build_model()
    client = login_as(admin)
    r = client.submit(URL, {"org-users": upload("Email,Name\nann@example.com,Ann\n")},
                      content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 303
    page = client.get(URL).get_data(as_text=True)
    assert "1 user has not chosen a password yet" in page
    assert "/admin/access/users?status=invited" in page
    assert "/admin/jobs/" in page  # the step's job, with its details

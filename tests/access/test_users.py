"""User management: the list, creating a user with a one-time link shown once, re-invite,
deactivate and reactivate, and bad input of every kind."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.access import users
from crm.access.models import User, UserInvite
from crm.auth import service as auth
from crm.auth.models import AuthSession
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from tests.access.conftest import role_ids, snapshot
from tests.factories import make_user

LINK = re.compile(r'value="(http://localhost/invite/[A-Za-z0-9_-]+)"')


def assert_token_not_in_cookies(response, token: str) -> None:
    """No cookie set by ``response`` carries ``token``, even inside the signed session
    (which is only base64 and zlib: readable by whoever holds the cookie)."""
    import base64
    import zlib

    for header in response.headers.getlist("Set-Cookie"):
        assert token not in header
        value = header.split(";", 1)[0].split("=", 1)[1]
        compressed = value.startswith(".")
        payload = value.lstrip(".").split(".", 1)[0]
        if not payload:
            continue
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        if compressed:
            raw = zlib.decompress(raw)
        assert token.encode() not in raw


def by_email(email: str) -> User | None:
    db.session.rollback()
    return db.session.scalar(select(User).where(User.email == email))


def test_create_shows_the_link_once_and_stores_only_its_hash(org, login_as):
    client = login_as(org.admin)
    r = client.submit(
        "/admin/access/users/new",
        {
            "display_name": "Zoë Ng",
            "email": " Zoe.Ng@Example.com ",
            "department": str(org.east.id),
            "roles": [str(org.rep.id), str(org.spare.id)],
        },
    )
    # The answer to the POST itself shows the link: the token never goes through the
    # session cookie (signed, not encrypted: anyone holding it can read it).
    assert r.status_code == 200
    user = by_email("zoe.ng@example.com")
    assert user.department_id == org.east.id and role_ids(user.id) == {org.rep.id, org.spare.id}
    assert not user.is_admin and user.is_active
    page = r.data.decode()
    link = LINK.search(page).group(1)
    token = link.rsplit("/", 1)[1]
    assert "shown only now" in page and "data-copy" in page
    assert_token_not_in_cookies(r, token)
    invite = db.session.scalar(select(UserInvite).where(UserInvite.user_id == user.id))
    assert invite.token_hash == auth.token_hash(token) and token not in invite.token_hash
    assert (invite.expires_at - invite.created_at).days == 7 and invite.created_by == org.admin.id
    again = client.get(f"/admin/access/users/{user.id}")
    assert token not in again.data.decode() and "Invitation pending" in again.data.decode()
    assert_token_not_in_cookies(again, token)


def test_an_invited_user_has_no_password_that_works(org):
    users.create(org.admin, email="inv@example.com", display_name="Inv")
    for guess in ["", "!invited", "correct-horse-battery"]:
        with pytest.raises(ValidationFailed):
            auth.sign_in("inv@example.com", guess)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "must have an @-sign"),
        ({"email": "STAFF@example.com"}, "email", "already exists"),
        ({"email": ""}, "email", "This field is required"),
        ({"display_name": ""}, "display_name", "This field is required"),
        ({"display_name": "\x00\x01"}, "display_name", "Enter a name."),
        ({"display_name": "x" * 121}, "display_name", "120"),
        ({"department": "99999"}, "department", "Not a valid choice"),
        ({"department": "abc"}, "department", "Not a valid choice"),
        ({"roles": ["99999"]}, "roles", "not a valid choice"),
        ({"roles": ["abc"]}, "roles", "Invalid choice"),
    ],
)
def test_bad_input_is_shown_by_the_field_and_nothing_is_created(
    org, login_as, data, field, message
):
    client = login_as(org.admin)
    before = snapshot()
    form = {"display_name": "Val", "email": "val@example.com", "department": "", **data}
    r = client.submit("/admin/access/users/new", form)
    assert r.status_code == 400
    html = r.data.decode()
    assert message.lower() in html.lower()
    assert f'id="{field}-errors"' in html or 'class="field role-checks has-error"' in html
    assert snapshot() == before


def test_the_service_checks_what_the_form_cannot(org):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        users.create(
            org.admin,
            email="a@example.com",
            display_name="A",
            department_id=99999,
            role_ids=[99999],
        )
    assert set(exc.value.errors) == {"department", "roles"}
    with pytest.raises(Forbidden):
        users.create(org.mgr, email="b@example.com", display_name="B", is_admin=True)
    assert snapshot() == before


def test_names_with_markup_are_shown_as_text(org, login_as):
    users.create(org.admin, email="x@example.com", display_name="<img src=x onerror=alert(1)>")
    html = login_as(org.admin).get("/admin/access/users").data.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html


class TestList:
    def test_search_department_role_and_status(self, org, login_as):
        users.create(org.admin, email="pending@example.com", display_name="Pat Pending")
        org.newbie.is_active = False
        db.session.commit()
        client = login_as(org.admin)

        def names(query: str) -> set[str]:
            html = client.hx_get(f"/admin/access/users?{query}").data.decode()
            return set(re.findall(r'class="strong" href="/admin/access/users/\d+">([^<]+)<', html))

        assert names("q=ELI") == {"Eli East"}  # names, case-insensitively
        assert names("q=lead.fin@") == {org.lead_fin.display_name}  # e-mail addresses
        assert names(f"department={org.east.id}") == {"Eli East", org.lead_east.display_name}
        assert names(f"role={org.rep.id}") == {"Eli East"}
        assert names("status=inactive") == {"Nia New"}
        assert names("status=invited") == {"Pat Pending"}
        assert "Nia New" not in names("status=active")
        assert names("q=%25") == set()  # a LIKE wildcard is searched for, not obeyed
        assert names("q=_") == set()

    def test_a_tampered_filter_is_a_message_not_a_500(self, org, login_as):
        r = login_as(org.admin).get(
            "/admin/access/users?department=abc&role=9999&status=boss&page=x"
        )
        assert r.status_code == 400
        assert r.data.decode().count("Not a valid choice") == 3

    def test_pages(self, org, login_as):
        for i in range(52):
            make_user(f"bulk{i:02}@example.com", display_name=f"Bulk {i:02}", roles=())
        client = login_as(org.admin)
        first = client.get("/admin/access/users?q=bulk").data.decode()
        assert "Page 1 of 2" in first and "Bulk 00" in first and "Bulk 51" not in first
        second = client.get("/admin/access/users?q=bulk&page=2").data.decode()
        assert "Bulk 51" in second and "Bulk 00" not in second
        assert client.get("/admin/access/users?q=bulk&page=99").status_code == 200

    def test_last_sign_in_is_shown(self, org, login_as):
        auth.sign_in("east@example.com", "correct-horse-battery")
        html = login_as(org.admin).get("/admin/access/users?q=east").data.decode()
        assert "never" not in html.split("Eli East")[1].split("</tr>")[0]


def test_edit_department_and_roles(org, login_as):
    client = login_as(org.admin)
    r = client.submit(
        f"/admin/access/users/{org.rep_east.id}",
        {"display_name": "Eli", "department": str(org.finance.id), "roles": [str(org.wide.id)]},
    )
    assert r.status_code == 303
    user = db.session.get(User, org.rep_east.id)
    assert (user.display_name, user.department_id) == ("Eli", org.finance.id)
    assert role_ids(user.id) == {org.wide.id}
    r = client.submit(
        f"/admin/access/users/{org.rep_east.id}", {"display_name": "Eli", "department": ""}
    )
    assert r.status_code == 303 and role_ids(org.rep_east.id) == set()


def test_reinvite_ends_the_older_links(org, login_as):
    client = login_as(org.admin)
    _user, first = users.create(org.admin, email="re@example.com", display_name="Re")
    user = by_email("re@example.com")
    r = client.submit(f"/admin/access/users/{user.id}/invite", {})
    assert r.status_code == 200
    second = LINK.search(r.data.decode()).group(1).rsplit("/", 1)[1]
    assert second != first
    assert_token_not_in_cookies(r, second)
    assert second not in client.get(f"/admin/access/users/{user.id}").data.decode()
    fresh = login_as(org.admin).application.test_client()
    assert fresh.get(f"/invite/{first}").status_code == 410
    assert fresh.get(f"/invite/{second}").status_code == 200


def test_deactivate_signs_the_user_out_everywhere_and_reactivate(org, login_as):
    theirs = login_as(org.rep_east)
    other = login_as(org.rep_east)
    assert theirs.get("/").status_code == 200
    admin = login_as(org.admin)
    r = admin.submit(f"/admin/access/users/{org.rep_east.id}/deactivate", {})
    assert r.status_code == 303
    assert theirs.get("/").status_code == 302 and other.get("/").status_code == 302
    db.session.rollback()
    live = db.session.scalars(
        select(AuthSession).where(
            AuthSession.user_id == org.rep_east.id, AuthSession.revoked_at.is_(None)
        )
    ).all()
    assert live == []
    page = admin.get(f"/admin/access/users/{org.rep_east.id}").data.decode()
    assert "Deactivated" in page and "Reactivate" in page
    r = admin.submit(f"/admin/access/users/{org.rep_east.id}/invite", {})
    assert r.status_code == 400 and "Reactivate the account first" in r.data.decode()
    assert admin.submit(f"/admin/access/users/{org.rep_east.id}/reactivate", {}).status_code == 303
    assert by_email("east@example.com").is_active


def test_no_one_deactivates_or_demotes_themselves(org, login_as):
    client = login_as(org.admin)
    before = snapshot()
    r = client.submit(f"/admin/access/users/{org.admin.id}/deactivate", {})
    assert r.status_code == 403 and "your own account" in r.data.decode()
    r = client.submit(
        f"/admin/access/users/{org.admin.id}", {"display_name": "Ada Admin", "department": ""}
    )
    assert r.status_code == 400 and "your own full-administrator right" in r.data.decode()
    assert snapshot() == before
    html = client.get(f"/admin/access/users/{org.admin.id}").data.decode()
    assert "Deactivate" not in html  # not even offered


def test_the_manager_sees_why_they_cannot_change_a_user(org, login_as):
    html = login_as(org.mgr).get(f"/admin/access/users/{org.staff.id}").data.decode()
    assert "You cannot change this user" in html and "Every other entity" in html
    assert "Deactivate" not in html and 'action="/admin/access/users/' not in html
    html = login_as(org.mgr).get(f"/admin/access/users/{org.lead_fin.id}").data.decode()
    assert "outside your reach" in html

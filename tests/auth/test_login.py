"""Sign-in, sign-out, lock-out, first run, and sessions ending elsewhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from crm.access.models import User
from crm.auth import service
from crm.auth.models import AppSetting, AuthSession, LoginFailure
from crm.extensions import db
from crm.timeutil import utcnow
from tests.factories import PASSWORD, make_user

REFUSED = "That e-mail and password do not match an active account."


def sign_in(client, email, password):
    return client.submit("/login", {"email": email, "password": password})


def test_login_page_renders_with_csrf_field(client, staff):
    page = client.get("/login")
    assert page.status_code == 200
    assert b"Sign in to Atelier CRM" in page.data
    assert b'name="csrf_token"' in page.data


def test_sign_in_and_out(client, staff):
    assert client.get("/").status_code == 302
    response = sign_in(client, "Staff@Example.com ", PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"Sam Staff" in home.data
    out = client.submit("/logout")
    assert out.status_code == 303
    assert client.get("/").status_code == 302


def test_unknown_email_and_wrong_password_get_the_same_answer(client, staff):
    wrong = sign_in(client, staff.email, "not-the-password")
    unknown = sign_in(client, "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert REFUSED.encode() in wrong.data
    assert REFUSED.encode() in unknown.data


def test_inactive_user_cannot_sign_in(client):
    user = make_user("gone@example.com", is_active=False)
    response = sign_in(client, user.email, PASSWORD)
    assert response.status_code == 400
    assert REFUSED.encode() in response.data


def test_next_is_followed_only_within_the_site(client, staff):
    ok = client.submit(
        "/login?next=/account/password", {"email": staff.email, "password": PASSWORD}
    )
    assert ok.headers["Location"] == "/account/password"
    client.submit("/logout")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        r = client.submit(f"/login?next={evil}", {"email": staff.email, "password": PASSWORD})
        assert r.headers["Location"] == "/", evil
        client.submit("/logout")


def test_new_session_identifier_at_sign_in(client, staff):
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
    client.csrf_token()
    with client.session_transaction() as sess:
        before_token = sess["csrf_token"]
    sign_in(client, staff.email, PASSWORD)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != before_token
        first_session = sess["_user_id"]
    client.submit("/logout")
    sign_in(client, staff.email, PASSWORD)
    with client.session_transaction() as sess:
        assert sess["_user_id"] != first_session
    # The cookie names a server-side session, never the user's id.
    assert first_session != str(staff.id)


class TestLockout:
    def test_five_failures_lock_the_account_without_checking_the_password(self, client, staff):
        for _ in range(5):
            assert sign_in(client, staff.email, "wrong-password!").status_code == 400
        locked = sign_in(client, staff.email, PASSWORD)
        assert locked.status_code == 429
        assert b"Too many failed sign-ins for this account" in locked.data
        assert b"Try again in 15 minutes" in locked.data
        # A refused try is not counted again and checks no password.
        assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 5
        with client.session_transaction() as sess:
            assert "_user_id" not in sess

    def test_unknown_accounts_lock_the_same_way(self, client, staff):
        for _ in range(5):
            sign_in(client, "ghost@example.com", "whatever-it-is")
        assert sign_in(client, "ghost@example.com", "whatever-it-is").status_code == 429

    def test_lock_is_per_account(self, client, staff):
        other = make_user("other@example.com")
        for _ in range(5):
            sign_in(client, staff.email, "wrong-password!")
        assert sign_in(client, other.email, PASSWORD).status_code == 303

    def test_lock_lifts_after_the_window(self, client, staff):
        for _ in range(5):
            sign_in(client, staff.email, "wrong-password!")
        assert sign_in(client, staff.email, PASSWORD).status_code == 429
        db.session.execute(update(LoginFailure).values(at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
        assert sign_in(client, staff.email, PASSWORD).status_code == 303

    def test_failures_spread_over_more_than_the_window_do_not_lock(self, client, staff):
        for _ in range(4):
            sign_in(client, staff.email, "wrong-password!")
        db.session.execute(update(LoginFailure).values(at=utcnow() - timedelta(minutes=20)))
        db.session.commit()
        sign_in(client, staff.email, "wrong-password!")
        assert sign_in(client, staff.email, PASSWORD).status_code == 303

    def test_success_clears_the_count(self, client, staff):
        for _ in range(4):
            sign_in(client, staff.email, "wrong-password!")
        assert sign_in(client, staff.email, PASSWORD).status_code == 303
        assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 0


class TestSessionsEndElsewhere:
    def _two_browsers(self, app, user):
        a, b = app.test_client(), app.test_client()
        for c in (a, b):
            assert sign_in(c, user.email, PASSWORD).status_code == 303
            assert c.get("/").status_code == 200
        return a, b

    def test_sign_out_ends_the_other_sessions(self, app, staff):
        a, b = self._two_browsers(app, staff)
        a.submit("/logout")
        assert b.get("/").status_code == 302
        assert a.get("/").status_code == 302

    def test_password_change_ends_other_sessions_but_not_this_one(self, app, staff):
        a, b = self._two_browsers(app, staff)
        r = a.submit(
            "/account/password",
            {
                "current_password": PASSWORD,
                "new_password": "a-brand-new-secret",
                "confirm": "a-brand-new-secret",
            },
        )
        assert r.status_code == 303
        assert a.get("/").status_code == 200
        assert b.get("/").status_code == 302
        assert sign_in(app.test_client(), staff.email, "a-brand-new-secret").status_code == 303
        assert sign_in(app.test_client(), staff.email, PASSWORD).status_code == 400

    def test_wrong_current_password_changes_nothing(self, app, staff):
        a, b = self._two_browsers(app, staff)
        before = staff.password_hash
        r = a.submit(
            "/account/password",
            {
                "current_password": "nope-nope-nope",
                "new_password": "a-brand-new-secret",
                "confirm": "a-brand-new-secret",
            },
        )
        assert r.status_code == 400
        assert b"That is not your current password." in r.data
        db.session.expire_all()
        assert db.session.get(User, staff.id).password_hash == before
        assert b.get("/").status_code == 200

    def test_deactivation_ends_every_session(self, app, staff):
        a, b = self._two_browsers(app, staff)
        service.set_active(staff.id, False)
        assert a.get("/").status_code == 302
        assert b.get("/").status_code == 302
        live = db.session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))
        )
        assert live == 0


class TestFirstRun:
    def test_empty_install_sends_sign_in_to_setup(self, client):
        assert client.get("/login").headers["Location"] == "/setup"
        page = client.get("/setup")
        assert page.status_code == 200
        assert b"Create the first administrator" in page.data

    def test_setup_creates_an_administrator_once(self, client):
        form = {
            "display_name": "Lin 林",
            "email": "lin@example.com",
            "password": "a-good-long-secret",
            "confirm": "a-good-long-secret",
        }
        assert client.submit("/setup", form).status_code == 303
        user = db.session.scalar(select(User))
        assert user.is_admin and user.display_name == "Lin 林"
        assert client.get("/setup").status_code == 404
        again = client.submit("/setup", {**form, "email": "second@example.com"})
        assert again.status_code == 404
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        assert sign_in(client, "lin@example.com", "a-good-long-secret").status_code == 303

    def test_setup_reports_every_problem_and_creates_nothing(self, client):
        r = client.submit(
            "/setup",
            {"display_name": "", "email": "not-an-email", "password": "short", "confirm": "other"},
        )
        assert r.status_code == 400
        assert b"The passwords differ." in r.data
        assert db.session.scalar(select(func.count()).select_from(User)) == 0

    def test_create_admin_command_is_non_interactive(self, app):
        result = app.test_cli_runner().invoke(
            args=[
                "crm",
                "create-admin",
                "--email",
                "Ops@Example.com",
                "--password",
                "ops-secret-123",
            ]
        )
        assert result.exit_code == 0, result.output
        assert "Administrator ops@example.com created." in result.output
        user = db.session.scalar(select(User).where(User.email == "ops@example.com"))
        assert user.is_admin
        assert db.session.get(AppSetting, service.SETUP_KEY) is not None
        # A second administrator is fine; a duplicate e-mail is refused with a message.
        dup = app.test_cli_runner().invoke(
            args=[
                "crm",
                "create-admin",
                "--email",
                "ops@example.com",
                "--password",
                "ops-secret-123",
            ]
        )
        assert dup.exit_code == 1
        assert "already exists" in dup.output


@pytest.mark.parametrize("path", ["/", "/admin/", "/account/password"])
def test_pages_need_sign_in(client, staff, path):
    r = client.get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login")


def test_configuration_area_needs_the_administrator_right(login_as, staff, admin):
    assert login_as(staff).get("/admin/").status_code == 403
    assert login_as(admin).get("/admin/").status_code == 200


def test_a_busy_database_never_fails_a_page_over_the_last_seen_note(client, staff, login_as):
    """Under load SQLite answers "database is locked" to the session's last-seen update;
    that bookkeeping must not turn a page into a 409 (or the error page into a 500)."""
    from sqlalchemy import event

    login_as(staff, client)
    db.session.execute(
        update(AuthSession).values(last_seen_at=utcnow() - timedelta(hours=1))
    )  # due for a new note
    db.session.commit()
    busy_error = db.engine.dialect.loaded_dbapi.OperationalError
    refused = []

    def busy(_cursor, statement, *_args):  # where the driver would answer
        if statement.lstrip().upper().startswith("UPDATE AUTH_SESSIONS"):
            refused.append(statement)
            raise busy_error("database is locked")

    event.listen(db.engine, "do_execute", busy)
    try:
        page = client.get("/")
    finally:
        event.remove(db.engine, "do_execute", busy)
    assert refused  # the note was attempted, and refused
    assert page.status_code == 200
    assert b"Sam Staff" in page.data

"""Accepting an invitation: single use, expiry, unknown links, the password rules, signing
in; never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm.access import users
from crm.access.models import User, UserInvite
from crm.auth import service as auth
from crm.auth.models import AuthSession
from crm.extensions import db
from crm.timeutil import utcnow
from tests.access.conftest import snapshot
from tests.factories import make_user

GOOD = "a-long-and-varied-passphrase"


@pytest.fixture
def invited(app):
    admin = make_user("boss@example.com", is_admin=True, roles=())
    user, token = users.create(admin, email="joiner@example.com", display_name="Jo <Joiner>")
    return user.id, token


def test_the_page_greets_the_user_and_leaks_nothing(invited, client):
    _uid, token = invited
    r = client.get(f"/invite/{token}")
    html = r.data.decode()
    assert r.status_code == 200
    assert "Welcome, Jo &lt;Joiner&gt;" in html and "joiner@example.com" in html
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in r.headers["Cache-Control"]
    assert 'name="csrf_token"' in html


def test_accepting_sets_the_password_signs_in_and_uses_the_link_up(invited, client):
    uid, token = invited
    r = client.submit(f"/invite/{token}", {"password": GOOD, "confirm": GOOD})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "Jo &lt;Joiner&gt;" in home.data.decode()
    db.session.rollback()
    invite = db.session.scalar(select(UserInvite).where(UserInvite.user_id == uid))
    assert invite.used_at is not None
    assert auth.sign_in("joiner@example.com", GOOD).id == uid
    # Single use: the same link again, in another browser, is a calm page.
    other = client.application.test_client()
    again = other.get(f"/invite/{token}")
    assert again.status_code == 410 and "already been used" in again.data.decode()
    before = snapshot()
    assert (
        other.submit(f"/invite/{token}", {"password": "x" * 12, "confirm": "x" * 12}).status_code
        == 410
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", "between 10 and 256 characters"),
        ("x" * 257, "x" * 257, "between 10 and 256 characters"),
        (GOOD, GOOD + "!", "The passwords differ."),
        ("aaaaaaaaaaaa", "aaaaaaaaaaaa", "less repetitive"),
        ("joiner@example.com", "joiner@example.com", "e-mail address"),
        ("", "", "This field is required"),
    ],
)
def test_the_password_rules_of_setup_apply(invited, client, password, confirm, message):
    _uid, token = invited
    before = snapshot()
    r = client.submit(f"/invite/{token}", {"password": password, "confirm": confirm})
    assert r.status_code == 400
    assert message in r.data.decode()
    assert snapshot() == before
    assert client.get("/").status_code == 302  # not signed in


def test_an_expired_link(invited, client):
    uid, token = invited
    db.session.execute(update(UserInvite).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    r = client.get(f"/invite/{token}")
    assert r.status_code == 410 and "expired" in r.data.decode()
    assert client.submit(f"/invite/{token}", {"password": GOOD, "confirm": GOOD}).status_code == 410
    assert db.session.get(User, uid).password_hash.startswith("!")


def test_a_link_is_valid_for_seven_days(invited, client):
    _uid, token = invited
    db.session.execute(update(UserInvite).values(expires_at=utcnow() + timedelta(minutes=1)))
    db.session.commit()
    assert client.get(f"/invite/{token}").status_code == 200


@pytest.mark.parametrize(
    "token",
    ["nope", "x" * 43, "x" * 500, "%00", "..%2F..%2Fetc", "' OR 1=1 --", "ü"],
)
def test_unknown_links_are_a_calm_404(invited, client, token):
    r = client.get(f"/invite/{token}")
    assert r.status_code == 404
    # "/" inside a token does not even reach the page: the general 404 answers.
    assert "not valid" in r.data.decode() or "does not exist" in r.data.decode()
    assert client.submit(f"/invite/{token}", {"password": GOOD, "confirm": GOOD}).status_code == 404


def test_a_deactivated_account_cannot_join(invited, client):
    uid, token = invited
    db.session.get(User, uid).is_active = False
    db.session.commit()
    r = client.get(f"/invite/{token}")
    assert r.status_code == 410 and "deactivated" in r.data.decode()


def test_the_form_needs_its_csrf_token(invited, client):
    _uid, token = invited
    before = snapshot()
    r = client.post(f"/invite/{token}", data={"password": GOOD, "confirm": GOOD})
    assert r.status_code == 400
    assert snapshot() == before


def test_a_reset_link_ends_the_old_sessions(app, login_as, client):
    admin = make_user("boss@example.com", is_admin=True, roles=())
    old = make_user("old@example.com", display_name="Old Hand")
    theirs = login_as(old)
    token = users.reinvite(admin, old.id)
    r = client.submit(f"/invite/{token}", {"password": GOOD, "confirm": GOOD})
    assert r.status_code == 303
    assert theirs.get("/").status_code == 302  # the old browser is signed out
    db.session.rollback()
    live = db.session.scalars(
        select(AuthSession).where(AuthSession.user_id == old.id, AuthSession.revoked_at.is_(None))
    ).all()
    assert len(live) == 1  # the session the link opened
    assert auth.sign_in("old@example.com", GOOD).id == old.id


def test_deactivating_ends_the_link_for_good(invited, client):
    uid, token = invited
    admin = db.session.scalar(select(User).where(User.email == "boss@example.com"))
    users.set_active(admin, uid, False)
    users.set_active(admin, uid, True)
    r = client.get(f"/invite/{token}")
    assert r.status_code == 410  # reactivation does not bring the old link back

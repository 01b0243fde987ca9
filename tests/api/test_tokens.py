"""Token lifecycle: shown once, stored hashed, last use noted cheaply, revoked, expired;
the account pages and the administrators' list; the CLI."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.api import tokens
from crm.api.models import ApiToken
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from tests.api.conftest import bearer, new_token
from tests.factories import make_role, make_user


def test_the_secret_is_stored_only_as_its_hash(world):
    made = tokens.create(world["ann"], "ERP sync", read_only=True, expires_days=30)
    db.session.commit()
    row = db.session.scalar(select(ApiToken))
    assert made.secret.startswith("atl_" + row.prefix + "_")
    assert row.secret_hash == hashlib.sha256(made.secret.encode()).hexdigest()
    stored = [str(v) for v in db.session.execute(select(ApiToken.__table__)).one()]
    assert not any(made.secret in v for v in stored)
    assert row.read_only and row.expires_at is not None
    assert tokens.authenticate(made.secret).id == row.id


@pytest.mark.parametrize(
    "secret",
    ["", "nope", "atl_000000000000_" + "x" * 43, "Bearer x", "atl_" + "a" * 300],
)
def test_unknown_or_malformed_tokens_authenticate_nobody(world, secret):
    new_token(world["ann"])
    assert tokens.authenticate(secret) is None


def test_a_token_with_a_right_prefix_and_a_wrong_secret_is_refused(world):
    secret = new_token(world["ann"])
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert tokens.authenticate(forged) is None


def test_bad_input_is_refused_with_field_errors(world):
    for kwargs, key in (
        ({"name": " "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "ok", "expires_days": 0}, "expires"),
        ({"name": "ok", "expires_days": 4000}, "expires"),
        ({"name": "ok", "entities": ["nosuch"]}, "entities"),
    ):
        name = kwargs.pop("name")
        with pytest.raises(ValidationFailed) as caught:
            tokens.create(world["ann"], name, **kwargs)
        assert key in caught.value.errors
    assert db.session.scalar(select(ApiToken)) is None


def test_last_use_is_written_at_most_once_a_minute(world, client):
    secret = new_token(world["ann"])
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    row = db.session.scalar(select(ApiToken))
    first = row.last_used_at
    assert first is not None
    client.get("/api/v1/me", headers=bearer(secret))
    db.session.refresh(row)
    assert row.last_used_at == first
    row.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    client.get("/api/v1/me", headers=bearer(secret))
    db.session.refresh(row)
    assert row.last_used_at > first - timedelta(minutes=2)


def test_revoked_and_expired_tokens_are_refused_with_problem_details(world, client):
    revoked, expired = new_token(world["ann"], name="a"), new_token(world["ann"], name="b")
    rows = {t.name: t for t in db.session.scalars(select(ApiToken))}
    tokens.revoke(rows["a"].id, by=world["ann"])
    rows["b"].expires_at = rows["b"].created_at - timedelta(seconds=1)
    db.session.commit()
    for secret in (revoked, expired):
        r = client.get("/api/v1/me", headers=bearer(secret))
        assert r.status_code == 401
        assert r.mimetype == "application/problem+json"
        assert r.json["status"] == 401 and r.json["type"].endswith("/unauthenticated")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_persons_token_stops_working(world, client):
    secret = new_token(world["ann"])
    world["ann"].is_active = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_one_may_revoke_only_ones_own_token(world):
    new_token(world["ada"])
    theirs = db.session.scalar(select(ApiToken))
    with pytest.raises(NotFound):
        tokens.revoke(theirs.id, by=world["ann"])
    assert db.session.get(ApiToken, theirs.id).revoked_at is None


def test_the_account_page_creates_shows_once_lists_and_revokes(world, login_as):
    client = login_as(world["ann"])
    page = client.get("/account/api-tokens/")
    assert page.status_code == 200 and b"You have no API token." in page.data
    r = client.submit("/account/api-tokens/", {"name": "Website form", "read_only": "y"})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    row = db.session.scalar(select(ApiToken))
    body = r.data.decode()
    start = body.index('id="token-secret">') + len('id="token-secret">')
    secret = body[start : body.index("<", start)]
    assert hashlib.sha256(secret.encode()).hexdigest() == row.secret_hash
    assert row.read_only and row.user_id == world["ann"].id
    again = client.get("/account/api-tokens/").data.decode()
    assert secret not in again and "Website form" in again
    # revoke needs CSRF, then works
    assert client.post(f"/account/api-tokens/{row.id}/revoke").status_code == 400
    assert client.submit(f"/account/api-tokens/{row.id}/revoke").status_code == 303
    db.session.refresh(row)
    assert row.revoked_at is not None


def test_the_account_page_refuses_bad_input(world, login_as):
    client = login_as(world["ann"])
    for data in ({"name": ""}, {"name": "x", "expires": "0"}, {"name": "x", "expires": "99999"}):
        r = client.submit("/account/api-tokens/", data)
        assert r.status_code == 400
    assert (
        client.submit("/account/api-tokens/", {"name": "x", "entities": "nosuch"}).status_code
        == 400
    )
    assert db.session.scalar(select(ApiToken)) is None


def test_another_persons_token_cannot_be_revoked_from_ones_page(world, login_as):
    new_token(world["ada"])
    row = db.session.scalar(select(ApiToken))
    r = login_as(world["ann"]).submit(f"/account/api-tokens/{row.id}/revoke")
    assert r.status_code == 404
    db.session.refresh(row)
    assert row.revoked_at is None


def test_the_admin_list_needs_the_manage_access_right(world, login_as):
    new_token(world["ann"], name="Ann's script")
    row = db.session.scalar(select(ApiToken))
    ann = login_as(world["ann"])
    assert ann.get("/admin/api-tokens/").status_code == 403
    assert ann.submit(f"/admin/api-tokens/{row.id}/revoke").status_code == 403
    make_role("Access managers", can_manage_access=True)
    manager = login_as(make_user("m@example.com", roles=("Access managers",)))
    page = manager.get("/admin/api-tokens/")
    assert page.status_code == 200 and "Ann&#39;s script" in page.data.decode()
    assert manager.submit(f"/admin/api-tokens/{row.id}/revoke").status_code == 303
    db.session.refresh(row)
    assert row.revoked_at is not None
    assert manager.submit("/admin/api-tokens/999999/revoke").status_code == 404


def test_the_cli_prints_the_token_on_its_last_line(world, app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "crm",
            "token",
            "create",
            "--email",
            "ANN@example.com",
            "--name",
            "cron",
            "--read-only",
            "--expires",
            "7",
        ]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    row = db.session.scalar(select(ApiToken))
    assert row.read_only and row.name == "cron"
    assert (row.expires_at - row.created_at).days == 7
    me = client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json["email"] == "ann@example.com"
    bad = runner.invoke(args=["crm", "token", "create", "--email", "x@y.z", "--name", "n"])
    assert bad.exit_code == 1
    bad = runner.invoke(
        args=[
            "crm",
            "token",
            "create",
            "--email",
            "ann@example.com",
            "--name",
            "n",
            "--expires",
            "0",
        ]
    )
    assert bad.exit_code != 0

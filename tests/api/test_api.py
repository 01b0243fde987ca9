"""The API's guards and first routes: bearer tokens only (a session cookie alone is 401),
read-only and entity-limited tokens, problem details for every error, the body size limit,
per-token rate limits, ``/me`` and ``/entities`` (hidden fields absent)."""

from __future__ import annotations

import pytest

from crm.api.models import ApiToken
from crm.extensions import db
from tests.api.conftest import RATE, bearer, new_token

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(r, status: int) -> dict:
    assert r.status_code == status, r.data
    assert r.mimetype == "application/problem+json"
    body = r.json
    assert body.keys() >= PROBLEM_KEYS and body["status"] == status
    assert all(isinstance(body[k], str) and body[k] for k in ("type", "title", "detail"))
    assert b"<html" not in r.data and b"Traceback" not in r.data
    return body


def test_a_session_cookie_alone_is_not_accepted(world, login_as):
    client = login_as(world["ann"])
    assert client.get("/account/api-tokens/").status_code == 200  # the session is live
    body = assert_problem(client.get("/api/v1/me"), 401)
    assert "Cookies" in body["detail"]
    assert "Set-Cookie" not in client.get("/api/v1/me").headers


def test_a_token_acts_as_its_person_even_beside_someone_elses_cookie(world, login_as):
    secret = new_token(world["ann"])
    client = login_as(world["ada"])
    me = client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200
    assert me.json["email"] == "ann@example.com" and me.json["is_admin"] is False
    assert [r["name"] for r in me.json["roles"]] == ["Rep"]
    assert me.json["token"]["read_only"] is False and me.json["token"]["entities"] is None


@pytest.mark.parametrize(
    "header", ["Basic YWRhOnB3", "Bearer", "Bearer ", "Token abc", "bearer atl_x_y"]
)
def test_other_authorization_headers_are_401(world, client, header):
    assert_problem(client.get("/api/v1/me", headers={"Authorization": header}), 401)


def test_read_only_tokens_are_refused_on_writes(world, client):
    ro, rw = new_token(world["ann"], read_only=True), new_token(world["ann"], name="rw")
    body = assert_problem(client.post("/api/v1/_probe/", headers=bearer(ro)), 403)
    assert "read-only" in body["detail"]
    r = client.post("/api/v1/_probe/", headers=bearer(rw))
    assert r.status_code == 200 and r.json == {"written": True}
    # no CSRF token needed on the API (it reads no cookie)
    assert client.post("/api/v1/_probe/", headers=bearer(rw), data={"x": "1"}).status_code == 200


def test_entities_lists_what_the_person_reads_without_hidden_fields(world, client):
    ann = client.get("/api/v1/entities", headers=bearer(new_token(world["ann"])))
    assert ann.status_code == 200
    by_key = {e["key"]: e for e in ann.json["entities"]}
    assert set(by_key) == {"deal"}  # Rep reads deals only
    fields = {f["key"]: f for f in by_key["deal"]["fields"]}
    assert "name" in fields and "cost" not in fields
    assert b"cost" not in ann.data
    assert fields["name"]["editable"] is True
    ada = client.get("/api/v1/entities", headers=bearer(new_token(world["ada"])))
    ada_keys = {e["key"]: e for e in ada.json["entities"]}
    assert {"deal", "memo"} <= set(ada_keys)
    assert "cost" in {f["key"] for f in ada_keys["deal"]["fields"]}


def test_an_entity_limited_token_sees_only_its_entities(world, client):
    secret = new_token(world["ada"], entities=["memo"])
    r = client.get("/api/v1/entities", headers=bearer(secret))
    assert [e["key"] for e in r.json["entities"]] == ["memo"]
    assert client.get("/api/v1/me", headers=bearer(secret)).json["token"]["entities"] == ["memo"]


def test_entity_limits_refuse_other_entities(world, app):
    from crm.api import auth
    from crm.errors import Forbidden

    new_token(world["ada"], entities=["memo"])
    token = db.session.query(ApiToken).one()
    assert auth.allows_entity(token, "memo") and not auth.allows_entity(token, "deal")
    with app.test_request_context("/api/v1/x"):
        from flask import g

        g.api_token = token
        auth.require_entity("memo")
        with pytest.raises(Forbidden):
            auth.require_entity("deal")


def test_unknown_routes_and_methods_are_problem_details(world, client):
    secret = new_token(world["ann"])
    assert_problem(client.get("/api/v1/nothing-here", headers=bearer(secret)), 404)
    assert_problem(client.get("/api/v2/me"), 404)
    r = client.post("/api/v1/entities", headers=bearer(new_token(world["ann"], name="b")))
    assert_problem(r, 405)
    assert "GET" in r.headers["Allow"]
    # the pages keep their HTML error pages
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_a_body_over_the_limit_is_413(world, client):
    secret = new_token(world["ann"])
    r = client.post("/api/v1/_probe/", headers=bearer(secret), data=b"x" * 5000)
    assert_problem(r, 413)
    small = client.post("/api/v1/_probe/", headers=bearer(secret), data=b"x" * 100)
    assert small.status_code == 200


def test_rate_limits_are_per_token_with_retry_after(world, client):
    first, second = new_token(world["ann"], name="one"), new_token(world["ann"], name="two")
    for _ in range(RATE):
        assert client.get("/api/v1/me", headers=bearer(first)).status_code == 200
    r = client.get("/api/v1/me", headers=bearer(first))
    assert_problem(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200


def test_an_unexpected_error_is_a_500_problem(world, client, monkeypatch):
    from crm.api import views

    secret = new_token(world["ann"])

    def boom(*_a, **_k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "_iso", boom)
    r = client.get("/api/v1/me", headers=bearer(secret))
    body = assert_problem(r, 500)
    assert "secret internals" not in r.data.decode() and "errors" not in body


def test_field_errors_are_listed_in_problem_details(app):
    from crm.api import problems
    from crm.errors import ValidationFailed

    with app.test_request_context("/api/v1/x"):
        r = problems.from_exception(
            ValidationFailed("Fix it", errors={"name": ["Required."], "cost": ["Too big."]})
        )
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert r.json["errors"] == {"name": ["Required."], "cost": ["Too big."]}
    assert r.json["detail"] == "Fix it"

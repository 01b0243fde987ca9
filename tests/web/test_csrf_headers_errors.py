"""CSRF on every state-changing request, security headers, and error pages that hide internals."""

from __future__ import annotations

import pytest
from flask import abort
from sqlalchemy import func, select

from crm.access.models import User
from crm.auth.models import AuthSession
from crm.errors import Conflict
from crm.extensions import db
from crm.web.headers import CONTENT_SECURITY_POLICY
from tests.factories import PASSWORD


def live_sessions() -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))
    )


class TestCSRF:
    def test_post_without_token_is_refused_and_changes_nothing(self, app, client, staff):
        r = client.post("/login", data={"email": staff.email, "password": PASSWORD})
        assert r.status_code == 400
        assert b"Reload the page and try again" in r.data
        assert live_sessions() == 0

    def test_token_of_another_session_is_refused(self, app, login_as, staff):
        victim = login_as(staff)
        attacker = app.test_client()
        foreign = attacker.csrf_token()
        r = victim.post("/logout", data={"csrf_token": foreign})
        assert r.status_code == 400
        assert victim.get("/").status_code == 200
        assert live_sessions() == 1

    def test_htmx_post_needs_the_header_token(self, login_as, staff):
        c = login_as(staff)
        refused = c.post("/logout", headers={"HX-Request": "true"})
        assert refused.status_code == 400
        assert c.get("/").status_code == 200
        ok = c.hx_post("/logout")
        assert ok.status_code == 204
        assert ok.headers["HX-Redirect"] == "/login"
        assert c.get("/").status_code == 302

    def test_setup_post_without_token_creates_nothing(self, client):
        r = client.post(
            "/setup",
            data={
                "display_name": "X",
                "email": "x@example.com",
                "password": "p" * 12,
                "confirm": "p" * 12,
            },
        )
        assert r.status_code == 400
        assert db.session.scalar(select(func.count()).select_from(User)) == 0

    def test_no_python_none_leaks_into_attributes(self, client, staff):
        html = client.get("/login").data.decode()
        assert '="None"' not in html and 'autofocus="False"' not in html

    def test_pages_carry_the_token_for_htmx(self, login_as, staff):
        page = login_as(staff).get("/").data.decode()
        assert 'hx-headers=\'{"X-CSRFToken": "' in page

    def test_every_state_changing_route_is_protected(self, app):
        """No view is exempt from CSRF (a later route cannot slip through unnoticed) but the
        API's blueprint, which reads no cookie (bearer tokens only: crm.api.auth)."""
        csrf = app.extensions["csrf"]
        assert not csrf._exempt_views
        assert csrf._exempt_blueprints == {app.blueprints["api"]}


class TestHeaders:
    @pytest.mark.parametrize("path", ["/login", "/healthz", "/does-not-exist"])
    def test_security_headers_on_every_response(self, client, staff, path):
        h = client.get(path).headers
        assert h["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert "script-src 'self'" in h["Content-Security-Policy"]
        assert "unsafe-inline" not in h["Content-Security-Policy"]
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["X-Frame-Options"] == "DENY"
        assert h["Referrer-Policy"] == "strict-origin-when-cross-origin"

    def test_no_inline_script_in_pages(self, login_as, staff, client):
        for page in (client.get("/login").data, login_as(staff).get("/").data):
            html = page.decode()
            assert "<script>" not in html
            assert " on" + "click=" not in html
            for tag in html.split("<script")[1:]:
                assert "src=" in tag.split(">")[0]

    def test_session_cookie_is_httponly_and_samesite(self, client, staff):
        client.submit("/login", {"email": staff.email, "password": PASSWORD})
        cookie = client.get_cookie("atelier_session")
        assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


class TestErrorPages:
    @pytest.fixture
    def failing_app(self, app):
        @app.get("/boom")
        def boom():
            raise RuntimeError("secret internals: password=hunter2 at /srv/app.py line 42")

        @app.get("/conflict")
        def conflict():
            raise Conflict()

        @app.get("/forbidden")
        def forbidden():
            abort(403)

        return app

    def test_500_page_hides_internals(self, failing_app):
        r = failing_app.test_client().get("/boom")
        assert r.status_code == 500
        body = r.data.decode()
        assert "Something went wrong on our side" in body
        for leak in ("hunter2", "Traceback", "RuntimeError", "app.py"):
            assert leak not in body

    @pytest.mark.parametrize(
        ("path", "status", "text"),
        [
            ("/does-not-exist", 404, "Page not found"),
            ("/conflict", 409, "Someone else changed this first"),
            ("/forbidden", 403, "You do not have access to this"),
        ],
    )
    def test_error_pages(self, failing_app, path, status, text):
        r = failing_app.test_client().get(path)
        assert r.status_code == status
        assert text in r.data.decode()
        assert "<html" in r.data.decode()

    def test_htmx_errors_are_fragments_aimed_at_the_message_area(self, failing_app):
        r = failing_app.test_client().get("/boom", headers={"HX-Request": "true"})
        assert r.status_code == 500
        assert "<html" not in r.data.decode()
        assert r.headers["HX-Retarget"] == "#messages"
        assert "HX-Request" in r.headers["Vary"]

    def test_400_for_malformed_post(self, client):
        r = client.post(
            "/login", data=b"\xff\xfe", content_type="application/x-www-form-urlencoded"
        )
        assert r.status_code == 400

"""A test client that sends CSRF tokens the way a browser form or htmx would."""

from __future__ import annotations

import contextvars
import hashlib
import os
import re

from flask import has_app_context
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from crm.extensions import db

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class CRMClient(FlaskClient):
    """``FlaskClient`` with helpers for forms (``submit``) and htmx (``hx_get``, ``hx_post``).

    Each request runs in a fresh context, as in a real worker: it gets its own app context,
    ``g`` and database session, not the test's. The test's session is committed first (so
    the request sees the test's data and no open transaction holds locks) and its objects
    are expired, so the test reads what the request wrote.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()

        def run():
            response = FlaskClient.open(self, *args, **kwargs)
            response.get_data()  # consume streamed bodies inside the request's own context
            return response

        return contextvars.Context().run(run)

    def csrf_token(self) -> str:
        """The signed token this client's session would find in any of its forms."""
        with self.session_transaction() as sess:
            if "csrf_token" not in sess:
                sess["csrf_token"] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324
            raw = sess["csrf_token"]
        serializer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)

    def submit(self, url: str, data: dict | None = None, **kwargs):
        """POST a form with this session's CSRF token, like a browser would."""
        data = {**(data or {}), "csrf_token": self.csrf_token()}
        return self.post(url, data=data, **kwargs)

    def hx_get(self, url: str, **kwargs):
        headers = {"HX-Request": "true", **kwargs.pop("headers", {})}
        return self.get(url, headers=headers, **kwargs)

    def hx_post(self, url: str, data: dict | None = None, **kwargs):
        """POST as htmx does: the token rides in the X-CSRFToken header."""
        headers = {
            "HX-Request": "true",
            "X-CSRFToken": self.csrf_token(),
            **kwargs.pop("headers", {}),
        }
        return self.post(url, data=data or {}, headers=headers, **kwargs)


def token_in(html: bytes | str) -> str:
    """The CSRF token rendered in a page's form."""
    text = html.decode() if isinstance(html, bytes) else html
    match = TOKEN_RE.search(text)
    assert match, "no csrf_token input on the page"
    return match.group(1)

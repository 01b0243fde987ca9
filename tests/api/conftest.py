"""An app with a low rate limit and a small body limit, and a test-only write route
(``/api/v1/_probe``) behind the API's own guards, to prove read-only tokens are refused on
writes before the records API exists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Blueprint, Flask, jsonify

from crm.access import policy as P
from crm.api import auth, tokens
from crm.api.views import protect
from crm.extensions import csrf, db
from tests.conftest import build_app
from tests.factories import make_entity, make_role, make_user
from tests.factories.schema import field, text

RATE = 8


@pytest.fixture
def app(db_url, tmp_path) -> Iterator[Flask]:
    app = build_app(
        db_url,
        str(tmp_path / "instance"),
        API_RATE_LIMIT=f"{RATE} per minute",
        API_MAX_BYTES=2048,
    )
    probe = Blueprint("api_probe", __name__, url_prefix="/api/v1/_probe")
    protect(probe)

    @probe.post("/")
    @auth.writes
    def write():
        return jsonify({"written": True})

    csrf.exempt(probe)
    app.register_blueprint(probe)
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        # the CSRF extension is shared by every app of the process: only "api" stays exempt
        csrf._exempt_blueprints.discard(probe)


@pytest.fixture
def world(app):
    """Deals with a cost field reps may not see; Ann is a rep, Ada an administrator."""
    make_entity("deal", "Deal", [text("name", "Name"), field("cost", "currency", "Cost")])
    make_entity("memo", "Memo", [text("title", "Title")])
    make_role(
        "Rep", {("deal", "read"): P.OWN, ("deal", "edit"): P.OWN}, {("deal", "cost"): "hidden"}
    )
    return {
        "ann": make_user("ann@example.com", display_name="Ann Rep", roles=("Rep",)),
        "ada": make_user("ada@example.com", display_name="Ada Admin", is_admin=True),
    }


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def new_token(user, **kwargs) -> str:
    made = tokens.create(user, kwargs.pop("name", "script"), **kwargs)
    db.session.commit()
    return made.secret

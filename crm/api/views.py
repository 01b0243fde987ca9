"""The API's first routes, under ``/api/v1/``: who am I (``/me``) and what may I read
(``/entities``). Every route of ``bp`` authenticates by token (``crm.api.auth``), is limited
per token (``crm.api.limits``) and answers errors as problem details."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from crm.access import policy
from crm.api import auth
from crm.metadata import specs
from crm.timeutil import utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DEFAULT_MAX_BYTES = 1024 * 1024


def check_size() -> None:
    """Refuse (413) a body larger than ``API_MAX_BYTES``, announced or streamed."""
    limit = int(current_app.config.get("API_MAX_BYTES") or DEFAULT_MAX_BYTES)
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    request.max_content_length = limit


def protect(blueprint: Blueprint) -> None:
    """Make ``blueprint`` an API blueprint: size limit, then token authentication, before
    any of its views (CSRF exemption and rate limits are added at registration)."""
    blueprint.before_request(check_size)
    blueprint.before_request(auth.authenticate_request)


protect(bp)


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


@bp.get("/me")
def me() -> Response:
    """The token's person, their roles and the token's scope."""
    user = current_user._get_current_object()
    token = auth.current_token()
    return jsonify(
        {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "is_admin": bool(user.is_admin),
            "department_id": user.department_id,
            "roles": [{"id": r.id, "name": r.name} for r in user.roles],
            "token": {
                "id": token.id,
                "name": token.name,
                "read_only": bool(token.read_only),
                "entities": list(token.entities) if token.entities else None,
                "created_at": _iso(token.created_at),
                "expires_at": _iso(token.expires_at),
            },
            "now": _iso(utcnow()),
        }
    )


def _field(f: Any, editable: frozenset[str]) -> dict:
    data: dict = {
        "key": f.key,
        "type": f.type,
        "label": f.label,
        "required": bool(f.required),
        "editable": f.key in editable,
    }
    if f.choices:
        data["choices"] = [{"key": c.key, "label": c.label} for c in f.active_choices]
    return data


@bp.get("/entities")
def entities() -> Response:
    """The entities the token's person may read (and the token may use), each with the
    fields that person may see: hidden fields are absent."""
    user = current_user._get_current_object()
    token = auth.current_token()
    out = []
    for key, spec in sorted(specs.current().entities.items()):
        if spec.archived or not auth.allows_entity(token, key):
            continue
        if not policy.can(user, "read", spec):
            continue
        editable = frozenset(f.key for f in policy.visible_fields(user, spec, "edit"))
        out.append(
            {
                "key": key,
                "label": spec.label_singular,
                "label_plural": spec.label_plural,
                "fields": [_field(f, editable) for f in policy.visible_fields(user, spec, "read")],
            }
        )
    return jsonify({"entities": out})

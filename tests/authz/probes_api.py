"""API tokens and the API (issue 20): one's own token page creates and revokes one's own
tokens only (another's is a 404); the API refuses the signed-in cookie (401) and, with the
actor's token, lists exactly the entities the oracle lets them read, with exactly the
fields they may see."""

from __future__ import annotations

from sqlalchemy import delete, select

from crm.api import tokens
from crm.api.models import ApiToken
from crm.extensions import db
from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import Run

MARK = 'id="token-secret">'


def _secret(body: str) -> str | None:
    start = body.find(MARK)
    if start < 0:
        return None
    start += len(MARK)
    return body[start : body.index("<", start)]


def probe_api_tokens(run: Run) -> None:
    a, w = run.actor, run.world
    me = w.users[a]
    other = next(u for k, u in w.users.items() if k != a)
    run.read_case("api_tokens.token_list", "-", "own", True, run.get("/account/api-tokens/"))
    r = run.post("/account/api-tokens/", {"name": "matrix"})
    secret = _secret(r.get_data(as_text=True))
    mine = db.session.scalars(select(ApiToken).where(ApiToken.user_id == me.id)).all()
    run.case(
        "api_tokens.token_list[create]",
        "-",
        "own",
        True,
        r.status_code == 200 and len(mine) == 1 and secret is not None,
        f"(HTTP {r.status_code})",
    )
    theirs = tokens.create(other, "theirs").token
    db.session.commit()
    status = run.post(f"/account/api-tokens/{theirs.id}/revoke").status_code
    db.session.refresh(theirs)
    run.case(
        "api_tokens.token_revoke",
        "-",
        "another's",
        False,
        False if status == 404 and theirs.revoked_at is None else None,
        f"(HTTP {status})",
    )

    cookie = run.get("/api/v1/me").status_code
    run.case(
        "api.me[cookie only]", "-", "-", False, False if cookie == 401 else None, f"(HTTP {cookie})"
    )
    if secret:
        auth = {"Authorization": f"Bearer {secret}"}
        r = run.get("/api/v1/me", headers=auth)
        run.case(
            "api.me",
            "-",
            "own",
            True,
            r.status_code == 200 and r.json["id"] == me.id,
            f"(HTTP {r.status_code})",
        )
        r = run.get("/api/v1/entities", headers=auth)
        ok = r.status_code == 200
        listed = (
            {e["key"]: {f["key"] for f in e["fields"]} for e in r.json["entities"]} if ok else {}
        )
        for entity in d.ENTITY_ORDER:
            readable = oracle.may_entity(a, entity, "read")
            run.case("api.entities", entity, "entity", readable, entity in listed if ok else None)
            if readable and entity in listed:
                for field in d.fields_of(entity):
                    run.case(
                        "api.entities[field]",
                        entity,
                        field,
                        oracle.can_see_field(a, entity, field),
                        field in listed[entity],
                    )
        status = run.post(f"/account/api-tokens/{mine[0].id}/revoke").status_code
        db.session.refresh(mine[0])
        run.case(
            "api_tokens.token_revoke",
            "-",
            "own",
            True,
            status == 303 and mine[0].revoked_at is not None,
            f"(HTTP {status})",
        )
    db.session.execute(delete(ApiToken))
    db.session.commit()

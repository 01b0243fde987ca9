"""Meta-tests: every route of the app is in the authorization matrix, and every POST route
refuses a request without a CSRF token (changing nothing)."""

from __future__ import annotations

import re

from tests.authz import routes
from tests.authz.probes_webhooks import webhook_rows


def _endpoints(app) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        out.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return out


def test_every_route_of_the_app_is_in_the_matrix(world):
    table = routes.route_table(world.app)
    problems = []
    for endpoint, methods in sorted(_endpoints(world.app).items()):
        if endpoint in routes.PUBLIC:
            continue
        route = table.get(endpoint)
        if route is None:
            rules = [r.rule for r in world.app.url_map.iter_rules() if r.endpoint == endpoint]
            problems.append(
                f"{endpoint} {sorted(methods)} {rules}: not in the authorization matrix -- add it "
                "to RECORD_ROUTES in tests/authz/matrix.py with a probe (or, if it needs no "
                "right at all, to PUBLIC with the reason)"
            )
        elif methods - route.methods:
            problems.append(
                f"{endpoint}: the matrix sends {sorted(route.methods)}, the route also takes "
                f"{sorted(methods - route.methods)}"
            )
    assert not problems, "\n".join(problems)


def test_the_matrix_names_no_route_that_does_not_exist(world):
    endpoints = _endpoints(world.app)
    stale = [
        e
        for e in (*routes.RECORD_ROUTES, *routes.OTHER_ROUTES, *routes.PUBLIC)
        if e not in endpoints
    ]
    assert not stale, f"the matrix names routes the app no longer has: {stale}"


def _samples(world) -> dict:
    """A value for every URL argument of the app (real ids, so only CSRF can refuse)."""
    own = world.record("account", ("own", "admin"))
    delivery_id, host_id = webhook_rows()
    return {
        "key": "account",
        "entity_key": "account",
        "record_id": own.id,
        "field_key": "memo",
        "source": "contact",
        "fmt": "csv",
        "share_id": world.spare_share("account", own.id),
        "view_id": world.views["account"],
        "department_id": world.dept_id("B"),
        "role_id": world.role_ids["clerk"],
        "user_id": world.user_id("spare"),
        "token": "not-a-real-token-but-well-formed",
        "import_id": 1,
        "pipeline_key": "sales",
        "pool_key": "nosuchpool",
        "pool_id": 1,
        "merge_id": 1,  # no merge exists: the token is refused first
        "task_id": world.task_id("admin", "account", own.id),
        "delivery_id": delivery_id,
        "host_id": host_id,
        # CSRF is checked before the view looks for them (the world holds none)
        "request_id": 1,
        "rule_id": world.rule_id,
        "notification_id": 1,  # the token is refused first: whose it is does not matter
        "dashboard_id": 1,  # analytics dashboards and tiles: the token is refused first
        "tile_id": 1,
        "report_id": 1,  # likewise
        "token_id": 1,  # API tokens: likewise
    }


def test_every_post_route_refuses_a_request_without_a_csrf_token(world):
    """As a full administrator (who may do everything else), with an otherwise sensible
    form: 400, and nothing stored changes. Form posts and htmx posts alike."""
    client = world.clients["admin"]
    samples = _samples(world)
    problems = []
    posts = [r for r in world.app.url_map.iter_rules() if "POST" in r.methods]
    assert len(posts) > 20
    for rule in posts:
        unknown = set(rule.arguments) - samples.keys()
        if unknown:
            problems.append(f"{rule.rule}: no sample value for {sorted(unknown)} (add one)")
            continue
        url = routes.build(rule, samples)
        form = {
            "memo": "no token",
            "body": "no token",
            "name": "No token",
            "version": "1",
            "pick": "1:1",
            "field": "memo",
            "value": "x",
            "owner_id": "1",
            "target": "user:1",
            "access": "edit",
        }
        before_admin = world.admin_state()
        for headers in ({}, {"HX-Request": "true"}):
            r = client.post(url, data=form, headers=headers)
            if r.status_code != 400 or not re.search(r"[Rr]eload the page", r.data.decode()):
                problems.append(
                    f"POST {url} without a token ({headers or 'form'}): HTTP {r.status_code}"
                )
        changed = world.diff()
        if changed or world.admin_state() != before_admin:
            problems.append(f"POST {url} without a token changed stored data: {changed}")
            world.reset()
    assert not problems, "\n".join(problems)

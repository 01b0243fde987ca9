"""Every route of the access screens: who may open it, CSRF on every change, fragments."""

from __future__ import annotations

import pytest

from tests.access.conftest import matrix_post, snapshot, success_status


def gets(o) -> dict[str, str]:
    """Endpoint -> a URL that opens it."""
    return {
        "access.home": "/admin/access/",
        "access.user_list": "/admin/access/users?q=a&status=active",
        "access.user_new": "/admin/access/users/new",
        "access.user_page": f"/admin/access/users/{o.rep_east.id}",
        "access.role_list": "/admin/access/roles",
        "access.role_new": "/admin/access/roles/new",
        "access.role_page": f"/admin/access/roles/{o.rep.id}?tab=deal",
        "access.department_tree": "/admin/access/departments",
        "access.department_page": f"/admin/access/departments/{o.sales.id}",
        "access.audit_log": "/admin/access/audit?kind=user&since=2020-01-01",
        "access.audit_csv": "/admin/access/audit.csv?kind=role",
    }


def posts(o) -> dict[str, tuple[str, dict]]:
    """Endpoint -> a URL and a valid form for it (as a full administrator would send)."""
    return {
        "access.user_new": (
            "/admin/access/users/new",
            {"display_name": "X", "email": "x@example.com", "department": ""},
        ),
        "access.user_save": (
            f"/admin/access/users/{o.rep_east.id}",
            {"display_name": "Changed", "department": "", "roles": [str(o.rep.id)]},
        ),
        "access.user_invite": (f"/admin/access/users/{o.rep_east.id}/invite", {}),
        "access.user_deactivate": (f"/admin/access/users/{o.rep_east.id}/deactivate", {}),
        "access.user_reactivate": (f"/admin/access/users/{o.newbie.id}/reactivate", {}),
        "access.role_new": (
            "/admin/access/roles/new",
            {"name": "New", **matrix_post(["account", "deal"])},
        ),
        "access.role_settings": (f"/admin/access/roles/{o.rep.id}/settings", {"name": "Renamed"}),
        "access.role_grants": (
            f"/admin/access/roles/{o.rep.id}/grants",
            matrix_post(["account", "deal"]),
        ),
        "access.role_fields": (
            f"/admin/access/roles/{o.rep.id}/fields/deal",
            {"f-title": "edit", "f-amount": "edit", "f-margin": "edit"},
        ),
        "access.role_delete": (f"/admin/access/roles/{o.spare.id}/delete", {}),
        "access.department_new": (
            "/admin/access/departments/new",
            {"name": "New", "parent": "", "manager": ""},
        ),
        "access.department_save": (
            f"/admin/access/departments/{o.east.id}",
            {"name": "East", "manager": ""},
        ),
        "access.department_move": (f"/admin/access/departments/{o.east.id}/move", {"parent": ""}),
        "access.department_delete": (f"/admin/access/departments/{o.finance.id}/delete", {}),
    }


GET_ENDPOINTS = [
    "access.home",
    "access.user_list",
    "access.user_new",
    "access.user_page",
    "access.role_list",
    "access.role_new",
    "access.role_page",
    "access.department_tree",
    "access.department_page",
    "access.audit_log",
    "access.audit_csv",
]
POST_ENDPOINTS = [
    "access.user_new",
    "access.user_save",
    "access.user_invite",
    "access.user_deactivate",
    "access.user_reactivate",
    "access.role_new",
    "access.role_settings",
    "access.role_grants",
    "access.role_fields",
    "access.role_delete",
    "access.department_new",
    "access.department_save",
    "access.department_move",
    "access.department_delete",
]


def test_every_route_of_the_blueprint_is_in_these_tests(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("access.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {(e, "GET") for e in GET_ENDPOINTS} | {(e, "POST") for e in POST_ENDPOINTS}
    assert routes == listed


@pytest.fixture
def lost_finance(org):
    """Finance empties, so the delete route has something it may delete."""
    from crm.extensions import db

    org.lead_fin.department_id = None
    org.newbie.is_active = False
    db.session.commit()
    return org


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_a_full_administrator_opens_every_page(endpoint, lost_finance, login_as):
    r = login_as(lost_finance.admin).get(gets(lost_finance)[endpoint])
    assert r.status_code == (303 if endpoint == "access.home" else 200)


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_an_access_manager_opens_every_page(endpoint, org, login_as):
    r = login_as(org.mgr).get(gets(org)[endpoint])
    assert r.status_code == (303 if endpoint == "access.home" else 200)


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_a_full_administrator_can_use_every_change(endpoint, lost_finance, login_as):
    url, data = posts(lost_finance)[endpoint]
    r = login_as(lost_finance.admin).submit(url, data)
    assert r.status_code == success_status(url), r.data.decode()[:3000]


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_staff_without_the_right_get_403_on_every_page(endpoint, org, login_as):
    assert login_as(org.staff).get(gets(org)[endpoint]).status_code == 403


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_staff_without_the_right_get_403_on_every_change(endpoint, lost_finance, login_as):
    client = login_as(lost_finance.staff)
    before = snapshot()
    url, data = posts(lost_finance)[endpoint]
    assert client.submit(url, data).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_every_change_needs_the_csrf_token(endpoint, lost_finance, login_as):
    client = login_as(lost_finance.admin)
    before = snapshot()
    url, data = posts(lost_finance)[endpoint]
    r = client.post(url, data=data)
    assert r.status_code == 400
    assert "Reload the page" in r.data.decode()
    assert snapshot() == before


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_signed_out_visitors_are_sent_to_sign_in(endpoint, org, client):
    r = client.get(gets(org)[endpoint])
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_deactivated_manager_is_signed_out(org, login_as):
    from crm.extensions import db

    client = login_as(org.mgr)
    org.mgr.is_active = False
    db.session.commit()
    assert client.get("/admin/access/users").status_code == 302


def test_the_navigation_shows_access_only_to_those_who_hold_it(org, login_as):
    assert "Users &amp; access" in login_as(org.mgr).get("/").data.decode()
    assert "Users &amp; access" in login_as(org.admin).get("/").data.decode()
    assert "Users &amp; access" not in login_as(org.staff).get("/").data.decode()


def test_unknown_ids_are_404(org, login_as):
    client = login_as(org.admin)
    for url in [
        "/admin/access/users/9999",
        "/admin/access/roles/9999",
        "/admin/access/roles/1?tab=nope",
        "/admin/access/departments/9999",
    ]:
        assert client.get(url).status_code == 404, url
    for url in [
        "/admin/access/users/9999/deactivate",
        "/admin/access/roles/9999/grants",
        f"/admin/access/roles/{org.rep.id}/fields/nope",
        "/admin/access/departments/9999/delete",
    ]:
        assert client.submit(url, {}).status_code == 404, url


class TestFragments:
    def test_the_user_search_is_a_fragment(self, org, login_as):
        r = login_as(org.admin).hx_get("/admin/access/users?q=east")
        html = r.data.decode()
        assert r.status_code == 200 and "<html" not in html and 'id="user-rows"' in html
        assert "HX-Request" in r.headers["Vary"]
        assert "Eli East" in html and "Sam Staff" not in html

    def test_a_role_tab_is_a_fragment(self, org, login_as):
        r = login_as(org.admin).hx_get(f"/admin/access/roles/{org.rep.id}?tab=deal")
        html = r.data.decode()
        assert r.status_code == 200 and "<html" not in html and 'id="role-panel"' in html
        assert "HX-Request" in r.headers["Vary"]
        assert 'name="f-margin" value="hidden" checked' in html

    def test_the_same_urls_without_htmx_are_whole_pages(self, org, login_as):
        client = login_as(org.admin)
        assert "<html" in client.get(f"/admin/access/roles/{org.rep.id}?tab=deal").data.decode()
        assert "<html" in client.get("/admin/access/users?q=east").data.decode()

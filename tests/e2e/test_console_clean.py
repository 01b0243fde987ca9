"""Every main page and flow, in Chromium, without a console error or a content-security-
policy violation (the ``page`` fixture fails on any console error; this test also listens
for ``securitypolicyviolation`` events, which are reported even when nothing is logged)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.access.models import Role, User
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e

LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const what = e.blockedURI || "inline";
  window.__violations.push(e.violatedDirective + " " + what + " " + (e.sample || ""));
});
"""


def _setup(app) -> int:
    """Ada (administrator), Sam, an account entity and one account; returns its id."""
    with app.app_context():
        ada = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            color="teal",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "required": True,
                 "searchable": True},
                {"key": "industry", "type": "picklist", "label": "Industry",
                 "choices": [{"key": "retail", "label": "Retail", "color": "pink"},
                             {"key": "tech", "label": "Tech", "color": "indigo"}]},
                {"key": "employees", "type": "integer", "label": "Employees"},
            ],
            name_field="name",
            actor_id=ada.id,
        )  # fmt: skip
        account = specs.current().entity("account")
        globex = records.create(
            ada, account, {"name": "Globex", "industry": "tech", "employees": "4300"}
        )
        records.create(ada, account, {"name": "Initech", "industry": "tech", "employees": "870"})
        return globex


def _clean(page) -> None:
    """No violation reported on the page shown now."""
    assert page.evaluate("window.__violations || []") == [], page.url


def _visit(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("main")).to_be_visible()
    _clean(page)


def test_main_pages_and_flows_have_no_console_error_or_csp_violation(live_server, page):
    globex = _setup(live_server.app)
    url = live_server.url
    page.add_init_script(LISTEN)
    sign_in(page, url, "ada@example.com")
    _clean(page)

    # The list: search, the filter builder, a filter applied.
    _visit(page, url + "/r/account/?sort=name")
    page.get_by_label("Search").fill("glob")
    page.wait_for_url(re.compile(r".*q=glob.*"))
    page.get_by_label("Search").fill("")
    page.wait_for_url(lambda u: "q=glob" not in u)
    page.get_by_role("link", name="+ Add filter").click()
    panel = page.locator("#filter-panel")
    with page.expect_response(lambda r: "/filter-input" in r.url):
        panel.get_by_label("Filter field").select_option(label="Industry")
    panel.get_by_label("Tech", exact=True).check()
    panel.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*f\.industry\.in=tech.*"))
    expect(page.locator("#filter-bar .filter-chip-text")).to_have_count(1)
    _clean(page)

    # The record: inline edit, then the conflict and "Overwrite with mine".
    _visit(page, url + f"/r/account/{globex}")
    page.get_by_role("link", name="Edit Employees").click()
    form = page.locator("form#fv-employees")
    expect(form.get_by_label("Employees")).to_be_focused()
    with live_server.app.app_context():
        sam_id = db.session.scalar(select(User.id).where(User.email == "sam@example.com"))
        ada = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        records.update_record(
            ada, specs.current().entity("account"), globex, {"employees": "5000"},
            expected_version=1,
        )  # fmt: skip
    form.get_by_label("Employees").fill("4400")
    form.get_by_role("button", name="Save").click()
    conflict = page.locator(".inline-conflict")
    expect(conflict).to_contain_text("saved this record after you opened")
    # Script may style an element through the CSSOM (allowed: a browser extension, a
    # screen reader's highlighter, a drag library); htmx must not copy that back onto the
    # answer with setAttribute("style"), which the policy refuses.
    conflict.evaluate("el => { el.style.outline = '1px solid transparent'; }")
    conflict.get_by_role("button", name="Overwrite with mine").click()
    expect(page.locator("div#fv-employees")).to_contain_text("4,400")
    _clean(page)
    _visit(page, url + "/r/account/new")
    _visit(page, url + f"/r/account/{globex}/edit")

    # The designer, with the layout editor.
    for path in (
        "/admin/",
        "/admin/entities/account",
        "/admin/entities/account/layout",
        "/admin/entities/account/layout?kind=quick",
        "/admin/entities/account/views",
        "/admin/entities/account/fields/new",
        "/admin/changes",
    ):
        _visit(page, url + path)
    page.goto(url + "/admin/entities/account/layout")
    title = page.locator("form[data-layout-editor=form] [data-section]").first.get_by_label(
        "Section title"
    )
    with page.expect_response(lambda r: "/layout" in r.url and r.request.method == "POST"):
        title.fill("Company")
        title.press("Enter")
    expect(page.locator("#layout-editor .le-saved")).to_be_visible()
    _clean(page)

    # The access screens.
    with live_server.app.app_context():
        role_id = db.session.scalar(select(Role.id).order_by(Role.id))
    for path in (
        "/admin/access/users",
        "/admin/access/users/new",
        f"/admin/access/users/{sam_id}",
        "/admin/access/roles",
        "/admin/access/roles/new",
        "/admin/access/departments",
        "/",
    ):
        _visit(page, url + path)
    if role_id:
        _visit(page, url + f"/admin/access/roles/{role_id}")
    page.goto(url + "/admin/access/users")
    page.get_by_label("Search").fill("sam")
    page.wait_for_url("**q=sam**")
    expect(page.locator("#user-rows tbody tr")).to_have_count(1)
    _clean(page)
    screenshot(page, "console-clean-users")

"""htmx races, provoked on purpose in Chromium: answers held back until the test lets them
go, and a person acting in the window. A search or a filter must never be lost.

``Held`` keeps chosen requests waiting (Playwright's ``page.route``) until ``release``: the
slow connection or the busy server, with the test deciding what happens meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


class Held:
    """Requests matching ``wanted`` wait until ``release`` lets them go on; later ones
    pass."""

    def __init__(self, page, wanted: Callable) -> None:
        self.page = page
        self.routes: list = []
        self.wanted = wanted
        self.holding = True
        page.route(lambda url: True, self._route)

    def _route(self, route) -> None:
        if self.holding and self.wanted(route.request):
            self.routes.append(route)
        else:
            route.continue_()

    def wait(self, count: int = 1) -> None:
        """Until ``count`` requests are held (Playwright hands them over while the page
        is asked something: no sleeping)."""
        for _ in range(2000):
            if len(self.routes) >= count:
                return
            self.page.evaluate("0")
        raise AssertionError(f"{count} request(s) expected to be held, {len(self.routes)} seen")

    def release(self) -> None:
        self.holding = False
        routes, self.routes = self.routes, []
        for route in routes:
            route.continue_()


def _accounts(app) -> None:
    """Ada (administrator), Sam (staff) and three accounts of Sam's."""
    with app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        sam = make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "searchable": True},
                {"key": "employees", "type": "integer", "label": "Employees"},
            ],
            name_field="name",
        )
        account = specs.current().entity("account")
        for name, employees in [("Acme", "10"), ("Globex", "4300"), ("Initech", "870")]:
            records.create(sam, account, {"name": name, "employees": employees})


def _names(page):
    return page.locator("#rows tr:not(.more-row) td:nth-child(2)")


def _is_script(name: str) -> Callable:
    return lambda request: request.url.split("?")[0].endswith(name)


def test_users_search_typed_before_the_scripts_ran_is_sent(live_server, page):
    """The access screens' failure: "lea" typed while the page's scripts were still on
    their way (the users link is a plain page load) never reached the server."""
    _accounts(live_server.app)
    with live_server.app.app_context():
        make_user("lea@example.com", display_name="Lea Rossi")
    url = live_server.url
    sign_in(page, url, "ada@example.com")
    held = Held(page, _is_script("/static/vendor/htmx.min.js"))
    page.goto(url + "/admin/access/users", wait_until="commit")
    held.wait()
    page.get_by_label("Search").fill("lea")
    held.release()
    page.wait_for_url("**q=lea**")
    expect(page.locator("#user-rows tbody tr")).to_have_count(1)
    expect(page.locator("#user-rows")).to_contain_text("Lea Rossi")


def test_list_search_typed_before_the_scripts_ran_is_sent(live_server, page):
    _accounts(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    held = Held(page, _is_script("/static/vendor/htmx.min.js"))
    page.goto(url + "/r/account/?sort=name", wait_until="commit")
    held.wait()
    page.get_by_label("Search").fill("glob")
    held.release()
    page.wait_for_url(re.compile(r".*q=glob.*"))
    expect(_names(page)).to_have_text(["Globex"])


def test_a_field_chosen_the_moment_the_builder_appears_is_heard(live_server, page):
    """The list filters' failure: the builder is on screen (and focused) as soon as htmx
    swaps it in, but htmx wired it only when it settled, a timer later; a field chosen in
    between sent nothing. Here the field is chosen in the very next task."""
    _accounts(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/?sort=name")
    expect(_names(page)).to_have_count(3)
    page.evaluate(
        # Not {once: true}: the list's count (hx-trigger="load") may answer after this
        # listener is in place, and its swap must not use it up.
        """() => document.addEventListener("htmx:afterSwap", function chosen(evt) {
             if (!evt.detail.target || evt.detail.target.id !== "filter-panel") return;
             document.removeEventListener("htmx:afterSwap", chosen);
             setTimeout(() => {
               const field = document.getElementById("filter-field");
               field.value = "employees";
               field.dispatchEvent(new Event("change", {bubbles: true}));
             }, 0);
           })"""
    )
    with page.expect_response(lambda r: "/filter-input" in r.url):
        page.get_by_role("link", name="+ Add filter").click()
    expect(page.locator("#filter-panel").get_by_label("Condition")).to_be_visible()


def test_the_list_answer_does_not_close_a_builder_opened_meanwhile(live_server, page):
    """A search is on its way when "+ Add filter" is clicked: the list's answer arrives
    after the builder, and neither the builder nor the search is lost."""
    _accounts(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/?sort=name")
    expect(_names(page)).to_have_count(3)
    held = Held(page, lambda r: "/r/account/?" in r.url and "q=i" in r.url and r.method == "GET")
    page.get_by_label("Search").fill("i")  # Initech (and "Globex" has no i)
    held.wait()
    page.get_by_role("link", name="+ Add filter").click()
    panel = page.locator("#filter-panel")
    expect(panel.get_by_label("Filter field")).to_be_focused()
    with page.expect_response(lambda r: "q=i" in r.url):
        held.release()
    expect(_names(page)).to_have_text(["Initech"])
    # The builder is still open and alive.
    expect(panel.get_by_label("Filter field")).to_be_visible()
    expect(page.get_by_role("link", name="+ Add filter")).to_have_attribute("aria-expanded", "true")
    with page.expect_response(lambda r: "/filter-input" in r.url):
        panel.get_by_label("Filter field").select_option(label="Employees")
    with page.expect_response(lambda r: "/filter-input" in r.url):
        panel.get_by_label("Condition").select_option(label="is at least")
    panel.get_by_label("Filter value").fill("100")
    panel.get_by_role("button", name="Apply").click()
    # The filter is added to the search, not in place of it.
    page.wait_for_url(re.compile(r".*f\.employees\.gte=100.*"))
    assert "q=i" in page.url and "sort=name" in page.url
    expect(page.locator("#filter-bar .filter-chip-text")).to_have_text(
        ["Employees is at least 100"]
    )
    expect(_names(page)).to_have_text(["Initech"])
    expect(page.locator("#filter-panel")).to_be_empty()
    expect(page.get_by_label("Search")).to_have_value("i")

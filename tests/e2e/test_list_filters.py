"""Filters on a list, in Chromium: a staff member adds a text "contains" filter and a
picklist "is one of" filter through "Add filter", sees the list narrow and the chips,
searches within them, removes one chip, goes back, and does it all again on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> dict[str, int]:
    """Users and accounts; returns the accounts' ids by name."""
    with app.app_context():
        admin = make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
        staff = make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            color="teal",
            fields=[
                {"key": "name", "type": "text", "label": "Company name", "required": True,
                 "searchable": True},
                {"key": "industry", "type": "picklist", "label": "Industry",
                 "choices": [{"key": "retail", "label": "Retail", "color": "pink"},
                             {"key": "tech", "label": "Tech", "color": "indigo"},
                             {"key": "energy", "label": "Energy", "color": "amber"}]},
                {"key": "employees", "type": "integer", "label": "Employees"},
                {"key": "founded", "type": "date", "label": "Founded"},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
        account = specs.current().entity("account")
        ids = {}
        for name, industry, employees in [
            ("Acme Tools", "retail", "120"),
            ("Globex", "tech", "4300"),
            ("Initech", "tech", "870"),
            ("Müller & Söhne GmbH", "energy", "55"),
            ("北京科技", "tech", "2100"),
            ("<b>Not bold</b> Ltd", "retail", "12"),
        ]:
            ids[name] = records.create(
                staff, account, {"name": name, "industry": industry, "employees": employees}
            )
        return ids


def _names(page):
    return page.locator("#rows tr:not(.more-row) td:nth-child(2)")


def _chips(page):
    return page.locator("#filter-bar .filter-chip-text")


def _panel(page):
    return page.locator("#filter-panel")


def _choose(page, label: str, option: str) -> None:
    """Choose in one of the builder's selects and wait for the inputs htmx brings (the
    answer itself: "no request under way" also holds before htmx has sent it)."""
    select = _panel(page).get_by_label(label)
    current = select.evaluate("s => s.selectedIndex >= 0 ? s.options[s.selectedIndex].label : ''")
    if current == option:  # no change, no request
        return
    with page.expect_response(lambda r: "/filter-input" in r.url):
        select.select_option(label=option)
    expect(page.locator("#filter-panel .htmx-request")).to_have_count(0)


def _open_builder(page):
    page.get_by_role("link", name="+ Add filter").click()
    expect(_panel(page).get_by_label("Filter field")).to_be_focused()


NAME_CHIP = "Company name contains “e”"
TECH_CHIP = "Industry is one of Tech"


def test_add_filters_remove_one_and_go_back(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/?sort=name")
    expect(_names(page)).to_have_count(6)
    expect(_chips(page)).to_have_count(0)

    # --- a text filter: Company name contains "e" ---
    _open_builder(page)
    _choose(page, "Filter field", "Company name")
    expect(_panel(page).get_by_label("Condition")).to_have_value("contains")
    _panel(page).get_by_label("Filter value").fill("e")
    screenshot(page, "filters-builder-text")
    _panel(page).get_by_label("Filter value").press("Enter")
    page.wait_for_url(re.compile(r".*f\.name\.contains=e.*"))
    expect(_chips(page)).to_have_text([NAME_CHIP])
    expect(_names(page)).to_have_text(["Acme Tools", "Globex", "Initech", "Müller & Söhne GmbH"])
    assert "sort=name" in page.url  # the sort is kept
    expect(page.locator("#filter-panel")).to_be_empty()

    # --- a picklist filter: Industry is one of Tech (the choices wear their colours) ---
    _open_builder(page)
    _choose(page, "Filter field", "Industry")
    expect(_panel(page).get_by_label("Condition")).to_have_value("in")
    expect(page.locator(".filter-choices .chip.c-indigo")).to_have_text("Tech")
    _panel(page).get_by_label("Tech", exact=True).check()
    screenshot(page, "filters-builder-picklist")
    _panel(page).get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*f\.industry\.in=tech.*"))
    expect(_chips(page)).to_have_text([NAME_CHIP, TECH_CHIP])
    expect(_names(page)).to_have_text(["Globex", "Initech"])
    assert "f.name.contains=e" in page.url
    screenshot(page, "filters-two-chips")

    # The search box and "Save view" now carry both filters (they came out of band).
    for name in ("f.name.contains", "f.industry.in"):
        expect(page.locator(f'#list-state input[name="{name}"]')).to_have_count(1)
        expect(page.locator(f'#save-view-form input[name="{name}"]')).to_have_count(1)
    page.get_by_label("Search").fill("glob")
    expect(_names(page)).to_have_text(["Globex"])
    page.wait_for_url(re.compile(r".*q=glob.*"))
    assert "f.name.contains=e" in page.url and "f.industry.in=tech" in page.url
    page.get_by_label("Search").fill("")
    expect(_names(page)).to_have_text(["Globex", "Initech"])

    # --- a value that does not fit: the builder says so and the list stays ---
    _open_builder(page)
    _choose(page, "Filter field", "Employees")
    _choose(page, "Condition", "is between")
    _panel(page).get_by_label("From").fill("900")
    _panel(page).get_by_label("To").fill("100")
    _panel(page).get_by_role("button", name="Apply").click()
    expect(page.locator("#filter-builder .errors")).to_have_text(
        "Employees: The first value must not be after the second."
    )
    screenshot(page, "filters-builder-error")
    page.keyboard.press("Escape")
    expect(page.locator("#filter-panel")).to_be_empty()
    expect(page.get_by_role("link", name="+ Add filter")).to_be_focused()

    # --- remove one chip: only that filter goes ---
    page.get_by_role("link", name=f"Remove filter: {NAME_CHIP}").click()
    page.wait_for_url(lambda u: "f.name.contains" not in u)
    expect(_chips(page)).to_have_text([TECH_CHIP])
    expect(_names(page)).to_have_text(["Globex", "Initech", "北京科技"])
    assert "f.industry.in=tech" in page.url and "sort=name" in page.url

    # --- back: both filters again; back once more: the search for "glob" ---
    page.go_back()
    page.wait_for_url(re.compile(r".*f\.name\.contains=e.*"))
    expect(_chips(page)).to_have_text([NAME_CHIP, TECH_CHIP])
    expect(_names(page)).to_have_text(["Globex", "Initech"])
    page.go_forward()
    page.wait_for_url(lambda u: "f.name.contains" not in u)
    expect(_chips(page)).to_have_text([TECH_CHIP])

    # --- "Clear filters", and markup in a value stays text ---
    page.get_by_role("link", name="Clear filters").click()
    page.wait_for_url(lambda u: "f." not in u)
    expect(_names(page)).to_have_count(6)
    _open_builder(page)
    _choose(page, "Filter field", "Company name")
    _panel(page).get_by_label("Filter value").fill("<b>Not")
    _panel(page).get_by_label("Filter value").press("Enter")
    expect(_chips(page)).to_have_text(["Company name contains “<b>Not”"])
    expect(_names(page)).to_have_text(["<b>Not bold</b> Ltd"])


def test_filters_on_a_phone(live_server, page):
    _setup(live_server.app)
    url = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/account/?f.industry.in=retail&f.industry.in=tech&sort=name")
    expect(_chips(page)).to_have_text(["Industry is one of Retail, Tech"])
    _open_builder(page)
    _choose(page, "Filter field", "Founded")
    _choose(page, "Condition", "is in the period")
    expect(_panel(page).get_by_label("Period")).to_have_value("today")
    _panel(page).get_by_label("Period").select_option(label="This month")
    screenshot(page, "filters-phone-builder")
    # The builder fits the screen: nothing sticks out sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    _panel(page).get_by_role("link", name="Cancel").click()
    expect(page.locator("#filter-panel")).to_be_empty()
    _open_builder(page)
    _choose(page, "Filter field", "Employees")
    _choose(page, "Condition", "is at least")
    _panel(page).get_by_label("Filter value").fill("1000")
    _panel(page).get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*f\.employees\.gte=1000.*"))
    expect(_names(page)).to_have_text(["Globex", "北京科技"])
    expect(_chips(page)).to_have_text(
        ["Industry is one of Retail, Tech", "Employees is at least 1,000"]
    )
    screenshot(page, "filters-phone-chips")


def test_lookup_and_owner_filters(live_server, page):
    ids = _setup(live_server.app)
    with live_server.app.app_context():
        olga = make_user("olga@example.com", display_name="Olga Other")
        sam = make_user("sam2@example.com", display_name="Sam Two")
        service.create_entity(
            "contact",
            "Contact",
            fields=[
                {"key": "full_name", "type": "text", "label": "Full name", "required": True,
                 "searchable": True},
                {"key": "account", "type": "lookup", "label": "Account",
                 "options": {"target": "account"}},
            ],
            name_field="full_name",
        )  # fmt: skip
        contact = specs.current().entity("contact")
        for who, name, account in [
            (olga, "Ann at Globex", "Globex"),
            (sam, "Bo at Initech", "Initech"),
            (olga, "Cy at Acme", "Acme Tools"),
        ]:
            records.create(who, contact, {"full_name": name, "account": str(ids[account])})
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + "/r/contact/?sort=full_name")
    expect(_names(page)).to_have_count(3)

    # Account is one of Globex, Initech: each found with the lookup's search.
    _open_builder(page)
    _choose(page, "Filter field", "Account")
    _choose(page, "Condition", "is one of")
    search = _panel(page).get_by_role("searchbox", name="Account")
    for term, name in (("glob", "Globex"), ("initech", "Initech")):
        search.fill(term)
        expect(page.locator("#filter-panel .lookup-option")).to_have_text([name])
        page.locator("#filter-panel .lookup-option").click()
        expect(_panel(page).get_by_role("checkbox", name=name)).to_be_checked()
    expect(search).to_have_value("")
    screenshot(page, "filters-builder-lookups")
    _panel(page).get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*f\.account\.in=.*"))
    expect(_chips(page)).to_have_text(["Account is one of Globex, Initech"])
    expect(_names(page)).to_have_text(["Ann at Globex", "Bo at Initech"])

    # Owner is one of Olga Other (the people are listed by name).
    _open_builder(page)
    _choose(page, "Filter field", "Owner")
    _choose(page, "Condition", "is one of")
    _panel(page).get_by_role("checkbox", name="Olga Other").check()
    _panel(page).get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*f\.owner_id\.in=.*"))
    expect(_chips(page)).to_have_text(
        ["Account is one of Globex, Initech", "Owner is one of Olga Other"]
    )
    expect(_names(page)).to_have_text(["Ann at Globex"])

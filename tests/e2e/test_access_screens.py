"""The access screens in Chromium: an administrator builds a department, a role with a few
scopes and a hidden field, and a user with an invitation link; the new user opens the
link in a fresh browser, chooses a password and works within the role."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.schema import service as schema
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def side(page, name):
    """A link of the access area's side navigation."""
    return page.get_by_role("complementary", name="Access").get_by_role("link", name=name)


def test_admin_sets_up_access_and_the_invited_user_joins(live_server, page, browser):
    url = live_server.url
    with live_server.app.app_context():
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True, roles=())
        schema.create_entity(
            "deal",
            "Deal",
            fields=[
                {"key": "title", "type": "text", "label": "Title"},
                {"key": "amount", "type": "currency", "label": "Amount"},
                {"key": "margin", "type": "percent", "label": "Margin"},
            ],
        )
        schema.create_entity(
            "account", "Account", fields=[{"key": "name", "type": "text", "label": "Name"}]
        )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    sign_in(page, url, "ada@example.com")

    # Departments: a root and one below it, through "Add below".
    page.get_by_title("Administration").click()  # the gear in the bar
    page.get_by_role("link", name="Users & access").click()
    side(page, "Departments").click()
    page.get_by_label("Name").fill("Company")
    page.get_by_role("button", name="Add department").click()
    page.wait_for_url("**/admin/access/departments")
    page.get_by_role("link", name="Add below").click()
    page.get_by_label("Name").fill("Sales")
    page.get_by_label("Manager").select_option(label="Ada Admin (ada@example.com)")
    page.get_by_role("button", name="Add department").click()
    expect(page.get_by_text("“Sales” was added.")).to_be_visible()
    expect(page.locator(".tree .tree .tree-row", has_text="Sales")).to_be_visible()
    screenshot(page, "access-departments")

    # A role: a few scopes in the matrix (one POST) ...
    side(page, "Roles").click()
    page.get_by_role("link", name="New role").click()
    page.get_by_label("Name").fill("Sales rep")
    page.get_by_label("Description").fill("Works their own deals; sees the department's.")
    page.get_by_label("Every other entity — Read").select_option("1")
    page.get_by_label("Every other entity — Edit").select_option("1")
    page.get_by_label("Every other entity — Create").select_option("4")
    page.get_by_label("Deals — Read").select_option("2")
    page.get_by_label("Deals — Edit").select_option("1")
    page.get_by_label("Deals — Create").select_option("4")
    page.get_by_label("Accounts — Read").select_option("1")
    assert page.get_by_label("Deals — Read").get_attribute("data-level") == "2"  # recoloured
    screenshot(page, "access-role-new")
    page.get_by_role("button", name="Create role").click()
    page.wait_for_url("**/admin/access/roles/*")
    expect(page.get_by_text("is ready")).to_be_visible()
    screenshot(page, "access-role-matrix")

    # ... and a hidden field on the entity's tab (swapped in by htmx).
    page.wait_for_load_state()
    page.get_by_role("link", name="Fields · Deals").click()
    page.wait_for_url("**tab=deal")
    page.get_by_role("radiogroup", name="Margin").get_by_role("radio", name="Hidden").check()
    page.get_by_role("radiogroup", name="Amount").get_by_role("radio", name="Read-only").check()
    page.get_by_role("button", name="Save field rights for Deals").click()
    expect(page.get_by_text("Field rights for Deals saved.")).to_be_visible()
    assert page.get_by_role("radiogroup", name="Margin").get_by_label("Hidden").is_checked()
    screenshot(page, "access-role-fields")

    # A user, with the one-time link shown once.
    side(page, "Users").click()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Name").fill("Lea Rossi")
    page.get_by_label("E-mail").fill("lea@example.com")
    page.get_by_label("Department").select_option(label="\u2003Sales")
    page.get_by_label("Sales rep").check()
    page.get_by_role("button", name="Create and make the link").click()
    page.wait_for_url("**/admin/access/users/*")
    link = page.locator("#invite-link").input_value()
    assert "/invite/" in link
    page.get_by_role("button", name="Copy").click()
    page.wait_for_function("() => document.querySelector('[data-copy]').textContent === 'Copied'")
    screenshot(page, "access-user-invite")
    side(page, "Users").click()
    page.get_by_label("Search").fill("lea")
    page.wait_for_url("**q=lea**")
    assert page.locator("#user-rows tbody tr").count() == 1
    expect(page.locator("#user-rows").get_by_text("Invitation pending")).to_be_visible()
    page.get_by_label("Search").fill("")
    page.wait_for_function("() => document.querySelectorAll('#user-rows tbody tr').length === 2")
    screenshot(page, "access-users")

    # The invited user, in a fresh browser: chooses a password and is signed in.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    errors: list[str] = []
    fresh = context.new_page()
    fresh.on("pageerror", lambda exc: errors.append(str(exc)))
    fresh.goto(link)
    expect(fresh.get_by_role("heading", name="Welcome, Lea Rossi")).to_be_visible()
    fresh.get_by_label("Choose a password").fill("short")
    fresh.get_by_label("Repeat the password").fill("short")
    fresh.get_by_role("button", name="Set password and sign in").click()
    expect(fresh.get_by_text("Use between 10 and 256 characters.")).to_be_visible()
    fresh.get_by_label("Choose a password").fill("lea-picks-a-good-one")
    fresh.get_by_label("Repeat the password").fill("lea-picks-a-good-one")
    screenshot(fresh, "access-invite-accept")
    fresh.get_by_role("button", name="Set password and sign in").click()
    fresh.wait_for_url(url + "/")
    expect(fresh.get_by_text("Welcome, Lea Rossi. Your password is set.")).to_be_visible()
    assert fresh.get_by_role("link", name="Users & access").count() == 0
    # Within the role: deals are listed without the hidden margin.
    fresh.goto(url + "/r/deal/")
    header = fresh.locator("table thead").inner_text().lower()
    assert "title" in header and "amount" in header and "margin" not in header
    screenshot(fresh, "access-invited-user-deals")
    # The link was for one use only.
    fresh.goto(link)
    expect(fresh.get_by_text("already been used")).to_be_visible()
    screenshot(fresh, "access-invite-used")
    context.close()
    assert errors == []

    # Back with the administrator: the user is active now.
    page.reload()
    row = page.locator("#user-rows tbody tr", has_text="Lea Rossi")
    expect(row.get_by_text("Active")).to_be_visible()

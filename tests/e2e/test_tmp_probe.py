"""A staff member works in the runtime, in Chromium: searches and filters a list, creates a
contact whose account is quick-created from the lookup, edits a value in place and sees it
in the timeline; then acts on several records at once and saves a view of their own."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.access.models import User
from crm.extensions import db
from crm.metadata import list_views as lv
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _setup(app) -> dict[str, int]:
    """The users, entities and accounts of these tests; returns the accounts' ids by name."""
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
                {"key": "website", "type": "url", "label": "Website"},
            ],
            name_field="name",
            actor_id=admin.id,
        )  # fmt: skip
        service.create_entity(
            "contact",
            "Contact",
            color="blue",
            fields=[
                {"key": "full_name", "type": "text", "label": "Full name", "required": True,
                 "searchable": True},
                {"key": "account", "type": "lookup", "label": "Account",
                 "options": {"target": "account"}},
                {"key": "email", "type": "email", "label": "E-mail"},
                {"key": "title", "type": "text", "label": "Job title"},
            ],
            name_field="full_name",
            actor_id=admin.id,
        )  # fmt: skip
        lv.save_shared_view(
            "account",
            {
                "name": "Tech accounts",
                "columns": ["name", "industry", "employees", "owner_id"],
                "sort": [["name", "asc"]],
                "filters": [{"field": "industry", "op": "in", "value": ["tech"]}],
            },
            actor_id=admin.id,
        )
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


def _rows(page):
    return page.locator("#rows tr:not(.more-row) td:nth-child(2)")


def test_inline_conflict_lets_the_user_choose(live_server, page):
    globex = _setup(live_server.app)["Globex"]
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + f"/r/account/{globex}")
    page.locator("#fv-employees").hover()
    page.get_by_role("link", name="Edit Employees").click()
    form = page.locator("form#fv-employees")
    expect(form.get_by_label("Employees")).to_be_visible()  # opened at version 1
    # Meanwhile someone else saves the record.
    with live_server.app.app_context():
        ada = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        records.update_record(
            ada,
            specs.current().entity("account"),
            globex,
            {"employees": "5000"},
            expected_version=1,
        )
    form.get_by_label("Employees").fill("4400")
    form.get_by_role("button", name="Save").click()
    conflict = page.locator(".inline-conflict")
    expect(conflict).to_contain_text("Ada Admin saved this record after you opened")
    expect(conflict).to_contain_text("5,000")
    expect(conflict).to_contain_text("4,400")
    screenshot(page, "runtime-inline-conflict")
    conflict.get_by_role("button", name="Overwrite with mine").click()
    expect(page.locator("div#fv-employees")).to_contain_text("4,400")
    expect(page.locator("#timeline")).to_contain_text("5,000")

    page.wait_for_timeout(1000)

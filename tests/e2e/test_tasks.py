"""A staff member plans a task on a record page, finds it in "My tasks" and marks it done
in one click, in Chromium."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from crm.records import service as records
from crm.schema import service
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def test_add_a_task_see_it_in_my_tasks_and_mark_it_done(live_server, page):
    with live_server.app.app_context():
        sam = make_user("sam@example.com", display_name="Sam Staff")
        service.create_entity(
            "account",
            "Account",
            fields=[{"key": "name", "type": "text", "label": "Company name", "required": True}],
            name_field="name",
        )
        acc = records.create(sam, specs.current().entity("account"), {"name": "Globex"})
    url = live_server.url
    sign_in(page, url, "sam@example.com")
    page.goto(url + f"/r/account/{acc}")
    steps = page.locator("#next-steps")
    expect(steps.get_by_text("No open tasks.")).to_be_visible()
    steps.get_by_text("Add a task").click()
    form = steps.locator("details.task-add form")
    form.get_by_label("Subject").fill("Send the offer")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    form.get_by_label("Due date").fill(yesterday)
    form.get_by_label("Priority").select_option("high")
    form.get_by_role("button", name="Add task").click()
    task = page.locator("#next-steps li.task", has_text="Send the offer")
    expect(task).to_be_visible()
    expect(task).to_have_class("task task-overdue")
    expect(task.get_by_text("High priority")).to_be_visible()
    screenshot(page, "tasks-record-page")
    # Changed in place: a typo fixed, the priority lowered
    task.get_by_text("Edit").click()
    edit = task.locator("details.task-edit form")
    edit.get_by_label("Subject").fill("Send the signed offer")
    edit.get_by_label("Priority").select_option("normal")
    screenshot(page, "tasks-edit")
    edit.get_by_role("button", name="Save task").click()
    task = page.locator("#next-steps li.task", has_text="Send the signed offer")
    expect(task).to_be_visible()
    expect(task.get_by_text("High priority")).to_have_count(0)
    # Done on the record page: the task leaves "Next steps" and the timeline shows it done,
    # without a reload
    steps.get_by_text("Add a task").click()
    form.get_by_label("Subject").fill("Call back")
    form.get_by_label("Due date").fill(date.today().isoformat())
    form.get_by_role("button", name="Add task").click()
    call = page.locator("#next-steps li.task", has_text="Call back")
    expect(call).to_be_visible()
    call.get_by_role("button", name="Done").click()
    expect(call).to_have_count(0)
    expect(page.locator("#timeline").get_by_text("Call back")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tasks").click()
    page.wait_for_url("**/tasks/")
    overdue = page.locator("#tasks-overdue")
    expect(overdue.get_by_role("link", name="Send the signed offer")).to_be_visible()
    expect(overdue.get_by_text("Globex")).to_be_visible()
    screenshot(page, "tasks-my-tasks")
    overdue.get_by_role("button", name="Done").click()
    expect(page.locator("li.task", has_text="Send the signed offer")).to_have_count(0)
    page.reload()
    expect(page.get_by_text("You have no open tasks.")).to_be_visible()

    page.goto(url + f"/r/account/{acc}")
    expect(page.locator("#timeline").get_by_text("completed the task")).to_have_count(2)
    expect(page.locator("#timeline").get_by_text("Send the signed offer")).to_be_visible()
    screenshot(page, "tasks-timeline")

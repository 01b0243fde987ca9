"""An administrator arranges the form of an entity by dragging fields in Chromium."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from crm.metadata import specs
from crm.schema import service
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.e2e

FIELDS = [
    {"key": "full_name", "type": "text", "label": "Full name", "required": True},
    {"key": "email", "type": "email", "label": "Email"},
    {"key": "phone", "type": "phone", "label": "Phone"},
    {"key": "joined_on", "type": "date", "label": "Joined on"},
    {
        "key": "level",
        "type": "picklist",
        "label": "Membership level",
        "choices": [
            {"key": "bronze", "label": "Bronze", "color": "amber"},
            {"key": "silver", "label": "Silver", "color": "slate"},
            {"key": "gold", "label": "Gold", "color": "yellow"},
        ],
    },
    {"key": "newsletter", "type": "boolean", "label": "Receives the newsletter"},
    {
        "key": "annual_fee",
        "type": "currency",
        "label": "Annual fee",
        "options": {"currency": "EUR"},
    },
    {"key": "notes", "type": "long_text", "label": "Notes", "help_text": "Seen by staff only."},
    {"key": "visits", "type": "integer", "label": "Visits"},
]
MOVED = ["level", "joined_on", "annual_fee"]


@pytest.fixture
def signed_in(live_server, page):
    with live_server.app.app_context():
        service.create_entity(
            "member", "Member", "Members", color="teal", fields=FIELDS, name_field="full_name"
        )
        make_user("ada@example.com", display_name="Ada Admin", is_admin=True)
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    return page


def drag(page, source, target, *, where: str = "bottom") -> None:
    """Drag with real mouse moves in small steps (SortableJS runs in fallback mode), ending
    near the top or the bottom edge of ``target`` (before it, or at the end of a list)."""
    source.scroll_into_view_if_needed()
    start = source.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    end = target.bounding_box()
    ty = end["y"] + (6 if where == "top" else end["height"] - 6)
    page.mouse.move(end["x"] + end["width"] / 2, ty, steps=16)
    page.mouse.move(end["x"] + end["width"] / 2 + 2, ty, steps=2)  # let Sortable settle
    page.mouse.up()


@contextmanager
def saving(page, status: int = 200):
    """Expect the block to cause a save, and wait until its answer is on screen."""
    with page.expect_response(
        lambda r: "/layout" in r.url and r.request.method == "POST"
    ) as response:
        yield
    assert response.value.status == status
    page.wait_for_function("() => !document.querySelector('.le-form.htmx-request')")
    page.wait_for_selector(
        "#layout-editor .le-saved" if status == 200 else "#layout-editor [role=alert]"
    )


def top(page) -> None:
    """Scroll to the top before a full-page screenshot (sticky bars are drawn where the
    page is scrolled to)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("() => window.scrollY === 0")


def stored_layout(live_server):
    with live_server.app.app_context():
        return specs.current().layout("member")


def test_admin_arranges_the_form_in_two_sections(live_server, signed_in):
    page = signed_in
    page.goto(live_server.url + "/admin/entities/member")
    page.get_by_role("link", name="Form layout").click()
    page.wait_for_url("**/admin/entities/member/layout")
    editor = page.locator("form[data-layout-editor=form]")
    assert editor.locator("[data-section]").count() == 1

    with saving(page):
        page.get_by_role("button", name="Add section").click()
    sections = editor.locator("[data-section]")
    assert sections.count() == 2
    title = sections.nth(1).get_by_label("Section title")
    # The new section's title keeps the focus across the save, ready to be typed over.
    assert title.evaluate("el => el === document.activeElement")
    with saving(page, status=400):
        title.fill("   ")
        title.press("Enter")
    expect(page.get_by_role("alert").get_by_text("Enter a section title.")).to_be_visible()
    top(page)
    screenshot(page, "layout-error")
    with saving(page):
        title.fill("Membership")
        title.press("Enter")
    assert not page.get_by_role("alert").count()
    with saving(page):
        sections.nth(1).get_by_label("Columns").select_option("1")
    assert sections.nth(1).locator("[data-column]").count() == 1
    with saving(page):
        sections.nth(1).get_by_label("Columns").select_option("2")
    assert sections.nth(1).locator("[data-column]").count() == 2

    for n, key in enumerate(MOVED):
        column = sections.nth(1).locator("[data-column]").nth(n % 2)
        with saving(page):
            drag(page, editor.locator(f"[data-field={key}]"), column)
        assert sections.nth(1).locator(f"[data-field={key}]").count() == 1

    top(page)
    screenshot(page, "layout-editor")
    page.reload()
    sections = page.locator("form[data-layout-editor=form] [data-section]")
    assert sections.count() == 2
    assert sections.nth(1).get_by_label("Section title").input_value() == "Membership"
    moved = (
        sections.nth(1).locator("[data-field]").evaluate_all("els => els.map(e => e.dataset.field)")
    )
    assert sorted(moved) == sorted(MOVED)

    layout = stored_layout(live_server)
    assert [s.title for s in layout.sections] == ["Details", "Membership"]
    assert layout.sections[1].columns == 2
    assert sorted(layout.sections[1].field_keys) == sorted(MOVED)
    assert not set(MOVED) & set(layout.sections[0].field_keys)

    preview = page.locator("[data-preview]")
    preview_sections = preview.locator("[data-preview-section]")
    assert preview_sections.count() == 2
    second = preview_sections.nth(1)
    assert second.get_by_role("heading").text_content() == "Membership"
    for label in ("Membership level", "Joined on", "Annual fee"):
        expect(second.get_by_text(label, exact=True)).to_be_visible()
    assert not preview_sections.nth(0).get_by_text("Annual fee", exact=True).count()
    assert preview.locator("select option", has_text="Gold").count() == 1
    top(page)
    screenshot(page, "layout-preview")


def test_admin_reorders_quick_create(live_server, signed_in):
    page = signed_in
    page.goto(live_server.url + "/admin/entities/member/layout?kind=quick")
    included = page.locator("[data-quick-included]")
    before = included.locator("[data-field]").evaluate_all("els => els.map(e => e.dataset.field)")
    assert before[0] == "full_name"
    # The required field is locked in: it has no Remove button.
    assert not included.locator("[data-field=full_name] button").count()

    with saving(page):
        drag(
            page,
            included.locator("[data-field=email]"),
            included.locator("[data-field=full_name]"),
            where="top",
        )
    first = included.locator("[data-field]").first
    assert first.get_attribute("data-field") == "email"
    available = page.locator("[data-quick-available]")
    with saving(page):
        drag(page, available.locator("[data-field=visits]"), included)
    assert included.locator("[data-field=visits]").count() == 1
    with saving(page):
        included.locator("[data-field=phone]").get_by_role("button").click()
    assert available.locator("[data-field=phone]").count() == 1
    top(page)
    screenshot(page, "layout-quick")

    page.reload()
    after = page.locator("[data-quick-included] [data-field]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    )
    assert after[:2] == ["email", "full_name"]
    assert "visits" in after and "phone" not in after
    with live_server.app.app_context():
        assert list(specs.current().quick_layout("member")) == after
    preview = page.locator("[data-preview] .pv-label").all_text_contents()
    assert preview[0].startswith("Email") and preview[1].startswith("Full name")


# -- a drag while saves come and go ---------------------------------------------------------

COUNT_ANSWERS = """() => {
  window.__sent = 0; window.__answered = 0;
  document.addEventListener('htmx:beforeSend', () => { window.__sent += 1; });
  document.addEventListener('htmx:afterRequest', () => { window.__answered += 1; });
}"""


class HeldSaves:
    """Holds back the answer to the next layout save (``page.route``) until ``release``;
    records every layout save's status."""

    def __init__(self, page):
        self.page = page
        self.held: list = []
        self.holding = False
        self.statuses: list[int] = []
        page.on(
            "response",
            lambda r: (
                self.statuses.append(r.status)
                if r.request.method == "POST" and "/layout" in r.url
                else None
            ),
        )
        page.route("**/admin/entities/member/layout*", self._route)

    def _route(self, route):
        if route.request.method == "POST" and self.holding:
            self.holding = False
            self.held.append(route)
        else:
            route.continue_()

    def hold_next(self) -> None:
        self.holding = True

    def wait_held(self) -> None:
        for _ in range(500):
            if self.held:
                return
            self.page.wait_for_timeout(20)
        raise AssertionError("the save was not sent")

    def release(self) -> None:
        self.held.pop().continue_()


def press_and_move(page, source, target) -> tuple[float, float]:
    """Press ``source`` and move it (real mouse moves, SortableJS in fallback mode) near the
    top of ``target``, without letting go; returns where the pointer is."""
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    end = target.bounding_box()
    tx, ty = end["x"] + end["width"] / 2, end["y"] + 6
    page.mouse.move(tx, ty, steps=12)
    page.mouse.move(tx + 2, ty, steps=2)  # let Sortable settle
    return tx + 2, ty


def columns_now(page) -> list[list[str]]:
    """The fields of each column as the editor shows them (SortableJS's floating copy of a
    dragged field left out)."""
    return page.locator("form[data-layout-editor=form] [data-column]").evaluate_all(
        "cols => cols.map(c => Array.from(c.children)"
        ".filter(li => !li.classList.contains('sortable-fallback'))"
        ".map(li => li.dataset.field))"
    )


def test_a_drag_started_while_saves_are_answered_lands_where_the_placeholder_was(
    live_server, signed_in
):
    """Two edits save (the first answer held back, the second queued behind it); the
    administrator presses a field and drags it to the top of the first column. Both answers
    arrive while the field is held: the editor is not redrawn under the pointer and the
    queued save sends a layout the editor showed (never the dragged field twice). The field
    lands where the placeholder showed, that save succeeds, and so does the next one."""
    page = signed_in
    page.goto(live_server.url + "/admin/entities/member/layout")
    page.evaluate(COUNT_ANSWERS)
    saves = HeldSaves(page)
    editor = page.locator("form[data-layout-editor=form]")
    title = editor.locator("[data-section]").first.get_by_label("Section title")

    saves.hold_next()
    title.fill("Member")
    title.press("Tab")  # a change: saved, the answer held back
    saves.wait_held()
    title.fill("Members")
    title.press("Tab")  # a second change: queued behind the first (hx-sync)
    page.wait_for_function("() => window.__sent === 1")

    column = editor.locator("[data-column]").first
    first = column.locator("[data-field]").first
    assert first.get_attribute("data-field") == "full_name"
    x, y = press_and_move(page, editor.locator("[data-field=visits]"), first)
    placeholder = columns_now(page)
    assert placeholder[0][0] == "visits", placeholder
    assert editor.locator("[data-field=visits].is-ghost").count() == 1

    saves.release()  # the first answer arrives mid-drag; the queued save goes out then
    page.wait_for_function("() => window.__answered === 2", timeout=15_000)
    assert saves.statuses == [200, 200], saves.statuses
    assert columns_now(page) == placeholder  # nothing redrawn under the pointer
    assert editor.locator("[data-field=visits].is-ghost").count() == 1

    with saving(page):
        page.mouse.move(x + 1, y, steps=2)
        page.mouse.up()
    assert columns_now(page) == placeholder
    layout = stored_layout(live_server)
    assert layout.sections[0].title == "Members"
    assert [list(c) for c in layout.sections[0].fields] == placeholder
    assert not page.get_by_role("alert").count()

    title = page.locator("form[data-layout-editor=form] [data-section]").first.get_by_label(
        "Section title"
    )
    with saving(page):  # the next save succeeds too
        title.fill("Membership")
        title.press("Tab")
    assert stored_layout(live_server).sections[0].title == "Membership"
    assert saves.statuses == [200, 200, 200, 200], saves.statuses
    assert columns_now(page) == placeholder


def test_an_answer_that_came_while_a_field_was_held_is_shown_after_it(live_server, signed_in):
    """An edit saves, and its answer arrives while a field is pressed and moved but put back
    where it was: nothing was redrawn under the pointer, and at the release the answer is
    shown (the preview has the new title; no answer is lost)."""
    page = signed_in
    page.goto(live_server.url + "/admin/entities/member/layout")
    page.evaluate(COUNT_ANSWERS)
    saves = HeldSaves(page)
    editor = page.locator("form[data-layout-editor=form]")
    title = editor.locator("[data-section]").first.get_by_label("Section title")
    before = columns_now(page)

    saves.hold_next()
    title.fill("Member")
    title.press("Tab")
    saves.wait_held()
    email = editor.locator("[data-field=email]")
    email.scroll_into_view_if_needed()
    box = email.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 10, steps=4)
    page.mouse.move(x, y, steps=4)  # back where it was
    saves.release()
    page.wait_for_function("() => window.__answered === 1", timeout=15_000)
    heading = page.locator("[data-preview] [data-preview-section]").first.get_by_role("heading")
    assert heading.text_content() != "Member"  # kept, not swapped in under the pointer
    page.mouse.up()
    page.wait_for_selector("#layout-editor .le-saved")
    assert heading.text_content() == "Member"
    assert columns_now(page) == before
    assert saves.statuses == [200]
    assert stored_layout(live_server).sections[0].title == "Member"
    with saving(page):  # the editor works on after the kept answer
        drag(page, editor.locator("[data-field=visits]"), editor.locator("[data-column]").nth(1))
    assert columns_now(page)[1][-1] == "visits"
    assert stored_layout(live_server).sections[0].fields[1][-1] == "visits"

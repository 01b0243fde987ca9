"""Bulk edit, assign and delete from the list page: optimistic locking per row, scope,
validation that changes nothing, escaping, CSRF."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.records import bulk
from crm.records import service as records
from crm.records.models import RecordHistory
from tests.factories import make_user, stored
from tests.records.runtime_model import build_model, entity, make, picks


@pytest.fixture
def model(app):
    return build_model()


@pytest.fixture
def c(login_as, staff):
    return login_as(staff)


def history(key: str, record_id: int) -> list[RecordHistory]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(RecordHistory)
            .where(RecordHistory.entity_key == key, RecordHistory.record_id == record_id)
            .order_by(RecordHistory.id)
        )
    )


def test_list_rows_carry_id_and_version_for_the_bulk_bar(c, staff, model):
    a = make(staff, "account", name="Acme")
    records.update_record(staff, entity("account"), a, {"employees": "3"}, expected_version=1)
    html = c.get("/r/account/").data.decode()
    assert (
        f'<td class="pick"><input type="checkbox" name="pick" value="{a}:2" form="bulk-form" '
        'aria-label="Select Acme"></td>'
    ) in html
    assert 'id="bulk-form"' in html and 'class="pick-all"' in html
    assert "Change a field…" in html and "Assign to…" in html and ">Sam Staff<" in html
    # The number field is never editable, so it is not offered.
    assert '<option value="number">' not in html and '<option value="industry">' in html


def test_bulk_edit_changes_every_picked_record_and_writes_history(c, staff, model):
    ids = [make(staff, "account", name=n) for n in ("A", "B", "C")]
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks(*[(i, 1) for i in ids]), "field": "industry", "value_for": "industry",
         "industry": "tech"},
    )  # fmt: skip
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body
    assert "3 Accounts updated." in body
    assert json.loads(r.headers["HX-Trigger"]) == {"records-changed": True}
    assert "HX-Request" in r.headers["Vary"]
    for i in ids:
        row = stored("account", i)
        assert row["industry"] == "tech" and row["version"] == 2 and row["updated_by"] == staff.id
        assert history("account", i)[-1].changes == {"industry": [None, "tech"]}


def test_a_record_changed_since_the_list_was_loaded_is_left_alone_and_named(
    app, login_as, staff, admin, model
):
    ids = [make(staff, "account", name=n) for n in ("Alpha", "<b>Beta</b>", "Gamma", "Delta")]
    # Someone else saves "Beta" after the list was loaded at version 1.
    records.update_record(admin, entity("account"), ids[1], {"employees": "9"}, expected_version=1)
    c = login_as(staff)
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks(*[(i, 1) for i in ids]), "field": "employees", "value_for": "employees",
         "employees": "50"},
    )  # fmt: skip
    body = r.data.decode()
    assert r.status_code == 200
    assert "3 Accounts updated." in body
    assert "1 skipped because someone changed it since you loaded the list" in body
    assert f'href="/r/account/{ids[1]}">&lt;b&gt;Beta&lt;/b&gt;</a>' in body
    assert "<b>Beta</b>" not in body
    beta = stored("account", ids[1])
    assert beta["employees"] == 9 and beta["version"] == 2
    assert [stored("account", i)["employees"] for i in (ids[0], ids[2], ids[3])] == [50, 50, 50]


def test_records_outside_what_the_user_may_change_are_refused(c, staff, model):
    live = make(staff, "account", name="Live")
    binned = make(staff, "account", name="Binned")
    records.delete(staff, entity("account"), binned)
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks((live, 1), (binned, 2), (98765, 1)), "field": "name", "value": "Renamed"},
    )
    body = r.data.decode()
    assert r.status_code == 200
    assert "1 Account updated." in body
    assert "2 skipped: they do not exist any more, are in the recycle bin" in body
    assert stored("account", live)["name"] == "Renamed"
    assert stored("account", binned)["name"] == "Binned"
    assert stored("account", 98765) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("employees", "twelve", "whole number"),
        ("name", "", "This field is required."),
        ("industry", "nope", "Industry"),
        ("code", "A-1", "cannot be set on several records at once"),
        ("number", "7", "Choose the field to change."),
        ("nothing", "7", "Choose the field to change."),
    ],
)
def test_a_bad_value_changes_nothing(c, staff, model, field, value, message):
    ids = [make(staff, "account", name=n) for n in ("A", "B")]
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks(*[(i, 1) for i in ids]), "field": field, "value_for": field, field: value},
    )
    body = r.data.decode()
    assert r.status_code == 400 and message in body and "notice-error" in body
    assert "HX-Trigger" not in r.headers
    for i in ids:
        row = stored("account", i)
        assert row["version"] == 1 and row["name"] in ("A", "B")
    assert len(history("account", ids[0])) == 1


def test_a_unique_value_taken_by_another_record_is_refused(c, staff, model):
    make(staff, "account", name="Holder", code="X-1")
    other = make(staff, "account", name="Other")
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks((other, 1)), "field": "code", "value_for": "code", "code": "X-1"},
    )
    assert r.status_code == 400 and "already has this Code" in r.data.decode()
    assert stored("account", other)["code"] is None
    ok = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks((other, 1)), "field": "code", "value_for": "code", "code": "X-2"},
    )
    assert ok.status_code == 200 and stored("account", other)["code"] == "X-2"


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        ([], "Pick at least one record first."),
        (["abc"], "could not be read"),
        (["1:x"], "could not be read"),
        (["-1:1"], "could not be read"),
        (["1"], "does not say which version you saw"),
    ],
)
def test_a_bad_selection_is_a_clear_400(c, staff, model, pick, message):
    make(staff, "account")
    r = c.hx_post("/r/account/bulk/edit", {"pick": pick, "field": "name", "value": "Z"})
    assert r.status_code == 400 and message in r.data.decode()
    assert stored("account", 1)["name"] == "Acme"


def test_more_than_the_cap_is_refused_with_a_clear_message(c, staff, model):
    make(staff, "account")
    too_many = picks(*[(i, 1) for i in range(1, bulk.MAX_BULK + 2)])
    r = c.hx_post("/r/account/bulk/edit", {"pick": too_many, "field": "name", "value": "Z"})
    assert r.status_code == 400
    assert f"Act on at most {bulk.MAX_BULK} records at a time" in r.data.decode()
    assert stored("account", 1)["name"] == "Acme"


def test_lookup_and_multi_select_values(c, staff, model):
    acc = make(staff, "account", name="Initech")
    people = [make(staff, "contact", full_name=n) for n in ("Ann", "Bob")]
    r = c.hx_post(
        "/r/contact/bulk/edit",
        {"pick": picks(*[(i, 1) for i in people]), "field": "account", "value_for": "account",
         "account": str(acc)},
    )  # fmt: skip
    assert r.status_code == 200 and all(stored("contact", i)["account"] == acc for i in people)
    bad = c.hx_post(
        "/r/contact/bulk/edit",
        {"pick": picks(*[(i, 2) for i in people]), "field": "account", "value_for": "account",
         "account": "999"},
    )  # fmt: skip
    assert bad.status_code == 400 and "Choose an existing Account" in bad.data.decode()
    tags = c.hx_post(
        "/r/contact/bulk/edit",
        {"pick": picks(*[(i, 2) for i in people]), "field": "tags", "value_for": "tags",
         "tags": ["press", "vip"]},
    )  # fmt: skip
    assert tags.status_code == 200
    assert stored("contact", people[0])["tags"] == ["vip", "press"]  # in choice order


def test_setting_the_value_a_record_already_has_is_not_a_change(c, staff, model):
    a = make(staff, "account", name="A", industry="tech")
    b = make(staff, "account", name="B")
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks((a, 1), (b, 1)), "field": "industry", "value_for": "industry",
         "industry": "tech"},
    )  # fmt: skip
    body = r.data.decode()
    assert "1 Account updated." in body and "1 Account already had that value." in body
    assert stored("account", a)["version"] == 1 and stored("account", b)["version"] == 2


def test_checkbox_value_false_when_not_ticked(c, staff, model):
    a = make(staff, "account", active="true")
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks((a, 1)), "field": "active", "value_for": "active"},
    )
    assert r.status_code == 200 and stored("account", a)["active"] is False


def test_bulk_assign_owner(app, login_as, staff, admin, model):
    ids = [make(staff, "account", name=n) for n in ("A", "B")]
    records.update_record(admin, entity("account"), ids[1], {"name": "B2"}, expected_version=1)
    c = login_as(staff)
    r = c.hx_post("/r/account/bulk/assign", {"pick": picks((ids[0], 1), (ids[1], 1)),
                                              "owner_id": str(admin.id)})  # fmt: skip
    body = r.data.decode()
    assert r.status_code == 200 and "1 Account reassigned." in body and "1 skipped" in body
    assert stored("account", ids[0])["owner_id"] == admin.id
    assert stored("account", ids[1])["owner_id"] == staff.id
    assert history("account", ids[0])[-1].action == "assign"
    assert history("account", ids[0])[-1].changes == {"owner_id": [staff.id, admin.id]}
    page = c.get(f"/r/account/{ids[0]}").data.decode()
    assert "changed the owner" in page


@pytest.mark.parametrize("owner", ["", "abc", "99999", "inactive"])
def test_bulk_assign_needs_an_active_user(c, staff, model, owner):
    if owner == "inactive":
        owner = str(make_user("gone@example.com", is_active=False).id)
    a = make(staff, "account")
    r = c.hx_post("/r/account/bulk/assign", {"pick": picks((a, 1)), "owner_id": owner})
    assert r.status_code == 400 and "Choose an active user" in r.data.decode()
    assert stored("account", a)["owner_id"] == staff.id


def test_bulk_delete_moves_to_the_bin_and_respects_restrict(c, staff, model):
    free = make(staff, "account", name="Free")
    held = make(staff, "account", name="<i>Held</i>")
    make(staff, "deal", title="Renewal", account=str(held))
    contact = make(staff, "contact", full_name="Ann", account=str(free))
    r = c.hx_post("/r/account/bulk/delete", {"pick": [f"{free}:1", f"{held}:1", "4242:1"]})
    body = r.data.decode()
    assert r.status_code == 200
    assert "1 Account moved to the recycle bin." in body
    assert "Not deleted: 1 Deal still refer to it through “Account”." in body
    assert "&lt;i&gt;Held&lt;/i&gt;" in body and "<i>Held</i>" not in body
    assert "1 skipped" in body
    assert stored("account", free)["deleted_at"] is not None
    assert stored("account", held)["deleted_at"] is None
    assert stored("contact", contact)["account"] is None  # the "clear" rule, as one delete
    assert history("account", free)[-1].action == "delete"
    assert "Free" in c.get("/r/account/bin").data.decode()


def test_plain_form_posts_flash_and_redirect(c, staff, model):
    a = make(staff, "account")
    r = c.submit("/r/account/bulk/edit", {"pick": picks((a, 1)), "field": "name", "value": "Z"})
    assert r.status_code == 303 and r.headers["Location"] == "/r/account/"
    assert "1 Account updated." in c.get("/r/account/").data.decode()
    bad = c.submit("/r/account/bulk/edit", {"pick": [], "field": "name", "value": "Z"})
    assert bad.status_code == 303
    assert "Pick at least one record first." in c.get("/r/account/").data.decode()


@pytest.mark.parametrize("action", ["edit", "assign", "delete"])
def test_csrf_is_required(c, staff, model, action):
    a = make(staff, "account")
    data = {"pick": picks((a, 1)), "field": "name", "value": "Z", "owner_id": str(staff.id)}
    r = c.post(f"/r/account/bulk/{action}", data=data, headers={"HX-Request": "true"})
    assert r.status_code == 400 and "Reload the page" in r.data.decode()
    row = stored("account", a)
    assert row["name"] == "Acme" and row["deleted_at"] is None and row["version"] == 1


def test_sign_in_is_required(client, staff, model):
    a = make(staff, "account")
    # Without a token CSRF refuses first (400); with one, sign-in is asked for (302).
    r = client.post("/r/account/bulk/delete", data={"pick": [f"{a}:1"]})
    assert r.status_code == 400
    assert stored("account", a)["deleted_at"] is None
    r = client.submit("/r/account/bulk/delete", {"pick": [f"{a}:1"]})
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=%2Fr%2Faccount%2Fbulk%2Fdelete"
    assert stored("account", a)["deleted_at"] is None


def test_value_input_has_the_right_widget_for_the_type(c, staff, model):
    industry = c.hx_get("/r/account/bulk/input?field=industry").data.decode()
    assert "<html" not in industry and "<select" in industry and 'name="industry"' in industry
    assert 'name="value_for" value="industry"' in industry and ">Tech<" in industry
    number = c.hx_get("/r/account/bulk/input?field=employees").data.decode()
    assert 'inputmode="numeric"' in number and 'aria-label="New Employees"' in number
    lookup = c.hx_get("/r/contact/bulk/input?field=account").data.decode()
    assert "data-lookup" in lookup and "/r/account/lookup" in lookup
    unknown = c.hx_get("/r/account/bulk/input?field=number").data.decode()
    assert "disabled" in unknown and "value_for" not in unknown
    assert c.get("/r/account/bulk/input?field=name").status_code == 303


def test_labels_with_markup_are_escaped_in_the_value_input(c, staff, model):
    from crm.schema import service as schema

    schema.update_field("account", "employees", label="<b>Staff</b>")
    html = c.hx_get("/r/account/bulk/input?field=employees").data.decode()
    assert "&lt;b&gt;Staff&lt;/b&gt;" in html and "<b>Staff</b>" not in html


# --- with roles: records outside the user's scope ------------------------------------------


@pytest.fixture
def rep(app, model):
    from crm.access import policy as P
    from tests.factories import make_role

    make_role("Rep", {"read": P.ALL, "create": P.ALL, "edit": P.OWN, "bulk_edit": P.OWN,
                 "assign": P.OWN, "delete": P.OWN})  # fmt: skip
    make_role("Editor", {"read": P.ALL, "edit": P.ALL})
    return make_user("rep@example.com", display_name="Rita Rep", roles=("Rep",))


def test_records_outside_the_scope_are_refused_and_untouched(login_as, staff, rep, model):
    theirs = make(staff, "account", name="Staff's")
    mine = make(rep, "account", name="Rep's")
    c = login_as(rep)
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks((theirs, 1), (mine, 1)), "field": "name", "value": "Renamed"},
    )
    body = r.data.decode()
    assert r.status_code == 200 and "1 Account updated." in body
    assert "1 skipped: it does not exist any more, is in the recycle bin, or you may not" in body
    assert "Staff&#39;s" not in body and "Staff's" not in body  # not even named
    assert stored("account", theirs)["name"] == "Staff's"
    assert stored("account", theirs)["version"] == 1
    assert stored("account", mine)["name"] == "Renamed"
    gone = c.hx_post("/r/account/bulk/delete", {"pick": [f"{theirs}:1"]})
    assert "1 skipped" in gone.data.decode() and stored("account", theirs)["deleted_at"] is None
    moved = c.hx_post(
        "/r/account/bulk/assign", {"pick": picks((theirs, 1)), "owner_id": str(rep.id)}
    )
    assert "1 skipped" in moved.data.decode() and stored("account", theirs)["owner_id"] == staff.id


def test_without_the_bulk_edit_right_nothing_is_changed(login_as, staff, rep, model):
    editor = make_user("ed@example.com", roles=("Editor",))
    a = make(staff, "account")
    c = login_as(editor)
    html = c.get("/r/account/").data.decode()
    assert "Change a field…" not in html and "Assign to…" not in html
    r = c.hx_post("/r/account/bulk/edit", {"pick": picks((a, 1)), "field": "name", "value": "Z"})
    assert r.status_code == 403
    assert c.hx_post("/r/account/bulk/delete", {"pick": [f"{a}:1"]}).status_code == 403
    row = stored("account", a)
    assert row["name"] == "Acme" and row["deleted_at"] is None


def test_inline_edit_outside_the_scope(login_as, staff, rep, model):
    theirs = make(staff, "account", name="Staff's")
    c = login_as(rep)
    page = c.get(f"/r/account/{theirs}").data.decode()
    assert "/field/name/edit" not in page
    assert c.hx_get(f"/r/account/{theirs}/field/name/edit").status_code == 404
    r = c.hx_post(f"/r/account/{theirs}/field/name", {"version": "1", "name": "Mine now"})
    assert r.status_code == 404 and stored("account", theirs)["name"] == "Staff's"

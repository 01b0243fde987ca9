"""Inline edit of one value on the record page, and the form check on blur."""

from __future__ import annotations

import pytest

from crm.records import service as records
from tests.factories import stored
from tests.records.runtime_model import build_model, entity, make


@pytest.fixture
def model(app):
    return build_model()


@pytest.fixture
def c(login_as, staff):
    return login_as(staff)


def test_record_page_offers_inline_edit_only_for_editable_fields(c, staff, model):
    a = make(staff, "account", name="Acme", employees="5")
    html = c.get(f"/r/account/{a}").data.decode()
    assert f'hx-get="/r/account/{a}/field/employees/edit"' in html
    assert f'hx-get="/r/account/{a}/field/name/edit"' in html
    # Auto-numbers are never editable: shown, but with no edit affordance.
    assert "/field/number/edit" not in html and ">Number<" in html


def test_edit_fragment_save_and_timeline(c, staff, model):
    a = make(staff, "account", name="Acme", employees="5")
    edit = c.hx_get(f"/r/account/{a}/field/employees/edit")
    body = edit.data.decode()
    assert edit.status_code == 200 and "<html" not in body
    assert 'name="version" value="1"' in body and 'name="employees"' in body
    assert 'value="5"' in body and "autofocus" in body and "HX-Request" in edit.headers["Vary"]
    saved = c.hx_post(f"/r/account/{a}/field/employees", {"version": "1", "employees": "1200"})
    out = saved.data.decode()
    assert saved.status_code == 200 and "<html" not in out
    assert 'id="fv-employees"' in out and "1,200" in out
    # The head and the timeline are swapped out of band.
    assert 'id="record-title" hx-swap-oob="true"' in out and "version 2" in out
    assert 'id="timeline" hx-swap-oob="true"' in out and "<del>5</del> → <ins>1,200</ins>" in out
    row = stored("account", a)
    assert row["employees"] == 1200 and row["version"] == 2


def test_cancel_shows_the_value_again(c, staff, model):
    a = make(staff, "account", name="<script>x</script>")
    r = c.hx_get(f"/r/account/{a}/field/name")
    body = r.data.decode()
    assert r.status_code == 200 and "&lt;script&gt;x&lt;/script&gt;" in body
    assert "<script>" not in body and f"/r/account/{a}/field/name/edit" in body


def test_a_bad_value_shows_the_message_and_changes_nothing(c, staff, model):
    a = make(staff, "account", employees="5")
    r = c.hx_post(f"/r/account/{a}/field/employees", {"version": "1", "employees": "<b>x</b>"})
    body = r.data.decode()
    assert r.status_code == 400 and "whole number" in body
    assert 'value="&lt;b&gt;x&lt;/b&gt;"' in body and "<b>x</b>" not in body
    required = c.hx_post(f"/r/account/{a}/field/name", {"version": "1", "name": ""})
    assert required.status_code == 400 and "This field is required." in required.data.decode()
    assert stored("account", a)["version"] == 1


def test_unique_value_taken(c, staff, model):
    make(staff, "account", name="Holder", code="X-1")
    a = make(staff, "account", name="Other")
    r = c.hx_post(f"/r/account/{a}/field/code", {"version": "1", "code": "X-1"})
    assert r.status_code == 400 and "already has this Code" in r.data.decode()


def test_conflict_shows_theirs_and_yours_and_lets_the_user_choose(
    app, login_as, staff, admin, model
):
    a = make(staff, "account", name="Acme", employees="5")
    me = login_as(staff)
    opened = me.hx_get(f"/r/account/{a}/field/employees/edit").data.decode()
    assert 'name="version" value="1"' in opened
    records.update_record(admin, entity("account"), a, {"employees": "7"}, expected_version=1)
    r = me.hx_post(f"/r/account/{a}/field/employees", {"version": "1", "employees": "9"})
    body = r.data.decode()
    assert r.status_code == 409
    assert "Ada Admin saved this record after you opened “Employees”." in body
    assert "Saved now (theirs)</dt><dd>7</dd>" in body and "Yours</dt><dd>9</dd>" in body
    assert 'name="version" value="2"' in body and 'name="employees" value="9"' in body
    assert stored("account", a)["employees"] == 7  # never silently overwritten
    keep = me.hx_get(f"/r/account/{a}/field/employees")
    assert ">7<" in keep.data.decode() or "7</span>" in keep.data.decode()
    mine = me.hx_post(f"/r/account/{a}/field/employees", {"version": "2", "employees": "9"})
    assert mine.status_code == 200 and stored("account", a)["employees"] == 9


def test_conflict_values_with_markup_are_escaped(app, login_as, staff, admin, model):
    a = make(staff, "account", name="Acme")
    records.update_record(
        admin, entity("account"), a, {"name": "<img src=x>Theirs"}, expected_version=1
    )
    r = login_as(staff).hx_post(f"/r/account/{a}/field/name", {"version": "1", "name": "<b>Mine"})
    body = r.data.decode()
    assert r.status_code == 409
    assert "&lt;img src=x&gt;Theirs" in body and "&lt;b&gt;Mine" in body
    assert "<img" not in body and "<b>Mine" not in body


def test_same_value_saved_by_someone_else_is_no_conflict(app, login_as, staff, admin, model):
    a = make(staff, "account", employees="5")
    records.update_record(admin, entity("account"), a, {"employees": "9"}, expected_version=1)
    r = login_as(staff).hx_post(
        f"/r/account/{a}/field/employees", {"version": "1", "employees": "9"}
    )
    assert r.status_code == 200 and stored("account", a)["version"] == 2


def _opened(client, a: int, field: str) -> dict[str, str]:
    """The hidden inputs of the inline form as the browser got them."""
    import re

    body = client.hx_get(f"/r/account/{a}/field/{field}/edit").data.decode()
    return dict(re.findall(r'name="(version|seen)" value="([^"]*)"', body))


def test_a_change_to_another_value_is_no_conflict(app, login_as, staff, admin, model):
    """Someone saved the record, but not this value: this save goes on top of theirs,
    and theirs stays."""
    a = make(staff, "account", name="Acme", employees="5")
    me = login_as(staff)
    hidden = _opened(me, a, "employees")
    records.update_record(admin, entity("account"), a, {"name": "Acme Ltd"}, expected_version=1)
    r = me.hx_post(f"/r/account/{a}/field/employees", {**hidden, "employees": "9"})
    assert r.status_code == 200
    row = stored("account", a)
    assert (row["name"], row["employees"], row["version"]) == ("Acme Ltd", 9, 3)


def test_a_change_to_the_same_value_is_a_conflict_even_so(app, login_as, staff, admin, model):
    a = make(staff, "account", name="Acme", employees="5")
    me = login_as(staff)
    hidden = _opened(me, a, "employees")
    records.update_record(admin, entity("account"), a, {"employees": "7"}, expected_version=1)
    r = me.hx_post(f"/r/account/{a}/field/employees", {**hidden, "employees": "9"})
    assert r.status_code == 409 and stored("account", a)["employees"] == 7
    # A made-up fingerprint is no way round it.
    forged = {**hidden, "seen": "0" * 24, "employees": "9"}
    assert me.hx_post(f"/r/account/{a}/field/employees", forged).status_code == 409
    assert stored("account", a)["employees"] == 7


def test_checkbox_and_lookup_inline(c, staff, model):
    a = make(staff, "account", name="Initech", active="true")
    off = c.hx_post(f"/r/account/{a}/field/active", {"version": "1"})
    assert off.status_code == 200 and stored("account", a)["active"] is False
    person = make(staff, "contact", full_name="Ann")
    edit = c.hx_get(f"/r/contact/{person}/field/account/edit").data.decode()
    assert "data-lookup" in edit and "/r/account/lookup" in edit
    saved = c.hx_post(f"/r/contact/{person}/field/account", {"version": "1", "account": str(a)})
    assert saved.status_code == 200 and "Initech" in saved.data.decode()
    assert stored("contact", person)["account"] == a


@pytest.mark.parametrize("field", ["number", "nothing", "owner_id", "version"])
def test_read_only_or_unknown_fields_are_refused(c, staff, model, field):
    a = make(staff, "account")
    assert c.hx_get(f"/r/account/{a}/field/{field}/edit").status_code == 403
    r = c.hx_post(f"/r/account/{a}/field/{field}", {"version": "1", field: "7"})
    assert r.status_code == 403
    assert stored("account", a)["version"] == 1


def test_records_in_the_bin_or_missing_are_404(c, staff, model):
    a = make(staff, "account")
    records.delete(staff, entity("account"), a)
    assert c.hx_get(f"/r/account/{a}/field/name/edit").status_code == 404
    r = c.hx_post(f"/r/account/{a}/field/name", {"version": "2", "name": "Back"})
    assert r.status_code == 404 and stored("account", a)["name"] == "Acme"
    assert c.hx_get("/r/account/9999/field/name").status_code == 404


def test_inline_save_needs_csrf(c, staff, model):
    a = make(staff, "account")
    r = c.post(
        f"/r/account/{a}/field/name", data={"version": "1", "name": "X"},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert r.status_code == 400 and stored("account", a)["name"] == "Acme"


def test_without_htmx_the_fragments_fall_back_to_pages(c, staff, model):
    a = make(staff, "account")
    assert (
        c.get(f"/r/account/{a}/field/name/edit")
        .headers["Location"]
        .endswith(f"/r/account/{a}/edit")
    )
    r = c.submit(f"/r/account/{a}/field/name", {"version": "1", "name": "Plain"})
    assert r.status_code == 303 and stored("account", a)["name"] == "Plain"


# --- validation on blur -------------------------------------------------------------------


def test_form_fields_ask_for_a_check_on_blur(c, staff, model):
    html = c.get("/r/account/new").data.decode()
    assert 'hx-post="/r/account/validate/employees"' in html
    assert 'hx-trigger="focusout delay:300ms, lookup-set"' in html
    a = make(staff, "account")
    edit = c.get(f"/r/account/{a}/edit").data.decode()
    assert f'hx-post="/r/account/validate/code?record={a}"' in edit


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("employees", "abc", "whole number"),
        ("name", "", "This field is required."),
        ("industry", "<b>nope</b>", "“&lt;b&gt;nope&lt;/b&gt;” is not one of the choices."),
        ("code", "X-1", "already has this Code"),
    ],
)
def test_validate_returns_the_message_and_writes_nothing(c, staff, model, field, value, message):
    make(staff, "account", name="Holder", code="X-1")
    r = c.hx_post(f"/r/account/validate/{field}", {field: value})
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body and message in body
    assert stored("account", 2) is None


def test_validate_a_good_value_answers_nothing(c, staff, model):
    a = make(staff, "account", name="Holder", code="X-1")
    assert c.hx_post("/r/account/validate/employees", {"employees": "12"}).data.strip() == b""
    # Editing the holder: its own value is not "taken".
    own = c.hx_post(f"/r/account/validate/code?record={a}", {"code": "X-1"})
    assert own.data.strip() == b""


def test_validate_escapes_and_refuses_hidden_fields(c, staff, model):
    r = c.hx_post("/r/account/validate/number", {"number": "1"})
    assert "This field cannot be set here." in r.data.decode()
    msg = c.hx_post("/r/contact/validate/account", {"account": "<i>9</i>"}).data.decode()
    assert "errors" in msg and "<i>" not in msg


def test_validate_needs_csrf_and_rights(c, client, staff, model):
    r = c.post("/r/account/validate/name", data={"name": ""}, headers={"HX-Request": "true"})
    assert r.status_code == 400 and "Reload the page" in r.data.decode()
    # Signed out: without a token CSRF refuses first (400); with one, sign-in is asked for.
    assert client.post("/r/account/validate/name").status_code == 400
    signed_out = client.hx_post("/r/account/validate/name", {"name": "x"})
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"] == "/login?next=%2Fr%2Faccount%2Fvalidate%2Fname"
    assert c.hx_post("/r/account/validate/name?record=4242", {"name": "x"}).status_code == 404

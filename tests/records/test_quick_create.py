"""Quick create in a dialog: from the list page, and from a lookup field on a form."""

from __future__ import annotations

import json

import pytest

from crm.schema import service as schema
from tests.factories import stored
from tests.records.runtime_model import build_model


@pytest.fixture
def model(app):
    return build_model()


@pytest.fixture
def c(login_as, staff):
    return login_as(staff)


def test_list_page_offers_quick_create_in_a_dialog(c, model):
    html = c.get("/r/account/").data.decode()
    assert 'hx-get="/r/account/new?quick=1" hx-target="#quick-dialog-body"' in html
    assert '<dialog class="dialog" id="quick-dialog"' in html


def test_lookup_fields_offer_to_create_the_target(c, model):
    html = c.get("/r/contact/new").data.decode()
    assert 'data-quick-for="f-account"' in html and "+ New Account" in html
    assert 'hx-get="/r/account/new?quick=1"' in html and 'id="quick-dialog"' in html


def test_the_quick_form_fragment_fits_a_dialog(c, model):
    r = c.hx_get("/r/account/new?quick=1")
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body and "<dialog" not in body
    assert 'id="quick-form"' in body and 'hx-post="/r/account/new"' in body
    assert 'name="quick" value="1"' in body and "data-dialog-close" in body
    # Its ids do not collide with the page's form, and it offers no nested quick create.
    assert 'id="q-name"' in body and 'id="f-name"' not in body
    nested = c.hx_get("/r/contact/new?quick=1").data.decode()
    assert "+ New Account" not in nested


def test_quick_create_tells_the_page_about_the_new_record(c, staff, model):
    r = c.hx_post("/r/account/new", {"quick": "1", "name": "Umbrella <Corp> 株式会社"})
    assert r.status_code == 200
    event = json.loads(r.headers["HX-Trigger"])["quick-created"]
    assert event == {"id": 1, "label": "Umbrella <Corp> 株式会社", "entity": "account"}
    assert r.headers["HX-Trigger"].isascii()
    body = r.data.decode()
    assert 'hx-swap-oob="afterbegin:#messages"' in body
    assert "Umbrella &lt;Corp&gt; 株式会社" in body and "<Corp>" not in body
    assert stored("account", 1)["name"] == "Umbrella <Corp> 株式会社"


def test_quick_create_errors_stay_in_the_dialog(c, model):
    make_code = c.hx_post("/r/account/new", {"quick": "1", "name": ""})
    body = make_code.data.decode()
    assert make_code.status_code == 400 and "This field is required." in body
    assert 'id="quick-form"' in body and "<html" not in body
    assert stored("account", 1) is None


def test_quick_create_needs_csrf(c, model):
    r = c.post("/r/account/new", data={"quick": "1", "name": "X"}, headers={"HX-Request": "true"})
    assert r.status_code == 400 and stored("account", 1) is None


def test_without_htmx_quick_create_is_a_normal_page(c, staff, model):
    page = c.get("/r/account/new?quick=1").data.decode()
    assert "<html" in page and 'id="record-form"' in page
    r = c.submit("/r/account/new", {"quick": "1", "name": "Plain"})
    assert r.status_code == 303 and r.headers["Location"] == "/r/account/1"


def test_quick_layout_is_used(c, staff, model):
    from crm.metadata import layouts

    layouts.save_layout("account", "quick", ["name", "industry"], actor_id=None)
    body = c.hx_get("/r/account/new?quick=1").data.decode()
    assert 'name="industry"' in body and 'name="employees"' not in body


def test_labels_with_markup_are_escaped_in_the_quick_form(c, staff, model):
    schema.update_entity("account", label_singular="<b>Firm</b>")
    page = c.get("/r/contact/new").data.decode()
    assert "+ New &lt;b&gt;Firm&lt;/b&gt;" in page and "<b>Firm</b>" not in page
    body = c.hx_get("/r/account/new?quick=1").data.decode()
    assert "&lt;b&gt;firm&lt;/b&gt;" in body and "<b>" not in body


def test_no_quick_create_in_lookups_to_targets_the_user_may_not_create(c, model, monkeypatch):
    from crm.access import policy

    real = policy.can

    def no_accounts(user, action, entity=None, record=None):
        if action == "create" and entity == "account":
            return False
        return real(user, action, entity, record)

    monkeypatch.setattr(policy, "can", no_accounts)
    html = c.get("/r/contact/new").data.decode()
    assert "+ New Account" not in html
    assert "Quick create" not in c.get("/r/account/").data.decode()

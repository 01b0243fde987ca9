"""The designer's duplicate-rule screens: list, create, edit with errors by the field,
on/off, delete, the default rules; the change log and the metadata version move."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.dedupe import admin as service
from crm.dedupe.models import DuplicateRule
from crm.extensions import db
from crm.jobs.models import Job
from crm.metadata.models import ConfigChange, MetaVersion
from crm.schema import service as schema

pytestmark = pytest.mark.usefixtures("crm")


@pytest.fixture
def client(login_as, admin):
    return login_as(admin)


def version() -> int:
    return int(db.session.scalar(select(MetaVersion.version)))


def actions() -> list[str]:
    return list(db.session.scalars(select(ConfigChange.action).order_by(ConfigChange.id)))


def form(**extra) -> dict:
    data = {
        "entity_key": "account",
        "key": "account_same_name",
        "name": "Same company name",
        "tr_name.zh_Hans": "公司名称相同",
        "tr_name.es": "Mismo nombre de empresa",
        "action": "block",
        "on_create": "y",
        "enabled": "y",
        "cond_idx": ["0", "1"],
        "cond-0-field": "name",
        "cond-0-method": "company",
        "cond-1-field": "phone",
        "cond-1-method": "phone",
        "save": "1",
    }
    data.update(extra)
    return data


def rule(key: str = "account_same_name") -> DuplicateRule:
    db.session.expire_all()
    return db.session.scalar(select(DuplicateRule).where(DuplicateRule.key == key))


def test_create_lists_the_rule_in_words(client, admin):
    before = version()
    r = client.submit("/admin/duplicates/new", form())
    assert r.status_code == 303, r.text
    row = rule()
    assert row.action == "block" and row.on_create and not row.on_edit and row.enabled
    assert row.conditions == [
        {"field": "name", "method": "company"},
        {"field": "phone", "method": "phone"},
    ]
    assert row.translations == {
        "name": {"zh_Hans": "公司名称相同", "es": "Mismo nombre de empresa"}
    }
    assert version() > before
    assert actions()[-1] == "save_duplicate_rule"
    assert db.session.scalar(
        select(func.count()).select_from(Job).where(Job.kind == "dedupe.rebuild")
    )
    page = client.get("/admin/duplicates/").text
    assert "Same company name" in page
    assert "the same company name, without its legal form" in page
    assert "the same phone number" in page
    assert "Block" in page and "on create" in page
    zh = client.get("/admin/duplicates/", headers={"Accept-Language": "zh-Hans"}).text
    assert "公司名称相同" in zh or "Same company name" in zh


def test_every_error_at_once_by_the_field(client):
    r = client.submit(
        "/admin/duplicates/new",
        form(
            key="Bad Key",
            name="",
            **{
                "cond-0-field": "nosuch",
                "cond-1-method": "fuzzy",
                "cond-1-threshold": "0.2",
            },
        ),
    )
    assert r.status_code == 400
    html = r.text
    assert "Nothing was saved." in html
    assert "Give the rule a name" in html
    assert "no field nosuch" in html
    assert "The similarity must be between 0.5 and 1." in html
    assert html.count('class="errors"') >= 4
    assert db.session.scalar(select(func.count()).select_from(DuplicateRule)) == 0
    # the typed values stay in the form
    assert 'value="Bad Key"' in html


def test_threshold_out_of_range_and_not_a_number(client):
    for bad in ("1.5", "abc", "0.49"):
        r = client.submit(
            "/admin/duplicates/new",
            form(**{"cond-0-method": "fuzzy", "cond-0-threshold": bad}),
        )
        assert r.status_code == 400, bad
        assert "between 0.5 and 1" in r.text
    r = client.submit(
        "/admin/duplicates/new", form(**{"cond-0-method": "fuzzy", "cond-0-threshold": "0,9"})
    )
    assert r.status_code == 303
    assert rule().conditions[0] == {"field": "name", "method": "fuzzy", "threshold": 0.9}


def test_edit_shows_errors_and_keeps_the_rule(client):
    client.submit("/admin/duplicates/new", form())
    row = rule()
    url = f"/admin/duplicates/{row.id}/edit"
    assert "Same company name" in client.get(url).text
    before = version()
    r = client.submit(url, form(name="", key="ignored", **{"cond-1-method": "nope"}))
    assert r.status_code == 400
    assert "Give the rule a name" in r.text and "Choose how the field is compared." in r.text
    assert rule().name == "Same company name" and version() == before
    r = client.submit(url, form(name="Same account", action="warn", on_edit="y"))
    assert r.status_code == 303
    row = rule()
    assert row.name == "Same account" and row.action == "warn" and row.on_edit
    assert actions()[-1] == "save_duplicate_rule" and version() > before
    # nothing changed: no version bump, no log entry
    n, v = len(actions()), version()
    assert (
        client.submit(url, form(name="Same account", action="warn", on_edit="y")).status_code == 303
    )
    assert len(actions()) == n and version() == v


def test_add_and_remove_condition_rows_without_saving(client):
    r = client.submit("/admin/duplicates/new", form(save="", add_condition="1"))
    assert r.status_code == 200
    assert 'name="cond-2-field"' in r.text
    r = client.submit("/admin/duplicates/new", form(save="", remove_condition="1"))
    assert 'name="cond-1-field"' not in r.text
    assert db.session.scalar(select(func.count()).select_from(DuplicateRule)) == 0


def test_cross_entity_rule(client):
    r = client.submit(
        "/admin/duplicates/new",
        {
            **form(entity_key="lead", key="lead_matches_contact", name="Lead is a contact"),
            "compare_entity_key": "contact",
            "cond_idx": ["0"],
            "cond-0-field": "email",
            "cond-0-method": "email",
            "cond-0-other_field": "email",
            "cond-1-field": "",
        },
    )
    assert r.status_code == 303, r.text
    row = rule("lead_matches_contact")
    assert row.compare_entity_key == "contact"
    page = client.get("/admin/duplicates/").text
    assert "Finds Contacts" in page or "compared with" in page
    # a compared entity that does not exist
    r = client.submit(
        "/admin/duplicates/new",
        {**form(entity_key="lead", key="lead_x"), "compare_entity_key": "nosuch"},
    )
    assert r.status_code == 400 and "Choose another kind of record" in r.text


def test_archived_field_is_refused(client, admin):
    client.submit("/admin/duplicates/new", form())
    schema.archive_field("account", "phone", actor_id=admin.id)
    row = rule()
    page = client.get(f"/admin/duplicates/{row.id}/edit").text
    assert "has no field phone (or it is archived)" in page
    assert '<option value="phone" selected>phone (archived)</option>' in page
    r = client.submit(f"/admin/duplicates/{row.id}/edit", form(name="Again"))
    assert r.status_code == 400 and "(or it is archived)" in r.text
    r = client.submit("/admin/duplicates/new", form(key="other_rule"))
    assert r.status_code == 400 and "(or it is archived)" in r.text


def test_duplicate_key_refused(client):
    client.submit("/admin/duplicates/new", form())
    r = client.submit(
        "/admin/duplicates/new",
        form(entity_key="contact", **{"cond-0-field": "full_name", "cond-1-field": "phone"}),
    )
    assert r.status_code == 400 and "is already used" in r.text


def test_on_off_and_delete(client):
    client.submit("/admin/duplicates/new", form())
    row = rule()
    rid = row.id
    v = version()
    r = client.submit(f"/admin/duplicates/{row.id}/enabled")
    assert r.status_code == 303 and not rule().enabled
    assert actions()[-1] == "disable_duplicate_rule" and version() > v
    client.submit(f"/admin/duplicates/{row.id}/enabled")
    assert rule().enabled and actions()[-1] == "enable_duplicate_rule"
    # GET only confirms, POST deletes
    confirm = client.get(f"/admin/duplicates/{row.id}/delete")
    assert confirm.status_code == 200 and "Delete the duplicate rule" in confirm.text
    assert rule() is not None
    # a POST without the token is refused and changes nothing
    assert client.post(f"/admin/duplicates/{row.id}/delete").status_code == 400
    assert rule() is not None
    r = client.submit(f"/admin/duplicates/{row.id}/delete")
    assert r.status_code == 303 and rule() is None
    assert actions()[-1] == "delete_duplicate_rule"
    assert client.submit(f"/admin/duplicates/{rid}/delete").status_code == 404
    assert client.get("/admin/duplicates/999999/edit").status_code == 404


def test_default_rules_buttons(client):
    page = client.get("/admin/duplicates/").text
    assert "Add the default person rules" in page and "Add the default company rules" in page
    r = client.submit("/admin/duplicates/defaults", {"entity_key": "contact", "kind": "person"})
    assert r.status_code == 303
    assert {"contact_name_email", "contact_name_phone"} <= set(
        db.session.scalars(select(DuplicateRule.key))
    )
    r = client.submit("/admin/duplicates/defaults", {"entity_key": "account", "kind": "company"})
    assert rule("account_name_phone") is not None and rule("account_name_website") is not None
    assert actions().count("save_duplicate_rule") == 4
    # added already: the button goes, a second post adds nothing
    page = client.get("/admin/duplicates/").text
    assert page.count("Add the default company rules") == 0
    n = len(actions())
    r = client.submit("/admin/duplicates/defaults", {"entity_key": "account", "kind": "company"})
    assert r.status_code == 303 and len(actions()) == n
    assert (
        client.submit(
            "/admin/duplicates/defaults", {"entity_key": "nosuch", "kind": "x"}
        ).status_code
        == 404
    )
    # companies get no person rules
    client.submit("/admin/duplicates/defaults", {"entity_key": "account", "kind": "person"})
    assert rule("account_name_email") is None


def test_staff_cannot_reach_the_screens(login_as, crm):
    rep = login_as(crm["olga"])
    assert rep.get("/admin/duplicates/").status_code == 403
    r = rep.submit("/admin/duplicates/defaults", {"entity_key": "contact", "kind": "person"})
    assert r.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(DuplicateRule)) == 0


def test_service_refuses_non_admins(crm):
    from crm.errors import Forbidden

    with pytest.raises(Forbidden):
        service.add_defaults("contact", "person", actor_id=crm["olga"].id)

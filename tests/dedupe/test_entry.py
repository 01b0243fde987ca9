"""Duplicate rules on entry: the form's live warning and blocking on save (issue 18)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.dedupe import entry
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.records import bulk
from crm.records import service as records
from crm.records.query import table_of
from crm.schema import service as schema
from tests.dedupe.conftest import save_rules
from tests.factories import make_record

SAME_NAME = {
    "key": "account_same_name",
    "entity_key": "account",
    "name": "Same company name",
    "conditions": [{"field": "name", "method": "company"}],
    "action": "block",
}
NAME_PHONE_WARN = {
    "key": "contact_name_phone_warn",
    "entity_key": "contact",
    "name": "Same person and phone",
    "conditions": [
        {"field": "full_name", "method": "fuzzy", "threshold": 0.8},
        {"field": "phone", "method": "phone"},
    ],
    "action": "warn",
}


def spec(key):
    return specs.current().entity(key)


def count(key):
    db.session.rollback()
    t = table_of(spec(key))
    return db.session.scalar(select(func.count()).select_from(t).where(t.c.deleted_at.is_(None)))


@pytest.fixture
def accounts(crm):
    """Olga's "ACME Ltd." and Bob's "Globex GmbH" (each rep reads only their own)."""
    olga, bob = crm["olga"], crm["bob"]
    ids = {
        "acme": make_record(olga, "account", {"name": "ACME Ltd.", "phone": "+1 415 555 0101"}),
        "globex": make_record(bob, "account", {"name": "Globex GmbH"}),
    }
    save_rules(SAME_NAME)
    return ids


@pytest.fixture
def contacts(crm):
    ann = {"full_name": "Ann Lee", "phone": "(415) 555-0101"}
    ids = {"ann": make_record(crm["olga"], "contact", ann)}
    save_rules(NAME_PHONE_WARN)
    return ids


# --- the live warning --------------------------------------------------------------------------


def test_the_warning_names_readable_matches_with_score_fields_and_rule(crm, accounts, login_as):
    c = login_as(crm["olga"])
    r = c.hx_post("/r/account/duplicates", {"name": "Acme"})
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body and r.headers["Vary"]
    assert "Possible duplicates" in body and "Same company name" in body
    assert f'href="/r/account/{accounts["acme"]}"' in body and "ACME Ltd." in body
    assert "100% alike" in body and "Matched on: Name" in body
    assert "cannot see" not in body


def test_the_warning_never_names_an_unreadable_match_but_counts_it_for_a_blocking_rule(
    crm, accounts, login_as
):
    c = login_as(crm["olga"])
    body = c.hx_post("/r/account/duplicates", {"name": "globex"}).data.decode()
    assert "Globex" not in body and f'/r/account/{accounts["globex"]}"' not in body
    assert "1 other matching record exists that you cannot see." in body


def test_a_warn_rule_counts_no_hidden_matches(crm, contacts, login_as):
    c = login_as(crm["bob"])  # Ann is Olga's
    r = c.hx_post("/r/contact/duplicates", {"full_name": "Anne Lee", "phone": "+14155550101"})
    assert r.status_code == 200 and r.data.decode().strip() == ""
    c = login_as(crm["olga"])
    body = c.hx_post(
        "/r/contact/duplicates", {"full_name": "Anne Lee", "phone": "+14155550101"}
    ).data.decode()
    assert "Ann Lee" in body and "Saving is blocked" not in body


def test_nothing_matching_gives_an_empty_answer(crm, accounts, login_as):
    c = login_as(crm["olga"])
    r = c.hx_post("/r/account/duplicates", {"name": "Initech"})
    assert r.status_code == 200 and r.data.decode().strip() == ""


def test_editing_a_record_does_not_match_itself(crm, accounts, login_as):
    c = login_as(crm["olga"])
    url = f"/r/account/duplicates?record={accounts['acme']}"
    assert c.hx_post(url, {"name": "Acme Limited"}).data.decode().strip() == ""
    # Bob may not edit Olga's record: the check is refused like the form.
    assert login_as(crm["bob"]).hx_post(url, {"name": "Acme"}).status_code == 404


def test_the_forms_watch_the_fields_the_rules_read(crm, accounts, login_as):
    c = login_as(crm["olga"])
    html = c.get("/r/account/new").data.decode()
    assert 'id="f-duplicates"' in html and 'hx-post="/r/account/duplicates"' in html
    assert "from:(#f-name)" in html and 'hx-sync="this:replace"' in html
    edit = c.get(f"/r/account/{accounts['acme']}/edit").data.decode()
    assert f'hx-post="/r/account/duplicates?record={accounts["acme"]}"' in edit
    quick = c.hx_get("/r/account/new?quick=1").data.decode()
    assert 'id="q-duplicates"' in quick and "from:(#q-name)" in quick
    assert "duplicates" not in c.get("/r/lead/new").data.decode()  # no rule, no check


def test_a_phone_that_does_not_parse_does_not_crash(crm, contacts, login_as):
    c = login_as(crm["olga"])
    r = c.hx_post("/r/contact/duplicates", {"full_name": "Ann Lee", "phone": "call me ☎ ++"})
    assert r.status_code == 200 and r.data.decode().strip() == ""
    r = c.hx_post("/r/contact/duplicates", {"full_name": "Ann Lee", "phone": "9" * 500})
    assert r.status_code in (200, 400)


def test_bad_record_ids_are_clear_errors(crm, accounts, login_as):
    c = login_as(crm["olga"])
    assert c.hx_post("/r/account/duplicates?record=abc", {"name": "x"}).status_code in (400, 404)
    assert c.hx_post("/r/account/duplicates?record=99999999999", {}).status_code in (400, 404)
    assert c.post("/r/account/duplicates", data={"name": "Acme"}).status_code == 400  # no CSRF


def test_a_rule_on_an_archived_field_finds_nothing_and_does_not_crash(crm, accounts, login_as):
    site = {
        "key": "account_site",
        "entity_key": "account",
        "name": "Same website",
        "conditions": [{"field": "website", "method": "domain"}],
        "action": "block",
    }
    save_rules(site)
    make_record(crm["olga"], "account", {"name": "Initech", "website": "https://initech.com"})
    schema.archive_field("account", "website")
    db.session.commit()
    c = login_as(crm["olga"])
    r = c.hx_post("/r/account/duplicates", {"name": "Hooli", "website": "initech.com"})
    assert r.status_code == 200 and r.data.decode().strip() == ""
    assert entry.warnings(crm["olga"], spec("account"), {"website": "initech.com"}) == []
    make_record(crm["olga"], "account", {"name": "Hooli"})  # saves


# --- blocking on save ------------------------------------------------------------------------


def test_a_blocking_rule_refuses_a_create_naming_the_match(crm, accounts):
    before = count("account")
    with pytest.raises(ValidationFailed) as exc:
        make_record(crm["olga"], "account", {"name": "Acme"})
    assert exc.value.errors == {"name": ["Duplicate of ACME Ltd. (rule: Same company name)"]}
    assert count("account") == before


def test_a_hidden_match_refuses_without_being_named(crm, accounts):
    with pytest.raises(ValidationFailed) as exc:
        make_record(crm["olga"], "account", {"name": "GLOBEX"})
    [message] = exc.value.errors["name"]
    assert "Globex" not in message and "cannot see" in message


def test_a_blocking_rule_refuses_an_edit_and_the_record_is_unchanged(crm, accounts):
    s = spec("account")
    row = records.get(crm["bob"], s, accounts["globex"])
    with pytest.raises(ValidationFailed) as exc:
        records.update_record(
            crm["bob"], s, accounts["globex"], {"name": "Acme S.A."}, expected_version=1
        )
    assert "cannot see" in exc.value.errors["name"][0]
    db.session.rollback()
    assert records.get(crm["bob"], s, accounts["globex"])["name"] == row["name"] == "Globex GmbH"
    # Editing another field of a record that is a duplicate already is not refused, nor
    # is saving the record under its own name.
    mia = crm["mia"]
    records.update_record(mia, s, accounts["acme"], {"name": "Acme Ltd"}, expected_version=1)
    records.update_record(
        mia, s, accounts["acme"], {"phone": "+1 415 555 0102"}, expected_version=2
    )


def test_the_form_shows_the_refusal_and_writes_nothing(crm, accounts, login_as):
    c = login_as(crm["olga"])
    before = count("account")
    r = c.submit("/r/account/new", {"name": "acme ltd"})
    body = r.data.decode()
    assert r.status_code == 400 and "Duplicate of ACME Ltd. (rule: Same company name)" in body
    assert "load, input changed" in body  # the warning lists them as soon as it loads
    assert count("account") == before


def test_a_warn_rule_lets_the_save_through(crm, contacts):
    before = count("contact")
    make_record(crm["olga"], "contact", {"full_name": "Anne Lee", "phone": "4155550101"})
    assert count("contact") == before + 1


def test_rules_off_for_create_or_edit_do_not_block_it(crm, accounts):
    save_rules({**SAME_NAME, "on_create": False})
    make_record(crm["olga"], "account", {"name": "Acme"})
    save_rules({**SAME_NAME, "on_create": True, "on_edit": False})
    s = spec("account")
    records.update_record(crm["bob"], s, accounts["globex"], {"name": "ACME"}, expected_version=1)


def test_bulk_edit_of_a_rule_field_is_refused_when_it_makes_a_duplicate(crm, accounts, admin):
    s = spec("account")
    mia = admin
    other = make_record(mia, "account", {"name": "Initech"})
    with pytest.raises(ValidationFailed) as exc:
        bulk.bulk_edit(mia, s, {other: 1}, "name", "Acme GmbH")
    assert "Initech: Duplicate of ACME Ltd." in exc.value.errors["name"][0]
    db.session.rollback()
    assert records.get(mia, s, other)["name"] == "Initech"
    done = bulk.bulk_edit(mia, s, {other: 1}, "phone", "+1 415 555 0101")  # not a rule field
    assert [i for i, _ in done.done] == [other]


def test_no_rules_no_queries(crm, app):
    """An entity without rules pays nothing but a dictionary lookup once rules are known."""
    from sqlalchemy import event

    entry.rules_of("lead")  # read once for this metadata version
    seen: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        assert entry.watched(spec("lead"), creating=True) == frozenset()
        entry.guard(crm["olga"], spec("lead"), {"full_name": "x"}, creating=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    # (the metadata version is read once per request in the app; here, per call)
    assert not [q for q in seen if "duplicate_rules" in q or "dedupe_keys" in q], seen


def test_quick_create_in_a_dialog_is_refused_with_the_match_named(crm, accounts, login_as):
    c = login_as(crm["olga"])
    before = count("account")
    r = c.hx_post("/r/account/new", {"quick": "1", "name": "Acme Limited"})
    body = r.data.decode()
    assert r.status_code == 400 and 'id="quick-form"' in body
    assert "Duplicate of ACME Ltd. (rule: Same company name)" in body
    assert 'id="q-duplicates"' in body
    assert count("account") == before

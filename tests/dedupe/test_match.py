"""Live candidates, hidden matches, duplicate groups and the key table kept in step."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.dedupe import keys, match, rules
from crm.dedupe.models import DedupeKey
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.jobs import outbox
from crm.jobs.models import Job
from crm.metadata import specs
from crm.metadata.models import ConfigChange
from crm.records import service as records
from crm.uow import unit_of_work
from tests.dedupe.conftest import save_rules
from tests.factories import make_record


def spec(key):
    return specs.current().entity(key)


def rule(key):
    return next(r for r in rules.enabled_rules(key.split("_")[0]) if r.key == key)


@pytest.fixture
def people(crm):
    o, b = crm["olga"], crm["bob"]
    ids = {
        "ann": make_record(o, "contact", {"full_name": "Ann Lee", "email": "ann@acme.com",
                                          "phone": "(415) 555-0101"}),
        "ann_bob": make_record(b, "contact", {"full_name": "Lee Ann", "email": "ANN@acme.com ",
                                              "phone": "+1 415 555 0199"}),
        "zhang": make_record(o, "contact", {"full_name": "张 三", "phone": "+86 138 0013 8000"}),
        "other": make_record(o, "contact", {"full_name": "Ann Leeds", "email": "al@x.org"}),
    }  # fmt: skip
    save_rules(*rules.person_rules("contact"))
    return ids


def test_a_typed_record_finds_its_duplicates_by_fuzzy_name_and_email(crm, people):
    typed = {"full_name": "Anne Lee", "email": " Ann@Acme.com"}
    found = match.candidates(crm["mia"], spec("contact"), typed, rule("contact_name_email"))
    assert [m.record_id for m in found.matches] == sorted([people["ann"], people["ann_bob"]])
    best = found.matches[0]
    assert 0.8 <= best.score < 1.0
    assert [(r.method, r.fields) for r in best.reasons] == [
        ("fuzzy", ("full_name",)),
        ("email", ("email",)),
    ]


def test_phone_in_another_format_and_a_chinese_name_with_a_space(crm, people):
    found = match.candidates(
        crm["mia"], spec("contact"), {"full_name": "张三", "phone": "13800138000"},
        rule("contact_name_phone"), region="CN",
    )  # fmt: skip
    assert [m.record_id for m in found.matches] == [people["zhang"]]
    assert found.matches[0].score == 1.0


def test_no_match_on_a_blank_an_unparsable_phone_or_another_name(crm, people):
    r = rule("contact_name_phone")
    for typed in ({"full_name": "Ann Lee"}, {"full_name": "Ann Lee", "phone": "call me"},
                  {"full_name": "Bob Stone", "phone": "(415) 555-0101"}):  # fmt: skip
        assert match.candidates(crm["mia"], spec("contact"), typed, r).matches == ()


def test_the_record_being_edited_is_not_its_own_duplicate(crm, people):
    typed = {"full_name": "Ann Lee", "email": "ann@acme.com"}
    found = match.candidates(
        crm["mia"], spec("contact"), typed, rule("contact_name_email"), exclude_id=people["ann"]
    )
    assert [m.record_id for m in found.matches] == [people["ann_bob"]]


def test_a_blocking_rule_counts_matches_the_user_cannot_see_without_naming_them(crm, people):
    data = rules.person_rules("contact")[0]
    save_rules({**data, "key": "contact_block", "action": "block"})
    typed = {"full_name": "Ann Lee", "email": "ann@acme.com"}
    found = match.candidates(crm["olga"], spec("contact"), typed, rule("contact_block"))
    assert [m.record_id for m in found.matches] == [people["ann"]]  # hers
    assert found.hidden == 1  # Bob's, counted, not named
    warn = match.candidates(crm["olga"], spec("contact"), typed, rule("contact_name_email"))
    assert warn.hidden == 0  # a warning rule does not look at what she cannot see


def test_find_groups_pairs_the_duplicates_and_scopes_by_reader(crm, people):
    groups = match.find_groups(spec("contact"), rule("contact_name_email")).groups
    assert [g.record_ids for g in groups] == [sorted([people["ann"], people["ann_bob"]])]
    assert groups[0].score >= 0.8
    mine = match.find_groups(spec("contact"), rule("contact_name_email"), user=crm["olga"])
    assert mine.groups == []  # she sees only one of the two


def test_records_are_keyed_as_they_are_saved_edited_deleted_and_restored(crm, people):
    r = rule("contact_name_phone")
    contact = spec("contact")
    new = make_record(crm["mia"], "contact", {"full_name": "Carl Diaz", "phone": "415 555 0142"})
    typed = {"full_name": "Carl Díaz", "phone": "+14155550142"}

    def found(values):
        return [m.record_id for m in match.candidates(crm["mia"], contact, values, r).matches]

    def keyed():
        return db.session.scalar(
            select(func.count()).select_from(DedupeKey).where(DedupeKey.record_id == new)
        )

    assert found(typed) == [new]  # keyed in the save's own transaction
    row = records.get(crm["mia"], contact, new)
    records.update_record(crm["mia"], contact, new, {"phone": "+1 212 555 0199"},
                          expected_version=row["version"])  # fmt: skip
    assert found(typed) == [] and found({**typed, "phone": "2125550199"}) == [new]
    records.delete(crm["mia"], contact, new)
    assert keyed() == 0
    records.restore(crm["mia"], contact, new)
    assert keyed() > 0
    with unit_of_work():  # a refresh rewrites what the saves wrote, no more
        before = keyed()
        keys.refresh(contact, [new])
    assert keyed() == before


def test_an_entity_no_rule_reads_gets_no_keys(crm):
    make_record(crm["olga"], "contact", {"full_name": "Ann Lee", "phone": "415 555 0101"})
    assert db.session.scalar(select(func.count()).select_from(DedupeKey)) == 0


def test_saving_a_rule_queues_the_rebuild_job(crm, people):
    logged = db.session.scalars(
        select(ConfigChange.after).where(ConfigChange.action == "save_duplicate_rule")
    ).all()
    assert [a["key"] for a in logged] == ["contact_name_email", "contact_name_phone"]
    kinds = list(db.session.scalars(select(Job.kind).where(Job.status == "done")))
    assert kinds.count("dedupe.rebuild") == 2  # one per rule
    n = db.session.scalar(
        select(func.count())
        .select_from(DedupeKey)
        .where(DedupeKey.rule_key == "contact_name_email")
    )
    assert n == 3  # the three contacts with an e-mail


def test_a_lead_is_compared_with_contacts(crm, people):
    data = {**rules.person_rules("lead")[0], "key": "lead_vs_contact",
            "compare_entity_key": "contact"}  # fmt: skip
    save_rules(data, other="contact")
    r = rule("lead_vs_contact")
    found = match.candidates(crm["mia"], spec("lead"), {"full_name": "Ann Lee",
                             "email": "ann@acme.com"}, r)  # fmt: skip
    assert sorted(m.record_id for m in found.matches) == sorted([people["ann"], people["ann_bob"]])


def test_companies_match_without_their_legal_form(crm):
    mia = crm["mia"]
    acme = make_record(
        mia, "account", {"name": "The Acme Co., Ltd.", "website": "https://www.acme.com/"}
    )
    make_record(mia, "account", {"name": "Acme Trading", "website": "http://acme.com"})
    save_rules(*rules.company_rules("account"))
    found = match.candidates(
        mia, spec("account"), {"name": "ACME LIMITED", "website": "http://acme.com"},
        rule("account_name_website"),
    )  # fmt: skip
    assert [m.record_id for m in found.matches] == [acme]


def test_a_rule_on_an_archived_or_unknown_field_is_refused_with_every_error(crm):
    bad = {"key": "x", "name": "", "action": "shout",
           "conditions": [{"field": "nope", "method": "fuzzy", "threshold": 2},
                          {"field": "email", "method": "soundex"}]}  # fmt: skip
    with pytest.raises(ValidationFailed) as e, unit_of_work():
        rules.save(bad, spec("contact"))
    assert set(e.value.errors) == {
        "name", "action", "conditions.0.field", "conditions.0.threshold", "conditions.1.method"
    }  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_default_rules_are_valid_data_with_their_translations(crm):
    person = rules.person_rules("contact", birth_date="born", id_number="passport")
    assert [d["key"] for d in person] == [
        "contact_name_email", "contact_name_phone", "contact_name_birth", "contact_name_id",
        "contact_id_birth",
    ]  # fmt: skip
    for d in person + rules.company_rules("account"):
        rule, errors = rules.check(d)
        assert errors == {} and rules.as_data(rule)["conditions"] == d["conditions"]
        assert set(d["translations"]["name"]) == {"zh_Hans", "es"}


def test_a_fuzzy_only_rule_blocks_on_word_beginnings(crm, people):
    fuzzy = {"field": "full_name", "method": "fuzzy", "threshold": 0.85}
    save_rules(
        {"key": "contact_name", "entity_key": "contact", "name": "Name", "conditions": [fuzzy]}
    )
    r = rule("contact_name")
    assert match.keys_for(r, {"full_name": "Ann Lee"}) == {"0:ann|lee", "0:ann~lee"}
    assert match.keys_for(r, {"full_name": "  "}) == set()
    assert len(match.keys_for(r, {"full_name": " ".join(f"w{i:04d}" for i in range(3000))})) <= 30
    found = match.candidates(crm["mia"], spec("contact"), {"full_name": "Lee, Anne"}, r)
    assert {m.record_id for m in found.matches} == {people["ann"], people["ann_bob"]}
    found = match.candidates(crm["mia"], spec("contact"), {"full_name": "张三"}, r)
    assert [m.record_id for m in found.matches] == [people["zhang"]]


@pytest.mark.parametrize(
    "typed",
    [
        {"full_name": 12345, "email": 7, "phone": 3.5},
        {"full_name": "x" * 5000, "email": "@" * 300, "phone": "+" + "9" * 400},
        {"full_name": None, "email": None, "phone": None},
        {},
    ],
)
def test_odd_typed_values_find_nothing_and_raise_nothing(crm, people, typed):
    for r in rules.enabled_rules("contact"):
        assert match.candidates(crm["mia"], spec("contact"), typed, r).matches == ()


def test_a_key_too_many_records_share_is_skipped_and_counted(crm, people, monkeypatch):
    from crm.dedupe import groups

    monkeypatch.setattr(groups, "BLOCK_CAP", 1)
    found = match.find_groups(spec("contact"), rule("contact_name_email"))
    assert found.groups == [] and found.skipped_keys == 1


def test_the_rebuild_job_goes_on_in_continuations(crm, people, monkeypatch):
    monkeypatch.setattr(keys, "JOB_RECORDS", 1)
    count = select(func.count()).select_from(DedupeKey)
    before = db.session.scalar(count)
    with unit_of_work():
        outbox.enqueue("dedupe.rebuild", {"entity": "contact"})
    db.session.rollback()
    assert db.session.scalar(count) == before == 6  # 3 e-mails, 3 phones
    results = db.session.scalars(select(Job.result).where(Job.kind == "dedupe.rebuild")).all()
    assert sum(1 for r in results if r.get("more")) >= 4  # one record a run, then went on
    found = match.candidates(crm["mia"], spec("contact"), {"full_name": "Ann Lee",
                             "phone": "415 555 0101"}, rule("contact_name_phone"))  # fmt: skip
    assert [m.record_id for m in found.matches] == [people["ann"]]


def test_check_runs_the_rules_that_apply_to_a_create_or_an_edit(crm, people):
    data = rules.person_rules("contact")[1]
    save_rules({**data, "on_edit": False})  # the phone rule: on create only
    typed = {"full_name": "Ann Lee", "email": "ann@acme.com", "phone": "(415) 555-0101"}
    created = match.check(crm["mia"], spec("contact"), typed, creating=True)
    assert [r.key for r, _ in created] == ["contact_name_email", "contact_name_phone"]
    edited = match.check(crm["mia"], spec("contact"), typed, creating=False, exclude_id=1)
    assert [r.key for r, _ in edited] == ["contact_name_email"]


def test_rebuild_in_one_go_writes_what_the_jobs_wrote(crm, people):
    count = select(func.count()).select_from(DedupeKey)
    before = db.session.scalar(count)
    with unit_of_work():
        db.session.execute(DedupeKey.__table__.delete())
        assert keys.rebuild(entity_key="contact") == before == 6
    with unit_of_work():
        assert keys.rebuild(rule_key="no_such_rule") == 0
    assert db.session.scalar(count) == 6


def test_a_rule_whose_field_was_archived_keys_nothing_and_cannot_be_saved_again(crm, people):
    from crm.schema import service as schema

    schema.archive_field("contact", "phone")
    with pytest.raises(ValidationFailed) as e, unit_of_work():
        rules.save(rules.person_rules("contact")[1], spec("contact"))
    assert list(e.value.errors) == ["conditions.1.field"]
    with unit_of_work():
        keys.refresh(spec("contact"), people.values())
    n = db.session.scalar(
        select(func.count())
        .select_from(DedupeKey)
        .where(DedupeKey.rule_key == "contact_name_phone")
    )
    assert n == 0  # its records carry no keys until the rule is fixed; e-mail keys stay
    typed = {"full_name": "Ann Lee", "email": "ann@acme.com", "phone": "(415) 555-0101"}
    found = match.check(crm["mia"], spec("contact"), typed, creating=True)
    assert [r.key for r, _ in found] == ["contact_name_email"]

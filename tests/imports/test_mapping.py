"""Issue 16's mapping service: columns matched to fields, picklist values, lookups, saved
mappings and the dry run (no screen yet: the service layer)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from sqlalchemy import event, func, select

from crm.access import policy
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.imports import mapping as m
from crm.imports import saved
from crm.imports.dryrun import dry_run
from crm.imports.lookups import CREATE, EMPTY, FAIL, LookupRule
from crm.imports.matching import auto_match
from crm.imports.read import open_source
from crm.metadata import specs
from crm.records import service as records
from crm.records.query import table_of
from tests.factories import make_role, make_user
from tests.factories.schema import field, lookup, make_entity, text


def _choice(key, label, zh=None):
    return {"key": key, "label": label, **({"labels": {"zh_Hans": zh}} if zh else {})}


@pytest.fixture
def model(app):
    make_entity("company", "Company", [text("name", required=True)], plural="Companies",
                name_field="name")  # fmt: skip
    make_entity(
        "contact", "Contact",
        [
            text("name", "Name", required=True,
                 translations={"label": {"zh_Hans": "姓名", "es": "Nombre"}}),
            field("email", "email", "Email", unique=True),
            field("phone", "phone", "Phone"),
            lookup("company", "Company", "company"),
            field("segment", "picklist", "Segment", choices=[
                _choice("gtx_pro", "GTX Pro"), _choice("technology", "Technology", "科技"),
                _choice("retail", "Retail", "零售")]),
            text("secret", "Secret"),
            text("rating_note", "Rating note"),
        ],
        name_field="name",
    )  # fmt: skip
    return specs.current().entity("contact")


def csv_source(text_: str):
    return open_source(io.BytesIO(text_.encode("utf-8")), "contacts.csv")


def fields_of(matches):
    return [x.field for x in matches]


def test_columns_match_by_key_label_translation_and_synonyms(model, staff):
    cols = ["姓名", "E-Mail", "手机", "公司", "Segment", "Notes", "correo"]
    found = auto_match(staff, model, cols)
    assert fields_of(found) == ["name", "email", "phone", "company", "segment", None, None]
    assert [x.reason for x in found[:5]] == ["translation", "key", "synonym", "synonym", "key"]
    assert (found[0].score, found[1].score, found[2].score) == (90, 100, 80)
    # two columns for one field: the better wins, the other is left unmatched and says why
    assert found[6].reason == "taken" and found[6].names == "email"
    assert found[5].reason == "none"

    spanish = auto_match(staff, model, ["Nombre", "Teléfono", "Correo electrónico", "Empresa"])
    assert fields_of(spanish) == ["name", "phone", "email", "company"]
    # accents, case, spaces and punctuation do not count; "Contact Name" is the name field
    assert fields_of(auto_match(staff, model, ["  EMAIL ", "contact name", "SEGMENT"])) == [
        "email", "name", "segment",
    ]  # fmt: skip


def test_hidden_and_read_only_fields_are_never_matched(model):
    make_role(
        "Limited", {"read": policy.ALL, "create": policy.ALL, "edit": policy.ALL,
                    "import": policy.ALL}, entity="contact",
        fields={("contact", "secret"): "hidden", ("contact", "rating_note"): "read"},
    )  # fmt: skip
    user = make_user(roles=("Limited",))
    found = auto_match(user, model, ["Secret", "Rating note", "Name"])
    assert found[0] == m_none(found[0])  # hidden: not even named
    assert (found[1].field, found[1].reason, found[1].names) == (
        None,
        "not_editable",
        "rating_note",
    )
    mapping = m.Mapping("contact", (m.ColumnChoice(0, "Secret", "secret"),
                                    m.ColumnChoice(1, "Rating note", "rating_note"),
                                    m.ColumnChoice(2, "Name", "name")))  # fmt: skip
    issues = m.check(user, model, mapping, ["Secret", "Rating note", "Name"])
    assert [(i.code, i.field) for i in issues] == [
        ("unknown_field", "secret"), ("read_only", "rating_note")]  # fmt: skip
    assert "you may not change the field “Rating note”" in issues[1].message
    with pytest.raises(ValidationFailed):
        m.plan(user, model, mapping, ["Secret", "Rating note", "Name"])
    nobody = make_user(roles=())
    assert [i.code for i in m.check(nobody, model, mapping, ["a", "b", "c"])] == ["forbidden"]


def m_none(match):
    return replace(match, field=None, score=0, reason="none", names=None)


def test_check_reports_every_problem_of_a_mapping(model, staff):
    cols = ["Name", "Mail", "Mail 2", "Segment"]
    mapping = m.Mapping(
        "contact",
        (m.ColumnChoice(0, "Name", "name"), m.ColumnChoice(1, "Mail", "email"),
         m.ColumnChoice(2, "Mail 2", "email"), m.ColumnChoice(9, "?", "phone"),
         m.ColumnChoice(3, "Segment", "segment", values={"x": "nope"})),
        mode="update",
    )  # fmt: skip
    codes = [i.code for i in m.check(staff, model, mapping, cols)]
    assert codes == ["twice", "column", "values", "match_on"]
    no_name = m.Mapping("contact", (m.ColumnChoice(1, "Mail", "email"),))
    assert [i.code for i in m.check(staff, model, no_name, cols)] == ["required"]


def test_picklist_values_unknown_with_suggestions(model, staff):
    source = csv_source(
        "Name,Segment\nA,GTX-Pro\nB,technolgy\nC,科技\nD,GTXPro\nE,Zzz\nF,GTX-Pro\n"
    )
    mapping = m.Mapping(
        "contact", (m.ColumnChoice(0, "Name", "name"), m.ColumnChoice(1, "Segment", "segment"))
    )
    unknown = m.unknown_values(source, model, mapping)["segment"]
    assert [(u.text, u.count) for u in unknown] == [("GTX-Pro", 2), ("technolgy", 1), ("Zzz", 1)]
    assert unknown[0].suggestions[0].key == "gtx_pro"
    assert unknown[1].suggestions[0].label == "Technology"
    assert unknown[2].suggestions == ()

    table = {"GTX-Pro": "gtx_pro", "technolgy": "technology", "Zzz": m.NEW}
    fixed = replace(
        mapping, columns=(mapping.columns[0], replace(mapping.columns[1], values=table))
    )
    assert m.unknown_values(source, model, fixed) == {}
    assert m.new_choices(fixed) == {"segment": ["Zzz"]}
    p = m.plan(staff, model, fixed, source.columns)
    parsed = p.parse_batch([r.values for r in source.rows()])
    assert [x.values.get("segment") for x in parsed[:4]] == [
        "gtx_pro", "technology", "technology", "gtx_pro"]  # fmt: skip
    assert not parsed[4].ok  # "add as new": a real run adds the choice first
    result = dry_run(staff, model, source, fixed)
    assert (result.create, result.error, result.new_choices) == (6, 0, {"segment": ["Zzz"]})


def test_lookups_resolve_per_batch_by_name_with_the_chosen_rule(model, staff):
    company = specs.current().entity("company")
    for name in ("Acme", "Twin", "Twin"):
        records.create(staff, company, {"name": name})
    make_role("Own", {"read": policy.OWN, "create": policy.OWN, "edit": policy.OWN,
                      "import": policy.OWN})  # fmt: skip
    other = make_user(roles=("Own",))
    records.create(other, company, {"name": "Hidden Co"})
    body = "Name,Company\n" + "".join(
        f"P{i},{c}\n" for i, c in enumerate(["acme", " ACME ", "Twin", "Nobody", "Hidden Co", ""])
    )
    source = csv_source(body)

    def mapping(rule):
        return m.Mapping("contact", (m.ColumnChoice(0, "Name", "name"),
                                     m.ColumnChoice(1, "Company", "company")),
                         lookups={"company": rule})  # fmt: skip

    acme = db.session.scalar(
        select(table_of(company).c.id).where(table_of(company).c.name == "Acme")
    )
    queries = []

    def count(*args):
        queries.append(args[2])

    p = m.plan(staff, model, mapping(LookupRule()), source.columns)
    rows = [r.values for r in source.rows()]
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        parsed = p.parse_batch(rows)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert sum("x_company" in q for q in queries) == 1  # one query for the batch
    assert [x.values.get("company") for x in parsed[:2]] == [acme, acme]
    assert "2 Companies match “Twin”" in parsed[2].problems[0].message
    assert "No Company named “Nobody”" in parsed[3].problems[0].message
    assert parsed[4].ok and parsed[5].ok and parsed[5].values["company"] is None

    leave = dry_run(staff, model, source, mapping(LookupRule(None, EMPTY, EMPTY)))
    assert (leave.create, leave.error) == (6, 0)
    make = dry_run(staff, model, source, mapping(LookupRule(None, CREATE, FAIL)))
    assert (make.create, make.error, make.lookups_to_create) == (5, 1, {"company": 1})
    # The scope applies: another user does not find what they may not read.
    theirs = m.plan(other, model, mapping(LookupRule()), source.columns)
    found = theirs.parse_batch([r.values for r in source.rows()])
    assert not found[0].ok and found[4].ok and found[4].values["company"]


def test_lookup_match_field_must_be_name_or_unique(model, staff):
    rule = LookupRule(match_on="nope")
    mapping = m.Mapping("contact", (m.ColumnChoice(0, "Name", "name"),
                                    m.ColumnChoice(1, "Company", "company")),
                        lookups={"company": rule})  # fmt: skip
    assert [i.code for i in m.check(staff, model, mapping, ["Name", "Company"])] == ["lookup"]


def test_saved_mappings_are_found_by_the_columns_of_the_next_file(model, staff):
    mapping = m.Mapping(
        "contact",
        (m.ColumnChoice(0, "Name", "name"), m.ColumnChoice(1, "E-mail", "email"),
         m.ColumnChoice(2, "Segment", "segment", values={"GTXPro": "gtx_pro"})),
        mode="both", match_on="email",
    )  # fmt: skip
    first = saved.save(staff, model, "CRM export", mapping)
    assert saved.save(staff, model, " CRM  export ", mapping) == first  # replaced, not doubled
    saved.save(staff, model, "Other", replace(mapping, columns=mapping.columns[:1]))
    moved = ["Segment", "Phone", "EMAIL", "name"]
    fits = saved.for_columns(staff, model, moved)
    assert [(f.name, f.found, f.total) for f in fits] == [("CRM export", 3, 3), ("Other", 1, 1)]
    again = saved.apply_saved(staff, model, first, moved)
    assert [c.field for c in again.columns] == ["segment", None, "email", "name"]
    assert again.columns[0].values == {"GTXPro": "gtx_pro"} and again.match_on == "email"
    assert m.check(staff, model, again, moved) == []
    with pytest.raises(ValidationFailed):
        saved.save(staff, model, "  ", mapping)
    with pytest.raises(Forbidden):
        saved.save(make_user(roles=()), model, "x", mapping)
    assert m.Mapping.from_json(mapping.to_json()) == mapping


def test_dry_run_counts_and_reasons_without_writing(model, staff):
    contact = model
    records.create(staff, contact, {"name": "Old", "email": "old@example.com"})
    body = (
        "姓名,邮箱,电话,细分\n"
        "Ann,old@example.com,555-0001,Retail\n"      # update
        "Bob,bob@example.com,555-0002,零售\n"         # create
        "Bob again,bob@example.com,555-0003,\n"      # the same key twice: update, not a double
        ",x@example.com,555-0004,Retail\n"           # required name missing
        "Eve,not-an-email,555-0005,Retail\n"         # bad value
        "Fay,fay@example.com,555-0006,Wholesale\n"   # unknown choice
        "Gus,gus@example.com\n"               # wrong field count: a bad row
    )  # fmt: skip
    source = csv_source(body)
    matches = auto_match(staff, contact, source.columns)
    assert fields_of(matches) == ["name", "email", "phone", None]
    cols = [m.ColumnChoice(x.column, x.name, x.field) for x in matches]
    cols[3] = replace(cols[3], field="segment")
    mapping = m.Mapping("contact", tuple(cols), match_on="email")
    count = db.session.scalar(select(func.count()).select_from(table_of(contact)))
    result = dry_run(staff, contact, source, mapping, keep=3)
    assert (result.rows, result.create, result.update, result.skip, result.error) == (7, 1, 2, 0, 4)
    assert len(result.issues) == 3 and sum(result.by_field.values()) == 4
    assert result.by_field["name"] == 1 and result.by_field["(row)"] == 1
    assert [i.line for i in result.issues] == [5, 6, 7]
    assert db.session.scalar(select(func.count()).select_from(table_of(contact))) == count

    only_new = dry_run(staff, contact, source, replace(mapping, mode="create"))
    assert (only_new.create, only_new.skip) == (1, 2)
    only_old = dry_run(staff, contact, source, replace(mapping, mode="update"))
    assert (only_old.update, only_old.skip) == (1, 3)


def test_unknown_values_come_from_the_file_s_profile_without_reading_it_again(model, staff):
    from crm.imports import profile

    source = csv_source("Name,Segment\nA,GTX-Pro\nB,technolgy\nC,GTX-Pro\nD, \nE,NULL\n")
    kept = profile.build(source)
    assert kept["rows"] == 5
    assert kept["columns"]["1"] == {"values": {"GTX-Pro": 2, "technolgy": 1, "NULL": 1},
                                    "more": False}  # fmt: skip
    mapping = m.Mapping(
        "contact", (m.ColumnChoice(0, "Name", "name"), m.ColumnChoice(1, "Segment", "segment"))
    )

    class NotReadAgain:
        columns = source.columns

        def rows(self):
            raise AssertionError("the file was read again")

    unknown = m.unknown_values(NotReadAgain(), model, mapping, profile=kept)["segment"]
    assert [(u.text, u.count) for u in unknown] == [("GTX-Pro", 2), ("technolgy", 1)]
    # a column with more distinct values than the profile keeps is read again
    kept["columns"]["1"]["more"] = True
    unknown = m.unknown_values(source, model, mapping, profile=kept)["segment"]
    assert [(u.text, u.count) for u in unknown] == [("GTX-Pro", 2), ("technolgy", 1)]
    with pytest.raises(AssertionError, match="read again"):
        m.unknown_values(NotReadAgain(), model, mapping, profile=kept)


def test_a_profile_keeps_a_bounded_number_of_values(model, monkeypatch):
    from crm.imports import profile

    monkeypatch.setattr(profile, "MAX_DISTINCT", 3)
    source = csv_source("Code,Kind\n" + "".join(f"C{i},k{i % 2}\n" for i in range(10)))
    kept = profile.build(source)
    assert kept["columns"]["0"]["more"] and len(kept["columns"]["0"]["values"]) == 3
    assert kept["columns"]["1"] == {"values": {"k0": 5, "k1": 5}, "more": False}


def test_values_can_be_read_as_empty_one_by_one_or_all_the_others(model, staff):
    source = csv_source("Name,Segment\nA,GTX-Pro\nB,technolgy\nC,Zzz\nD,Qqq\n")
    segment = m.ColumnChoice(1, "Segment", "segment", values={"GTX-Pro": "gtx_pro"})
    mapping = m.Mapping("contact", (m.ColumnChoice(0, "Name", "name"), segment))
    rows = [r.values for r in source.rows()]
    parsed = m.plan(staff, model, mapping, source.columns).parse_batch(rows)
    assert [p.ok for p in parsed] == [True, False, False, False]  # by default they fail
    one = replace(segment, values={"GTX-Pro": "gtx_pro", "Zzz": m.SKIP})
    parsed = m.plan(staff, model, replace(mapping, columns=(mapping.columns[0], one)),
                    source.columns).parse_batch(rows)  # fmt: skip
    assert [p.ok for p in parsed] == [True, False, True, False]
    assert parsed[2].values.get("segment") is None and parsed[2].values["name"] == "C"
    rest = replace(segment, otherwise=m.SKIP)
    both = replace(mapping, columns=(mapping.columns[0], rest))
    parsed = m.plan(staff, model, both, source.columns).parse_batch(rows)
    assert [p.values.get("segment") for p in parsed] == ["gtx_pro", None, None, None]
    assert all(p.ok for p in parsed)
    assert m.Mapping.from_json(both.to_json()).columns[1].otherwise == m.SKIP  # saved too
    wrong = replace(mapping, columns=(mapping.columns[0], replace(segment, otherwise="drop")))
    assert [i.code for i in m.check(staff, model, wrong, source.columns)] == ["values"]


def test_a_first_and_a_last_name_column_go_into_the_one_name_field(model, staff):
    source = csv_source("First Name,Last Name,Mail\nAda,Lovelace,ada@x.org\n Grace ,NULL,\n"
                        "张,三,\n,,z@x.org\n")  # fmt: skip
    found = auto_match(staff, model, source.columns)
    assert [(x.field, x.reason) for x in found[:2]] == [("name", "joined"), ("name", "joined")]
    mapping = m.Mapping("contact", tuple(m.ColumnChoice(x.column, x.name, x.field)
                                         for x in found))  # fmt: skip
    assert m.check(staff, model, mapping, source.columns) == []
    parsed = m.plan(staff, model, mapping, source.columns).parse_batch(
        [r.values for r in source.rows()]
    )
    assert [p.values.get("name") for p in parsed] == ["Ada Lovelace", "Grace", "张三", None]
    # columns on a field that cannot take two (a picklist, an e-mail...) are still refused
    twice = m.Mapping("contact", (m.ColumnChoice(0, "A", "segment"),
                                  m.ColumnChoice(1, "B", "segment")))  # fmt: skip
    assert "twice" in [i.code for i in m.check(staff, model, twice, source.columns)]

"""The mapping's actions (issue 16, mapfix): linked records created by a lookup rule, the
owner column, picklist values added as new choices, synonyms that prefer the entity's own
name field, and one word set for the import modes."""

from __future__ import annotations

import io
from types import MappingProxyType

import pytest
from sqlalchemy import func, select, update

from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.imports import choices, service
from crm.imports import mapping as m
from crm.imports import run as engine
from crm.imports.lookups import CREATE, LookupRule
from crm.imports.matching import SYNONYMS, auto_match, norm
from crm.imports.models import Import, ImportRow
from crm.imports.owners import OWNER
from crm.metadata import specs
from crm.records.query import table_of
from crm.schema import service as schema
from tests.factories import make_role, make_user
from tests.records.runtime_model import build_model, entity, make


@pytest.fixture
def model(app):
    return build_model()


def csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def mapped_import(user, key: str, text: str, mapping: m.Mapping) -> int:
    """An import of ``text`` into ``key`` with a screen mapping (not queued: run by hand)."""
    spec = entity(key)
    match = [mapping.match_on] if mapping.match_on else []
    imp = service.create(user, spec, csv(text), f"{key}.csv", [], mode=mapping.mode,
                         match=match, queue=False)  # fmt: skip
    names = [c.name for c in mapping.columns]
    with db.session.begin_nested():
        db.session.execute(
            update(Import)
            .where(Import.id == imp.id)
            .values(mapping=mapping.to_json(), settings={**imp.settings, "columns": names})
        )
    db.session.commit()
    return imp.id


def contacts(columns: list[str], fields: list[str | None], **rules) -> m.Mapping:
    pairs = enumerate(zip(columns, fields, strict=True))
    chosen = tuple(m.ColumnChoice(i, n, f) for i, (n, f) in pairs)
    return m.Mapping("contact", chosen, MappingProxyType(rules), mode="create")


def live(key: str) -> list:
    table = table_of(entity(key))
    rows = db.session.execute(
        select(table).where(table.c.deleted_at.is_(None)).order_by(table.c.id)
    ).mappings().all()  # fmt: skip
    db.session.rollback()
    return list(rows)


# -- 1. lookup rule "create the record" --------------------------------------------------

CONTACTS = "Full name,Account\nAda,Acme\nBob,ACME \nCy,Globex\nDee,Acme\nEve,Initech\nFay,\n"


def test_missing_linked_records_are_created_once_and_later_rows_find_them(staff, model):
    make(staff, "account", name="Initech")
    rule = {"account": LookupRule(when_none=CREATE)}
    mapping = contacts(["Full name", "Account"], ["full_name", "account"], **rule)
    import_id = mapped_import(staff, "contact", CONTACTS, mapping)
    summary = engine.run(import_id, batch=2)  # "Acme" in three batches, "ACME " among them
    assert (summary.created, summary.errors) == (6, 0)
    accounts = {a["name"]: a for a in live("account")}
    assert sorted(accounts) == ["Acme", "Globex", "Initech"]
    assert accounts["Acme"]["owner_id"] == staff.id
    by_name = {c["full_name"]: c["account"] for c in live("contact")}
    assert by_name == {
        "Ada": accounts["Acme"]["id"], "Bob": accounts["Acme"]["id"],
        "Cy": accounts["Globex"]["id"], "Dee": accounts["Acme"]["id"],
        "Eve": accounts["Initech"]["id"], "Fay": None,
    }  # fmt: skip
    # undo sends the contacts and the accounts the import created to the recycle bin
    done = service.undo(staff, entity("contact"), import_id)
    assert (done.removed, done.kept) == (8, [])
    assert [a["name"] for a in live("account")] == ["Initech"]
    assert live("contact") == []


def test_a_killed_batch_creates_its_linked_records_again_only_once(staff, model):
    rule = {"account": LookupRule(when_none=CREATE)}
    text = "Full name,Account\n" + "".join(f"P{i},Firm {i % 7}\n" for i in range(40))
    mapping = contacts(["Full name", "Account"], ["full_name", "account"], **rule)
    import_id = mapped_import(staff, "contact", text, mapping)

    class Killed(Exception):
        pass

    kills = []

    def hook(n: int) -> None:
        if len(kills) < 3 and n in (1, 2):
            kills.append(n)
            raise Killed(n)

    while True:
        try:
            engine.run(import_id, batch=5, hook=hook)
            break
        except Killed:
            db.session.rollback()
    assert len(kills) == 3
    assert sorted(a["name"] for a in live("account")) == [f"Firm {i}" for i in range(7)]
    assert len(live("contact")) == 40
    linked = db.session.scalar(
        select(func.count()).select_from(ImportRow).where(ImportRow.action == "linked")
    )
    assert linked == 7


def test_creating_linked_records_needs_the_create_right_on_them(app, model):
    role = make_role("Contacts only", {
        ("contact", "create"): 4, ("contact", "read"): 4, ("contact", "import"): 4,
        ("account", "read"): 4,
    })  # fmt: skip
    rep = make_user("rep@example.com", roles=(role.name,))
    mapping = contacts(["Full name", "Account"], ["full_name", "account"],
                       account=LookupRule(when_none=CREATE))  # fmt: skip
    issues = m.check(rep, entity("contact"), mapping, ["Full name", "Account"])
    assert [(i.code, i.field) for i in issues] == [("lookup_create", "account")]
    assert "You may not create Accounts" in issues[0].message
    import_id = mapped_import(rep, "contact", CONTACTS, mapping)
    with pytest.raises(ValidationFailed):  # the run checks again: nothing written
        engine.run(import_id)
    assert live("account") == []


def test_a_linked_record_the_service_refuses_fails_its_rows_with_the_reason(staff, model):
    schema.update_field("account", "code", required=True)
    rule = {"account": LookupRule(when_none=CREATE)}
    mapping = contacts(["Full name", "Account"], ["full_name", "account"], **rule)
    issues = m.check(staff, entity("contact"), mapping, ["Full name", "Account"])
    assert [i.code for i in issues] == ["lookup_create"] and "Code" in issues[0].message


# -- 3. the owner column -----------------------------------------------------------------

OWNERS = "Name,Owner\nA1,ana@example.com\nA2,ANA GARCIA\nA3,\nA4,Nobody Here\nA5,  Ána  García \n"


def test_the_owner_column_gives_records_to_people_by_email_or_name(staff, model):
    ana = make_user("ana@example.com", display_name="Ana García")
    found = auto_match(staff, entity("account"), ["Name", "Sales rep"])
    assert [x.field for x in found] == ["name", OWNER]
    chosen = tuple(m.ColumnChoice(x.column, x.name, x.field) for x in found)
    import_id = mapped_import(staff, "account", OWNERS, m.Mapping("account", chosen, mode="create"))
    summary = engine.run(import_id)
    assert (summary.created, summary.errors) == (4, 1)
    owners = {a["name"]: a["owner_id"] for a in live("account")}
    assert owners == {"A1": ana.id, "A2": ana.id, "A3": staff.id, "A5": ana.id}
    (line, reasons), = summary.samples  # fmt: skip
    assert line == 5 and "Nobody Here" in reasons[OWNER][0]


def test_the_owner_column_needs_the_assign_right(app, model):
    role = make_role("No assign", {"create": 4, "read": 4, "edit": 4, "import": 4})
    rep = make_user("rep@example.com", roles=(role.name,))
    found = auto_match(rep, entity("account"), ["Name", "Owner"])
    assert (found[1].field, found[1].reason) == (None, "not_editable")
    chosen = (m.ColumnChoice(0, "Name", "name"), m.ColumnChoice(1, "Owner", OWNER))
    issues = m.check(rep, entity("account"), m.Mapping("account", chosen), ["Name", "Owner"])
    assert [(i.code, i.column) for i in issues] == [("owner", 1)]


# -- 2. picklist values added as new choices ---------------------------------------------


def test_an_administrator_adds_unknown_values_as_new_choices(admin, model, app):
    spec = entity("account")
    chosen = (
        m.ColumnChoice(0, "Name", "name"),
        m.ColumnChoice(1, "Industry", "industry",
                       values=MappingProxyType({"Finanzas": m.NEW, "tecnologia": "tech"})),
    )  # fmt: skip
    mapping = m.Mapping("account", chosen, mode="create")
    with pytest.raises(Forbidden):
        choices.add_new_choices(make_user("rep@example.com"), spec, mapping)
    added = choices.add_new_choices(admin, spec, mapping, locale="es")
    assert dict(added.columns[1].values) == {"Finanzas": "finanzas", "tecnologia": "tech"}
    raw = specs.raw().entity("account").field("industry")
    new = [c for c in raw.choices if c.key == "finanzas"]
    assert [(c.label, dict(c.labels)) for c in new] == [("Finanzas", {"es": "Finanzas"})]
    import_id = mapped_import(admin, "account", "Name,Industry\nBanco,Finanzas\nSoft,tecnologia\n",
                              added)  # fmt: skip
    assert engine.run(import_id).created == 2
    assert {a["name"]: a["industry"] for a in live("account")} == {
        "Banco": "finanzas", "Soft": "tech",
    }  # fmt: skip


# -- 4. synonyms ---------------------------------------------------------------------------


def test_no_synonym_belongs_to_two_groups():
    seen: dict[str, int] = {}
    for n, group in enumerate(SYNONYMS):
        for word in {norm(w) for w in group}:
            assert seen.setdefault(word, n) == n, word


def test_customer_name_is_the_entity_s_own_name_before_another_field(staff, model):
    # on Accounts "Customer name" / "客户名称" is the account's name
    for column in ("Customer name", "客户名称", "Company name"):
        assert auto_match(staff, entity("account"), [column])[0].field == "name", column
    # on Contacts it names the contact's company (the account lookup) ...
    assert auto_match(staff, entity("contact"), ["Customer name"])[0].field == "account"
    # ... unless the contacts are the customers: then it is their own name
    schema.update_entity("contact", label_singular="Customer", label_plural="Customers")
    found = auto_match(staff, entity("contact"), ["Customer name", "Company"])
    assert [x.field for x in found] == ["full_name", "account"]
    assert found[0].reason == "name"


# -- 5. one word set for the modes -------------------------------------------------------


def test_upsert_is_both_on_the_screen_the_cli_and_the_engine(staff, model):
    assert m.Mapping("account", (), mode="upsert").mode == "both"
    assert m.Mapping.from_json({"columns": [], "mode": "upsert"}).mode == "both"
    make(staff, "account", name="Old", code="C1")
    text = "Name,Code\nNew name,C1\nOther,C2\n"
    chosen = (m.ColumnChoice(0, "Name", "name"), m.ColumnChoice(1, "Code", "code"))
    both = m.Mapping("account", chosen, mode="both", match_on="code")
    summary = engine.run(mapped_import(staff, "account", text, both))
    assert (summary.created, summary.updated) == (1, 1)
    imp = service.create(staff, entity("account"), csv("Name,Code\nNewer,C1\n"), "a.csv",
                         engine.columns_of(entity("account"), [{"column": 0, "field": "name"},
                                                               {"column": 1, "field": "code"}]),
                         mode="upsert", match=("code",), queue=False)  # fmt: skip
    assert imp.mode == "both"
    assert engine.run(imp.id).updated == 1
    assert sorted(a["name"] for a in live("account")) == ["Newer", "Other"]


def test_an_owner_column_gives_updated_records_their_new_owner_and_undo_gives_it_back(staff, model):
    ana = make_user("ana@example.com", display_name="Ana García")
    make(staff, "account", name="Kept", code="C1")
    make(staff, "account", name="Moved", code="C2")
    make(staff, "account", name="Renamed", code="C3")
    chosen = (m.ColumnChoice(0, "Code", "code"), m.ColumnChoice(1, "Name", "name"),
              m.ColumnChoice(2, "Owner", OWNER))  # fmt: skip
    mapping = m.Mapping("account", chosen, mode="update", match_on="code")
    assert m.check(staff, entity("account"), mapping, ["Code", "Name", "Owner"]) == []
    text = "Code,Name,Owner\nC1,Kept,\nC2,Moved,ana@example.com\nC3,Renamed now,Ana Garcia\n"
    import_id = mapped_import(staff, "account", text, mapping)
    summary = engine.run(import_id)
    assert (summary.updated, summary.skipped, summary.errors) == (2, 1, 0)
    owners = {a["name"]: a["owner_id"] for a in live("account")}
    assert owners == {"Kept": staff.id, "Moved": ana.id, "Renamed now": ana.id}
    undone = service.undo(staff, entity("account"), import_id)
    assert undone.restored == 2 and not undone.kept
    owners = {a["name"]: a["owner_id"] for a in live("account")}
    assert owners == {"Kept": staff.id, "Moved": staff.id, "Renamed": staff.id}


def test_an_owner_change_refused_fails_its_row_and_writes_none_of_it(staff, model):
    from crm.access import policy as P

    role = make_role("Edits all, assigns own", {"create": P.ALL, "read": P.ALL, "edit": P.ALL,
                                                "import": P.ALL, "assign": P.OWN})  # fmt: skip
    rep = make_user("rep@example.com", roles=(role.name,))
    make(staff, "account", name="Old name", code="C1")  # not the rep's: no "assign" on it
    make(rep, "account", name="Rep's", code="C2")
    chosen = (m.ColumnChoice(0, "Code", "code"), m.ColumnChoice(1, "Name", "name"),
              m.ColumnChoice(2, "Owner", OWNER))  # fmt: skip
    mapping = m.Mapping("account", chosen, mode="update", match_on="code")
    text = "Code,Name,Owner\nC1,New name,rep@example.com\nC2,Rep's new,staff@example.com\n"
    summary = engine.run(mapped_import(rep, "account", text, mapping))
    assert (summary.updated, summary.errors) == (1, 1)
    rows = sorted((a["code"], a["name"], a["owner_id"]) for a in live("account"))
    assert rows == [("C1", "Old name", staff.id), ("C2", "Rep's new", staff.id)]


def test_a_linked_record_the_service_refuses_at_run_time_fails_its_rows(staff, model):
    long = "A" * 5000  # longer than any text field takes
    rule = {"account": LookupRule(when_none=CREATE)}
    mapping = contacts(["Full name", "Account"], ["full_name", "account"], **rule)
    text = f"Full name,Account\nAda,{long}\nBob,Acme\nCy,{long}\n"
    summary = engine.run(mapped_import(staff, "contact", text, mapping))
    assert (summary.created, summary.errors) == (1, 2)
    assert [a["name"] for a in live("account")] == ["Acme"]
    (line, reasons), _second = summary.samples
    assert line == 2 and "could not be created" in reasons["account"][0]

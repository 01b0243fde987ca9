"""Duplicate rules in imports (issue 18): skip, update, create anyway, rows of one file,
blocking rules, the dry run's counts, hidden matches never named, nothing half-written."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from crm.access import policy as P
from crm.dedupe import rules
from crm.dedupe.models import DedupeKey
from crm.extensions import db
from crm.imports import drafts, dryrun, service
from crm.imports import run as engine
from crm.imports.duplicates import REPORT_KEY
from crm.imports.mapping import ColumnChoice, Mapping
from crm.imports.models import ImportProblem, ImportRow
from crm.imports.read import open_source
from crm.imports.values import ColumnMap
from crm.metadata import specs
from crm.records.query import table_of
from crm.uow import unit_of_work
from tests.factories import field, make_entity, make_record, make_role, make_user, text

HEADER = ["Name", "Email", "Phone"]
KEYS = ["full_name", "email", "phone"]


@pytest.fixture
def crm(app):
    make_entity(
        "contact",
        fields=[text("full_name", required=True), field("email", "email"), field("phone", "phone")],
        name_field="full_name",
    )
    grants = {"create": P.ALL, "read": P.OWN, "edit": P.OWN, "import": P.ALL}
    make_role("Rep", grants)
    olga = make_user(display_name="Olga Rep", roles=("Rep",))
    bob = make_user(display_name="Bob Rep", roles=("Rep",))
    ann = make_record(olga, "contact", {"full_name": "Ann Lee", "email": "ann@acme.com"})
    zed = make_record(bob, "contact", {"full_name": "Zed Bloggs", "email": "zed@bob.org"})
    with unit_of_work():
        for data in rules.person_rules("contact"):
            rules.save(data, spec())
    assert db.session.scalar(select(func.count()).select_from(DedupeKey)) > 0
    db.session.rollback()
    return {"olga": olga, "bob": bob, "ann": ann, "zed": zed}


def spec():
    return specs.current().entity("contact")


def csv_file(rows: list[list[str]]) -> io.BytesIO:
    text_ = "\n".join(",".join(r) for r in [HEADER, *rows]) + "\n"
    return io.BytesIO(text_.encode())


def run(user, rows, *, duplicates=None, dry_run=False, mode="create"):
    columns = [ColumnMap(i, spec().field(k)) for i, k in enumerate(KEYS)]
    with unit_of_work() as outer:
        imp = service.create(
            user, spec(), csv_file(rows), "people.csv", columns, mode=mode, queue=False,
            duplicates=duplicates,
        )  # fmt: skip
        if dry_run:
            summary = engine.run(imp.id, dry_run=True)
            outer.discard()
            return None, summary
    return imp.id, engine.run(imp.id)


def names() -> list[str]:
    t = table_of(spec())
    out = db.session.scalars(
        select(t.c.full_name).where(t.c.deleted_at.is_(None)).order_by(t.c.id)
    ).all()
    db.session.rollback()
    return list(out)


def reported(import_id: int) -> dict[int, str]:
    rows = db.session.execute(
        select(ImportProblem.line, ImportProblem.reasons).where(
            ImportProblem.import_id == import_id
        )
    ).all()
    db.session.rollback()
    return {line: " ".join(r[REPORT_KEY]) for line, r in rows if REPORT_KEY in r}


def test_skip_reports_the_row_and_the_record_it_duplicates(crm):
    import_id, s = run(crm["olga"], [["Anne Lee", "ANN@acme.com", ""], ["New One", "n@x.org", ""]])
    assert (s.created, s.skipped, s.duplicates, s.errors) == (1, 1, 1, 0)
    assert names() == ["Ann Lee", "Zed Bloggs", "New One"]
    why = reported(import_id)
    assert list(why) == [2]
    assert "Ann Lee" in why[2] and f"#{crm['ann']}" in why[2]
    out = io.StringIO()
    service.write_errors(import_id, out, spec=spec())
    assert "Ann Lee" in out.getvalue()  # the report file lists it, with the record


def test_a_record_the_user_cannot_read_counts_but_is_never_named(crm):
    import_id, s = run(crm["olga"], [["Zed Bloggs", "zed@bob.org", ""]])
    assert (s.created, s.duplicates) == (0, 1)
    why = reported(import_id)[2]
    assert "cannot see" in why
    assert "Zed" not in why and str(crm["zed"]) not in why
    # nor updated under "update": the user cannot see it
    import_id, s = run(crm["olga"], [["Zed Bloggs", "zed@bob.org", "+1 415 555 0100"]],
                       duplicates="update")  # fmt: skip
    assert (s.updated, s.created, s.duplicates) == (0, 0, 1)
    assert "cannot see" in reported(import_id)[2]


def test_update_changes_the_one_best_match(crm):
    _import_id, s = run(
        crm["olga"], [["Ann Lee", "ann@acme.com", "+1 415 555 0101"]], duplicates="update"
    )
    assert (s.updated, s.created, s.duplicates) == (1, 0, 0)
    t = table_of(spec())
    phone = db.session.scalar(select(t.c.phone).where(t.c.id == crm["ann"]))
    assert phone and "555" in phone
    (row,) = db.session.execute(select(ImportRow.action, ImportRow.record_id)).all()
    assert tuple(row) == ("updated", crm["ann"])  # undo gives the old values back
    db.session.rollback()


def test_update_with_two_equal_best_matches_is_ambiguous_and_skipped(crm):
    make_record(crm["olga"], "contact", {"full_name": "Ann Lee", "email": "ann@acme.com"})
    import_id, s = run(crm["olga"], [["Ann Lee", "ann@acme.com", "+1 415 555 0103"]],
                       duplicates="update")  # fmt: skip
    assert (s.updated, s.created, s.duplicates) == (0, 0, 1)
    assert "equally well" in reported(import_id)[2]


def test_create_anyway_creates_the_duplicate(crm):
    _id, s = run(crm["olga"], [["Ann Lee", "ann@acme.com", ""]], duplicates="create")
    assert (s.created, s.duplicates) == (1, 0)
    assert names().count("Ann Lee") == 2


def test_a_blocking_rule_forbids_create_anyway(crm):
    data = dict(rules.person_rules("contact")[0], action="block")
    with unit_of_work():
        rules.save(data, spec())
    import_id, s = run(crm["olga"], [["Ann Lee", "ann@acme.com", ""]], duplicates="create")
    assert (s.created, s.duplicates) == (0, 1)
    assert "does not allow" in reported(import_id)[2]


def test_rows_of_one_file_that_duplicate_each_other(crm):
    rows = [["Tom Hart", "tom@h.com", ""], ["Hart Tom", "TOM@h.com", ""], ["Tim Hart", "t@h", ""]]
    import_id, s = run(crm["olga"], rows)
    assert (s.created, s.duplicates) == (2, 1)
    assert "line 2" in reported(import_id)[3]
    # the records it created carry their keys: the same file again creates nothing
    _id, again = run(crm["olga"], rows)
    assert (again.created, again.duplicates) == (0, 3)


def test_rows_of_one_file_under_update_update_the_first_rows_record(crm):
    rows = [["Tom Hart", "tom@h.com", ""], ["Tom Hart", "tom@h.com", "+1 415 555 0102"]]
    _id, s = run(crm["olga"], rows, duplicates="update")
    assert (s.created, s.updated, s.duplicates) == (1, 1, 0)
    assert names().count("Tom Hart") == 1


def test_duplicates_across_batches_are_found_by_the_keys_written_with_each_batch(crm):
    rows = [[f"Person {i}", f"p{i}@x.org", ""] for i in range(30)] * 2
    columns = [ColumnMap(i, spec().field(k)) for i, k in enumerate(KEYS)]
    with unit_of_work():
        imp = service.create(crm["olga"], spec(), csv_file(rows), "p.csv", columns, queue=False)
    s = engine.run(imp.id, batch=7)
    assert (s.created, s.duplicates) == (30, 30)


def test_the_engine_dry_run_counts_and_writes_nothing(crm):
    before = names()
    rows = [["Ann Lee", "ann@acme.com", ""], ["Bea Ko", "b@k.org", ""], ["Bea Ko", "b@k.org", ""]]
    _none, s = run(crm["olga"], rows, dry_run=True)
    assert (s.created, s.duplicates) == (1, 2)
    assert names() == before


def test_a_bad_row_leaves_nothing_half_written(crm):
    rows = [["", "nobody@x.org", ""], ["Ann Lee", "ann@acme.com", "+1 415 555 0104"],
            ["Cy Fox", "c@f.org", ""]]  # fmt: skip
    import_id, s = run(crm["olga"], rows, duplicates="update")
    assert (s.errors, s.updated, s.created) == (1, 1, 1)
    # the bad row wrote nothing: no record, no key, no import row
    t = table_of(spec())
    assert db.session.scalar(
        select(func.count()).select_from(t).where(t.c.email == "nobody@x.org")
    ) == 0  # fmt: skip
    lines = db.session.scalars(select(ImportRow.line).where(ImportRow.import_id == import_id))
    assert sorted(lines) == [3, 4]
    db.session.rollback()


def test_the_screens_dry_run_counts_duplicates(crm):
    rows = [["Ann Lee", "ann@acme.com", ""], ["Bea Ko", "b@k.org", ""], ["Bea Ko", "b@k.org", ""],
            ["Zed Bloggs", "zed@bob.org", ""]]  # fmt: skip
    source = open_source(csv_file(rows), "people.csv")
    for option, expected in (
        ("skip", (1, 0, 3, 3, 0)),
        ("update", (1, 2, 1, 1, 2)),
        ("create", (4, 0, 0, 0, 0)),
    ):
        m = Mapping(
            "contact", tuple(ColumnChoice(i, HEADER[i], k) for i, k in enumerate(KEYS)),
            mode="create", duplicates=option,
        )  # fmt: skip
        d = dryrun.dry_run(crm["olga"], spec(), source, m)
        got = (d.create, d.update, d.skip, d.duplicates_skipped, d.duplicates_updated)
        assert got == expected, option
    assert Mapping.from_json(m.to_json()).duplicates == "create"


def test_the_mapping_screen_offers_the_option_and_starts_with_it(crm, login_as):
    client = login_as(crm["olga"])
    imp = drafts.upload(crm["olga"], spec(), csv_file([["Ann Lee", "ann@acme.com", ""]]), "p.csv")
    url = f"/r/contact/imports/{imp.id}/mapping"
    page = client.get(url).get_data(as_text=True)
    assert 'name="duplicates"' in page
    form = {f"col-{i}": k for i, k in enumerate(KEYS)} | {"mode": "create"}
    got = client.submit(url, form | {"duplicates": "update", "action": "preview"})
    assert got.status_code == 200, got.get_data(as_text=True)[:2000]
    assert "Duplicates: 0 to skip, 1 to update" in got.get_data(as_text=True)
    bad = client.submit(url, form | {"duplicates": "merge", "action": "preview"})
    assert bad.status_code == 400
    assert "duplicate a record" in bad.get_data(as_text=True)
    started = client.submit(url, form | {"duplicates": "update", "action": "start"})
    assert started.status_code == 303  # the job runs at once in tests
    t = table_of(spec())
    assert db.session.scalar(select(func.count()).select_from(t)) == 2  # updated, not created


def test_the_keys_an_import_writes_are_those_the_key_upkeep_writes(crm):
    from crm.dedupe import keys

    rows = [["Tom Hart", "tom@h.com", "+1 415 555 0105"], ["张 三", "z@s.cn", "13800138000"]]
    run(crm["olga"], rows)

    def stored():
        q = select(DedupeKey.record_id, DedupeKey.rule_key, DedupeKey.key)
        return sorted(tuple(r) for r in db.session.execute(q))

    written = stored()
    with unit_of_work():
        t = table_of(spec())
        keys.refresh(spec(), db.session.scalars(select(t.c.id)).all())
    assert stored() == written
    db.session.rollback()

"""Seed records in packages: applied through the record service without duplicates, merged
per field on update, never made again once deleted here, refused at load when a value,
a lookup's "@key" or a circle of lookups is wrong, atomic with the rest of the apply, and
exported by key so that export -> apply -> export gives the same bytes."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from crm.errors import Conflict, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.packages import describe, seed
from crm.packages.apply import apply, plan_package
from crm.packages.export import dumps, export_package
from crm.packages.load import load
from crm.packages.models import SeedRecord
from crm.packages.problems import PackageInvalid
from crm.packages.seed_plan import ADD, DELETED, KEEP, SAME, UPDATE
from crm.records import service as records
from crm.records.query import table_of
from tests.factories import make_user
from tests.packages.test_apply import package as base_package
from tests.packages.test_apply import state
from tests.schema.conftest import assert_in_step


def package(version: str = "1.0.0") -> dict:
    pkg = base_package(version)
    account = pkg["entities"]["account"]["fields"]
    account["parent"] = {"type": "lookup", "label": "Parent", "position": 20,
                         "options": {"target": "account"}}  # fmt: skip
    account["founded"] = {"type": "date", "label": "Founded", "position": 30}
    account["active"] = {"type": "boolean", "label": "Active", "position": 40}
    choices = [{"key": "vip", "label": "VIP"}, {"key": "eu", "label": "EU"}]
    account["tags"] = {"type": "multi_picklist", "label": "Tags", "position": 50,
                       "choices": choices}  # fmt: skip
    account["manager"] = {"type": "user", "label": "Manager", "position": 60}
    deal = pkg["entities"]["deal"]["fields"]
    deal["stage"] = {"type": "stage", "label": "Stage", "position": 70}
    pkg["seed"] = {
        # The child is listed before its parent: lookups decide the order, not the list.
        "account": [
            {"@key": "acme-eu", "name": "Acme Europe", "parent": "acme", "tags": ["eu"]},
            {
                "@key": "acme",
                "name": "Acme",
                "founded": "1999-04-01",
                "active": True,
                "tags": ["vip", "eu"],
            },
        ],
        "deal": [
            {
                "@key": "d1",
                "title": "Big one",
                "amount": 1200.5,
                "kind": "new",
                "account": "acme",
                "stage": "propose",
            },
            {"@key": "d2", "title": "Renewal", "amount": "300", "kind": "renewal"},
        ],
    }
    return pkg


@pytest.fixture
def admin(app):
    return make_user("admin@example.com", is_admin=True)


def loaded(pkg: dict) -> dict:
    """The package through the loader, as the screens and the command read it."""
    raw = json.dumps(pkg).encode()
    return load(raw, existing=specs.raw().entities, seeded=seed.seeded_keys()).data


def install(pkg: dict, admin, **kw):
    return apply(plan_package(loaded(pkg)), actor_id=admin.id, **kw)


def count(entity: str) -> int:
    table = table_of(specs.raw().entity(entity))
    return db.session.scalar(select(func.count()).select_from(table))


def record(entity: str, key: str) -> dict:
    row = db.session.scalar(
        select(SeedRecord).where(SeedRecord.entity_key == entity, SeedRecord.seed_key == key)
    )
    spec = specs.raw().entity(entity)
    return dict(records.get(_admin(), spec, row.record_id))


def _admin():
    from crm.access.models import User

    return db.session.scalar(select(User).where(User.email == "admin@example.com"))


def edit(entity: str, key: str, **values) -> None:
    current = record(entity, key)
    spec = specs.raw().entity(entity)
    records.update_record(
        _admin(), spec, current["id"], values, expected_version=current["version"]
    )


def test_apply_creates_the_seed_records_with_lookups_in_order(app, admin):
    result = install(package(), admin)
    assert result.changed
    assert count("account") == 2 and count("deal") == 2
    acme, child = record("account", "acme"), record("account", "acme-eu")
    assert child["parent"] == acme["id"]
    assert str(acme["founded"]) == "1999-04-01" and acme["active"] is True
    assert acme["tags"] == ["vip", "eu"]
    d1 = record("deal", "d1")
    assert d1["account"] == acme["id"] and str(d1["amount"]) == "1200.50"
    assert d1["stage"] == "propose" and d1["created_by"] == admin.id
    assert str(record("deal", "d2")["amount"]) == "300.00"


def test_reapplying_creates_no_duplicates_and_changes_nothing(app, admin):
    install(package(), admin)
    before = {e: count(e) for e in ("account", "deal")}
    versions = record("deal", "d1")["version"]
    p = plan_package(loaded(package()))
    assert p.empty and p.seed.steps and {s.action for s in p.seed.steps} == {SAME}
    assert describe.lines(p)[-1] == "Nothing would change."
    assert not apply(p, actor_id=admin.id).changed
    assert {e: count(e) for e in ("account", "deal")} == before
    assert record("deal", "d1")["version"] == versions
    # A new version that changes only its configuration leaves the records alone too.
    v2 = package("2")
    v2["entities"]["deal"]["label_plural"] = "Opportunities"
    assert install(v2, admin).changed
    assert {e: count(e) for e in ("account", "deal")} == before


# (what the company did to the title, what the package's v2 says) -> step, title after
MERGES = [
    ("Big one", "Big one", SAME, "Big one"),  # neither changed it
    ("Big one", "Huge one", UPDATE, "Huge one"),  # only the package: taken
    ("Mine", "Big one", KEEP, "Mine"),  # only here: kept
    ("Mine", "Huge one", KEEP, "Mine"),  # both: kept (people's data), and said
    ("Huge one", "Huge one", SAME, "Huge one"),  # both, the same way
]


@pytest.mark.parametrize(("mine", "theirs", "action", "after"), MERGES)
def test_an_updated_package_is_merged_per_field(app, admin, mine, theirs, action, after):
    install(package(), admin)
    if mine != "Big one":
        edit("deal", "d1", title=mine)
    v2 = package("2")
    v2["seed"]["deal"][0]["title"] = theirs
    p = plan_package(loaded(v2))
    step = next(s for s in p.seed.steps if s.key == "d1")
    assert step.action == action
    if action == UPDATE:
        assert [(c.field, c.old, c.new) for c in step.changes] == [("title", mine, theirs)]
    if action == KEEP:
        assert [(c.field, c.old, c.new) for c in step.kept] == [("title", theirs, mine)]
        text = "\n".join(describe.lines(p))
        assert f'kept local edits d1: title: "{mine}"' in text
    if action != UPDATE:
        assert p.seed.empty
    install(v2, admin)
    assert record("deal", "d1")["title"] == after
    assert count("deal") == 2


def test_other_fields_merge_alone_and_fields_the_package_never_named_stay(app, admin):
    install(package(), admin)
    edit("deal", "d1", code="LOCAL", title="Mine")
    v2 = package("2")
    v2["seed"]["deal"][0]["amount"] = 2000
    p = plan_package(loaded(v2))
    step = next(s for s in p.seed.steps if s.key == "d1")
    assert step.action == UPDATE
    assert [(c.field, c.old, c.new) for c in step.changes] == [("amount", "1200.50", "2000.00")]
    assert [c.field for c in step.kept] == ["title"]  # code: never the package's
    counts = dict((e, c) for e, c, _s in p.seed.by_entity())
    assert (counts["deal"].update, counts["deal"].kept, counts["deal"].unchanged) == (1, 1, 1)
    install(v2, admin)
    d1 = record("deal", "d1")
    assert (d1["title"], d1["code"], str(d1["amount"])) == ("Mine", "LOCAL", "2000.00")


def test_a_seed_record_deleted_here_is_not_made_again(app, admin):
    install(package(), admin)
    d2 = record("deal", "d2")
    records.delete(_admin(), specs.raw().entity("deal"), d2["id"])
    db.session.commit()
    v2 = package("2")
    v2["seed"]["deal"][1]["title"] = "Renewal 2027"
    v2["seed"]["deal"].append({"@key": "d3", "title": "Third"})
    p = plan_package(loaded(v2))
    actions = {s.key: s.action for s in p.seed.steps}
    assert actions == {"acme-eu": SAME, "acme": SAME, "d1": SAME, "d2": DELETED, "d3": ADD}
    text = "\n".join(describe.lines(p))
    assert "d2 was deleted here: not recreated" in text
    assert "1 to add, 0 to update, 0 kept as edited locally, 1 deleted locally" in text
    install(v2, admin)
    live = db.session.scalar(
        select(func.count())
        .select_from(table_of(specs.raw().entity("deal")))
        .where(table_of(specs.raw().entity("deal")).c.deleted_at.is_(None))
    )
    assert live == 2 and count("deal") == 3  # d1, d3 live; d2 still in the recycle bin
    assert plan_package(loaded(v2)).empty


def refused(pkg: dict) -> dict[str, list[str]]:
    with pytest.raises(PackageInvalid) as caught:
        loaded(pkg)
    return caught.value.errors


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        ("/seed/account/1/founded", "01/04/1999", "YYYY-MM-DD"),
        ("/seed/account/1/tags", ["vip", "nope"], "“nope” is not one of the choices"),
        ("/seed/account/1/active", "maybe", "Enter yes or no"),
        ("/seed/deal/1/amount", "lots", "Enter a number"),
        ("/seed/deal/0/stage", "nowhere", "“nowhere” is not one of the choices"),
        ("/seed/deal/0/kind", "other", "“other” is not one of the choices"),
        ("/seed/deal/0/account", "nobody", "no seed record “nobody” of “account”"),
        ("/seed/deal/0/account", 7, "Give the “@key” of a seed record"),
        ("/seed/account/1/manager", 1, "users are not part of a package"),
        ("/seed/deal/0/nonsense", "x", "is not a field of"),
    ],
)
def test_a_bad_value_or_dangling_key_is_refused_at_load_with_its_pointer(
    app, admin, where, value, words
):
    pkg = package()
    _seed, entity, index, name = where.split("/")[1:]
    pkg["seed"][entity][int(index)][name] = value
    errors = refused(pkg)
    assert list(errors) == [where]
    assert words in errors[where][0]
    assert db.session.scalar(select(func.count()).select_from(SeedRecord)) == 0


def test_a_circle_of_lookups_is_refused_with_its_pointer(app):
    pkg = package()
    pkg["seed"]["account"][1]["parent"] = "acme-eu"
    errors = refused(pkg)
    ((where, messages),) = errors.items()
    assert where in ("/seed/account/0/parent", "/seed/account/1/parent")
    assert "in a circle" in messages[0] and "account/acme" in messages[0]
    pkg["seed"]["account"][1]["parent"] = "acme"  # a record naming itself
    assert "in a circle" in refused(pkg)["/seed/account/1/parent"][0]


def test_a_lookup_may_name_a_key_seeded_earlier(app, admin):
    install(package(), admin)
    v2 = package("2")
    v2["seed"]["account"] = []
    v2["seed"]["deal"].append({"@key": "d3", "title": "Later", "account": "acme-eu"})
    install(v2, admin)
    assert record("deal", "d3")["account"] == record("account", "acme-eu")["id"]


def test_the_record_service_refusing_a_seed_record_leaves_nothing_behind(app, admin):
    pkg = package()
    del pkg["seed"]["deal"][1]["title"]  # required: the record service says so
    before = state()
    with pytest.raises(ValidationFailed) as caught:
        install(pkg, admin)
    assert "/seed/deal/1/title" in caught.value.errors
    assert state() == before
    assert "deal" not in specs.raw().entities  # the configuration went back too
    assert_in_step()


def test_seed_records_need_a_user_who_applies(app, admin):
    with pytest.raises(ValidationFailed) as caught:
        apply(plan_package(loaded(package())))
    assert "/seed" in caught.value.errors


@pytest.mark.parametrize("onto", ["empty", "installed"])
def test_a_failure_in_the_seed_step_leaves_everything_as_before(app, admin, onto):
    if onto == "installed":
        install(package(), admin)
    pkg = package("2")
    pkg["entities"]["deal"]["label_plural"] = "Opportunities"
    pkg["seed"]["deal"].append({"@key": "d3", "title": "Third", "account": "acme"})
    p = plan_package(loaded(pkg))
    before = state(), db.session.scalar(select(func.count()).select_from(SeedRecord))
    counts = {e: count(e) for e in ("account", "deal")} if onto == "installed" else {}
    db.session.rollback()

    def explode(at: str) -> None:
        if at == "package_after_seed":
            raise RuntimeError(at)

    app.config["SCHEMA_CHECKPOINT"] = explode
    with pytest.raises(RuntimeError):
        apply(p, actor_id=admin.id)
    app.config["SCHEMA_CHECKPOINT"] = None
    assert (state(), db.session.scalar(select(func.count()).select_from(SeedRecord))) == before
    assert {e: count(e) for e in counts} == counts
    assert_in_step()
    apply(p, actor_id=admin.id)  # positive control
    assert count("deal") == 3


def test_records_changed_since_the_plan_are_refused(app, admin):
    install(package(), admin)
    v2 = package("2")
    v2["seed"]["deal"][0]["title"] = "Huge one"
    p = plan_package(loaded(v2))
    edit("deal", "d1", title="Mine")
    db.session.commit()
    with pytest.raises(Conflict):
        apply(p, actor_id=admin.id)
    db.session.rollback()
    assert record("deal", "d1")["title"] == "Mine"


def test_export_writes_seeded_records_by_key_and_never_the_others(app, admin):
    install(package(), admin)
    spec = specs.raw().entity("account")
    records.create(_admin(), spec, {"name": "Nobody's seed"})
    db.session.commit()
    exported = export_package(name="acme", version="1")["seed"]
    assert [r["@key"] for r in exported["account"]] == ["acme", "acme-eu"]
    assert exported["account"][1] == {"@key": "acme-eu", "name": "Acme Europe",
                                      "parent": "acme", "tags": ["eu"]}  # fmt: skip
    d1 = exported["deal"][0]
    assert d1["account"] == "acme" and d1["amount"] == "1200.50" and d1["stage"] == "propose"
    assert "Nobody's seed" not in json.dumps(exported)


def test_export_apply_to_an_empty_installation_export_is_byte_identical(
    app, admin, databases, tmp_path
):
    from tests.conftest import build_app

    install(package(), admin)
    edit("account", "acme", name="Acme Group")  # values now, not the package's
    first = dumps(export_package(name="acme", version="1"))
    assert '"seed"' in first
    db.session.remove()
    db.engine.dispose()
    other = tmp_path / "other"
    other.mkdir()
    target = build_app(databases.fresh(other), str(other / "instance"))
    with target.app_context():
        try:
            make_user("admin@example.com", is_admin=True)
            install(json.loads(first), _admin())
            again = dumps(export_package(name="acme", version="1"))
        finally:
            db.session.remove()
            db.engine.dispose()
    assert again == first


def test_the_plan_page_shows_the_seed_counts(app, admin, login_as):
    from tests.packages.test_screen import upload

    install(package(), admin)
    client = login_as(admin)
    v2 = package("2")
    v2["seed"]["deal"][0]["title"] = "Huge one"
    v2["seed"]["deal"].append({"@key": "d3", "title": "Third"})
    r = upload(client, v2)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'id="pkg-seed"' in html
    row = html.split('id="pkg-seed-deal"', 1)[1].split("</tr>", 1)[0]
    assert [c.split("<", 1)[0] for c in row.split("<td>")[2:]] == ["1", "1", "0", "0", "1"]
    assert "Huge one" in html and "deal/d3" in html


def test_the_command_line_plan_mentions_the_seed_records(app, admin, tmp_path):
    from flask import current_app

    path = tmp_path / "pkg.json"
    path.write_text(json.dumps(package()), encoding="utf-8")
    out = current_app.test_cli_runner().invoke(args=["crm", "package", "plan", str(path)])
    assert out.exit_code == 0, out.output
    assert "Seed records of account: 2 to add, 0 to update" in out.stdout
    assert "+ add acme-eu" in out.stdout
    refused_ = current_app.test_cli_runner().invoke(
        args=["crm", "package", "apply", str(path), "--yes"]
    )
    assert refused_.exit_code == 1 and "/seed" in refused_.output
    done = current_app.test_cli_runner().invoke(
        args=["crm", "package", "apply", str(path), "--yes", "--as", "admin@example.com"]
    )
    assert done.exit_code == 0, done.output
    again = current_app.test_cli_runner().invoke(args=["crm", "package", "plan", str(path)])
    assert again.stdout.strip().endswith("Nothing would change.")


def test_the_seed_merge_is_pure_and_table_driven():
    from crm.packages.seed_plan import merge

    base = {"a": 1, "b": 1, "c": 1, "d": 1}
    mine = {"a": 1, "b": 2, "c": 2, "d": 3, "local": 9}
    theirs = {"a": 5, "b": 1, "c": 3, "d": 3, "e": 7}
    step = merge("deal", "k", 0, theirs, mine, base, 4)
    assert [(c.field, c.old, c.new) for c in step.changes] == [("a", 1, 5), ("e", None, 7)]
    assert [(c.field, c.old, c.new) for c in step.kept] == [("b", 1, 2), ("c", 3, 2)]
    assert merge("deal", "k", 0, theirs, None, None).action == ADD
    assert merge("deal", "k", 0, theirs, None, base, 4).action == DELETED
    assert copy.deepcopy(step) == step

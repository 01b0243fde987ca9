"""Scope levels are stated once (``crm.access.levels``): every level's SQL condition and
its Python match agree for every position of a record, shares likewise, and a level added
in this test only ("parent department and below") is honoured by the SQL scope, ``can``,
``allowed_on``, the "who can see this" panel, the roles service and the no-escalation
rule with no other code."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, text

from crm.access import levels, policy, roles, rules
from crm.access.levels import NO_PATH, Reach
from crm.access.models import Department, RecordShare
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.records.query import scoped, table_of
from crm.records.who_can_see import explain
from crm.schema import service as schema
from tests.factories import make_department, make_user

P = policy
NO_SUCH_USER = 987654


def _parent_and_below(viewer) -> Reach:
    """My parent department and everything below it (my own subtree at the top)."""
    path = viewer.department_path or NO_PATH
    ids = [p for p in path.strip("/").split("/") if p]
    if len(ids) < 2:
        return Reach(viewer.department_id, path, below=True)
    return Reach(int(ids[-2]), "/" + "/".join(ids[:-1]) + "/", below=True)


# Wider than "department and below", narrower than "all": stored as 5, ranked between.
PARENT = levels.department_level(
    5, "parent", "Parent department and below", "Dept++", 3.5, _parent_and_below
)


CHECK_NAME = "ck_role_grants_ck_role_grants_level"  # as migration 0006 named it


def _store_levels_up_to(top: int) -> None:
    """What a real new level needs besides its entry: a migration widening the CHECK on
    ``role_grants.level``. On SQLite that rebuilds the table, which drops its triggers
    (the access stamp's), so they are put back as they were."""
    db.session.commit()  # no transaction of the test may hold the table
    with db.engine.begin() as conn:
        triggers = []
        if conn.dialect.name == "sqlite":
            triggers = list(
                conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master"
                    " WHERE type = 'trigger' AND tbl_name = 'role_grants'"
                ).scalars()
            )
        conn.execute(text("DELETE FROM role_grants WHERE level > :top"), {"top": top})
        op = Operations(MigrationContext.configure(conn))
        with op.batch_alter_table("role_grants", recreate="auto") as batch:
            batch.drop_constraint(CHECK_NAME, type_="check")
            batch.create_check_constraint(CHECK_NAME, f"level BETWEEN 0 AND {top}")
        for sql in triggers:
            conn.exec_driver_sql(sql)


@pytest.fixture
def parent_level(app):
    """The level registered, and storable, for one test; PostgreSQL test databases are
    reused, so the CHECK is narrowed back after."""
    _store_levels_up_to(PARENT.value)
    try:
        with levels.registered(PARENT):
            policy.forget()
            yield PARENT
    finally:
        policy.forget()
        _store_levels_up_to(P.ALL)


@pytest.fixture
def org(app, admin):
    """Company > Sales > East > City, Company > Finance, and Apart on its own; one user
    in each (two in East), one without a department; a deal owned by each, one without an
    owner and one whose owner does not exist."""
    schema.create_entity(
        "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
    )
    company = make_department("Company")
    sales = make_department("Sales", company)
    east = make_department("East", sales)
    d = {
        "company": company,
        "sales": sales,
        "east": east,
        "city": make_department("City", east),
        "finance": make_department("Finance", company),
        "apart": make_department("Apart"),
    }
    people = {
        name: make_user(display_name=name, roles=(), department=d.get(home))
        for name, home in [
            ("company", "company"),
            ("sales", "sales"),
            ("east", "east"),
            ("east2", "east"),
            ("city", "city"),
            ("finance", "finance"),
            ("apart", "apart"),
            ("nodept", None),
        ]
    }
    deal = specs.current().entity("deal")
    owners = [*people, "nobody", "ghost"]
    owner_ids = [people[o].id if o in people else None for o in owners]
    owner_ids[owners.index("ghost")] = NO_SUCH_USER
    ids = records.bulk_create(admin, deal, [{"title": o} for o in owners], owner_ids=owner_ids)
    return SimpleNamespace(
        d=d, people=people, deal=deal, ids=dict(zip(owners, ids, strict=True)), admin=admin
    )


def _rights(user) -> policy.Rights:
    path = db.session.scalar(select(Department.path).where(Department.id == user.department_id))
    return policy.Rights(user.id, False, user.department_id, path)


def _positions(org) -> dict[int, levels.Position]:
    """Each deal's position, with the owner's department read (as the panel reads it)."""
    table = table_of(org.deal)
    departments = {d.id: d for d in db.session.scalars(select(Department))}
    homes = {u.id: u.department_id for u in org.people.values()}
    names = {d.id: d.name for d in departments.values()}
    out = {}
    for rid, owner_id in db.session.execute(select(table.c.id, table.c.owner_id)):
        home = homes.get(owner_id)
        out[rid] = levels.Position(owner_id, departments.get(home), names)
    return out


def _level_agreement(org) -> int:
    table = table_of(org.deal)
    positions = _positions(org)
    compared = 0
    for value in levels.LEVELS:
        level = levels.level(value)
        for who, user in org.people.items():
            r = _rights(user)
            by_sql = set(db.session.scalars(select(table.c.id).where(level.condition(r, table))))
            for rid, position in positions.items():
                in_python = level.admits(r, position)
                assert in_python == (rid in by_sql), (level.key, who, rid)
                # Without the owner's department, the match says "unknown" or the truth.
                quick = levels.Position(position.owner_id)
                assert level.admits(r, quick) in (None, in_python), (level.key, who, rid)
                why = level.match(r, position)
                assert (why is not None) == in_python and why is not levels.UNKNOWN
                compared += 1
    return compared


def test_every_level_states_the_same_rule_in_sql_and_in_python(org):
    compared = _level_agreement(org)
    assert compared == len(policy.LEVELS) * len(org.people) * len(org.ids)


def test_the_added_level_agrees_too(org, parent_level):
    assert parent_level.value in policy.LEVELS
    assert _level_agreement(org) == 6 * len(org.people) * len(org.ids)


def test_shares_state_the_same_rule_in_sql_and_in_python(org):
    p, d, ids = org.people, org.d, org.ids
    made = [
        ("finance", "read", {"user_id": p["east"].id}),
        ("apart", "edit", {"user_id": p["east"].id}),
        ("company", "edit", {"department_id": d["sales"].id}),
        ("nodept", "read", {"department_id": d["city"].id}),
        ("ghost", "read", {"department_id": d["apart"].id}),
    ]
    for owner, access, target in made:
        db.session.add(
            RecordShare(entity_key="deal", record_id=ids[owner], access=access, **target)
        )
    db.session.commit()
    table = table_of(org.deal)
    names = {dep.id: dep.name for dep in d.values()}
    shares = db.session.execute(
        select(RecordShare.record_id, RecordShare.user_id, RecordShare.department_id,
               RecordShare.access, db.literal(None).label("by"))
    ).all()  # fmt: skip
    reached = 0
    for who, user in p.items():
        r = _rights(user)
        for action in ("read", "edit"):
            condition = levels.SHARES.condition(r, "deal", action, table)
            by_sql = set(db.session.scalars(select(table.c.id).where(condition)))
            by_python = {
                s.record_id
                for s in shares
                if levels.SHARES.match(r, s, action, names, str) is not None
            }
            assert by_sql == by_python, (who, action)
            reached += len(by_sql)
    # City reads what is shared with it and with every department above it.
    r = _rights(p["city"])
    assert levels.SHARES.match(r, shares[2], "edit", names, str) == (
        "Shared with department Sales (edit) — they are in City, below it"
    )
    assert reached > 0


def test_a_department_reach_covers_only_what_it_holds(org):
    """What the no-escalation rule compares (``Reach.covers``) is what the levels reach."""
    departments = list(db.session.scalars(select(Department)))
    relative = [levels.level(v) for v in policy.LEVELS if levels.level(v).reach is not None]
    for a in departments:
        for b in departments:
            mine = SimpleNamespace(department_id=a.id, department_path=a.path)
            theirs = SimpleNamespace(department_id=b.id, department_path=b.path)
            for lm in relative:
                for lt in relative:
                    reach_m, reach_t = lm.reach(mine), lt.reach(theirs)
                    if reach_m.covers(reach_t):
                        held = {x.id for x in departments if reach_t.holds(x)}
                        assert held <= {x.id for x in departments if reach_m.holds(x)}


def test_a_level_added_in_a_test_reaches_the_scope_can_and_the_panel(org, parent_level):
    p, ids, deal = org.people, org.ids, org.deal
    # The roles service accepts it and the matrix offers it, by its entry alone.
    roles.create(
        org.admin,
        name="Parent reader",
        grants={("*", "read"): parent_level.value, ("*", "edit"): P.OWN},
    )
    assert P.LEVEL_LABELS[parent_level.value] == "Parent department and below"
    assert list(P.LEVELS) == [P.NONE, P.OWN, P.DEPARTMENT, P.SUBTREE, 5, P.ALL]
    reader = make_user(display_name="Reader", roles=("Parent reader",), department=org.d["east"])
    policy.forget()
    assert policy.rights(reader).level("deal", "read") == parent_level.value

    # The SQL scope: everyone under Sales (East's parent), and their own.
    table = table_of(deal)
    got = set(db.session.scalars(scoped(reader, deal, "read", columns=[table.c.id])))
    expected = {ids[o] for o in ("sales", "east", "east2", "city")}
    assert got == expected
    # can and allowed_on answer the same, record by record.
    rows = db.session.execute(select(table.c.id, table.c.owner_id)).mappings().all()
    for row in rows:
        assert policy.can(reader, "read", deal, row["id"]) == (row["id"] in expected)
        assert policy.allowed_on(reader, deal, row, ("read",)) == (
            {"read"} if row["id"] in expected else set()
        )
    # Shares widen it, as they widen every level between none and all.
    db.session.add(
        RecordShare(entity_key="deal", record_id=ids["apart"], access="read", user_id=reader.id)
    )
    db.session.commit()
    assert policy.can(reader, "read", deal, ids["apart"])

    # The panel names the rule, in the level's words.
    def reasons(owner: str) -> tuple[str, ...]:
        row = {"id": ids[owner], "owner_id": p[owner].id}
        found = {v.name: v for v in explain(deal, row).readers}
        return found["Reader"].read if "Reader" in found else ()

    rule = "Role Parent reader: Read = Parent department and below"
    assert reasons("sales") == (f"{rule} — owner is in Sales",)
    assert reasons("city") == (f"{rule} — owner is in City, below Sales",)
    assert reasons("finance") == ()
    assert reasons("apart") == ("Shared with them (read)",)


def test_the_no_escalation_rule_ranks_and_places_the_added_level(org, parent_level):
    d = org.d
    wide = policy.RoleRights(1, "wide", grants={("*", "read"): parent_level.value})
    subtree = policy.RoleRights(2, "subtree", grants={("*", "read"): P.SUBTREE})
    everything = policy.RoleRights(3, "all", grants={("*", "read"): P.ALL})

    def at(dep, *held) -> policy.Rights:
        return policy.Rights(99, False, dep.id, dep.path, held)

    # The widest grant of several roles is by breadth, not by the stored number.
    assert at(d["east"], subtree, wide).level("deal", "read") == parent_level.value
    assert at(d["east"], wide, everything).level("deal", "read") == P.ALL
    # More than "department and below" ...
    problems = rules.level_problems(at(d["sales"], subtree), wide)
    assert any("Parent department and below (yours: Department and below)" in m for m in problems)
    # ... and placed by its reach: from City or East, the parent is inside Sales and below.
    actor = at(d["sales"], subtree)
    assert rules.placement_problems(actor, at(d["city"], wide)) == []
    assert rules.placement_problems(actor, at(d["east"], wide)) == []
    assert rules.placement_problems(actor, at(d["sales"], wide)) != []  # Company: beyond
    assert rules.placement_problems(at(d["sales"], everything), at(d["sales"], wide)) == []

"""The access policy: record scopes by department tree, widest grant over roles, shares,
field rights. Expectations are written out by hand from the declared data."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from crm.access import policy
from crm.access.models import Department, RecordShare, Role, RoleGrant
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.records.query import scoped, table_of
from tests.factories import field, make_department, make_entity, make_role, make_user, text

P = policy


@pytest.fixture
def world(app):
    make_entity(
        "deal",
        "Deal",
        [
            text("title", "Title"),
            field("amount", "currency", "Amount"),
            field("margin", "percent", "Margin"),
        ],
    )
    root = make_department("Company")
    sales = make_department("Sales", root)
    east = make_department("Sales East", sales)
    east_city = make_department("East City", east)
    finance = make_department("Finance", root)
    make_role("rep", {("*", "read"): P.OWN, ("*", "edit"): P.OWN, ("*", "delete"): P.NONE})
    make_role("lead", {("*", "read"): P.DEPARTMENT, ("*", "edit"): P.OWN})
    make_role("manager", {("deal", "read"): P.SUBTREE, ("deal", "edit"): P.SUBTREE})
    make_role("auditor", {("*", "read"): P.ALL}, {("deal", "margin"): P.HIDDEN})
    make_role("reader", {("deal", "read"): P.ALL}, {("deal", "amount"): P.READ})
    make_role("blind", {("deal", "edit"): P.ALL})  # edit without read: acts on nothing
    people = {
        "admin": make_user(is_admin=True, roles=()),
        "rep_sales": make_user(roles=("rep",), department=sales),
        "lead_sales": make_user(roles=("lead",), department=sales),
        "mgr_sales": make_user(roles=("manager",), department=sales),
        "rep_east": make_user(roles=("rep",), department=east),
        "rep_city": make_user(roles=("rep",), department=east_city),
        "rep_fin": make_user(roles=("rep",), department=finance),
        "auditor": make_user(roles=("auditor",), department=finance),
        "both": make_user(roles=("rep", "auditor"), department=finance),
        "nodept_lead": make_user(roles=("lead",)),
        "blind": make_user(roles=("blind",), department=sales),
        "nobody": make_user(roles=()),
    }
    deal = specs.current().entity("deal")
    owners = ["rep_sales", "lead_sales", "rep_east", "rep_city", "rep_fin", "nodept_lead"]
    ids = records.bulk_create(
        people["admin"],
        deal,
        [{"title": f"deal of {o}", "amount": "100", "margin": "12"} for o in owners],
        owner_ids=[people[o].id for o in owners],
    )
    return {"people": people, "deal": deal, "ids": dict(zip(owners, ids, strict=True)),
            "departments": {"sales": sales, "east": east, "finance": finance}}  # fmt: skip


def visible(world, who: str, action: str = "read") -> set[str]:
    policy.forget()
    deal = world["deal"]
    table = table_of(deal)
    got = set(db.session.scalars(scoped(world["people"][who], deal, action, columns=[table.c.id])))
    return {owner for owner, i in world["ids"].items() if i in got}


ALL_OWNERS = {"rep_sales", "lead_sales", "rep_east", "rep_city", "rep_fin", "nodept_lead"}


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", ALL_OWNERS),
        ("rep_sales", {"rep_sales"}),
        ("lead_sales", {"rep_sales", "lead_sales"}),  # the whole department, not below
        ("mgr_sales", {"rep_sales", "lead_sales", "rep_east", "rep_city"}),  # and below
        ("rep_east", {"rep_east"}),
        ("auditor", ALL_OWNERS),
        ("both", ALL_OWNERS),  # the widest grant of two roles
        ("nodept_lead", {"nodept_lead"}),  # "own department" without one is "own"
        ("blind", set()),
        ("nobody", set()),
    ],
)
def test_read_scope_follows_the_department_tree(world, who, expected):
    assert visible(world, who) == expected


def test_actions_other_than_read_need_read_too(world):
    assert visible(world, "blind", "edit") == set()
    assert not policy.can(world["people"]["blind"], "edit", "deal", world["ids"]["rep_sales"])
    assert visible(world, "lead_sales", "edit") == {"lead_sales"}
    assert visible(world, "rep_sales", "delete") == set()
    assert not policy.can(world["people"]["rep_sales"], "delete", "deal")


def test_moving_a_department_moves_its_subtree_in_scope(world):
    east = world["departments"]["east"]
    finance = world["departments"]["finance"]
    old = east.path
    new = f"{finance.path}{east.id}/"
    db.session.execute(
        Department.__table__.update()
        .where(Department.path.startswith(old))
        .values(path=new + db.func.substr(Department.path, len(old) + 1))
    )
    db.session.commit()
    assert visible(world, "mgr_sales") == {"rep_sales", "lead_sales"}


def share(world, owner: str, **target) -> None:
    db.session.add(
        RecordShare(entity_key="deal", record_id=world["ids"][owner], created_by=None, **target)
    )
    db.session.commit()


def test_shares_widen_read_and_edit_where_the_role_allows_the_action(world):
    p = world["people"]
    share(world, "rep_fin", user_id=p["rep_sales"].id, access="read")
    share(world, "rep_city", user_id=p["rep_sales"].id, access="edit")
    assert visible(world, "rep_sales") == {"rep_sales", "rep_fin", "rep_city"}
    assert visible(world, "rep_sales", "edit") == {"rep_sales", "rep_city"}
    assert visible(world, "rep_sales", "delete") == set()  # shares give read and edit only
    share(world, "rep_fin", user_id=p["nobody"].id, access="edit")
    assert visible(world, "nobody") == set()  # no right on the entity: a share opens nothing


def test_a_department_share_reaches_the_departments_below(world):
    d = world["departments"]
    share(world, "rep_fin", department_id=d["east"].id, access="read")
    assert "rep_fin" in visible(world, "rep_east")
    assert "rep_fin" in visible(world, "rep_city")  # East City is below Sales East
    assert "rep_fin" not in visible(world, "rep_sales")  # Sales is above, not below


def test_field_rights_hide_and_freeze_fields(world):
    p, deal = world["people"], world["deal"]

    def keys(who, mode):
        policy.forget()
        return {f.key for f in policy.visible_fields(p[who], deal, mode)}

    assert keys("auditor", "read") == {"title", "amount"}
    assert keys("auditor", "edit") == {"title", "amount"}
    reader = make_user(roles=("reader",))
    policy.forget()
    assert {f.key for f in policy.visible_fields(reader, deal, "edit")} == {"title", "margin"}
    assert {f.key for f in policy.visible_fields(reader, deal, "read")} == {
        "title", "amount", "margin"
    }  # fmt: skip
    # With a second role that may see the margin, the widest access wins.
    assert keys("both", "read") == {"title", "amount", "margin"}
    assert keys("nobody", "read") == set()


def test_a_read_only_field_cannot_be_changed_through_the_service(world):
    reader = make_user(roles=("reader",))
    role_row = db.session.scalar(select(Role).where(Role.name == "reader"))
    db.session.add(RoleGrant(role_id=role_row.id, entity_key="deal", action="edit", level=P.ALL))
    db.session.commit()
    policy.forget()
    deal, rid = world["deal"], world["ids"]["rep_fin"]
    with pytest.raises(records.ValidationFailed) as err:
        records.update_record(reader, deal, rid, {"amount": "1"}, expected_version=1)
    assert "amount" in err.value.errors
    assert records.get(world["people"]["admin"], deal, rid)["amount"] == 100


def test_administration_is_a_right_of_its_own(world):
    designer = make_role("designer", {}, can_configure=True)
    u = make_user(roles=(designer.name,))
    policy.forget()
    assert policy.can(u, P.CONFIGURE)
    assert not policy.can(u, "read", "deal")
    assert not policy.can(world["people"]["auditor"], P.CONFIGURE)
    assert policy.can(world["people"]["admin"], P.MANAGE_ACCESS)


def test_inactive_users_and_unknown_actions(world):
    u = world["people"]["auditor"]
    u.is_active = False
    db.session.commit()
    assert visible(world, "auditor") == set()
    assert not policy.can(u, "read", "deal")
    with pytest.raises(ValueError):
        policy.can(world["people"]["admin"], "fly", "deal")


def test_allowed_on_answers_as_can_does_with_one_query_at_most(app, world):
    """The record page asks several actions of one record at once: the answers are
    ``can``'s, by role, department and share, at no more than one query."""
    with app.test_request_context("/"):  # the metadata version read once, as in a request
        _allowed_on_matches_can(world)


def _allowed_on_matches_can(world) -> None:
    people, deal = world["people"], world["deal"]
    share(world, "rep_fin", access="edit", user_id=people["rep_sales"].id)
    share(world, "rep_city", access="read", department_id=world["departments"]["sales"].id)
    table = table_of(deal)
    rows = db.session.execute(select(table.c.id, table.c.owner_id)).mappings().all()
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    for who, user in people.items():
        policy.forget()
        policy.rights(user)
        for row in rows:
            expected = {a for a in P.ACTIONS if policy.can(user, a, deal, row["id"])}
            seen.clear()
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                got = policy.allowed_on(user, deal, row, P.ACTIONS)
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            assert got == expected, (who, row)
            assert len(seen) <= 1, (who, row)
    # The common cases need none: every record, or my own.
    assert policy.allowed_on(people["auditor"], deal, rows[0], ("read",)) == {"read"}
    own = next(r for r in rows if r["owner_id"] == people["rep_sales"].id)
    seen.clear()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert policy.allowed_on(people["rep_sales"], deal, own, ("read", "edit", "delete")) == {
            "read",
            "edit",
        }
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert seen == []

"""The list everyone opens ("my records, latest change first") is read in index order: the
database does not sort the owner's records for each page."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, event, insert
from werkzeug.datastructures import MultiDict

from crm.access import policy
from crm.access.models import RecordShare
from crm.extensions import db
from crm.metadata import list_views, specs
from crm.records import listing
from crm.records import service as records
from crm.schema import service as schema
from crm.timeutil import utcnow
from tests.factories import make_share


def _statement_of_list(user, spec) -> tuple[str, object]:
    args = MultiDict({"f.owner_id.is_me": "", "sort": "-updated_at", "size": "50"})
    request = listing.parse_request(user, spec, args, list_views.builtin_view(spec))
    seen: list[tuple[str, object]] = []

    def grab(_conn, _cursor, statement, parameters, *_args):
        if "FROM x_deal" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        page = listing.list_page(user, spec, request)
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    assert page.rows and all(r["owner_id"] == user.id for r in page.rows)
    return seen[0]


def test_my_records_list_is_read_in_index_order(app, staff, admin):
    schema.create_entity(
        "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
    )
    spec = specs.current().entity("deal")
    for i in range(30):
        records.create(staff if i % 3 else admin, spec, {"title": f"Deal {i}"})
    statement, parameters = _statement_of_list(staff, spec)
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        text = " ".join(str(row[-1]) for row in plan)
        assert "ix_x_deal__owner_id" in text and "TEMP B-TREE" not in text, text
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table
        plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
        text = " ".join(str(row[0]) for row in plan)
        assert "ix_x_deal__owner_id" in text and "Sort" not in text, text


# An "own records" rep's list: every record they may read, newest first. The scope is
# "owner = me, or shared with me"; the list reads the owner's branch through the owner index
# in order and the (few) shared records apart, then merges them.


def _rep_world():
    from datetime import datetime, timedelta

    from tests.factories import insert_rows, make_department, make_role, make_user

    schema.create_entity(
        "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
    )
    make_role("Own reader", {"read": policy.OWN, "create": policy.OWN})
    team = make_department("Team")
    rep = make_user("rep@example.com", roles=("Own reader",), department=team)
    other = make_user("other@example.com", roles=("Own reader",))
    base = datetime(2026, 1, 1)
    rows = []
    for i in range(40):
        owner = rep.id if i % 2 else (other.id if i % 5 else None)
        # Pairs of equal timestamps: the id breaks the tie. Some titles are empty.
        title = None if i % 7 == 0 else f"Deal {i % 9}"
        when = base + timedelta(hours=i // 2)
        rows.append({"owner_id": owner, "title": title, "created_at": when, "updated_at": when})
    ids = insert_rows("deal", *rows)
    return rep, other, team, ids


def _list_statement(user, spec, args) -> tuple[str, object]:
    args = MultiDict(args)
    request = listing.parse_request(user, spec, args, list_views.builtin_view(spec))
    seen: list[tuple[str, object]] = []

    def grab(_conn, _cursor, statement, parameters, *_args):
        if "FROM x_deal" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        listing.list_page(user, spec, request)
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return seen[-1]


def _unsorted_owner_branch(statement, parameters) -> str | None:
    """The plan, when the owner index's branch is sorted (or not used at all); None when
    the owner's records are read in index order (a sort over a page of rows merged from
    the branches is fine: at most two pages)."""
    connection = db.session.connection()
    index = "ix_x_deal__owner_id"
    if connection.dialect.name == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        text = "\n".join(f"{row[0]} {row[1]} {row[-1]}" for row in plan)
        owners = [row for row in plan if index in str(row[-1])]
        if not owners:
            return text
        for row in owners:  # a sort of the owner's rows sits beside their scan
            if any(o[1] == row[1] and "TEMP B-TREE" in str(o[-1]) for o in plan):
                return text
        return None
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table
    (plan,) = connection.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {statement}", parameters
    ).scalar_one()
    found = []

    def walk(node, path):
        path = [*path, node["Node Type"]]
        if node.get("Index Name") == index:
            found.append(path)
        for child in node.get("Plans", []):
            walk(child, path)

    walk(plan["Plan"], [])
    if not found:
        return str(plan)
    for path in found:
        last_limit = max(i for i, kind in enumerate(path) if kind == "Limit")
        if "Sort" in path[last_limit:] or "Incremental Sort" in path[last_limit:]:
            return str(plan)
    return None


NEWEST_FIRST = {"sort": "-updated_at", "size": "10"}


def test_own_scope_without_shares_reads_the_owner_index_in_order(app):
    rep, _other, _team, _ids = _rep_world()
    spec = specs.current().entity("deal")
    statement, parameters = _list_statement(rep, spec, NEWEST_FIRST)
    assert "record_shares" not in statement  # no share: no OR with the shares
    assert _unsorted_owner_branch(statement, parameters) is None


def test_own_scope_with_shares_reads_the_owner_index_in_order(app, admin):
    rep, _other, team, ids = _rep_world()
    spec = specs.current().entity("deal")
    make_share(admin, "deal", ids[4], to_user=rep)
    make_share(admin, "deal", ids[10], to_department=team)
    statement, parameters = _list_statement(rep, spec, NEWEST_FIRST)
    assert "record_shares" in statement and "UNION ALL" in statement
    assert _unsorted_owner_branch(statement, parameters) is None


def test_the_owner_index_is_the_composite_one_on_tables_the_pipeline_builds(app):
    from sqlalchemy import inspect

    _rep_world()
    found = {
        ix["name"]: ix["column_names"]
        for ix in inspect(db.session.connection()).get_indexes("x_deal")
    }
    assert found["ix_x_deal__owner_id"] == ["owner_id", "updated_at", "id"]


def _page_through(user, spec, args) -> list[int]:
    seen: list[int] = []
    after = None
    for _ in range(100):
        page_args = MultiDict({**args, **({"after": after} if after else {})})
        request = listing.parse_request(user, spec, page_args, list_views.builtin_view(spec))
        page = listing.list_page(user, spec, request)
        seen += [row["id"] for row in page.rows]
        if not page.more:
            return seen
        after = page.next_after
    raise AssertionError("the pages never ended")


def _visible_in_order(user, spec, key: str, direction: str) -> list[int]:
    """Every record ``user`` may read, by one plain scoped query sorted in Python."""
    from crm.records.query import scoped, table_of

    table = table_of(spec)
    rows = db.session.execute(scoped(user, spec, "read")).mappings().all()
    present = [r for r in rows if r[key] is not None]
    present.sort(key=lambda r: (r[key], r["id"]), reverse=direction == "desc")
    empty = sorted(
        (r for r in rows if r[key] is None), key=lambda r: r["id"], reverse=direction == "desc"
    )
    assert table is not None
    return [r["id"] for r in (*present, *empty)]


@pytest.mark.parametrize(
    "args, key, direction",
    [
        ({"sort": "-updated_at", "size": "3"}, "updated_at", "desc"),
        ({"sort": "updated_at", "size": "4"}, "updated_at", "asc"),
        ({"sort": "title", "size": "3"}, "title", "asc"),
        ({"sort": "-title", "size": "5"}, "title", "desc"),
    ],
)
def test_paging_an_own_and_shared_list_shows_each_record_once_in_order(
    app, admin, args, key, direction
):
    rep, other, team, ids = _rep_world()
    spec = specs.current().entity("deal")
    # Shared with the rep, with their department, with both, an ownerless record, and
    # one the rep owns anyway (it must still appear once).
    make_share(admin, "deal", ids[4], to_user=rep)
    make_share(admin, "deal", ids[4], to_department=team)
    make_share(admin, "deal", ids[10], to_department=team, access="edit")
    make_share(admin, "deal", ids[0], to_user=rep)  # no owner
    make_share(admin, "deal", ids[3], to_department=team)  # the rep's own
    make_share(admin, "deal", ids[6], to_user=other)  # not the rep's: stays hidden
    expected = _visible_in_order(rep, spec, key, direction)
    assert {ids[4], ids[10], ids[0], ids[3]} <= set(expected) and ids[6] not in expected
    seen = _page_through(rep, spec, args)
    assert seen == expected
    assert len(seen) == len(set(seen))


def test_a_share_made_during_a_request_shows_in_the_same_request(app, admin):
    rep, _other, _team, ids = _rep_world()
    spec = specs.current().entity("deal")
    with app.test_request_context("/"):
        before = _page_through(rep, spec, {"size": "50"})
        make_share(admin, "deal", ids[8], to_user=rep)
        after = _page_through(rep, spec, {"size": "50"})
    assert ids[8] not in before and ids[8] in after


def _share_probes(app, user, spec) -> tuple[list[int], int]:
    """A list read in a request of its own (a fresh application context: its own ``g``
    and session, as a worker's next request has): the ids listed and how many statements
    asked which shares reach the user."""
    asked: list[str] = []

    def grab(_conn, _cursor, statement, *_args):
        if "DISTINCT record_shares.access" in statement:
            asked.append(statement)

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        with app.app_context(), app.test_request_context("/"):
            listed = _page_through(user, spec, {"size": "50"})
            db.session.remove()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return listed, len(asked)


def test_the_shares_reaching_a_user_are_asked_once_until_a_share_changes(app, admin):
    rep, _other, _team, ids = _rep_world()
    spec = specs.current().entity("deal")
    first, asked_first = _share_probes(app, rep, spec)
    again, asked_again = _share_probes(app, rep, spec)
    assert asked_first == 1 and asked_again == 0  # kept with the rights between requests
    assert again == first
    # Another worker shares a record: its commit moves the share stamp (a trigger), so
    # this worker asks again at its next request and lists the record.
    with db.engine.begin() as other_worker:
        other_worker.execute(
            insert(RecordShare).values(
                entity_key="deal", record_id=ids[8], user_id=rep.id, access="read",
                created_at=utcnow(),
            )
        )  # fmt: skip
    after, asked_after = _share_probes(app, rep, spec)
    assert asked_after == 1
    assert ids[8] not in first and ids[8] in after
    with db.engine.begin() as other_worker:
        other_worker.execute(delete(RecordShare).where(RecordShare.record_id == ids[8]))
    gone, _ = _share_probes(app, rep, spec)
    assert ids[8] not in gone

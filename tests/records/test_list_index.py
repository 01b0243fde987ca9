"""The list everyone opens ("my records, latest change first") is read in index order: the
database does not sort the owner's records for each page."""

from __future__ import annotations

from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from crm.extensions import db
from crm.metadata import list_views, specs
from crm.records import listing
from crm.records import service as records
from crm.schema import service as schema


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

"""Quick search through the search index (SQLite FTS5 trigram, PostgreSQL pg_trgm)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict

from crm.extensions import db
from crm.metadata import list_views, specs
from crm.records import listing
from crm.records import service as records
from crm.schema import service as schema
from crm.schema.plan import CreateSearch, DropSearch, plan

VALUES = [
    "Müller Maschinenbau GmbH", "北京星辰科技有限公司", "Café Aurora S.L.", "100% Organic Foods",
    "under_score & Co", 'Quote "Inc"', "Nordlys AS", "São Paulo Logística", "a*b NEAR(x) OR y",
]  # fmt: skip


@pytest.fixture
def companies(app, staff):
    schema.create_entity(
        "company",
        "Company",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "searchable": True},
            {"key": "city", "type": "text", "label": "City", "searchable": True},
            {"key": "secret", "type": "text", "label": "Internal code"},
        ],
    )
    spec = specs.current().entity("company")
    for i, value in enumerate(VALUES):
        records.create(staff, spec, {"name": value, "city": f"City {i}", "secret": f"zz{i}hidden"})
    return spec


def found(user, q):
    spec = specs.current().entity("company")
    view = list_views.default_view("company", user.id)
    req = listing.parse_request(user, spec, MultiDict({"q": q, "size": "200"}), view)
    return {r["name"] for r in listing.list_page(user, spec, req).rows}


def expected(q):
    return {v for v in VALUES if q.lower() in v.lower()}


@pytest.mark.parametrize(
    "q", ["GmbH", "gmbh", "星辰科技", "Café", "100%", "r_s", 'e "I', "NEAR(x)", "a*b", "Co", "o"]
)
def test_search_finds_substrings_literally(companies, staff, q):
    assert found(staff, q) == expected(q)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(VALUES).flatmap(lambda v: st.integers(0, len(v) - 1).flatmap(
    lambda i: st.integers(i + 1, len(v)).map(lambda j: v[i:j]))))  # fmt: skip
def test_index_agrees_with_a_substring_scan(companies, staff, q):
    # Case folding of non-ASCII letters differs between engines; compare on what both fold.
    if not q.strip() or any(ord(c) > 127 and c.lower() != c for c in q):
        return
    assert expected(q) <= found(staff, q)


def test_search_uses_the_index(companies, staff):
    spec = specs.current().entity("company")
    table = specs.current().table("company")
    dialect = db.session.get_bind().dialect.name
    condition = listing.search_condition(staff, spec, table, "GmbH", dialect)
    query = select(table.c.id).where(condition)
    if dialect == "sqlite":
        assert "MATCH" in str(query)
        return
    # PostgreSQL: with sequential scans priced out (the table is tiny), the plan must be
    # able to use the trigram index.
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    compiled = query.compile(
        dialect=db.session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    plan_text = "\n".join(r[0] for r in db.session.execute(text(f"EXPLAIN {compiled}")))
    db.session.rollback()
    assert "name_trgm" in plan_text, plan_text


def test_fields_not_searchable_are_not_searched(companies, staff):
    assert found(staff, "hidden") == set()


def test_index_follows_updates_deletes_and_schema_changes(companies, staff):
    spec = specs.current().entity("company")
    rid = records.create(staff, spec, {"name": "Zebra Works", "city": "Oslo"})
    assert found(staff, "Zebra") == {"Zebra Works"}
    records.update_record(staff, spec, rid, {"name": "Yak Works"}, expected_version=1)
    assert found(staff, "Zebra") == set() and found(staff, "Yak W") == {"Yak Works"}
    records.delete(staff, spec, rid)
    assert found(staff, "Yak W") == set()
    # A type change rebuilds the table on SQLite: the index must survive it.
    schema.update_field("company", "city", type="long_text")
    assert found(staff, "City 3") == {VALUES[3]}
    # Newly searchable: existing rows are indexed at once.
    schema.update_field("company", "secret", searchable=True)
    assert found(staff, "zz2hid") == {VALUES[2]}
    schema.update_field("company", "secret", searchable=False)
    schema.archive_field("company", "city")
    assert found(staff, "City 3") == set()
    assert found(staff, "Müller") == {VALUES[0]}


def test_planner_rebuilds_search_only_when_needed(companies):
    spec = specs.current().entity("company")
    relabelled = spec.field("name").__class__(**{**spec.field("name").__dict__, "label": "Company"})
    from dataclasses import replace

    same = replace(spec, fields=tuple(relabelled if f.key == "name" else f for f in spec.fields))
    assert not [o for o in plan(spec, same) if isinstance(o, (CreateSearch, DropSearch))]
    off = replace(
        spec,
        fields=tuple(replace(f, searchable=False) if f.key == "city" else f for f in spec.fields),
    )
    kinds = [type(o).__name__ for o in plan(spec, off)]
    assert kinds == ["DropSearch", "CreateSearch"]

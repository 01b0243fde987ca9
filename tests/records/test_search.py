"""Quick search through the search index (SQLite FTS5 trigram, PostgreSQL pg_trgm)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text
from werkzeug.datastructures import MultiDict

from crm.access import policy
from crm.access.rights import HIDDEN
from crm.extensions import db
from crm.metadata import list_views, specs
from crm.records import listing, lookup
from crm.records import service as records
from crm.schema import service as schema
from crm.schema.plan import CreateSearch, DropSearch, plan
from tests.factories import make_role, make_user

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


# --- Searches that never scan without bound (issue 12, item 4) ------------------------------


@pytest.fixture
def towns(app, staff):
    """30 companies, oldest first: every third in Berlin (c0, c3, ...), one named "Zq"
    (the oldest), the newest changed last."""
    schema.create_entity(
        "company",
        "Company",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "searchable": True},
            {"key": "city", "type": "text", "label": "City", "searchable": True},
        ],
        name_field="name",
    )
    spec = specs.current().entity("company")
    ids = []
    for i in range(30):
        name = "Zq old" if i == 0 else f"c{i}"
        city = "Berlin" if i % 3 == 0 else "Lyon"
        ids.append(records.create(staff, spec, {"name": name, "city": city}))
    table = specs.current().table("company")
    for n, rid in enumerate(ids):  # distinct times: the list's order is certain
        db.session.execute(
            table.update()
            .where(table.c.id == rid)
            .values(updated_at=datetime(2026, 1, 1) + timedelta(minutes=n))
        )
    db.session.commit()
    return ids


HX = {"HX-Request": "true"}


def _flat(pages: list[list[int]]) -> list[int]:
    return [rid for page in pages for rid in page]


def _walk(client, url):
    """Follow "Show more" / "Search further" from ``url``: the ids of each page and the
    texts of the pages."""
    pages, bodies = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.data[:300]
        body = response.data.decode()
        pages.append([int(i) for i in re.findall(r'name="pick" value="([0-9]+):', body)])
        bodies.append(body)
        more = re.search(r'id="more-row">\s*<td[^>]*>.*?href="([^"]+)"', body, re.S)
        url = more.group(1).replace("&amp;", "&") if more else None
    return pages, bodies


def test_a_common_term_pages_in_the_lists_order(towns, staff, login_as, monkeypatch):
    monkeypatch.setattr(listing, "COMMON_MATCHES", 3)  # "Berlin" (10 matches) is common
    client = login_as(staff)
    berlin = [rid for n, rid in enumerate(towns) if n % 3 == 0][::-1]  # newest first
    pages, bodies = _walk(client, "/r/company/?q=berlin&size=4&sort=-updated_at")
    assert pages == [berlin[0:4], berlin[4:8], berlin[8:10]]
    assert "Show more" in bodies[0] and "Refine your search" not in bodies[0]
    # Sorted the other way, by a field: the same records in that order.
    pages, _ = _walk(client, "/r/company/?q=berlin&size=3&sort=name")
    names = {rid: "Zq old" if n == 0 else f"c{n}" for n, rid in enumerate(towns)}
    assert _flat(pages) == sorted(berlin, key=names.get)
    # SQLite: the page walks the list's order, testing rows against the match set (the
    # rowid lookup disabled), instead of fetching every match and sorting them.
    statements = []
    with _statements(statements):
        client.get("/r/company/?q=berlin&size=4&sort=-updated_at")
    if db.session.get_bind().dialect.name == "sqlite":
        assert any("x_company.id + " in s for s in statements), statements
    # Rare and common give the records a plain scan gives.
    monkeypatch.setattr(listing, "COMMON_MATCHES", 1000)
    assert _flat(_walk(client, "/r/company/?q=berlin&size=4&sort=-updated_at")[0]) == berlin


def test_the_count_is_capped_and_says_so(towns, staff, login_as, monkeypatch):
    client = login_as(staff)
    hx = {"HX-Request": "true"}
    assert client.get("/r/company/count?q=berlin", headers=hx).data.decode() == "10 companies"
    monkeypatch.setattr(listing, "COUNT_CAP", 5)
    assert client.get("/r/company/count?q=berlin", headers=hx).data.decode() == "5+ companies"
    assert client.get("/r/company/count", headers=hx).data.decode() == "5+ companies"
    # The count reads at most COUNT_CAP + 1 rows: it is a bounded query.
    statements = []
    with _statements(statements):
        client.get("/r/company/count?q=berlin", headers=hx)
    assert any("LIMIT" in s.upper() for s in statements if "count(" in s.lower())


def test_a_short_term_reads_a_bounded_number_of_rows(towns, staff, login_as, monkeypatch):
    monkeypatch.setattr(listing, "SHORT_SCAN_ROWS", 8)
    client = login_as(staff)
    hx = {"HX-Request": "true"}
    # "zq" matches only the oldest company: the first 8 rows hold nothing.
    pages, bodies = _walk(client, "/r/company/?q=zq&size=5&sort=-updated_at")
    assert pages[0] == []
    assert "Refine your search: type at least 3 characters to search everything." in bodies[0]
    assert "Search further" in bodies[0] and "No companies match" not in bodies[0]
    # Looking further, 8 rows at a time, finds it on the last page, which ends the list.
    assert pages[-1] == [towns[0]] and len(pages) == 4  # 30 rows: 8 + 8 + 8 + 6
    assert "Refine your search" not in bodies[-1] and "Search further" not in bodies[-1]
    count = client.get("/r/company/count?q=zq", headers=hx).data.decode()
    assert count == (
        "0+ companies among the first 8 — type at least 3 characters to search everything"
    )
    # A short term matching rows within the bound pages in order, the notice when it stops.
    pages, bodies = _walk(client, "/r/company/?q=c1&size=50&sort=-updated_at")
    first = [rid for n, rid in enumerate(towns) if f"c{n}".startswith("c1")][::-1]
    assert _flat(pages) == first
    assert "Refine your search" in bodies[0]
    # Lookups likewise: the most recent SHORT_SCAN_ROWS only, all with 3 characters.
    spec = specs.current().entity("company")
    assert lookup.lookup_options(staff, spec, "zq") == []
    assert lookup.lookup_options(staff, spec, "zq ") == [(towns[0], "Zq old")]
    assert lookup.lookup_options(staff, spec, "zq o") == [(towns[0], "Zq old")]


def test_a_short_search_counts_and_pages_without_reading_everything(
    towns, staff, login_as, monkeypatch
):
    monkeypatch.setattr(listing, "SHORT_SCAN_ROWS", 8)
    client = login_as(staff)
    statements = []
    with _statements(statements):
        assert client.get("/r/company/?q=zq").status_code == 200
        assert client.get("/r/company/count?q=zq", headers=HX).status_code == 200
    scans = [s for s in statements if "like" in s.lower()]
    assert scans and all("LIMIT" in s.upper() for s in scans), scans


def test_hidden_fields_are_not_searched(towns, staff, login_as):
    make_role("No city", {"read": policy.ALL}, {("company", "city"): HIDDEN}, entity="company")
    reader = make_user("nocity@example.com", roles=("No city",))
    client = login_as(reader)
    for q in ("Berlin", "Be", "rli"):
        body = client.get(f"/r/company/?q={q}").data.decode()
        assert 'name="pick"' not in body, q
        count = client.get(f"/r/company/count?q={q}", headers=HX).data.decode()
        assert count.startswith("0"), (q, count)
    assert lookup.lookup_options(reader, specs.current().entity("company"), "Be") == []
    assert lookup.lookup_options(staff, specs.current().entity("company"), "Be") != []


@pytest.mark.parametrize("q", ["x" * 200, "Berlin" * 33, "é" * 2, "%_", "%%%", "\\"])
def test_odd_and_long_terms_are_answered(towns, staff, login_as, q):
    client = login_as(staff)
    for url in ("/r/company/", "/r/company/count", "/r/company/lookup"):
        response = client.get(url, query_string={"q": q}, headers={"HX-Request": "true"})
        assert response.status_code == 200, (url, q)


def test_a_term_too_long_is_refused(towns, staff, login_as):
    client = login_as(staff)
    response = client.get("/r/company/", query_string={"q": "x" * 201})
    assert response.status_code == 400
    assert "at most 200 characters" in response.data.decode()


@contextmanager
def _statements(into: list):
    def seen(conn, cursor, statement, parameters, context, executemany):
        into.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


# --- Any valid key can be searched (issue 12's leftover, issue 13) ------------------------


def test_fields_keyed_like_fts5s_own_columns_are_searchable(app, staff, login_as):
    """FTS5 keeps ``rowid`` and ``rank`` for itself: its columns are the keys prefixed, so
    such keys are accepted, searched, listed and pass the doctor."""
    from crm.schema.doctor import reconcile

    schema.create_entity(
        "ledger",
        "Ledger",
        fields=[
            {"key": key, "type": "text", "label": key.title(), "searchable": True}
            for key in ("rowid", "rank", "oid")
        ],
        name_field="rank",
    )
    spec = specs.current().entity("ledger")
    first = records.create(staff, spec, {"rowid": "Row alpha", "rank": "上校", "oid": "OID-1"})
    second = records.create(staff, spec, {"rowid": "Row beta", "rank": "少将", "oid": "OID-2"})
    view = list_views.default_view("ledger", staff.id)

    def ids(q):
        req = listing.parse_request(staff, spec, MultiDict({"q": q}), view)
        return {r["id"] for r in listing.list_page(staff, spec, req).rows}

    assert ids("alpha") == {first} and ids("OID-2") == {second}
    assert ids("少将") == {second} and ids("校") == {first} and ids("Row") == {first, second}
    assert lookup.lookup_options(staff, spec, "上校") == [(first, "上校")]
    records.update_record(staff, spec, first, {"rank": "大校"}, expected_version=1)
    assert ids("上校") == set() and ids("大校") == {first}
    assert reconcile(db.session.connection(), specs.current()) == []
    body = login_as(staff).get("/r/ledger/?q=少将").data.decode()
    assert f'value="{second}:' in body and f'value="{first}:' not in body

"""Quick search and lookups for one- and two-character terms in scripts written without
spaces (王伟, 华为, 王, すし, 김민), through the gram index on both engines (issue 13)."""

from __future__ import annotations

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
from crm.schema import cjk, search
from crm.schema import service as schema
from tests.factories import insert_rows, make_role, make_user

# (name, company, secret): names and companies in several scripts, mixed in one value too.
PEOPLE = [
    ("王伟", "华为技术有限公司", "内部王伟"),
    ("王伟东", "腾讯", "x1"),
    ("李娜", "阿里巴巴集团", "x2"),
    ("张伟", "Huawei 华为", "x3"),
    ("王", "小米 Xiaomi", "x4"),
    ("Wang Wei", "华为P", "x5"),
    ("山田太郎", "すし寿司屋", "x6"),
    ("김민준", "삼성전자", "x7"),
    ("Müller", "王A Corp", "x8"),
    ("𠀀𠀁", "ｶﾀｶﾅ商事", "x9"),
    ("O'Brien", None, "x10"),
]
SEARCHED = ("name", "company")


@pytest.fixture
def people(app, staff):
    schema.create_entity(
        "person",
        "Person",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "searchable": True},
            {"key": "company", "type": "text", "label": "Company", "searchable": True},
            {"key": "secret", "type": "text", "label": "Secret"},
        ],
        name_field="name",
    )
    spec = specs.current().entity("person")
    ids = []
    for n, (name, company, secret) in enumerate(PEOPLE):
        values = {"name": name, "company": company, "secret": secret}
        if n % 2:  # written by the record service
            ids.append(records.create(staff, spec, values))
        else:  # written straight into the table (an import, a bulk load): triggers index it
            ids.append(insert_rows("person", {**values, "owner_id": staff.id})[0])
    table = specs.current().table("person")
    for n, rid in enumerate(ids):  # the first person is the oldest: the list ends with them
        db.session.execute(
            table.update()
            .where(table.c.id == rid)
            .values(updated_at=datetime(2026, 1, 1) + timedelta(minutes=n))
        )
    db.session.commit()
    return dict(zip([p[0] for p in PEOPLE], ids, strict=True))


def found(user, q: str) -> set[str]:
    spec = specs.current().entity("person")
    view = list_views.default_view("person", user.id)
    req = listing.parse_request(user, spec, MultiDict({"q": q, "size": "200"}), view)
    page = listing.list_page(user, spec, req)
    assert not page.partial
    return {r["name"] for r in page.rows}


def expected(q: str, fields=SEARCHED) -> set[str]:
    """What a substring search (case-insensitive) finds."""
    rows = [dict(zip(("name", "company", "secret"), p, strict=True)) for p in PEOPLE]
    return {r["name"] for r in rows if any(q.lower() in (r[f] or "").lower() for f in fields)}


TERMS = [
    "王", "伟", "王伟", "华为", "伟东", "寿司", "すし", "김민", "민준", "𠀀", "𠀀𠀁", "ｶﾀ",
    "魑魅", "鬼", "王A", "王a", "A王", "Wa",
]  # fmt: skip


@pytest.mark.parametrize("q", TERMS)
def test_short_terms_find_what_a_substring_search_finds(people, staff, q):
    assert found(staff, q) == expected(q)


def test_a_term_matching_nothing_finds_nothing(people, staff):
    assert found(staff, "魑魅") == set() and found(staff, "鬼") == set()


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from([v for p in PEOPLE for v in p[:2] if v]).flatmap(
        lambda v: st.integers(0, len(v) - 1).flatmap(
            lambda i: st.integers(1, 2).map(lambda n: v[i : i + n])
        )
    )
)
def test_every_short_substring_agrees_with_a_substring_scan(people, staff, q):
    q = q.strip()  # as the list reads it
    if q:
        assert found(staff, q) == expected(q)


@pytest.mark.parametrize("q", ["华为P", "华为技术", "Huawei 华", "寿司屋"])
def test_mixed_terms_of_three_characters_or_more_use_the_trigram_index(people, staff, q):
    assert found(staff, q) == expected(q) != set()


def test_grams_are_the_same_in_python_and_in_the_database(people):
    """The database works the grams out (trigger or function); Python's version agrees."""
    values = [v for p in PEOPLE for v in p if v] + ["", "a王b伟c", "々〆", "ー", "王\n伟"]
    connection = db.session.connection()
    for value in values:
        if connection.dialect.name == "sqlite":
            tokens = connection.execute(
                text(f"SELECT {cjk.sqlite_grams(':v')}"), {"v": value}
            ).scalar()
            got = set((tokens or "").split())
            assert got == {cjk.sqlite_token(g) for g in cjk.grams(value)}, value
        else:
            got = connection.execute(text(f"SELECT {cjk.PG_FUNCTION}(:v)"), {"v": value}).scalar()
            assert set(got) == cjk.grams(value), value


def test_probe_says_which_index_answers():
    assert cjk.probe("王伟") == ("王伟", True)
    assert cjk.probe("王") == ("王", True)
    assert cjk.probe("王A") == ("王", False) and cjk.probe("A王") == ("王", False)
    assert cjk.probe("ab") is None and cjk.probe("王伟华") is None and cjk.probe("") is None
    assert search.short_term("ab") and search.short_term("é")
    assert not search.short_term("王") and not search.short_term("abc")


# --- the index answers, not a scan --------------------------------------------------------


@contextmanager
def _statements(into: list):
    def seen(conn, cursor, statement, parameters, context, executemany):
        into.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


@pytest.mark.parametrize("q", ["王伟", "王", "王A"])
def test_the_list_reads_the_gram_index(people, staff, q):
    spec = specs.current().entity("person")
    table = specs.current().table("person")
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        view = list_views.default_view("person", staff.id)
        req = listing.parse_request(staff, spec, MultiDict({"q": q}), view)
        seen: list = []
        with _statements(seen):
            listing.list_page(staff, spec, req)
        statement, parameters = next(s for s in seen if "FROM x_person" in s[0])
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        lines = [str(row[-1]) for row in plan]
        assert any("x_person__fts_cjk VIRTUAL TABLE" in line for line in lines), lines
        # The records are fetched by id, not read one by one to test them.
        assert not any(line.startswith("SCAN x_person") and "fts" not in line for line in lines)
        return
    condition = listing.search_condition(staff, spec, table, q, "postgresql")
    query = select(table.c.id).where(condition)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
    plan_text = "\n".join(r[0] for r in plan)
    for column in SEARCHED:
        assert f"ix_x_person__{column}_cjk" in plan_text, plan_text
    assert "Seq Scan" not in plan_text


HOSTILE = ["O'B", "'", "O'Brien", "%", "_", "\\", "王'", "'; DROP TABLE x_person; --", "华为%"]


@pytest.mark.parametrize("q", HOSTILE)
def test_terms_with_quotes_and_wildcards_find_what_a_substring_search_finds(people, staff, q):
    """On PostgreSQL the term is written into the statement (each term its own plan): a
    quote, a backslash or a LIKE wildcard in it is still just a character searched for."""
    assert found(staff, q) == expected(q)
    spec = specs.current().entity("person")
    assert {n for _, n in lookup.lookup_options(staff, spec, q)} == expected(q)


def test_each_term_is_planned_on_its_own_however_often_searches_repeat(people, staff):
    """A statement run five times is prepared by psycopg, and PostgreSQL may then keep one
    generic plan for every term: a rare term read by walking the whole list (seconds at a
    million records). The term is part of the statement, so repeated searches with rare
    and common terms keep their own plans, and keep finding the same records."""
    rounds = ["王伟", "王", "华为", "魑魅", "王伟东", "Wang", "王A"] * 3
    seen: list = []
    with _statements(seen):
        for q in rounds:
            assert found(staff, q) == expected(q), q
    if db.session.connection().dialect.name == "postgresql":
        searches = [st for st, _ in seen if "FROM x_person" in st]
        assert any("@> ARRAY['王伟']" in st for st in searches)
        assert any("ILIKE '%%' || '华为' || '%%'" in st for st in searches)
        assert not any("%(param" in st and "crm_cjk_grams" in st for st in searches)


def test_short_cjk_terms_are_not_bounded_and_say_nothing_about_3_characters(
    people, staff, login_as, monkeypatch
):
    # A Latin two-character term reads at most SHORT_SCAN_ROWS rows; 王伟 searches them all:
    # the oldest person (last in the list) is found although only 2 rows would be scanned.
    monkeypatch.setattr(listing, "SHORT_SCAN_ROWS", 2)
    client = login_as(staff)
    body = client.get("/r/person/", query_string={"q": "王伟"}).data.decode()
    for name in ("王伟", "王伟东"):
        assert f'value="{people[name]}:' in body
    assert f'value="{people["李娜"]}:' not in body
    assert "Refine your search" not in body and "type at least 3 characters" not in body
    count = client.get(
        "/r/person/count", query_string={"q": "王"}, headers={"HX-Request": "true"}
    ).data.decode()
    assert count == f"{len(expected('王'))} persons"
    # Latin keeps its notice.
    body = client.get("/r/person/", query_string={"q": "Wa"}).data.decode()
    assert "type at least 3 characters" in body


def test_lookups_find_short_cjk_terms_among_all_records(people, staff, monkeypatch):
    monkeypatch.setattr(listing, "SHORT_SCAN_ROWS", 2)
    spec = specs.current().entity("person")
    got = lookup.lookup_options(staff, spec, "王伟")
    assert [name for _, name in got] == ["王伟东", "王伟"]  # most recently changed first
    assert lookup.lookup_options(staff, spec, "魑魅") == []
    assert {name for _, name in lookup.lookup_options(staff, spec, "华为")} == expected("华为")
    # A Latin two-character term still looks only through the most recent rows.
    assert lookup.lookup_options(staff, spec, "Mü") == []


def test_lookup_by_a_name_field_quick_search_does_not_read(app, staff, monkeypatch):
    """The name field is not searchable: a short term is matched on it by a bounded scan
    (no index holds it), a searchable field's match still comes from the index."""
    schema.create_entity(
        "shop",
        "Shop",
        fields=[
            {"key": "title", "type": "text", "label": "Title"},
            {"key": "city", "type": "text", "label": "City", "searchable": True},
        ],
        name_field="title",
    )
    spec = specs.current().entity("shop")
    old = records.create(staff, spec, {"title": "王府井店", "city": "北京"})
    for i in range(3):
        records.create(staff, spec, {"title": f"Shop {i}", "city": "上海"})
    monkeypatch.setattr(listing, "SHORT_SCAN_ROWS", 2)
    assert lookup.lookup_options(staff, spec, "王府") == []  # beyond the bound
    assert lookup.lookup_options(staff, spec, "王府井") == [(old, "王府井店")]


def test_hidden_fields_are_not_searched_by_grams(people, staff, login_as):
    make_role("No company", {"read": policy.ALL}, {("person", "company"): HIDDEN}, entity="person")
    reader = make_user("nocompany@example.com", roles=("No company",))
    assert found(reader, "华为") == expected("华为", fields=("name",)) == set()
    assert found(reader, "王伟") == expected("王伟", fields=("name",))
    assert found(staff, "华为") == expected("华为")
    spec = specs.current().entity("person")
    assert lookup.lookup_options(reader, spec, "腾讯") == []


# --- kept in step --------------------------------------------------------------------------


def test_the_index_follows_writes_and_schema_changes(people, staff):
    spec = specs.current().entity("person")
    rid = records.create(staff, spec, {"name": "赵敏", "company": "明教"})
    assert found(staff, "赵敏") == {"赵敏"}
    records.update_record(staff, spec, rid, {"name": "周芷若"}, expected_version=1)
    assert found(staff, "赵敏") == set() and found(staff, "芷若") == {"周芷若"}
    records.update_record(staff, spec, rid, {"secret": "无关"}, expected_version=2)
    assert found(staff, "芷若") == {"周芷若"}  # a write to another column keeps its grams
    records.delete(staff, spec, rid)
    assert found(staff, "芷若") == set()
    # Made searchable: existing records are indexed at once; unsearchable: not searched.
    assert found(staff, "内部") == set()
    schema.update_field("person", "secret", searchable=True)
    assert found(staff, "内部") == {"王伟"}
    schema.update_field("person", "secret", searchable=False)
    assert found(staff, "内部") == set()
    # A type change rebuilds the table on SQLite: the index survives it.
    schema.update_field("person", "company", type="long_text")
    assert found(staff, "腾讯") == {"王伟东"}
    schema.archive_field("person", "company")
    assert found(staff, "腾讯") == set() and found(staff, "王伟") == {"王伟", "王伟东"}


def test_archiving_an_entity_keeps_its_search_and_restoring_finds_at_once(people, staff):
    from crm.schema.doctor import reconcile

    schema.archive_entity("person")
    assert reconcile(db.session.connection(), specs.current()) == []
    schema.restore_entity("person")
    assert found(staff, "李娜") == {"李娜"}


def test_an_entity_without_searchable_fields_has_no_search_structures(app):
    from sqlalchemy import inspect

    schema.create_entity("note", "Note", fields=[{"key": "body", "type": "text", "label": "B"}])
    dialect = db.session.get_bind().dialect.name
    assert search.definitions(specs.current().entity("note"), dialect) == {}
    assert not [t for t in inspect(db.session.connection()).get_table_names() if "__fts" in t]
    schema.update_field("note", "body", searchable=True)
    names = set(search.definitions(specs.current().entity("note"), dialect))
    insp = inspect(db.session.connection())
    if dialect == "sqlite":
        assert {"x_note__fts", "x_note__fts_cjk"} <= names
        assert {"x_note__fts", "x_note__fts_cjk"} <= set(insp.get_table_names())
    else:
        assert names == {"ix_x_note__body_trgm", "ix_x_note__body_cjk"}
        assert {ix["name"] for ix in insp.get_indexes("x_note")} >= names

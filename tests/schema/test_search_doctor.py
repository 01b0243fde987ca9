"""``crm doctor`` checks quick search's structures (missing, out of date, left over) and
``crm rebuild-search`` repairs them (issue 13)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from werkzeug.datastructures import MultiDict

from crm.extensions import db
from crm.metadata import list_views, specs
from crm.records import listing
from crm.records import service as records
from crm.schema import cjk
from crm.schema import service as schema
from crm.schema.doctor import reconcile, search_problems
from tests.factories import insert_rows


@pytest.fixture
def deals(app, staff):
    schema.create_entity(
        "deal",
        "Deal",
        fields=[
            {"key": "title", "type": "text", "label": "Title", "searchable": True},
            {"key": "client", "type": "text", "label": "Client", "searchable": True},
            {"key": "memo", "type": "text", "label": "Memo"},
        ],
    )
    spec = specs.current().entity("deal")
    for title, client in (("王伟的订单", "华为"), ("Order 7", "腾讯"), ("李娜", "Acme")):
        records.create(staff, spec, {"title": title, "client": client})
    return spec


def titles(user, q: str) -> set[str]:
    spec = specs.current().entity("deal")
    req = listing.parse_request(
        user, spec, MultiDict({"q": q}), list_views.default_view("deal", user.id)
    )
    return {r["title"] for r in listing.list_page(user, spec, req).rows}


def problems() -> list[str]:
    db.session.rollback()
    found = reconcile(db.session.connection(), specs.current())
    db.session.rollback()
    return found


def run(app, *args: str):
    """A ``flask crm`` command (in an app context and a session of its own)."""
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", *args])
    db.session.rollback()
    return result


def sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def test_the_pipelines_structures_pass_the_doctor(deals, app):
    assert problems() == []
    assert run(app, "doctor").exit_code == 0


def test_missing_structures_are_reported_and_rebuilt(deals, app, staff):
    connection = db.session.connection()
    if sqlite():  # as a database from before the gram index had it
        for suffix in ("ai", "ad", "au"):
            connection.execute(text(f'DROP TRIGGER "x_deal__fts_cjk_{suffix}"'))
        connection.execute(text('DROP TABLE "x_deal__fts_cjk"'))
        expected = [
            "x_deal__fts_cjk: search table is missing",
            "x_deal__fts_cjk: trigger x_deal__fts_cjk_ai is missing",
            "x_deal__fts_cjk: trigger x_deal__fts_cjk_ad is missing",
            "x_deal__fts_cjk: trigger x_deal__fts_cjk_au is missing",
        ]
    else:
        connection.execute(text('DROP INDEX "ix_x_deal__client_cjk"'))
        expected = ["x_deal: search index ix_x_deal__client_cjk is missing"]
    db.session.commit()
    insert_rows("deal", {"title": "张伟", "client": "小米"})  # written while it was missing
    assert problems() == expected
    result = run(app, "doctor")
    assert result.exit_code == 1
    assert f"{len(expected)} of them concern" in result.output  # "concerns" for one
    assert "flask --app app crm rebuild-search" in result.output
    result = run(app, "rebuild-search")
    assert result.exit_code == 0, result.output
    assert "Search structures rebuilt for 1 table." in result.output
    assert problems() == []
    assert titles(staff, "小米") == {"张伟"} and titles(staff, "华为") == {"王伟的订单"}


def test_structures_made_by_another_definition_are_out_of_date(deals, app, staff):
    connection = db.session.connection()
    try:
        if sqlite():
            connection.execute(text('DROP TRIGGER "x_deal__fts_cjk_ai"'))
            connection.execute(
                text(
                    'CREATE TRIGGER "x_deal__fts_cjk_ai" AFTER INSERT ON "x_deal" '
                    "BEGIN SELECT 1; END"
                )
            )
            expected = ["x_deal__fts_cjk: trigger x_deal__fts_cjk_ai is out of date"]
        else:
            who = {"key": "who", "type": "text", "label": "Who", "searchable": True}
            schema.create_entity("lead", "Lead", fields=[who])
            db.session.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {cjk.PG_FUNCTION}(value text) RETURNS text[] "
                    "LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT '{}'::text[] $$"
                )
            )
            expected = [f"function {cjk.PG_FUNCTION}: out of date"]
        db.session.commit()
        assert problems() == expected
        result = run(app, "rebuild-search", "deal")
        assert result.exit_code == 0
        # A new function: every entity's gram indexes were built with the old one.
        tables = 1 if sqlite() else 2
        assert f"Search structures rebuilt for {tables} table" in result.output
        assert problems() == []
        records.create(staff, specs.current().entity("deal"), {"title": "新单", "client": "京东"})
        assert titles(staff, "京东") == {"新单"}
    finally:
        if not sqlite():  # the function outlives this test's tables: never leave it wrong
            db.session.rollback()
            db.session.execute(text(cjk.pg_function_ddl()))
            db.session.commit()


def test_left_over_structures_are_reported_and_dropped(deals, app):
    connection = db.session.connection()
    if sqlite():
        # A search table of an entity that no longer exists.
        connection.execute(text("CREATE VIRTUAL TABLE x_gone__fts_cjk USING fts5(f_a, content='')"))
        expected = ["x_gone__fts_cjk: search table exists but no entity describes it"]
    else:
        # A gram index of a field that is not searchable.
        connection.execute(
            text(
                f'CREATE INDEX "ix_x_deal__memo_cjk" ON x_deal USING gin ({cjk.PG_FUNCTION}(memo))'
            )
        )
        expected = [
            "x_deal: search index ix_x_deal__memo_cjk exists but its field is not searchable"
        ]
    db.session.commit()
    assert problems() == expected
    assert search_problems(db.session.connection(), specs.current()) == expected
    assert run(app, "rebuild-search").exit_code == 0
    assert problems() == []


def test_a_search_structure_of_an_entity_without_searchable_fields_is_reported(app):
    schema.create_entity("memo", "Memo", fields=[{"key": "body", "type": "text", "label": "B"}])
    if sqlite():
        db.session.connection().execute(
            text("CREATE VIRTUAL TABLE x_memo__fts USING fts5(f_body, content='')")
        )
        expected = ["x_memo__fts: search table exists but no field is searchable"]
    else:
        db.session.connection().execute(
            text('CREATE INDEX "ix_x_memo__body_trgm" ON x_memo USING gin (body gin_trgm_ops)')
        )
        expected = [
            "x_memo: search index ix_x_memo__body_trgm exists but its field is not searchable"
        ]
    db.session.commit()
    assert problems() == expected
    assert run(app, "rebuild-search").exit_code == 0
    assert problems() == []


def test_a_search_structure_made_by_an_older_definition_is_reported(deals, app, staff):
    connection = db.session.connection()
    if sqlite():
        # The trigram table of before its columns were prefixed.
        for suffix in ("ai", "ad", "au"):
            connection.execute(text(f'DROP TRIGGER "x_deal__fts_{suffix}"'))
        connection.execute(text('DROP TABLE "x_deal__fts"'))
        connection.execute(
            text(
                'CREATE VIRTUAL TABLE "x_deal__fts" USING fts5("title", "client", '
                "content=\"x_deal\", content_rowid='id', tokenize='trigram')"
            )
        )
        expected = (
            "x_deal__fts: searches ['title', 'client'], metadata says ['f_title', 'f_client']"
        )
    else:
        # A gram index on the bare column instead of the gram function.
        connection.execute(text('DROP INDEX "ix_x_deal__title_cjk"'))
        connection.execute(
            text('CREATE INDEX "ix_x_deal__title_cjk" ON x_deal USING gin (title gin_trgm_ops)')
        )
        expected = (
            "x_deal: search index ix_x_deal__title_cjk is on ['title'], "
            f"metadata says ['{cjk.PG_FUNCTION}(title)']"
        )
    db.session.commit()
    assert expected in problems()
    assert run(app, "rebuild-search").exit_code == 0
    assert problems() == []
    assert titles(staff, "Order") == {"Order 7"}
    assert titles(staff, "王伟") == {"王伟的订单"}


def test_rebuilding_an_unknown_entity_is_refused(deals, app):
    result = run(app, "rebuild-search", "nosuch")
    assert result.exit_code == 1
    assert "There is no entity “nosuch”." in result.output


def test_a_rebuild_changes_no_record_and_keeps_the_schema(deals, app):
    tables = set(inspect(db.session.connection()).get_table_names())
    before = db.session.execute(text("SELECT id, title, client FROM x_deal ORDER BY id")).all()
    db.session.rollback()
    assert run(app, "rebuild-search").exit_code == 0
    assert set(inspect(db.session.connection()).get_table_names()) == tables
    assert db.session.execute(text("SELECT id, title, client FROM x_deal ORDER BY id")).all() == (
        before
    )

"""The rating type (1 to 5, shown as stars): the proof that a type is one registry entry.

Everything here goes through the generic paths (the registry, Display, the list row
renderer, filters, the designer and the schema pipeline): nothing outside the entry's
module knows the type."""

from __future__ import annotations

from types import MappingProxyType

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crm.extensions import db
from crm.metadata import list_views, specs, types
from crm.metadata.filter_rows import FilterRowModel
from crm.metadata.spec import FieldSpec
from crm.records import present, rows
from crm.records import service as records
from crm.schema import service as schema

STARS_3 = '<span class="rating" aria-hidden="true">★★★☆☆</span><span class="sr-only">3 of 5</span>'


def rating(key: str = "score") -> FieldSpec:
    return FieldSpec(key=key, type="rating", label="Score", options=MappingProxyType({}))


def test_the_entry_declares_what_a_rating_is():
    entry = types.get("rating")
    assert entry.label == "Rating" and entry.storage == "integer"
    assert entry.operators == types.NUMBER_OPS
    assert entry.sortable and entry.numeric and not entry.reference and not entry.textual
    assert entry.filter_input == "number" and entry.step == "1"
    assert list(types.REGISTRY).index("rating") == list(types.REGISTRY).index("percent") + 1
    column = entry.sa_type(rating())
    assert column.compile(dialect=sqlite.dialect()) == "SMALLINT"
    assert column.compile(dialect=postgresql.dialect()) == "SMALLINT"


@pytest.mark.parametrize(("raw", "expected"), [("3", 3), (" 5 ", 5), (1, 1), ("", None)])
def test_parse_accepts_one_to_five(raw, expected):
    assert types.get("rating").parse(rating(), raw) == expected


@pytest.mark.parametrize("raw", ["0", "6", "-1", "2.5", "three", True])
def test_parse_refuses_anything_else(raw):
    with pytest.raises(ValueError, match=r"^Enter a whole number from 1 to 5\.$"):
        types.get("rating").parse(rating(), raw)


def test_text_html_and_cell():
    entry, f = types.get("rating"), rating()
    assert entry.text(f, 3) == "3 of 5" and entry.text(f, None) == ""
    assert entry.render_html(f, 3) == STARS_3
    cell = entry.make_cell(f, False)
    assert cell(3, {}, "") == f"<td>{STARS_3}</td>"
    assert cell(None, {}, "") == "<td></td>"


def test_filters_with_the_number_operators(app):
    table = sa.Table("t_rating_probe", sa.MetaData(), sa.Column("id", sa.Integer),
                     sa.Column("score", types.get("rating").sa_type(rating())))  # fmt: skip
    table.metadata.create_all(db.engine)
    try:
        with db.engine.begin() as conn:
            conn.execute(table.insert(), [{"id": i, "score": s} for i, s in
                                          [(1, 1), (2, 3), (3, 5), (4, None)]])  # fmt: skip

        def ids(op, value=None):
            condition = types.build_filter(
                rating(), table.c.score, op, value, dialect_name=db.engine.dialect.name
            )
            with db.engine.connect() as conn:
                return set(conn.scalars(sa.select(table.c.id).where(condition)))

        assert ids("gte", "3") == {2, 3}
        assert ids("between", ["2", "4"]) == {2}
        assert ids("ne", "3") == {1, 3, 4}
        assert ids("empty") == {4}
        with pytest.raises(ValueError, match="from 1 to 5"):
            ids("eq", "9")
    finally:
        table.metadata.drop_all(db.engine)


def test_the_filter_row_offers_number_conditions_in_words():
    row = FilterRowModel(field=rating(), op="gte")
    assert ("gte", "is at least") in row.operators
    assert row.widget == "number" and row.step == "1" and row.unit == ""
    field = rating()
    assert list_views.normalise_value(field, "between", ["2", "4"]) == ("2", "4")
    with pytest.raises(ValueError, match="from 1 to 5"):
        list_views.normalise_value(field, "eq", "7")


def test_a_rating_field_on_an_entity_end_to_end(app, login_as, staff):
    schema.create_entity(
        "film", "Film", fields=[
            {"key": "title", "type": "text", "label": "Title"},
            {"key": "stars", "type": "rating", "label": "Stars"},
        ], name_field="title",
    )  # fmt: skip
    film = specs.current().entity("film")
    good = records.create(staff, film, {"title": "Good", "stars": "3"})
    records.create(staff, film, {"title": "Best", "stars": "5"})
    with pytest.raises(Exception, match="not saved"):
        records.create(staff, film, {"title": "Bad", "stars": "0"})
    client = login_as(staff)
    page = client.get(f"/r/film/{good}").data.decode()
    assert STARS_3 in page
    listing = client.get("/r/film/?sort=-stars&f.stars.gte=3").data.decode()
    assert f"<td>{STARS_3}</td>" in listing
    assert listing.index(">Best<") < listing.index(">Good<")
    with app.test_request_context("/r/film/"):
        columns = [film.field("title"), film.field("stars")]
        data = [{"id": good, "version": 1, "title": "Good", "stars": 3}]
        html = str(
            rows.render_rows(film, columns, data, present.Display(staff, film, columns, data))
        )
    assert html.endswith(f"<td>{STARS_3}</td></tr>\n")
    assert list_views.describe_sort(film, [("stars", "desc")]) == "Stars (highest first)"


def test_the_designer_offers_the_type(app, login_as, admin):
    schema.create_entity("film", "Film", fields=[{"key": "title", "type": "text", "label": "T"}])
    client = login_as(admin)
    assert "Rating" in client.get("/admin/entities/film/fields/new").data.decode()
    form = client.get("/admin/entities/film/fields/new?type=rating").data.decode()
    assert "New rating field" in form

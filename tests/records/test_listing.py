"""Record lists: keyset pages, filters and search resolved through the spec."""

from __future__ import annotations

import random

import pytest
from werkzeug.datastructures import MultiDict

from crm.errors import ValidationFailed
from crm.metadata import list_views, specs
from crm.records import listing
from crm.records import service as records
from crm.schema import service as schema


@pytest.fixture
def people(app, staff):
    schema.create_entity(
        "person",
        "Person",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "searchable": True},
            {"key": "age", "type": "integer", "label": "Age"},
            {"key": "city", "type": "text", "label": "City", "searchable": True},
            {"key": "level", "type": "picklist", "label": "Level",
             "choices": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]},
        ],
        name_field="name",
    )  # fmt: skip
    spec = specs.current().entity("person")
    rnd = random.Random(7)
    cities = ["Berlin", "上海", "São Paulo", None, "100% Town", "x_y"]
    for i in range(37):
        records.create(
            staff,
            spec,
            {
                "name": f"Person {i:02d}",
                "age": None if i % 5 == 0 else str(rnd.choice([20, 30, 30, 40])),
                "city": rnd.choice(cities),
                "level": rnd.choice(["a", "b", None]),
            },
        )
    return spec


def page_through(user, spec, args):
    view = list_views.default_view(spec.key, user.id)
    seen, after = [], None
    for _ in range(100):
        a = MultiDict(args)
        if after:
            a["after"] = after
        page = listing.list_page(user, spec, listing.parse_request(user, spec, a, view))
        seen += [r["id"] for r in page.rows]
        after = page.next_after
        if not after:
            return seen
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("sort", ["age", "-age", "city,-age", "-city,age", "name", "-updated_at"])
def test_keyset_pages_visit_every_record_once_in_order(people, staff, sort):
    everything = page_through(staff, people, {"sort": sort, "size": "1000"})
    assert len(everything) == 37
    assert page_through(staff, people, {"sort": sort, "size": "4"}) == everything


def test_empty_values_sort_last_both_ways(people, staff):
    view = list_views.default_view("person", staff.id)
    for sort in ("age", "-age"):
        req = listing.parse_request(staff, people, MultiDict({"sort": sort, "size": "200"}), view)
        ages = [r["age"] for r in listing.list_page(staff, people, req).rows]
        assert ages[-8:] == [None] * 8
        present = [a for a in ages if a is not None]
        assert present == sorted(present, reverse=sort.startswith("-"))


def test_filters_and_search(people, staff):
    view = list_views.default_view("person", staff.id)

    def ids(**args):
        req = listing.parse_request(staff, people, MultiDict(args), view)
        return {r["id"] for r in listing.list_page(staff, people, req).rows}

    everything = ids(size="200")
    berlin = ids(size="200", **{"f.city.equals": "Berlin"})
    assert berlin and berlin < everything
    percent = ids(size="200", q="100%")
    underscore = ids(size="200", q="x_y")
    assert percent and underscore and not (percent & underscore)
    assert ids(size="200", q="上海") == ids(size="200", **{"f.city.equals": "上海"})
    n, capped = listing.count(
        staff, people, listing.parse_request(staff, people, MultiDict({"f.level.in": "a"}), view)
    )
    assert not capped and n == len(ids(size="200", **{"f.level.in": "a"}))


@pytest.mark.parametrize(
    "args",
    [
        {"sort": "nothing"},
        {"sort": "id; drop table x_person"},
        {"f.password_hash.equals": "x"},
        {"f.age.contains_any": "1"},
        {"f.age.gt": "abc"},
        {"after": "not-a-cursor!!"},
        {"q": "x" * 500},
    ],
)
def test_unknown_keys_and_bad_values_are_refused(people, staff, args):
    view = list_views.default_view("person", staff.id)
    with pytest.raises(ValidationFailed):
        listing.parse_request(staff, people, MultiDict(args), view)

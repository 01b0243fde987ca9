"""One filter-row model for the list page's builder and the list-view designer."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from crm.metadata import list_views, types
from crm.metadata.filter_rows import FilterRowModel
from crm.metadata.spec import Choice, FieldSpec
from crm.records.views.filters import Builder
from forms.list_views import FilterRow


def field(type_key: str) -> FieldSpec:
    options = {"target": "account"} if types.get(type_key).reference == "record" else {}
    return FieldSpec(
        key=type_key,
        type=type_key,
        label=type_key,
        options=MappingProxyType({**types.get(type_key).default_options, **options}),
        choices=(Choice("a", "A", "red"), Choice("b", "B", archived=True)),
    )


def test_both_screens_are_the_one_model():
    assert issubclass(Builder, FilterRowModel) and issubclass(FilterRow, FilterRowModel)
    for name in ("operators", "widget", "input_type", "unit", "step", "choices", "to_raw"):
        assert getattr(Builder, name) is getattr(FilterRowModel, name), name
        assert getattr(FilterRow, name) is getattr(FilterRowModel, name), name


@pytest.mark.parametrize("type_key", sorted(types.REGISTRY))
def test_every_type_and_condition_has_words_and_an_input(type_key):
    f = field(type_key)
    for op in types.operators_of(f):
        row = FilterRowModel(field=f, op=op, values=["a"])
        words = dict(row.operators)[op]
        assert words in {*types.OP_WORDS.values(), *types.get(type_key).op_words.values()}
        assert row.widget in {
            "none", "period", "between", "choices", "choice", "people", "person",
            "lookups", "lookup", "number", "date", "text",
        }  # fmt: skip
        raw = row.to_raw()
        assert raw["field"] == type_key and raw["op"] == op


def test_inputs_follow_the_capabilities():
    def widget(type_key, op):
        return FilterRowModel(field=field(type_key), op=op).widget

    assert widget("integer", "gt") == "number" and widget("currency", "eq") == "number"
    assert widget("date", "before") == widget("datetime", "after") == "date"
    assert widget("text", "contains") == "text" and widget("boolean", "is_true") == "none"
    assert (
        widget("picklist", "in") == "choices" and widget("multi_picklist", "contains") == "choice"
    )
    assert widget("user", "in") == "people" and widget("user", "eq") == "person"
    assert widget("lookup", "eq") == "number"  # no entity to search among: a record number
    assert widget("date", "relative") == "period" and widget("integer", "between") == "between"
    assert FilterRowModel(field=field("currency"), op="eq").unit == "EUR"
    assert FilterRowModel(field=field("percent"), op="eq").unit == "%"
    assert FilterRowModel(field=field("integer"), op="eq").step == "1"
    archived = FilterRowModel(field=field("picklist"), op="in", values=["b"])
    assert archived.choices() == [("a", "A", "red"), ("b", "B (archived)", "gray")]


def test_the_owner_is_a_user_field_with_narrowed_conditions():
    owner = list_views.SPINE_BY_KEY["owner_id"]
    assert types.get(owner.type).reference == "user"
    row = FilterRowModel(field=owner, op="eq")
    assert [op for op, _ in row.operators] == ["eq", "in", "is_me", "empty"]

"""Keys that would clash with names the database layer makes for itself are refused, with
a message naming them, and never suggested (issue 12, item 2): SQLAlchemy's numbered bind
names (``version_1``, ``id_1``, ``param_1``) and quick search's table names (anything with
``__fts``). The column names SQLite's full-text tables keep (``rowid``, ``rank``) are valid
keys since issue 13: the full-text columns are the keys prefixed."""

from __future__ import annotations

import pytest

from crm.errors import ValidationFailed
from crm.metadata.keys import key_problems, suggest_key
from tests.factories import make_entity
from tests.factories import text as text_field

CLASHING = ["version_2", "version_1", "id_1", "param_1", "updated_at_1", "owner_id_3"]
SEARCH_RESERVED = ["x_deal__fts", "deal__fts", "deal__fts_cjk", "deal__fts_data"]


@pytest.mark.parametrize("key", CLASHING + SEARCH_RESERVED)
def test_the_key_is_refused_with_a_message_naming_it(key):
    problems = key_problems(key)
    assert problems and key in problems[0]


@pytest.mark.parametrize(
    "key", ["name_2", "region_1", "version2", "ranking", "row_id", "rowid", "rank", "oid"]
)
def test_numbered_keys_of_other_names_stay_valid(key):
    assert key_problems(key) == []


@pytest.mark.parametrize("label", ["Version", "Id", "Param", "Updated at", "Rank", "Rowid"])
def test_no_clashing_key_is_ever_suggested(label):
    key = suggest_key(label)
    assert key_problems(key) == [], key
    assert suggest_key(label, taken={key}) != key
    assert key_problems(suggest_key(label, taken={key})) == []


def test_the_designer_suggests_version2_for_a_field_labelled_version():
    assert suggest_key("Version") == "version2"


@pytest.mark.parametrize("key", ["version_2", "param_1", "deal__fts_idx"])
def test_a_field_with_such_a_key_is_not_created(app, key):
    with pytest.raises(ValidationFailed) as caught:
        make_entity(
            "deal", "Deal", [text_field("name", "Name"), text_field(key, "X", searchable=True)]
        )
    assert key in str(caught.value.errors)

"""Keys that would clash with names the database itself keeps are refused, with a message
naming them, and never suggested (issue 12, item 2): quick search's table names (anything
with ``__fts``).

Keys that read like SQLAlchemy's generated bind names (``version_1``, ``id_1``,
``param_1``) are valid: writes bind their values under explicit names (``crm.binds``,
``tests/test_binds.py``; the record flows are tested in
``tests/records/test_bind_names.py``). So are the column names SQLite's full-text tables
keep (``rowid``, ``rank``, ``oid``) since issue 13: the full-text columns are the keys
prefixed."""

from __future__ import annotations

import pytest

from crm.errors import ValidationFailed
from crm.metadata.keys import key_problems, suggest_key
from tests.factories import make_entity
from tests.factories import text as text_field

NUMBERED = ["version_2", "version_1", "id_1", "param_1", "updated_at_1", "owner_id_3"]
SEARCH_RESERVED = ["x_deal__fts", "deal__fts", "deal__fts_cjk", "deal__fts_data"]


@pytest.mark.parametrize("key", SEARCH_RESERVED)
def test_the_key_is_refused_with_a_message_naming_it(key):
    problems = key_problems(key)
    assert problems and key in problems[0]


@pytest.mark.parametrize(
    "key",
    [*NUMBERED, "name_2", "region_1", "version2", "ranking", "row_id", "rowid", "rank", "oid"],
)
def test_numbered_and_full_text_column_keys_are_valid(key):
    assert key_problems(key) == []


@pytest.mark.parametrize("label", ["Version", "Id", "Param", "Updated at", "Rank", "Rowid"])
def test_suggested_keys_are_valid_and_free(label):
    key = suggest_key(label)
    assert key_problems(key) == [], key
    assert suggest_key(label, taken={key}) != key
    assert key_problems(suggest_key(label, taken={key})) == []


def test_the_designer_suggests_version_2_for_a_field_labelled_version():
    assert suggest_key("Version") == "version_2"


@pytest.mark.parametrize("key", ["deal__fts_idx", "x_deal__fts"])
def test_a_field_with_such_a_key_is_not_created(app, key):
    with pytest.raises(ValidationFailed) as caught:
        make_entity(
            "deal", "Deal", [text_field("name", "Name"), text_field(key, "X", searchable=True)]
        )
    assert key in str(caught.value.errors)

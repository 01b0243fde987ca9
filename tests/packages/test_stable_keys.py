"""Roles and shared list views get a stable key when created; a key never changes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.access import roles
from crm.access.models import Role
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import list_views
from crm.metadata.models import ListViewRow
from tests.factories import make_list_view


def test_a_new_role_gets_a_key_from_its_name_or_the_one_given(small):
    made = roles.create(small, name="Sales rep!")
    assert made.key == "sales_rep_2"  # "sales_rep" is the fixture's "Sales rep"
    chinese = roles.create(small, name="客服主管")
    assert chinese.key == "ke_fu_zhu_guan"
    given = roles.create(small, name="Support lead", key="support")
    assert given.key == "support"
    roles.update(small, given.id, name="Service lead")
    db.session.refresh(given)
    assert given.key == "support"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("support", "The key “support” is already used."),
        ("Bad Key", "The key may use only lowercase letters"),
        ("select", "“select” is a reserved word"),
    ],
)
def test_a_bad_or_taken_role_key_is_refused_and_nothing_is_created(small, key, message):
    roles.create(small, name="Support", key="support")
    count = db.session.scalar(select(func.count()).select_from(Role))
    with pytest.raises(ValidationFailed) as exc:
        roles.create(small, name="Other", key=key)
    assert any(message in m for m in exc.value.errors["key"]), exc.value.errors
    assert db.session.scalar(select(func.count()).select_from(Role)) == count


def test_shared_views_get_keys_unique_per_entity_private_views_none(small):
    again = make_list_view("deal", {"name": "Big deals!", "columns": ["title"]}, actor_id=small.id)
    assert again.key == "big_deals_2"
    elsewhere = make_list_view("account", {"name": "Big deals", "columns": ["name"]})
    assert elsewhere.key == "big_deals"
    given = make_list_view("deal", {"name": "Won", "columns": ["title"], "key": "won_deals"})
    assert given.key == "won_deals"
    renamed = list_views.save_shared_view(
        "deal", {"name": "Won this year", "columns": ["title"]}, actor_id=None, view_id=given.id
    )
    assert renamed.key == "won_deals"
    private = db.session.scalars(select(ListViewRow).where(ListViewRow.owner_id.is_not(None)))
    assert [v.key for v in private] == [None]
    with pytest.raises(ValidationFailed) as exc:
        make_list_view("deal", {"name": "Other", "columns": ["title"], "key": "won_deals"})
    assert list(exc.value.errors) == ["key"]

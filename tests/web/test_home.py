"""The home page: the entities the person may read, each with a lazily loaded block of
their count and their recent records, through the scoped query layer."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from tests.factories import make_entity, make_record, make_role, make_user, text


@pytest.fixture
def world(app):
    make_entity("deal", "Deal", [text("title", "Title")])
    make_entity("memo", "Memo", [text("title", "Title")])
    make_role("Rep", {("deal", "read"): P.OWN, ("deal", "create"): P.ALL}, entity="deal")
    rep = make_user("rep@example.com", roles=("Rep",))
    other = make_user("other@example.com", roles=("Staff",))
    make_record(rep, "deal", {"title": "Rep deal"})
    make_record(other, "deal", {"title": "Other deal"})
    make_record(other, "memo", {"title": "Memo"})
    return rep, other


def test_home_lists_readable_entities_with_lazy_blocks(world, login_as):
    rep, _other = world
    client = login_as(rep)
    html = client.get("/").data.decode()
    assert "appear here as soon as they are configured" not in html
    assert 'hx-get="/home/entity/deal"' in html and "/home/entity/memo" not in html
    block = client.hx_get("/home/entity/deal")
    body = block.data.decode()
    assert block.status_code == 200 and "<html" not in body
    assert "1 deal you can see" in body and "Rep deal" in body and "Other deal" not in body
    assert client.hx_get("/home/entity/memo").status_code == 403
    assert client.hx_get("/home/entity/nope").status_code == 404


def test_recent_records_are_the_persons_own_or_changed_by_them(world, login_as):
    _rep, other = world
    body = login_as(other).hx_get("/home/entity/deal").data.decode()
    assert "2 deals you can see" in body
    assert "Other deal" in body and "Rep deal" not in body  # neither theirs nor changed


def test_without_any_entity_the_home_says_what_to_do(app, login_as, admin):
    client = login_as(admin)
    # An empty CRM first offers the starters (tests/packages/test_starters.py); an
    # administrator who chose to start empty is then told what to do.
    assert "Choose a starting point" in client.get("/").data.decode()
    client.submit("/admin/start", {"starter": ""})
    html = client.get("/").data.decode()
    assert "define your first entity" in html and "Open configuration" in html

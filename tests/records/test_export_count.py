"""The list says what its export will give: the count uses the read scope, the export the
export scope (shares widen reading, not exporting), and the count fragment names the
exportable number when the two differ."""

from __future__ import annotations

import csv
import io

import pytest

from crm.access import policy as P
from tests.factories import make_entity, make_record, make_role, make_share, make_user, text


@pytest.fixture
def world(app):
    make_entity("deal", "Deal", [text("title", "Title")])
    make_role("Rep", {("*", "read"): P.OWN, ("*", "export"): P.OWN, ("*", "create"): P.ALL})
    make_role("Viewer", {("*", "read"): P.OWN})
    boss = make_user("boss@example.com", roles=("Staff",))
    rep = make_user("rep@example.com", roles=("Rep",))
    viewer = make_user("viewer@example.com", roles=("Viewer",))
    make_record(rep, "deal", {"title": "Mine"})
    for title in ("Shared one", "Shared two"):
        deal = make_record(boss, "deal", {"title": title})
        make_share(boss, "deal", deal, to_user=rep)
        make_share(boss, "deal", deal, to_user=viewer)
    return rep, viewer


def test_the_count_names_how_many_the_export_gives(world, login_as):
    rep, _viewer = world
    client = login_as(rep)
    count = client.hx_get("/r/deal/count").data.decode()
    assert count.startswith("3 deals") and "you may export 1 of these" in count
    exported = client.get("/r/deal/export.csv").data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(exported)))) - 1 == 1


def test_no_export_words_when_the_scopes_agree_and_no_links_without_the_right(
    world, login_as, admin
):
    count = login_as(admin).hx_get("/r/deal/count").data.decode()
    assert count.startswith("3 deals") and "export" not in count
    _rep, viewer = world
    client = login_as(viewer)
    assert "export" not in client.hx_get("/r/deal/count").data.decode()
    page = client.get("/r/deal/").data.decode()
    assert "export-links" not in page and "export.csv" not in page
    assert "export-links" in login_as(admin).get("/r/deal/").data.decode()

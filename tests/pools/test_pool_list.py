"""A pool's list is an ordinary list: filters (chips and builder lead back to the pool),
sort, saved views, htmx fragments; bulk claim within the quota; the quota line shows the
claims left today and the records held against the cap; bad input is refused clearly."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.metadata import list_views, specs
from crm.pools.models import PoolClaim
from tests.pools.conftest import account, into_pool, make_pool, owner_of


def _pooled(people, *names: str, **values) -> list[int]:
    ids = [account(people["ann"], n, **values) for n in names]
    into_pool(people["max"], ids)
    return ids


def test_filters_sort_and_their_links_stay_on_the_pool(people, login_as):
    make_pool(people["admin"])
    _pooled(people, "Alpha Ltd", "Beta Ltd")
    vip = account(people["ann"], "Gamma VIP", vip=True)
    into_pool(people["max"], [vip])
    client = login_as(people["bob"])
    r = client.get("/r/account/pools/east/?f.vip.is_true=")
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Gamma VIP" in body and "Alpha Ltd" not in body
    # the chip's remove link, the clear link and the builder come back to the pool
    assert 'href="/r/account/pools/east/"' in body  # "Clear filters"
    assert "/r/account/filters/new?f.vip.is_true=&pool=east" in body.replace("&amp;", "&")
    r = client.get("/r/account/filters/apply?pool=east&field=name&op=contains&value=Beta")
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/r/account/pools/east/?")
    body = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Beta Ltd" in body and "Alpha Ltd" not in body
    # sorted by name, both ways; the sort links are the pool's
    body = client.get("/r/account/pools/east/?sort=name").get_data(as_text=True)
    assert body.index("Alpha Ltd") < body.index("Beta Ltd")
    assert "/r/account/pools/east/?sort=-name" in body
    body = client.get("/r/account/pools/east/?sort=-name").get_data(as_text=True)
    assert body.index("Beta Ltd") < body.index("Alpha Ltd")
    # htmx: the results alone, the chips out of band
    r = client.hx_get(
        "/r/account/pools/east/?f.name.contains=Alpha", headers={"HX-Target": "results"}
    )
    text = r.get_data(as_text=True)
    assert "<html" not in text
    assert "Alpha Ltd" in text and "Beta Ltd" not in text
    assert 'id="filter-bar" hx-swap-oob="true"' in text
    assert "HX-Request" in r.headers["Vary"]
    # an unknown filter field is a 400, not a 500
    assert client.get("/r/account/pools/east/?f.nope.eq=1").status_code == 400


def test_saved_views_apply_and_saving_one_returns_to_the_pool(people, login_as):
    make_pool(people["admin"])
    _pooled(people, "Alpha Ltd", "Beta Ltd")
    client = login_as(people["bob"])
    r = client.submit(
        "/r/account/views",
        {"name": "Betas", "f.name.contains": "Beta", "pool": "east"},
    )
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/r/account/pools/east/?view=")
    body = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Beta Ltd" in body and "Alpha Ltd" not in body
    assert "Betas" in body  # offered in the views menu
    # a view of another entity, or a bad number: refused clearly
    assert client.get("/r/account/pools/east/?view=abc").status_code in (400, 404)
    assert client.get("/r/account/pools/east/?view=99999999999").status_code in (400, 404)


def test_the_default_view_of_own_records_does_not_empty_the_pool(people, login_as):
    make_pool(people["admin"])
    _pooled(people, "Alpha Ltd")
    bob = people["bob"]
    spec = specs.current().entity("account")
    list_views.save_private_view(
        spec.key,
        {"name": "Mine", "columns": ["name"], "filters": [{"field": "owner_id", "op": "is_me"}],
         "is_default": True},
        user_id=bob.id,
    )  # fmt: skip
    body = login_as(bob).get("/r/account/pools/east/").get_data(as_text=True)
    assert "Alpha Ltd" in body


def test_bulk_claim_within_the_quota(people, login_as):
    bob = people["bob"]
    make_pool(people["admin"], daily_limit="4", holding_cap="10")
    ids = _pooled(people, "A1", "A2", "A3", "A4", "A5")
    client = login_as(bob)
    body = client.get("/r/account/pools/east/").get_data(as_text=True)
    assert "You can claim 4 more today." in body and "You hold 0 of at most 10." in body
    assert 'name="pick"' in body and "Claim selected" in body
    # more than the quota: nothing claimed, told how many they may
    r = client.hx_post("/r/account/pools/east/claim", {"pick": [str(i) for i in ids]})
    assert r.status_code == 400 and "4 more records" in r.get_data(as_text=True)
    assert all(owner_of(i) is None for i in ids)
    r = client.hx_post("/r/account/pools/east/claim", {"pick": [str(i) for i in ids[:2]]})
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "2 records claimed." in text
    assert "records-changed" in r.headers["HX-Trigger"]
    assert 'id="quota" hx-swap-oob="true">You can claim 2 more today.' in text
    assert "You hold 2 of at most 10." in text
    assert [owner_of(i) for i in ids[:2]] == [bob.id, bob.id]
    body = client.get("/r/account/pools/east/").get_data(as_text=True)
    assert "A1" not in body and "A3" in body
    # one already claimed (by someone else meanwhile) is reported, the other claimed
    r = client.hx_post("/r/account/pools/east/claim", {"pick": [str(ids[0]), str(ids[2])]})
    text = r.get_data(as_text=True)
    assert "1 record claimed." in text and f"#{ids[0]}" in text
    assert owner_of(ids[2]) == bob.id


def test_bulk_claim_refuses_bad_input_and_changes_nothing(people, login_as):
    make_pool(people["admin"], daily_limit="2")
    ids = _pooled(people, "A1")
    client = login_as(people["bob"])
    url = "/r/account/pools/east/claim"
    for form in ({}, {"pick": ["x"]}, {"pick": ["0"]}, {"pick": ["99999999999"]}):
        r = client.hx_post(url, form)
        assert r.status_code == 400, (form, r.status_code)
        assert "notice-error" in r.get_data(as_text=True)
    r = client.hx_post(url, {"pick": [str(i) for i in range(1, 502)]})
    assert r.status_code == 400 and "at most 500" in r.get_data(as_text=True)
    assert client.hx_post("/r/account/pools/nowhere/claim", {"pick": ["1"]}).status_code == 404
    # without the CSRF token
    assert client.post(url, data={"pick": [str(ids[0])]}).status_code == 400
    # a rep of another department who may not claim
    make_pool(people["admin"], "west", claim_departments=[str(people["west"].id)])
    r = client.hx_post("/r/account/pools/west/claim", {"pick": [str(ids[0])]})
    assert r.status_code == 403
    # plain form: back to the pool's list with the outcome
    r = client.submit(url, {"pick": [str(ids[0])]})
    assert r.status_code == 303 and r.headers["Location"].endswith("/r/account/pools/east/")
    assert owner_of(ids[0]) == people["bob"].id
    assert (
        client.application.extensions["sqlalchemy"].session.scalar(
            select(func.count()).select_from(PoolClaim)
        )
        == 1
    )

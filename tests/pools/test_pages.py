"""The pool pages: a pool's list with its Claim buttons and quota, claiming by htmx and by
plain form, the record page's pool block, returning from the list's bulk bar, and the
administration screens."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.pools.models import Pool
from tests.pools.conftest import account, into_pool, make_pool, owner_of


def test_pool_list_shows_records_claim_buttons_and_quota(people, login_as):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"], daily_limit="3")
    rec = account(ann, "Pooled Ltd")
    account(ann, "Kept Ltd")
    into_pool(people["max"], [rec])
    client = login_as(bob)
    r = client.get("/r/account/pools/east/")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "Pooled Ltd" in body and "Kept Ltd" not in body
    assert "You can claim 3 more today." in body
    assert f"/r/account/{rec}/claim" in body
    # search narrows the pool's list
    r = client.get("/r/account/pools/east/?q=nothing-like-it")
    assert "Pooled Ltd" not in r.get_data(as_text=True)
    # the list page links the pool
    assert "/r/account/pools/east/" in client.get("/r/account/").get_data(as_text=True)


def test_claim_by_htmx_then_the_loser_is_told(people, login_as):
    ann, bob, wes = people["ann"], people["bob"], people["wes"]
    make_pool(people["admin"])
    rec = account(ann)
    into_pool(people["max"], [rec])
    r = login_as(bob).hx_post(f"/r/account/{rec}/claim", {})
    assert r.status_code == 200 and "Claimed" in r.get_data(as_text=True)
    assert "<html" not in r.get_data(as_text=True)
    assert owner_of(rec) == bob.id
    r = login_as(wes).hx_post(f"/r/account/{rec}/claim", {})
    assert r.status_code == 404
    assert "no longer in the pool" in r.get_data(as_text=True)


def test_claim_refusals_and_plain_form(people, login_as):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"], daily_limit="1")
    a, b = account(ann, "A"), account(ann, "B")
    into_pool(people["max"], [a, b])
    client = login_as(bob)
    r = client.submit(f"/r/account/{a}/claim", {})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/r/account/{a}")
    r = client.hx_post(f"/r/account/{b}/claim", {"pool": "east"})
    assert r.status_code == 409 and "the most allowed" in r.get_data(as_text=True)
    assert 'id="quota" hx-swap-oob="true">You can claim 0 more today.' in r.get_data(as_text=True)
    assert owner_of(b) is None
    # no CSRF token: refused, nothing changed
    r = client.post(f"/r/account/{b}/claim")
    assert r.status_code == 400 and owner_of(b) is None
    for bad in ("0", "-1", str(2**63), "abc"):
        assert client.post(
            f"/r/account/{bad}/claim", data={"csrf_token": client.csrf_token()}
        ).status_code in (400, 404)


def test_record_page_shows_pool_and_claim(people, login_as):
    ann, bob = people["ann"], people["bob"]
    make_pool(people["admin"], cooldown_days="3")
    rec = account(ann, "Pooled Ltd")
    into_pool(people["max"], [rec], note="Left")
    body = login_as(bob).get(f"/r/account/{rec}").get_data(as_text=True)
    assert "In pool East since" in body and f"/r/account/{rec}/claim" in body
    assert "put this in East: returned by hand — Left" in body
    body = login_as(ann).get(f"/r/account/{rec}").get_data(as_text=True)
    assert "claim it again from" in body  # cool-down


def test_bulk_return_from_the_list(people, login_as):
    ann, max_ = people["ann"], people["max"]
    make_pool(people["admin"])
    a, b = account(ann, "A"), account(ann, "B")
    client = login_as(max_)
    page = client.get("/r/account/").get_data(as_text=True)
    assert "Return to pool" in page
    r = client.hx_post(
        "/r/account/pools/return", {"pick": [f"{a}:1", f"{b}:1"], "pool": "east", "note": "idle"}
    )
    assert r.status_code == 200 and "2 records returned" in r.get_data(as_text=True)
    assert owner_of(a) is None and owner_of(b) is None
    r = client.hx_post("/r/account/pools/return", {"pick": [f"{a}:2"], "pool": "east", "note": "x"})
    assert r.status_code == 404  # in the pool now: no longer Max's to assign
    # a rep may not return a colleague's record
    c = account(people["bob"], "C")
    r = login_as(ann).hx_post("/r/account/pools/return", {"pick": [str(c)], "note": "x"})
    assert r.status_code == 404 and owner_of(c) == people["bob"].id


def test_admin_screens(people, login_as):
    admin = login_as(people["admin"])
    assert admin.get("/admin/pools/").status_code == 200
    assert admin.get("/admin/pools/new").status_code == 200
    r = admin.submit("/admin/pools/new", {"key": "Bad Key", "entity_key": "account", "name": ""})
    assert r.status_code == 400
    assert db.session.scalar(select(Pool.id)) is None
    r = admin.submit(
        "/admin/pools/new",
        {"key": "south", "entity_key": "account", "name": "South", "enabled": "y",
         "daily_limit": "5", "tr_name.zh_Hans": "南区", "claim_roles": ["999999"]},
    )  # fmt: skip
    assert r.status_code == 400 and "no longer exists" in r.get_data(as_text=True)
    r = admin.submit(
        "/admin/pools/new",
        {"key": "south", "entity_key": "account", "name": "South", "enabled": "y",
         "daily_limit": "5", "tr_name.zh_Hans": "南区"},
    )  # fmt: skip
    assert r.status_code == 303
    pool = db.session.scalar(select(Pool).where(Pool.key == "south"))
    assert pool.daily_limit == 5 and pool.translations == {"zh_Hans": "南区"}
    page = admin.get(f"/admin/pools/{pool.id}/").get_data(as_text=True)
    assert "VIP" in page  # the protected field's choices
    r = admin.submit(f"/admin/pools/{pool.id}/", {"name": "South", "protected_field": "vip"})
    assert r.status_code == 303
    db.session.rollback()
    assert db.session.get(Pool, pool.id).protected_field == "vip"
    assert admin.submit(f"/admin/pools/{pool.id}/delete", {}).status_code == 303
    assert db.session.scalar(select(Pool.id)) is None
    assert admin.get("/admin/pools/999999/").status_code == 404
    # staff without the configure right
    assert login_as(people["bob"]).get("/admin/pools/").status_code == 403

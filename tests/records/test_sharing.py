"""Sharing a record with a user or a department, and transferring its ownership, from the
record page's lazily loaded "Sharing" panel: who may, what it widens, what it refuses, and
that a refused or invalid write leaves the record, its shares and its history as they were."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from crm.errors import Forbidden, ValidationFailed
from crm.records import service as records
from crm.records import sharing
from tests.factories import make_department, make_role, make_user, stored
from tests.records.access_model import history, shares, snapshot
from tests.records.runtime_model import build_model, entity, make

REP = {"create": P.ALL, "read": P.OWN, "edit": P.OWN}


@pytest.fixture
def org(app):
    """Sales > Sales East, and Support. Reps see and edit their own accounts; the viewer
    reads every account and edits none; the manager reads, edits and reassigns the accounts
    of Sales and below."""
    build_model()
    sales = make_department("Sales")
    east = make_department("Sales East", sales)
    support = make_department("Support")
    make_role("Rep", REP)
    make_role("Viewer", {"read": P.ALL})
    make_role("Manager", {"read": P.SUBTREE, "edit": P.SUBTREE, "assign": P.SUBTREE})
    make_role("Lead", {**REP, "assign": P.OWN})
    people = {
        "olga": make_user(display_name="Olga Owner", roles=("Rep",), department=east),
        "bob": make_user(display_name="Bob Rep", roles=("Rep",), department=east),
        "carl": make_user(display_name="Carl Rep", roles=("Rep",), department=sales),
        "dana": make_user(display_name="Dana Rep", roles=("Rep",), department=support),
        "vic": make_user(display_name="Vic Viewer", roles=("Viewer",), department=support),
        "mia": make_user(display_name="Mia Manager", roles=("Manager",), department=sales),
        "leo": make_user(display_name="Leo Lead", roles=("Lead",), department=east),
        "gone": make_user(display_name="Gone User", roles=("Rep",), is_active=False),
    }
    account = make(people["olga"], "account", name="Acme")
    return {
        "p": people,
        "id": account,
        "url": f"/r/account/{account}",
        "d": {"sales": sales, "east": east, "support": support},
    }


def sees(login_as, user, org) -> tuple[bool, bool]:
    """(the list page shows the account, the record page opens) for ``user``."""
    c = login_as(user)
    listed = f'href="{org["url"]}"' in c.get("/r/account/").data.decode()
    return listed, c.get(org["url"]).status_code == 200


def share_form(target: str, access: str = "read") -> dict:
    return {"target": target, "access": access, "seen": "1"}


# --- the panel --------------------------------------------------------------------------


def test_the_record_page_loads_the_sharing_panel_lazily(login_as, org):
    html = login_as(org["p"]["olga"]).get(org["url"]).data.decode()
    assert (
        f'id="sharing" hx-get="{org["url"]}/sharing?seen=1" hx-trigger="load" hx-swap="outerHTML"'
    ) in html
    assert f'<a href="{org["url"]}/sharing">Sharing and ownership</a>' in html


def test_the_panel_is_a_fragment_for_htmx_and_a_page_without(login_as, org):
    c = login_as(org["p"]["olga"])
    r = c.hx_get(f"{org['url']}/sharing?seen=1")
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body and "HX-Request" in r.headers["Vary"]
    assert "Not shared with anyone." in body and "Owner: Olga Owner" in body
    assert 'name="target"' in body and '<option value="user:' in body  # she may edit: may share
    assert f'<option value="department:{org["d"]["east"].id}">Sales › Sales East</option>' in body
    assert "Transfer ownership" not in body  # reps may not reassign
    assert "who-can-see" not in body  # not an administrator
    page = c.get(f"{org['url']}/sharing")
    assert page.status_code == 200 and "<html" in page.data.decode()
    assert "Sharing and ownership" in page.data.decode()


def test_someone_who_cannot_read_the_record_finds_nothing(login_as, org):
    c = login_as(org["p"]["dana"])
    before = snapshot("account", org["id"])
    assert c.hx_get(f"{org['url']}/sharing").status_code == 404
    r = c.hx_post(f"{org['url']}/sharing", share_form(f"user:{org['p']['dana'].id}", "edit"))
    assert r.status_code == 404
    assert snapshot("account", org["id"]) == before


# --- sharing widens what the sharee sees ----------------------------------------------------


def test_a_user_share_widens_the_list_and_the_record_page_and_unsharing_narrows_them(login_as, org):
    p = org["p"]
    assert sees(login_as, p["bob"], org) == (False, False)
    c = login_as(p["olga"])
    r = c.hx_post(f"{org['url']}/sharing", share_form(f"user:{p['bob'].id}", "read"))
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body
    assert "Shared with Bob Rep (read)." in body
    assert "<strong>Bob Rep</strong>" in body and "· Read\n" in body
    assert "shared by Olga Owner" in body
    assert "Olga Owner</strong> shared with Bob Rep (read)" in body  # recent changes
    (share_id, rid, uid, did, access, by, _at), = shares()  # fmt: skip
    assert (rid, uid, did, access, by) == (org["id"], p["bob"].id, None, "read", p["olga"].id)
    assert history("account", org["id"])[-1][1:] == (
        "share",
        p["olga"].id,
        {"@share": [None, {"user_id": p["bob"].id, "name": "Bob Rep", "access": "read"}]},
    )
    assert sees(login_as, p["bob"], org) == (True, True)
    bob = login_as(p["bob"])
    assert bob.get(f"{org['url']}/edit").status_code == 404  # read, not edit
    # Bob may read but not edit: he sees the shares and no form to change them.
    panel = bob.hx_get(f"{org['url']}/sharing").data.decode()
    assert "Bob Rep" in panel and 'name="target"' not in panel and "Remove" not in panel

    # Sharing again replaces the access: one row, now "read and edit".
    r = c.hx_post(f"{org['url']}/sharing", share_form(f"user:{p['bob'].id}", "edit"))
    assert "Bob Rep now has read and edit access." in r.data.decode()
    ((same_id, *_rest, access2, _by2, _at2),) = shares()
    assert same_id == share_id and access2 == "edit"
    assert bob.get(f"{org['url']}/edit").status_code == 200
    assert "changed sharing with Bob Rep: read → read and edit" in r.data.decode()
    # The same share once more changes nothing and writes no history.
    n = len(history("account", org["id"]))
    r = c.hx_post(f"{org['url']}/sharing", share_form(f"user:{p['bob'].id}", "edit"))
    assert "Already shared with Bob Rep (read and edit)." in r.data.decode()
    assert len(shares()) == 1 and len(history("account", org["id"])) == n

    r = c.hx_post(f"{org['url']}/sharing/{share_id}/remove", {"seen": "1"})
    assert r.status_code == 200 and "No longer shared with Bob Rep." in r.data.decode()
    assert "Not shared with anyone." in r.data.decode()
    assert shares() == []
    assert history("account", org["id"])[-1][3] == {
        "@share": [{"user_id": p["bob"].id, "name": "Bob Rep", "access": "edit"}, None]
    }
    assert sees(login_as, p["bob"], org) == (False, False)


def test_an_edit_share_lets_the_sharee_edit_and_share_further(login_as, org):
    p = org["p"]
    sharing.share(p["olga"], entity("account"), org["id"], user_id=p["bob"].id, access="edit")
    bob = login_as(p["bob"])
    r = bob.hx_post(f"{org['url']}/sharing", share_form(f"user:{p['carl'].id}", "read"))
    assert r.status_code == 200 and "Shared with Carl Rep (read)." in r.data.decode()
    assert sees(login_as, p["carl"], org) == (True, True)


def test_a_department_share_reaches_its_members_and_the_departments_below(login_as, org):
    p, d = org["p"], org["d"]
    c = login_as(p["olga"])
    r = c.hx_post(f"{org['url']}/sharing", share_form(f"department:{d['sales'].id}"))
    body = r.data.decode()
    assert r.status_code == 200 and "Shared with Sales (read)." in body
    assert "<strong>Department Sales</strong>" in body
    assert sees(login_as, p["carl"], org) == (True, True)  # in Sales
    assert sees(login_as, p["bob"], org) == (True, True)  # in Sales East, below it
    assert sees(login_as, p["dana"], org) == (False, False)  # in Support


def test_a_share_with_a_department_below_does_not_reach_the_one_above(login_as, org):
    p, d = org["p"], org["d"]
    sharing.share(
        p["olga"], entity("account"), org["id"], department_id=d["east"].id, access="read"
    )
    assert sees(login_as, p["bob"], org) == (True, True)
    assert sees(login_as, p["carl"], org) == (False, False)


def test_the_plain_html_form_redirects_back_to_the_sharing_page(login_as, org):
    c = login_as(org["p"]["olga"])
    r = c.submit(f"{org['url']}/sharing", share_form(f"user:{org['p']['bob'].id}"))
    assert r.status_code == 303 and r.headers["Location"].endswith(f"{org['url']}/sharing")
    page = c.get(r.headers["Location"]).data.decode()
    assert "Shared with Bob Rep (read)." in page and "<html" in page


# --- refusals: nothing changes ----------------------------------------------------------


def test_a_reader_who_cannot_edit_cannot_share_or_unshare(login_as, org):
    p = org["p"]
    change = sharing.share(
        p["olga"], entity("account"), org["id"], user_id=p["bob"].id, access="read"
    )
    vic = login_as(p["vic"])
    panel = vic.hx_get(f"{org['url']}/sharing").data.decode()
    assert "Bob Rep" in panel and 'name="target"' not in panel and "Remove" not in panel
    before = snapshot("account", org["id"])
    r = vic.hx_post(f"{org['url']}/sharing", share_form(f"user:{p['vic'].id}", "edit"))
    assert r.status_code == 403
    assert "Only people who may edit this Account can share it." in r.data.decode()
    r = vic.hx_post(f"{org['url']}/sharing/{change.share_id}/remove")
    assert r.status_code == 403
    assert vic.submit(f"{org['url']}/sharing", share_form(f"user:{p['vic'].id}")).status_code == 403
    assert snapshot("account", org["id"]) == before
    with pytest.raises(Forbidden):
        sharing.share(p["vic"], entity("account"), org["id"], user_id=p["vic"].id, access="edit")
    assert snapshot("account", org["id"]) == before


def test_every_write_needs_the_csrf_token(login_as, org):
    p = org["p"]
    change = sharing.share(
        p["olga"], entity("account"), org["id"], user_id=p["bob"].id, access="read"
    )
    mia = login_as(p["mia"])
    before = snapshot("account", org["id"])
    posts = [
        (f"{org['url']}/sharing", share_form(f"user:{p['carl'].id}")),
        (f"{org['url']}/sharing/{change.share_id}/remove", {}),
        (f"{org['url']}/owner", {"owner_id": str(p["carl"].id), "version": "1"}),
    ]
    for url, data in posts:
        r = mia.post(url, data=data, headers={"HX-Request": "true"})
        assert r.status_code == 400 and "Reload the page and try again." in r.data.decode()
    assert snapshot("account", org["id"]) == before


@pytest.mark.parametrize(
    ("target", "access", "message"),
    [
        ("user:{gone}", "read", "Choose an active user to share with."),
        ("user:999999", "read", "Choose an active user to share with."),
        ("user:abc", "read", "Choose an active user to share with."),
        ("user:-3", "read", "Choose an active user to share with."),
        ("department:999999", "read", "Choose an existing department to share with."),
        ("department:", "edit", "Choose an existing department to share with."),
        ("", "read", "Choose one person or one department to share with."),
        ("team:1", "read", "Choose one person or one department to share with."),
        ("user:{bob}", "owner", "Choose “Read” or “Read and edit”."),
        ("user:{bob}", "", "Choose “Read” or “Read and edit”."),
    ],
)
def test_bad_share_input_is_refused_with_a_message_and_changes_nothing(
    login_as, org, target, access, message
):
    p = org["p"]
    c = login_as(p["olga"])
    before = snapshot("account", org["id"])
    form = share_form(target.format(gone=p["gone"].id, bob=p["bob"].id), access)
    r = c.hx_post(f"{org['url']}/sharing", form)
    body = r.data.decode()
    assert r.status_code == 400 and "<html" not in body
    assert f'<div class="notice notice-error" role="alert">{message}</div>' in body
    assert snapshot("account", org["id"]) == before
    r = c.submit(f"{org['url']}/sharing", form)  # the plain form: the page, same message
    assert r.status_code == 400 and message in r.data.decode() and "<html" in r.data.decode()
    assert snapshot("account", org["id"]) == before


def test_the_service_refuses_both_targets_at_once(org):
    p = org["p"]
    before = snapshot("account", org["id"])
    with pytest.raises(ValidationFailed):
        sharing.share(
            p["olga"], entity("account"), org["id"], user_id=p["bob"].id,
            department_id=org["d"]["sales"].id, access="read",
        )  # fmt: skip
    assert snapshot("account", org["id"]) == before


def test_a_share_of_another_record_cannot_be_removed_through_this_one(login_as, org):
    p = org["p"]
    other = make(p["olga"], "account", name="Other")
    change = sharing.share(p["olga"], entity("account"), other, user_id=p["bob"].id, access="read")
    before = snapshot("account", other)
    r = login_as(p["olga"]).hx_post(f"{org['url']}/sharing/{change.share_id}/remove")
    assert r.status_code == 404
    assert snapshot("account", other) == before


def test_removing_ones_own_share_leaves_for_the_list(login_as, org):
    p = org["p"]
    change = sharing.share(
        p["olga"], entity("account"), org["id"], user_id=p["bob"].id, access="edit"
    )
    r = login_as(p["bob"]).hx_post(f"{org['url']}/sharing/{change.share_id}/remove")
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/r/account/"
    assert shares() == []


# --- ownership --------------------------------------------------------------------------


def test_a_manager_transfers_ownership_with_the_version_they_saw(login_as, org):
    p = org["p"]
    mia = login_as(p["mia"])
    panel = mia.hx_get(f"{org['url']}/sharing?seen=1").data.decode()
    assert 'name="version" value="1"' in panel and "Transfer ownership" in panel
    r = mia.hx_post(f"{org['url']}/owner", {"owner_id": str(p["bob"].id), "version": "1"})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == org["url"]
    row = stored("account", org["id"])
    assert row["owner_id"] == p["bob"].id and row["version"] == 2
    assert row["updated_by"] == p["mia"].id
    assert history("account", org["id"])[-1][1:] == (
        "assign",
        p["mia"].id,
        {"owner_id": [p["olga"].id, p["bob"].id]},
    )
    page = mia.get(org["url"]).data.decode()
    assert "Owner changed to Bob Rep." in page and "changed the owner" in page
    panel = mia.hx_get(f"{org['url']}/sharing").data.decode()
    assert "Mia Manager</strong> Owner: Olga Owner → Bob Rep" in panel
    assert sees(login_as, p["bob"], org) == (True, True)
    assert sees(login_as, p["olga"], org) == (False, False)


def test_a_stale_version_is_a_conflict_and_changes_nothing(login_as, org):
    p = org["p"]
    records.update_record(p["olga"], entity("account"), org["id"], {"employees": "5"},
                          expected_version=1)  # fmt: skip
    before = snapshot("account", org["id"])
    r = login_as(p["mia"]).hx_post(
        f"{org['url']}/owner", {"owner_id": str(p["bob"].id), "version": "1", "seen": "1"}
    )
    body = r.data.decode()
    assert r.status_code == 409 and "<html" not in body
    assert (
        "Someone changed this Account after you opened it (it is at version 2 now). "
        "Nothing was changed: reload the page and try again."
    ) in body
    assert snapshot("account", org["id"]) == before


@pytest.mark.parametrize("who", ["olga", "vic", "bob"])
def test_without_the_assign_right_no_one_transfers(login_as, org, who):
    p = org["p"]
    if who == "bob":  # may edit through a share, still may not reassign
        sharing.share(p["olga"], entity("account"), org["id"], user_id=p["bob"].id, access="edit")
    c = login_as(p[who])
    assert "Transfer ownership" not in c.hx_get(f"{org['url']}/sharing").data.decode()
    before = snapshot("account", org["id"])
    r = c.hx_post(f"{org['url']}/owner", {"owner_id": str(p[who].id), "version": "1"})
    assert r.status_code == 403
    assert snapshot("account", org["id"]) == before


@pytest.mark.parametrize("owner", ["{gone}", "999999", "", "x", "-1"])
def test_transfer_to_anyone_but_an_active_user_is_refused(login_as, org, owner):
    p = org["p"]
    before = snapshot("account", org["id"])
    r = login_as(p["mia"]).hx_post(
        f"{org['url']}/owner", {"owner_id": owner.format(gone=p["gone"].id), "version": "1"}
    )
    assert r.status_code == 400 and "Choose an active user as the new owner." in r.data.decode()
    assert snapshot("account", org["id"]) == before


@pytest.mark.parametrize("version", ["", "abc", "0"])
def test_transfer_without_a_readable_version_is_refused(login_as, org, version):
    p = org["p"]
    before = snapshot("account", org["id"])
    r = login_as(p["mia"]).hx_post(
        f"{org['url']}/owner", {"owner_id": str(p["bob"].id), "version": version}
    )
    assert r.status_code == 400 and "reload the page" in r.data.decode()
    assert snapshot("account", org["id"]) == before


def test_transfer_to_the_current_owner_changes_nothing(login_as, org):
    p = org["p"]
    before = snapshot("account", org["id"])
    r = login_as(p["mia"]).hx_post(
        f"{org['url']}/owner", {"owner_id": str(p["olga"].id), "version": "1"}
    )
    assert r.status_code == 200 and "Olga Owner owns it already." in r.data.decode()
    assert snapshot("account", org["id"]) == before


def test_giving_away_ones_own_record_leaves_for_the_list(login_as, org):
    p = org["p"]
    mine = make(p["leo"], "account", name="Leo's")
    r = login_as(p["leo"]).hx_post(
        f"/r/account/{mine}/owner", {"owner_id": str(p["bob"].id), "version": "1"}
    )
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/r/account/"
    assert stored("account", mine)["owner_id"] == p["bob"].id


# --- escaping ---------------------------------------------------------------------------


def test_names_are_shown_escaped(login_as, org):
    p, d = org["p"], org["d"]
    evil = make_user(display_name='<img src=x onerror="alert(1)">', roles=("Rep",))
    ops = make_department("<b>Ops</b>", d["sales"])
    account = entity("account")
    sharing.share(p["olga"], account, org["id"], user_id=evil.id, access="read")
    sharing.share(p["olga"], account, org["id"], department_id=ops.id, access="edit")
    body = login_as(p["olga"]).hx_get(f"{org['url']}/sharing").data.decode()
    assert "<img src=x" not in body and "<b>Ops</b>" not in body
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in body
    assert "Department Sales › &lt;b&gt;Ops&lt;/b&gt;" in body
    assert 'aria-label="Stop sharing with &lt;img' in body


def test_the_record_timeline_tells_sharing_and_ownership_changes_in_words(login_as, org):
    p = org["p"]
    sharing.share(p["olga"], entity("account"), org["id"], user_id=p["bob"].id, access="edit")
    sharing.share(
        p["olga"], entity("account"), org["id"], department_id=org["d"]["support"].id,
        access="read",
    )  # fmt: skip
    sharing.transfer(p["mia"], entity("account"), org["id"], p["carl"].id, expected_version=1)
    html = login_as(p["carl"]).get(org["url"]).data.decode()
    timeline = html[html.index('class="events"') :]
    assert "shared with Bob Rep (read and edit)" in timeline
    assert "shared with department Support (read)" in timeline
    assert "changed the owner" in timeline
    assert "<del>Olga Owner</del> → <ins>Carl Rep</ins>" in timeline

"""Bad input gets a clear refusal (400 / 404 with a message for people) and changes
nothing: ids out of range, NUL characters, forged page cursors, yes/no values, the note
form without JavaScript, export sheet titles and full-width formula triggers, and the
validate-on-blur unique check (issue 12, item 2)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from openpyxl import load_workbook

from crm.access import policy as P
from crm.errors import ValidationFailed
from crm.ids import as_id, parse_id
from crm.metadata import specs
from crm.records import listing
from crm.records.export import safe_cell, sheet_title
from tests.factories import field, lookup, make_entity, make_record, make_role, make_user, stored
from tests.factories import text as text_field

HUGE = "99999999999999999999"
TOO_BIG = str(2**63)
BAD_IDS = [HUGE, TOO_BIG, "-1", "0", "abc", "١٢", "²", "1.5"]


@pytest.fixture
def world(app):
    make_entity("account", "Account", [text_field("name", "Name", searchable=True)])
    make_entity(
        "deal",
        "Deal",
        [
            text_field("name", "Name", searchable=True),
            lookup("account", "Account", "account"),
            field("flag", "boolean", "Flag"),
            field("email", "email", "Email", unique=True),
            field("amount", "integer", "Amount"),
        ],
        plural="Deals",
        name_field="name",
    )
    make_role(
        "Rep",
        {
            "create": P.ALL,
            "read": P.OWN,
            "edit": P.OWN,
            "export": P.OWN,
            "bulk_edit": P.OWN,
            "assign": P.OWN,
        },
    )
    rep = make_user("rep@example.com", display_name="Rita Rep", roles=("Rep",))
    other = make_user("other@example.com", display_name="Otto Other", roles=("Rep",))
    acme = make_record(rep, "account", {"name": "Acme"})
    mine = make_record(rep, "deal", {"name": "Mine", "account": str(acme)})
    theirs = make_record(
        other, "deal", {"name": "Secret Hidden Deal", "email": "taken@example.com"}
    )
    return {"rep": rep, "other": other, "acme": acme, "mine": mine, "theirs": theirs}


@pytest.fixture
def rep(world, login_as):
    return login_as(world["rep"])


# --- ids: one parser, with bounds ----------------------------------------------------------


@pytest.mark.parametrize("value", [*BAD_IDS, "", None, True, 2**63, -5, "9223372036854775808"])
def test_as_id_refuses_what_is_not_a_positive_64_bit_id(value):
    assert as_id(value) is None


@pytest.mark.parametrize(("value", "expected"), [("7", 7), (" 12 ", 12), (2**63 - 1, 2**63 - 1)])
def test_as_id_reads_ids(value, expected):
    assert as_id(value) == expected


def test_parse_id_refuses_with_a_message_for_people():
    with pytest.raises(ValidationFailed) as caught:
        parse_id(HUGE, what="list view", field="view")
    assert caught.value.status == 400
    assert "list view" in caught.value.message
    assert caught.value.errors["view"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    "path",
    [
        "/r/deal/{id}",
        "/r/deal/{id}/edit",
        "/r/deal/{id}/sharing",
        "/r/deal/{id}/access",
        "/r/deal/{id}/field/name",
        "/r/deal/{id}/field/name/edit",
        "/r/account/{id}/related/deal/account",
    ],
)
def test_an_id_out_of_range_in_a_url_is_not_a_page(rep, bad, path):
    assert rep.get(path.format(id=bad)).status_code == 404


@pytest.mark.parametrize("bad", [HUGE, TOO_BIG, "-1"])
def test_admin_pages_answer_404_for_ids_out_of_range(world, admin, login_as, bad):
    client = login_as(admin)
    for path in (
        "/admin/access/users/{id}",
        "/admin/access/roles/{id}",
        "/admin/access/departments/{id}",
        "/designer/entities/deal/views/{id}/edit",
    ):
        assert client.get(path.format(id=bad)).status_code == 404, path


@pytest.mark.parametrize("bad", [HUGE, TOO_BIG, "-1", "abc"])
@pytest.mark.parametrize("route", ["/r/deal/", "/r/deal/count", "/r/deal/export.csv"])
def test_a_view_id_out_of_range_is_refused(rep, bad, route):
    r = rep.get(f"{route}?view={bad}")
    assert r.status_code == 400
    assert "list view reference is not valid" in r.get_data(as_text=True)


def test_validate_with_a_record_id_out_of_range_is_refused(rep):
    r = rep.hx_post(f"/r/deal/validate/name?record={HUGE}", {"name": "x"})
    assert r.status_code == 400


def test_bulk_picks_and_owner_ids_out_of_range_are_refused(world, rep):
    before = stored("deal", world["mine"])
    for data in (
        {"pick": f"{HUGE}:1", "field": "name", "value": "x"},
        {"pick": f"{world['mine']}:{HUGE}", "field": "name", "value": "x"},
    ):
        assert rep.hx_post("/r/deal/bulk/edit", data).status_code == 400
    r = rep.hx_post("/r/deal/bulk/assign", {"pick": f"{world['mine']}:1", "owner_id": HUGE})
    assert r.status_code in (400, 403)
    assert stored("deal", world["mine"]) == before


def test_share_targets_and_owner_ids_out_of_range_are_refused(world, rep):
    mine = world["mine"]
    before = stored("deal", mine)
    for target in (f"user:{HUGE}", f"department:{TOO_BIG}", HUGE):
        r = rep.hx_post(f"/r/deal/{mine}/sharing", {"target": target, "access": "read"})
        assert r.status_code in (400, 403), target
    r = rep.hx_post(f"/r/deal/{mine}/owner", {"owner_id": HUGE, "version": "1"})
    assert r.status_code in (400, 403)
    assert stored("deal", mine) == before


@pytest.mark.parametrize("bad", [TOO_BIG, HUGE, "-3"])
def test_a_lookup_value_out_of_range_is_refused_on_create_and_inline_save(world, rep, bad):
    r = rep.submit("/r/deal/new", {"name": "New", "account": bad})
    assert r.status_code == 400
    assert len(listing_ids(world["rep"])) == 1
    mine = world["mine"]
    before = stored("deal", mine)
    r = rep.hx_post(
        f"/r/deal/{mine}/field/account", {"account": bad, "version": str(before["version"])}
    )
    assert r.status_code == 400
    assert stored("deal", mine) == before


def listing_ids(user) -> list[int]:
    spec = specs.current().entity("deal")
    view = listing.views.default_view("deal", user.id)
    page = listing.list_page(user, spec, listing.parse_request(user, spec, {}, view))
    return [row["id"] for row in page.rows]


# --- NUL characters ------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["%00", "abc%00def"])
@pytest.mark.parametrize(
    "route", ["/r/deal/", "/r/deal/count", "/r/deal/export.csv", "/r/account/lookup"]
)
def test_a_nul_character_in_a_search_is_refused(rep, q, route):
    r = rep.get(f"{route}?q={q}")
    assert r.status_code == 400
    assert "NUL character" in r.get_data(as_text=True)


def test_a_nul_character_in_a_form_changes_nothing(world, rep):
    r = rep.submit("/r/deal/new", {"name": "a\x00b"})
    assert r.status_code == 400
    assert len(listing_ids(world["rep"])) == 1


# --- page cursors --------------------------------------------------------------------------


def cursor(values) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED = [
    "!!!notbase64",
    cursor({"a": 1}),
    cursor([1]),
    cursor(["x", 1]),  # text where a timestamp is
    cursor([True, True]),
    cursor([{"t": "2024-01-01T00:00:00"}, 2**63]),
    cursor([{"t": "2024-01-01T00:00:00"}, True]),
    cursor([{"t": "2024-01-01T00:00:00"}, "1"]),
    cursor([{"d": "abc"}, 1]),
    cursor([{"zz": 1}, 1]),
    cursor([[1], 1]),
    cursor([None, 1]),
]


@pytest.mark.parametrize("after", FORGED)
def test_a_forged_page_cursor_is_refused(rep, after):
    r = rep.get(f"/r/deal/?after={after}")
    assert r.status_code == 400
    assert "page link is no longer valid" in r.get_data(as_text=True)


@pytest.mark.parametrize(
    ("sort", "after"),
    [
        ("name", cursor([5, 1])),
        ("name", cursor(["\u0000", 1])),
        ("name", cursor(["\ud800", 1])),
        ("amount", cursor(["x", 1])),
        ("amount", cursor([2**64, 1])),
        ("amount", cursor([True, 1])),
        ("amount", cursor([{"d": "NaN"}, 1])),
        ("flag", cursor([1, 1])),
    ],
)
def test_a_cursor_of_the_wrong_type_for_the_sort_column_is_refused(rep, sort, after):
    r = rep.get(f"/r/deal/?sort={sort}&after={after}")
    assert r.status_code == 400
    assert "page link is no longer valid" in r.get_data(as_text=True)


def test_real_cursors_still_page(world, rep):
    for i in range(3):
        make_record(world["rep"], "deal", {"name": f"D{i}", "amount": str(i), "flag": "yes"})
    for sort in ("name", "-amount", "flag", "updated_at"):
        r = rep.get(f"/r/deal/?sort={sort}&size=1")
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        start = html.index("after=") + len("after=")
        token = html[start:].split("&")[0].split('"')[0]
        assert rep.get(f"/r/deal/?sort={sort}&size=1&after={token}").status_code == 200


# --- yes/no -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("posted", "expected"),
    [("y", True), ("yes", True), ("on", True), ("0", False), ("false", False), ("no", False),
     ("off", False), (None, False)],
)  # fmt: skip
def test_a_yes_no_field_reads_what_is_posted(world, rep, posted, expected):
    data = {"name": "Flagged"} if posted is None else {"name": "Flagged", "flag": posted}
    r = rep.submit("/r/deal/new", data)
    assert r.status_code in (302, 303), r.get_data(as_text=True)
    new = max(listing_ids(world["rep"]))
    assert stored("deal", new)["flag"] is expected


def test_a_yes_no_field_refuses_garbage(world, rep):
    r = rep.submit("/r/deal/new", {"name": "Flagged", "flag": "maybe"})
    assert r.status_code == 400
    assert "yes or no" in r.get_data(as_text=True)
    assert len(listing_ids(world["rep"])) == 1


# --- the note form without JavaScript ----------------------------------------------------


def test_a_note_posted_without_javascript_redirects_to_the_record(world, rep):
    mine = world["mine"]
    r = rep.submit(f"/r/deal/{mine}/notes", {"body": "Called them"})
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/r/deal/{mine}")
    page = rep.get(r.headers["Location"]).get_data(as_text=True)
    assert page.count("Called them") == 1
    assert "Note added." in page


def test_an_empty_note_without_javascript_says_why_on_the_record_page(world, rep):
    mine = world["mine"]
    r = rep.submit(f"/r/deal/{mine}/notes", {"body": "  "})
    assert r.status_code == 303
    page = rep.get(r.headers["Location"])
    assert page.status_code == 200


def test_a_note_posted_with_htmx_still_answers_with_the_timeline(world, rep):
    mine = world["mine"]
    r = rep.hx_post(f"/r/deal/{mine}/notes", {"body": "Hello"})
    assert r.status_code == 200
    assert "<html" not in r.get_data(as_text=True)
    assert "Hello" in r.get_data(as_text=True)


# --- exports ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "title"),
    [
        ("Deals/Wins", "Deals Wins"),
        ("A\\B*C?D:E[F]", "A B C D E F"),
        ("x" * 40, "x" * 31),
        ("[]", "Records"),
        ("'Quoted'", "Quoted"),
    ],
)
def test_sheet_titles_are_made_valid(label, title):
    assert sheet_title(label) == title


def test_xlsx_export_of_an_entity_with_a_slash_in_its_plural(app, admin, login_as):
    make_entity(
        "shipment", "Shipment", [text_field("name", "Name")], plural="Orders/Returns: [all]?"
    )
    make_record(admin, "shipment", {"name": "One"})
    r = login_as(admin).get("/r/shipment/export.xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.data))
    assert book.sheetnames == ["Orders Returns all"]


@pytest.mark.parametrize(
    "value", ["\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", "=1", "\t=1", "\r=1"]
)
def test_full_width_formula_triggers_are_escaped(value):
    assert safe_cell(value) == "'" + value


def test_csv_export_escapes_a_full_width_equals(world, rep):
    make_record(world["rep"], "deal", {"name": "\uff1dHYPERLINK(1)"})
    body = rep.get("/r/deal/export.csv?sort=name").get_data(as_text=True)
    assert "'\uff1dHYPERLINK(1)" in body


# --- validate-on-blur unique check --------------------------------------------------------


def test_the_unique_check_says_only_that_the_value_is_taken(world, rep):
    r = rep.hx_post("/r/deal/validate/email", {"email": "taken@example.com"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "already has this Email" in html
    theirs = str(world["theirs"])
    assert "Secret Hidden Deal" not in html
    assert "Otto" not in html
    assert f"/r/deal/{theirs}" not in html
    assert "href" not in html

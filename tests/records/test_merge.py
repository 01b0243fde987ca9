"""Edit conflicts as a three-way merge by field (issue 12, item 1).

Two people edit one record: the second one's save, through the edit form as a browser posts
it (with its CSRF token and the fingerprints the form carried), merges by field. For every
field type, each combination: a field nobody changed, only they changed, only you changed,
both changed to the same value, both changed to different values (the only conflict, chosen
on the conflict page one field at a time).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from crm.metadata import specs, types
from crm.records import service as records
from tests.factories import (
    field,
    lookup,
    make_entity,
    make_record,
    make_user,
    multi_picklist,
    picklist,
    stored,
    text,
)


class FormReader(HTMLParser):
    """What a browser posts for the form ``form_id``: inputs (ticked boxes and chosen
    radios only), selected options, textareas."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.select: str | None = None
        self.textarea: str | None = None
        self.pairs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and name != "q":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind != "submit":
                self.pairs.append((name, a.get("value") or ("y" if kind == "checkbox" else "")))
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and "selected" in a:
            self.pairs.append((self.select, a.get("value", "")))
        elif tag == "textarea":
            self.textarea = name
            self.pairs.append((name, ""))

    def handle_data(self, data):
        if self.inside and self.textarea:
            self.pairs[-1] = (self.textarea, self.pairs[-1][1] + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_of(html: bytes, form_id: str = "record-form") -> dict[str, list[str]]:
    reader = FormReader(form_id)
    reader.feed(html.decode())
    out: dict[str, list[str]] = {}
    for name, value in reader.pairs:
        out.setdefault(name, []).append(value)
    assert out, f"no form #{form_id}"
    return out


def with_value(form: dict, key: str, value) -> dict:
    """``form`` with field ``key`` set as a person would (None: box unticked / none chosen)."""
    out = dict(form)
    if value is None or value is False:
        out.pop(key, None)
    elif value is True:
        out[key] = ["y"]
    else:
        out[key] = value if isinstance(value, list) else [str(value)]
    return out


@pytest.fixture
def model(app, admin, staff):
    make_entity("club", "Club", [text("name", "Name", required=True)], name_field="name")
    make_entity(
        "member",
        "Member",
        [
            text("name", "Name", required=True),
            text("phone", "Phone"),
            text("note", "Note"),
            field("seats", "integer", "Seats"),
            field("fee", "currency", "Annual fee", options={"currency": "EUR"}),
            field("joined", "date", "Joined"),
            picklist("tier", "Tier", [("bronze", "Bronze"), ("silver", "Silver"),
                                      ("gold", "Gold")]),
            multi_picklist("interests", "Interests", [("music", "Music"), ("sport", "Sport"),
                                                      ("art", "Art")]),
            lookup("club", "Club", "club"),
            field("active", "boolean", "Active"),
            field("manager", "user", "Manager"),
        ],
        name_field="name",
    )  # fmt: skip
    clubs = {n: make_record(admin, "club", {"name": n}) for n in ("Chess", "Rowing", "Opera")}
    other = make_user("lea@example.com", display_name="Lea Lund")
    return {"clubs": clubs, "lea": other.id, "staff": staff.id, "admin": admin.id}


def cases(model) -> dict[str, tuple]:
    """Per field: (initial, theirs, a different one of yours, (shown initial, theirs, yours))
    as form values; yes/no has only two values, so no "both changed differently"."""
    c, u = model["clubs"], model
    return {
        "phone": ("111", "222", "333", ("111", "222", "333")),
        "seats": ("5", "7", "9", ("5", "7", "9")),
        "fee": ("50", "60.00", "70", ("€50.00", "€60.00", "€70.00")),
        "joined": ("2026-01-05", "2026-02-01", "2026-03-01", None),
        "tier": ("silver", "gold", "bronze", ("Silver", "Gold", "Bronze")),
        "interests": (["music"], ["music", "sport"], ["art"], ("Music", "Sport", "Art")),
        "club": (c["Chess"], c["Rowing"], c["Opera"], ("Chess", "Rowing", "Opera")),
        "active": (True, False, None, None),
        "manager": (u["staff"], u["admin"], u["lea"], ("Sam Staff", "Ada Admin", "Lea Lund")),
    }


def spec():
    return specs.current().entity("member")


def parsed(key: str, value):
    f = spec().field(key)
    raw = {True: "true", False: "false"}.get(value, value) if isinstance(value, bool) else value
    return types.get(f.type).parse(f, str(raw) if isinstance(raw, int) else raw)


def new_member(staff, key: str, initial) -> int:
    raw = "true" if initial is True else initial
    return make_record(staff, "member", {"name": "Mia", key: str(raw) if isinstance(raw, int)
                                         else raw})  # fmt: skip


def theirs_save(admin, record_id: int, values: dict) -> None:
    raw = {k: ("true" if v is True else "false" if v is False else v) for k, v in values.items()}
    raw = {
        k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in raw.items()
    }
    records.update_record(admin, spec(), record_id, raw, expected_version=1)


def conflict_rows(html: str) -> list[list[str]]:
    rows = re.findall(r'<tr class="differs">(.*?)</tr>', html, re.S)
    return [
        [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
         for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in rows
    ]  # fmt: skip


FIELDS = ["phone", "seats", "fee", "joined", "tier", "interests", "club", "active", "manager"]


@pytest.mark.parametrize("key", FIELDS)
def test_every_combination_merges_by_field(app, login_as, staff, admin, model, key):
    initial, theirs, mine, shown = cases(model)[key]
    me = login_as(staff)

    def opened(record_id):
        page = me.get(f"/r/member/{record_id}/edit")
        assert page.status_code == 200
        form = form_of(page.data)
        assert form["version"] == ["1"] and f"seen.{key}" in form
        return form

    # Nobody changed it (they changed another field): it stays, theirs stays, no conflict.
    a = new_member(staff, key, initial)
    form = opened(a)
    theirs_save(admin, a, {"note": "theirs"})
    r = me.post(f"/r/member/{a}/edit", data=form)
    assert r.status_code == 303, r.data[:400]
    row = stored("member", a)
    assert row[key] == parsed(key, initial) and row["note"] == "theirs"

    # Only they changed it: theirs stays (the lost update of issue 12 is gone).
    b = new_member(staff, key, initial)
    form = opened(b)
    theirs_save(admin, b, {key: theirs})
    r = me.post(f"/r/member/{b}/edit", data=with_value(form, "phone", "555") if key != "phone"
                else with_value(form, "note", "mine"), follow_redirects=True)  # fmt: skip
    assert r.status_code == 200 and "Saved, merged with Ada Admin’s changes." in r.data.decode()
    row = stored("member", b)
    assert row[key] == parsed(key, theirs) and row["version"] == 3

    # Only you changed it: yours goes on top of their other change.
    mine_value = theirs if mine is None else mine
    c = new_member(staff, key, initial)
    form = opened(c)
    theirs_save(admin, c, {"note": "theirs"})
    r = me.post(f"/r/member/{c}/edit", data=with_value(form, key, mine_value))
    assert r.status_code == 303
    row = stored("member", c)
    assert row[key] == parsed(key, mine_value) and row["note"] == "theirs"

    # Both changed it to the same value: no conflict.
    d = new_member(staff, key, initial)
    form = opened(d)
    theirs_save(admin, d, {key: theirs, "note": "theirs"})
    r = me.post(f"/r/member/{d}/edit", data=with_value(form, key, theirs))
    assert r.status_code == 303
    row = stored("member", d)
    assert row[key] == parsed(key, theirs) and row["note"] == "theirs"

    if mine is None:  # yes/no: two values only, never changed differently by both
        return
    # Both changed it differently: the one conflict, shown alone and formatted alike.
    for choice in ("theirs", "mine"):
        e = new_member(staff, key, initial)
        form = opened(e)
        theirs_save(admin, e, {key: theirs, "note": "theirs"})
        mine_form = with_value(with_value(form, key, mine), "phone" if key != "phone" else
                               "seats", "444")  # fmt: skip
        r = me.post(f"/r/member/{e}/edit", data=mine_form)
        html = r.data.decode()
        assert r.status_code == 409
        assert "Ada Admin saved this member after you opened it." in html
        [row_cells] = conflict_rows(html)  # only this field: nothing else "differs"
        label = spec().field(key).label
        assert row_cells[0] == label
        if shown is None:
            f = spec().field(key)
            shown = tuple(
                types.get(f.type).format(f, parsed(key, v)) for v in (initial, theirs, mine)
            )
        for cell, text_ in zip(row_cells[1:4], shown, strict=True):
            assert text_ in cell, (cell, text_)
        if key == "interests":
            assert "Sport" not in row_cells[1] and "Art" not in row_cells[2]
        assert stored("member", e)[key] == parsed(key, theirs)  # nothing saved yet
        resolve = form_of(r.data, "conflict-form")
        resolve[f"keep.{key}"] = [choice]
        done = me.post(f"/r/member/{e}/edit", data=resolve)
        assert done.status_code == 303, done.data[:600]
        row = stored("member", e)
        assert row[key] == parsed(key, theirs if choice == "theirs" else mine)
        assert row["note"] == "theirs"  # their other change stays
        other = "phone" if key != "phone" else "seats"
        assert str(row[other]) == "444"  # your other change is saved too


def test_the_issue_scenario(app, login_as, staff, admin, model):
    """The first changes Phone and Tier, the second Phone and Interests: only Phone is
    asked about; Tier keeps the first person's value; the annual fee that nobody changed
    is never shown as different."""
    m = make_record(staff, "member", {"name": "Mia", "phone": "1", "tier": "silver",
                                      "interests": ["music"], "fee": "50"})  # fmt: skip
    first, second = login_as(admin), login_as(staff)
    one, two = (
        form_of(first.get(f"/r/member/{m}/edit").data),
        form_of(second.get(f"/r/member/{m}/edit").data),
    )
    assert (
        first.post(
            f"/r/member/{m}/edit", data={**one, "phone": ["2"], "tier": ["gold"]}
        ).status_code
        == 303
    )
    r = second.post(f"/r/member/{m}/edit", data={**two, "phone": ["3"], "interests": ["sport"]})
    html = r.data.decode()
    assert r.status_code == 409
    assert [cells[0] for cells in conflict_rows(html)] == ["Phone"]
    table = html[html.index("<table") : html.index("</table>")]
    assert "Annual fee" not in table and "50.00" not in table and "Tier" not in table
    resolve = form_of(r.data, "conflict-form")
    resolve["keep.phone"] = ["mine"]
    assert second.post(f"/r/member/{m}/edit", data=resolve).status_code == 303
    row = stored("member", m)
    assert (row["phone"], row["tier"], row["interests"]) == ("3", "gold", ["sport"])
    assert row["fee"] == Decimal("50.00")


def test_a_choice_made_on_an_old_conflict_page_merges_again(app, login_as, staff, admin, model):
    """They saved once more while the conflict page was open: choosing "mine" is checked
    against their newest value, so it is a conflict again (showing it), not an overwrite."""
    m = new_member(staff, "phone", "1")
    me = login_as(staff)
    form = form_of(me.get(f"/r/member/{m}/edit").data)
    theirs_save(admin, m, {"phone": "2"})
    r = me.post(f"/r/member/{m}/edit", data=with_value(form, "phone", "3"))
    assert r.status_code == 409
    resolve = form_of(r.data, "conflict-form")
    records.update_record(admin, spec(), m, {"phone": "4"}, expected_version=2)
    resolve["keep.phone"] = ["mine"]
    again = me.post(f"/r/member/{m}/edit", data=resolve)
    assert again.status_code == 409 and stored("member", m)["phone"] == "4"
    [cells] = conflict_rows(again.data.decode())
    assert cells[2] == "4" and cells[3] == "3"
    final = form_of(again.data, "conflict-form")
    final["keep.phone"] = ["mine"]
    assert me.post(f"/r/member/{m}/edit", data=final).status_code == 303
    assert stored("member", m)["phone"] == "3"


@pytest.mark.parametrize(
    "forge",
    [
        lambda s, m, v: "0" * 32,
        lambda s, m, v: hashlib.sha256(f'"{v}"'.encode()).hexdigest()[:32],  # unkeyed
        lambda s, m, v: records.fingerprint(s, m + 1, "phone", v),  # another record's
        lambda s, m, v: records.fingerprint(s, m, "note", v),  # another field's
    ],
)
def test_a_forged_fingerprint_cannot_overwrite_an_unseen_change(
    app, login_as, staff, admin, model, forge
):
    m = new_member(staff, "phone", "1")
    me = login_as(staff)
    form = form_of(me.get(f"/r/member/{m}/edit").data)
    theirs_save(admin, m, {"phone": "2"})  # a change this user has not seen
    forged = {**with_value(form, "phone", "3"), "seen.phone": [forge(spec(), m, "2")]}
    r = me.post(f"/r/member/{m}/edit", data=forged)
    assert r.status_code == 409 and stored("member", m)["phone"] == "2"
    resolve = form_of(r.data, "conflict-form")
    resolve["keep.phone"] = ["mine"]
    resolve["now.phone"] = [forge(spec(), m, "2")]  # nor on the conflict page
    assert me.post(f"/r/member/{m}/edit", data=resolve).status_code == 409
    assert stored("member", m)["phone"] == "2"


def test_the_edit_form_still_needs_its_csrf_token(app, login_as, staff, model):
    m = new_member(staff, "phone", "1")
    me = login_as(staff)
    form = form_of(me.get(f"/r/member/{m}/edit").data)
    form.pop("csrf_token")
    assert me.post(f"/r/member/{m}/edit", data=with_value(form, "phone", "9")).status_code == 400
    assert stored("member", m)["phone"] == "1"


def test_a_bad_value_keeps_the_fingerprints_the_form_was_opened_with(
    app, login_as, staff, admin, model
):
    m = new_member(staff, "phone", "1")
    me = login_as(staff)
    form = form_of(me.get(f"/r/member/{m}/edit").data)
    theirs_save(admin, m, {"phone": "2"})
    r = me.post(f"/r/member/{m}/edit", data=with_value(form, "seats", "many"))
    assert r.status_code == 400
    again = form_of(r.data)
    assert again["seen.phone"] == form["seen.phone"] and again["version"] == ["1"]
    fixed = me.post(f"/r/member/{m}/edit", data=with_value(again, "seats", "3"))
    assert fixed.status_code == 303
    row = stored("member", m)
    assert (row["phone"], row["seats"]) == ("2", 3)  # their phone was not reverted


def test_merge_update_for_api_callers(app, staff, admin, model):
    """The service function an API calls: base fingerprints as read, values to set."""
    m = new_member(staff, "phone", "1")
    row = records.get(staff, spec(), m)
    base = records.fingerprints(spec(), row, ["phone", "seats", "joined"])
    theirs_save(admin, m, {"phone": "2"})
    saved = records.merge_update(
        staff, spec(), m, base, {"phone": "1", "seats": "4", "joined": date(2026, 5, 1)},
        expected_version=1,
    )  # fmt: skip
    assert (saved.version, saved.written, saved.merged, saved.by) == (3, ("seats", "joined"),
                                                                      True, admin.id)  # fmt: skip
    with pytest.raises(records.RecordConflict) as info:
        records.merge_update(staff, spec(), m, base, {"phone": "9"}, expected_version=1)
    assert info.value.fields == ("phone",)
    row = stored("member", m)
    assert (row["phone"], row["seats"], row["joined"]) == ("2", 4, date(2026, 5, 1))
    # The record as the save left it comes back with it (their phone, my values, the
    # version), so a caller does not read it again.
    keys = ("phone", "seats", "joined", "version", "updated_by")
    assert {k: saved.row[k] for k in keys} == {k: row[k] for k in keys}


# Bulk edit: a record saved by someone else since the list was loaded is skipped only when
# they changed the value being set (or it cannot be known); else the value goes on top.


def bulk_set(client, picked: list[tuple[int, int]], key: str, value: str):
    return client.hx_post(
        "/r/member/bulk/edit",
        {"pick": [f"{i}:{v}" for i, v in picked], "field": key, "value_for": key, key: value},
    )


def test_bulk_edit_goes_on_top_of_changes_to_other_fields(app, login_as, staff, admin, model):
    a, b, c = (new_member(staff, "phone", p) for p in ("1", "2", "3"))
    theirs_save(admin, a, {"phone": "10"})  # another field than the one set
    theirs_save(admin, b, {"tier": "gold"})  # the field set: their value stays
    r = bulk_set(login_as(staff), [(a, 1), (b, 1), (c, 1)], "tier", "silver")
    body = r.data.decode()
    assert r.status_code == 200 and "2 Members updated." in body and "1 skipped" in body
    assert (stored("member", a)["phone"], stored("member", a)["tier"]) == ("10", "silver")
    assert stored("member", a)["version"] == 3
    assert stored("member", b)["tier"] == "gold" and stored("member", b)["version"] == 2
    assert stored("member", c)["tier"] == "silver"


def test_bulk_edit_skips_what_the_history_cannot_account_for(app, login_as, staff, admin, model):
    from sqlalchemy import update

    from crm.extensions import db
    from crm.records.query import table_of

    a, b = new_member(staff, "phone", "1"), new_member(staff, "phone", "2")
    # A version made outside the record service (no history entry says what it changed).
    db.session.execute(
        update(table_of(spec())).where(table_of(spec()).c.id == a).values(version=2, tier="gold")
    )
    db.session.commit()
    me = login_as(staff)
    r = bulk_set(me, [(a, 1), (b, 5)], "seats", "4")  # b: a version it never had
    assert r.status_code == 200 and "2 skipped because someone changed them" in r.data.decode()
    assert stored("member", a)["seats"] is None and stored("member", b)["seats"] is None


def test_bulk_edit_after_several_saves_by_others(app, login_as, staff, admin, model):
    a = new_member(staff, "phone", "1")
    records.update_record(admin, spec(), a, {"phone": "2"}, expected_version=1)
    records.update_record(admin, spec(), a, {"note": "x"}, expected_version=2)
    records.update_record(admin, spec(), a, {"phone": "3"}, expected_version=3)
    me = login_as(staff)
    assert "1 Member updated." in bulk_set(me, [(a, 1)], "seats", "4").data.decode()
    assert stored("member", a)["seats"] == 4
    b = new_member(staff, "phone", "1")
    records.update_record(admin, spec(), b, {"seats": "2"}, expected_version=1)
    records.update_record(admin, spec(), b, {"note": "x"}, expected_version=2)
    assert "1 skipped" in bulk_set(me, [(b, 1)], "seats", "4").data.decode()
    assert stored("member", b)["seats"] == 2


def test_a_save_landing_between_read_and_write_is_merged_again(
    app, staff, admin, model, monkeypatch
):
    """Their save commits after this save read the record and before it wrote: the write
    finds the version moved, reads again and merges on top (their note stays)."""
    m = new_member(staff, "phone", "1")
    before = dict(records.get(staff, spec(), m))
    base = records.fingerprints(spec(), before, ["phone"])
    theirs_save(admin, m, {"note": "theirs"})
    real_get, calls = records.get, []

    def get_read_before_their_save(*args, **kwargs):
        calls.append(1)
        return before if len(calls) == 1 else real_get(*args, **kwargs)

    monkeypatch.setattr(records, "get", get_read_before_their_save)
    saved = records.merge_update(staff, spec(), m, base, {"phone": "9"}, expected_version=1)
    assert len(calls) == 2 and saved.merged and saved.version == 3
    row = stored("member", m)
    assert (row["phone"], row["note"], row["version"]) == ("9", "theirs", 3)


def test_choosing_no_interests_on_the_edit_form_clears_them(app, login_as, staff, model):
    """A multi-select with nothing chosen sends nothing, as an unticked box: the form
    showed it, so that means none (before, the old choices stayed)."""
    m = new_member(staff, "interests", ["music", "art"])
    me = login_as(staff)
    form = form_of(me.get(f"/r/member/{m}/edit").data)
    assert form["interests"] == ["music", "art"]
    cleared = me.post(f"/r/member/{m}/edit", data=with_value(form, "interests", None))
    assert cleared.status_code == 303
    assert stored("member", m)["interests"] is None

"""Merging records: what moves to the master, what the undo puts back, and the refusals
(rights, stale versions, bad sets of records)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from crm.access.models import RecordShare
from crm.activities import service as activities
from crm.activities.models import Activity, Task
from crm.dedupe import merge as merging
from crm.dedupe import rules
from crm.dedupe.models import DedupeKey, MergedRecord, RecordMerge
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.records.models import RecordHistory, RecordNote
from tests.dedupe.conftest import save_rules
from tests.factories import make_entity, make_record, make_share, stored
from tests.factories.schema import lookup, text


def spec(key):
    return specs.current().entity(key)


@pytest.fixture
def world(crm):
    make_entity(
        "deal", fields=[text("title", required=True), lookup("contact", None, "contact")],
        name_field="title",
    )  # fmt: skip
    mia, olga, bob = crm["mia"], crm["olga"], crm["bob"]
    a = make_record(mia, "contact", {"full_name": "Ann Lee", "email": "ann@acme.com"})
    b = make_record(mia, "contact", {"full_name": "Ann  Lee", "phone": "+1 415 555 0101"})
    c = make_record(mia, "contact", {"full_name": "Anne Lee", "email": "anne@acme.com"})
    save_rules(*rules.person_rules("contact"))
    deal = make_record(mia, "deal", {"title": "Big deal", "contact": str(b)})
    records.add_note(mia, spec("contact"), b, "Met Ann at the fair")
    activities.log_activity(mia, spec("contact"), b, kind="call", subject="First call")
    activities.add_task(mia, spec("contact"), c, subject="Send offer", due_date=date(2030, 1, 1))
    make_share(mia, "contact", b, to_user=olga, access="edit")
    make_share(mia, "contact", a, to_user=bob, access="read")
    make_share(mia, "contact", c, to_user=bob, access="edit")  # bob has one on A already
    return {"a": a, "b": b, "c": c, "deal": deal, **crm}


def _version(record_id):
    return stored("contact", record_id)["version"]


def _state(world):
    """Everything a merge moves, as it is stored."""
    db.session.rollback()

    def rows(model):
        return sorted(
            db.session.execute(
                select(model.id, model.record_id).where(model.entity_key == "contact")
            ).all()
        )

    return {
        "notes": rows(RecordNote),
        "activities": rows(Activity),
        "tasks": rows(Task),
        "shares": sorted(
            db.session.execute(
                select(
                    RecordShare.id, RecordShare.record_id, RecordShare.user_id, RecordShare.access
                )
            ).all()
        ),
        "history": sorted(
            db.session.execute(
                select(RecordHistory.id, RecordHistory.record_id, RecordHistory.version).where(
                    RecordHistory.entity_key == "contact"
                )
            ).all()
        ),
        "deal": stored("deal", world["deal"])["contact"],
        "a": dict(stored("contact", world["a"])),
        "b": dict(stored("contact", world["b"])),
        "c": dict(stored("contact", world["c"])),
    }


def _merge(world, user=None, picks=None):
    a, b, c = world["a"], world["b"], world["c"]
    versions = {a: _version(a), b: _version(b), c: _version(c)}
    return merging.merge(user or world["mia"], spec("contact"), a, versions, picks or {})


def test_merge_moves_everything_to_the_master_and_bins_the_others(world):
    a, b, c, mia = world["a"], world["b"], world["c"], world["mia"]
    history_b = db.session.scalar(
        select(func.count()).where(RecordHistory.entity_key == "contact",
                                   RecordHistory.record_id == b)
    )  # fmt: skip
    merge_id = _merge(world, picks={"phone": b})
    after = _state(world)
    assert after["a"]["phone"] == "+1 415 555 0101"  # taken from B
    assert after["a"]["email"] == "ann@acme.com"  # the master's value kept
    assert after["b"]["deleted_at"] is not None and after["c"]["deleted_at"] is not None
    assert after["deal"] == a  # the lookup now points at the master
    assert {r for _i, r in after["notes"]} == {a}
    assert {r for _i, r in after["activities"]} == {a}
    assert {r for _i, r in after["tasks"]} == {a}
    shares = {(r, u, acc) for _i, r, u, acc in after["shares"]}
    assert (a, world["olga"].id, "edit") in shares  # B's share moved
    assert (a, world["bob"].id, "read") in shares  # A's own kept; C's stays on C
    assert (c, world["bob"].id, "edit") in shares
    moved_history = db.session.scalar(
        select(func.count()).where(RecordHistory.entity_key == "contact",
                                   RecordHistory.record_id == a, RecordHistory.version.is_(None))
    )  # fmt: skip
    assert moved_history >= history_b
    # the pointer to the master, and one merge entry on the master's timeline
    pointers = db.session.execute(select(MergedRecord.record_id, MergedRecord.master_id)).all()
    assert sorted(pointers) == sorted([(b, a), (c, a)])
    entries = records.timeline(mia, spec("contact"), a)
    merge_entries = [e for e in entries if e.kind == "merge"]
    assert len(merge_entries) == 1
    assert "Ann  Lee" in merge_entries[0].body and "Anne Lee" in merge_entries[0].body
    assert any(e.kind == "note" and "fair" in e.body for e in entries)
    assert any(e.kind == "activity" for e in entries)
    # the keys follow: the binned records have none
    keyed = set(db.session.scalars(select(DedupeKey.record_id).where(
        DedupeKey.entity_key == "contact")))  # fmt: skip
    assert b not in keyed and c not in keyed and a in keyed
    assert db.session.get(RecordMerge, merge_id).changes == {"phone": [None, "+1 415 555 0101"]}


def test_undo_restores_exactly_what_the_merge_changed(world):
    before = _state(world)
    merge_id = _merge(world, picks={"phone": world["b"], "full_name": world["c"]})
    master = merging.undo(world["mia"], spec("contact"), merge_id)
    assert master == world["a"]
    after = _state(world)
    spine = ("version", "updated_at", "updated_by")
    for key in ("a", "b", "c"):
        assert {k: v for k, v in after[key].items() if k not in spine} == {
            k: v for k, v in before[key].items() if k not in spine
        }, key
    for kind in ("notes", "activities", "tasks", "shares", "deal"):
        assert after[kind] == before[kind], kind
    old = {i: (r, v) for i, r, v in before["history"]}
    assert {i: (r, v) for i, r, v in after["history"] if i in old} == old
    assert db.session.scalar(select(func.count()).select_from(MergedRecord)) == 0
    kinds = [e.kind for e in records.timeline(world["mia"], spec("contact"), world["a"])]
    assert "unmerge" in kinds
    with pytest.raises(ValidationFailed):
        merging.undo(world["mia"], spec("contact"), merge_id)


def test_undo_is_refused_once_a_merged_record_left_the_bin(world):
    merge_id = _merge(world)
    records.restore(world["mia"], spec("contact"), world["b"])
    with pytest.raises(ValidationFailed, match="no longer in the recycle bin"):
        merging.undo(world["mia"], spec("contact"), merge_id)
    assert merging.merges_of(world["mia"], spec("contact")) == []


def test_undo_keeps_a_master_value_changed_since(world):
    merge_id = _merge(world, picks={"phone": world["b"]})
    a = world["a"]
    records.update_record(world["mia"], spec("contact"), a, {"phone": "+1 415 555 0199"},
                          expected_version=_version(a))  # fmt: skip
    merging.undo(world["mia"], spec("contact"), merge_id)
    assert stored("contact", a)["phone"] == "+1 415 555 0199"


def test_merge_refused_without_edit_right_on_one_or_delete_right_on_a_loser(world):
    olga, bob, mia = world["olga"], world["bob"], world["mia"]
    mine = make_record(olga, "contact", {"full_name": "Ann Lee"})
    before = _state(world)
    contact = spec("contact")
    # Olga may edit B (shared) and her own, but not delete B (reps have no delete right).
    versions = {mine: _version(mine), world["b"]: _version(world["b"])}
    with pytest.raises(Forbidden, match="may not delete"):
        merging.merge(olga, contact, mine, versions)
    # Bob reads A (shared read) but may not edit it.
    versions = {world["a"]: _version(world["a"]), world["c"]: _version(world["c"])}
    with pytest.raises(Forbidden, match="may not edit"):
        merging.merge(bob, contact, world["c"], versions)
    # A record one cannot see does not exist for them.
    versions = {mine: _version(mine), world["deal"]: 1}
    with pytest.raises(NotFound):
        merging.merge(olga, contact, mine, versions)
    assert _state(world) == before
    # A manager with the delete right merges.
    assert merging.merge(
        mia, contact, mine, {mine: _version(mine), world["b"]: _version(world["b"])}
    )


def test_a_stale_version_is_refused_and_nothing_is_done(world):
    a, b, c = world["a"], world["b"], world["c"]
    versions = {a: _version(a), b: _version(b), c: _version(c)}
    records.update_record(world["mia"], spec("contact"), c, {"full_name": "Anne Leigh"},
                          expected_version=versions[c])  # fmt: skip
    before = _state(world)
    with pytest.raises(Conflict, match="changed after you opened"):
        merging.merge(world["mia"], spec("contact"), a, versions, {"email": c})
    assert _state(world) == before
    assert db.session.scalar(select(func.count()).select_from(RecordMerge)) == 0


def test_bad_sets_of_records_are_refused(world):
    a, b, mia, contact = world["a"], world["b"], world["mia"], spec("contact")
    with pytest.raises(ValidationFailed, match="itself"):
        merging.candidates(mia, contact, [a, a])
    with pytest.raises(ValidationFailed):
        merging.merge(mia, contact, a, {a: _version(a)})
    with pytest.raises(ValidationFailed):  # the master outside the set
        merging.merge(mia, contact, world["c"], {a: _version(a), b: _version(b)})
    with pytest.raises(ValidationFailed):  # a pick from outside the set
        merging.merge(mia, contact, a, {a: _version(a), b: _version(b)}, {"email": world["c"]})
    with pytest.raises(ValidationFailed):  # not a field one may edit
        merging.merge(mia, contact, a, {a: _version(a), b: _version(b)}, {"version": b})
    records.delete(mia, contact, b)
    with pytest.raises(NotFound):  # a deleted record
        merging.merge(mia, contact, a, {a: _version(a), b: _version(b)})
    # a record of another entity: its id is no contact (or another contact's, not it)
    other = make_record(mia, "account", {"name": "Acme"})
    with pytest.raises(NotFound):
        merging.merge(mia, contact, a, {a: _version(a), other + 1000: 1})
    assert db.session.scalar(select(func.count()).select_from(RecordMerge)) == 0


def test_a_user_without_rights_sees_no_merge_to_undo(world):
    merge_id = _merge(world)
    assert [m["id"] for m in merging.merges_of(world["mia"], spec("contact"))] == [merge_id]
    assert merging.merges_of(world["olga"], spec("contact")) == []
    with pytest.raises(NotFound):
        merging.undo(world["olga"], spec("contact"), merge_id)
    with pytest.raises(NotFound):
        merging.undo(world["mia"], spec("contact"), 2**40)

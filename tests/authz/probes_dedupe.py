"""Probes of the duplicates page and of merging (crm/dedupe/views.py): the page and "Find
again" need the edit right on the entity; the merge page reading both records; a merge the
edit right on both and the delete right on the one merged away. An allowed merge is put
back (what it moved, then the world's rows) before the next probe."""

from __future__ import annotations

from sqlalchemy import delete, select

from tests.authz import oracle
from tests.authz.harness import DENIED, Run
from tests.authz.probes_lists import positions


def probe_duplicates(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "edit")
    r = run.get(f"/r/{entity}/duplicates")
    run.read_case("dedupe.duplicates", entity, "entity", allowed, r)


def probe_find_again(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "edit")
    r = run.post(f"/r/{entity}/duplicates/find")
    observed = True if r.status_code in (302, 303) else False if r.status_code in DENIED else None
    run.case("dedupe.find_again", entity, "entity", allowed, observed, f"(HTTP {r.status_code})")


def probe_merge_page(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    own = w.record(entity, ("own", a))
    for position, rec in positions(run, entity):
        if rec.id == own.id:
            continue
        expected = (
            oracle.may_entity(a, entity, "edit")
            and oracle.may(a, "read", own.rec)
            and oracle.may(a, "read", rec.rec)
        )
        r = run.get(f"/r/{entity}/merge?ids={own.id}&ids={rec.id}")
        run.read_case("dedupe.merge_page", entity, position, expected, r)


def _put_back() -> None:
    from crm.dedupe.merge import _move_back
    from crm.dedupe.models import MergedRecord, RecordMerge
    from crm.extensions import db
    from crm.metadata import specs

    for log in db.session.scalars(select(RecordMerge)).all():
        _move_back(specs.current().entity(log.entity_key), log.master_id, log.moved or {})
    db.session.execute(delete(MergedRecord))
    db.session.execute(delete(RecordMerge))
    db.session.commit()


def probe_merge(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    own = w.record(entity, ("own", a))
    for position, rec in positions(run, entity):
        if rec.id == own.id:
            continue
        expected = (
            oracle.may_entity(a, entity, "edit")
            and oracle.may(a, "edit", own.rec)
            and oracle.may(a, "edit", rec.rec)
            and oracle.may(a, "delete", rec.rec)
        )
        form = {
            "ids": [str(own.id), str(rec.id)],
            "master": str(own.id),
            f"version_{own.id}": str(w.snapshot_value(entity, own.id, "version")),
            f"version_{rec.id}": str(w.snapshot_value(entity, rec.id, "version")),
        }
        r = run.post(f"/r/{entity}/merge", form)
        _put_back()
        run.write_case(
            "dedupe.merge_submit",
            rec,
            position,
            expected,
            r,
            lambda row: row is not None and row["deleted_at"] is not None,
        )


def probe_merge_undo(run: Run, entity: str) -> None:
    """No merge exists in the world: an undo finds none (404), or 403 without the right."""
    r = run.post(f"/r/{entity}/merges/999/undo")
    observed = False if r.status_code in DENIED else None
    run.case("dedupe.merge_undo", entity, "entity", False, observed, f"(HTTP {r.status_code})")

"""Merging duplicate records into one, and undoing a merge.

``merge`` keeps one record (the master), takes chosen field values from the others, moves
what hangs on the others to the master (lookups of any entity pointing at them, notes,
activities, tasks, history entries, shares, pool claims), puts the others in the recycle
bin with a pointer to the master (``MergedRecord``) and writes one merge entry on the
master's timeline. Everything it changed is kept in a ``RecordMerge`` row, so ``undo``
puts back exactly that while the merged records are still in the bin. Both run in one
transaction, through the access policy (edit right on every record, delete right on the
merged ones) and with each record's optimistic lock (``version``). The blocking keys
follow through the record service's history hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, select, update

from crm.access import policy
from crm.access.models import RecordShare
from crm.activities.models import Activity, Task
from crm.binds import assign
from crm.dedupe.models import MergedRecord, RecordMerge
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.ids import row_of
from crm.metadata.spec import EntitySpec
from crm.pools.models import PoolClaim
from crm.records import present
from crm.records import service as records
from crm.records.models import RecordHistory, RecordNote
from crm.records.query import table_of
from crm.timeutil import utcnow
from crm.uow import unit_of_work

MAX_RECORDS = 10  # records merged at once, at most
MERGED_KEY = "@merged"  # history key of the merged records' names; never a field key
MASTER_KEY = "@master"  # history key (on a merged record) of its master's name

# Rows that hang on a record by (entity_key, record_id), moved to the master as they are.
_MOVABLE = {"notes": RecordNote, "activities": Activity, "tasks": Task, "claims": PoolClaim}


@dataclass(frozen=True)
class Candidate:
    """One record offered for a merge: its row as the user reads it and its name."""

    row: Mapping[str, Any]
    name: str


def mergeable_fields(user: Any, spec: EntitySpec) -> list:
    """The fields whose value a merge lets ``user`` choose: the ones they may edit."""
    return list(policy.visible_fields(user, spec, "edit"))


def candidates(user: Any, spec: EntitySpec, ids: list[int]) -> list[Candidate]:
    """The records ``ids`` (2 to ``MAX_RECORDS``, distinct, live, readable by ``user``)
    for the merge page, in the order given. ``ValidationFailed`` for a bad set,
    ``NotFound`` for a record that is not there for them."""
    _check_ids(ids)
    namer = present.record_namer(spec, user)
    out = []
    for record_id in ids:
        row = records.get(user, spec, record_id, action="read")
        out.append(Candidate(row, namer(row)))
    return out


def _check_ids(ids: list[int]) -> None:
    if len(set(ids)) != len(ids):
        message = _("A record cannot be merged with itself.")
        raise ValidationFailed(message, errors={"ids": [message]})
    if not 2 <= len(ids) <= MAX_RECORDS:
        message = _("Choose from 2 to %(num)d records to merge.", num=MAX_RECORDS)
        raise ValidationFailed(message, errors={"ids": [message]})


def merge(
    user: Any,
    spec: EntitySpec,
    master_id: int,
    versions: Mapping[int, int],
    picks: Mapping[str, int] | None = None,
) -> int:
    """Merge the records of ``versions`` (``{record id: the version the user saw}``) into
    ``master_id`` (one of them), taking field ``key``'s value from record ``picks[key]``
    (the master's value where not picked). Returns the merge's id.

    Raises ``ValidationFailed`` (fewer than two records, the same one twice, a master or a
    pick outside the set, a field the user may not edit, a unique value taken),
    ``NotFound`` (a record not live or not readable by ``user``), ``Forbidden`` (no edit
    right on one, no delete right on a merged one), ``Conflict`` (a record changed since
    its version): nothing is written then."""
    ids = [int(i) for i in versions]
    _check_ids(ids)
    if master_id not in versions:
        message = _("Choose the record to keep among the records merged.")
        raise ValidationFailed(message, errors={"master": [message]})
    picks = dict(picks or {})
    editable = {f.key for f in mergeable_fields(user, spec)}
    errors: dict[str, list[str]] = {}
    for key, source in picks.items():
        if key not in editable:
            errors.setdefault(key, []).append(_("This field cannot be set here."))
        elif source not in versions:
            errors.setdefault(key, []).append(_("Choose the value of one of the records."))
    if errors:
        raise ValidationFailed(_("Nothing was merged."), errors=errors)
    losers = [i for i in ids if i != master_id]
    with unit_of_work(on_error=records.UNIQUE_RACE):
        rows = _checked_rows(user, spec, ids, losers, versions)
        master = rows[master_id]
        names = present.record_namer(spec, user)
        now = utcnow()
        moved = _move(spec, master_id, losers)
        table = table_of(spec)
        for loser in losers:
            spine = {"deleted_at": now, "updated_at": now, "updated_by": user.id}
            _write_row(table, loser, versions[loser], names(rows[loser]), spine)
            records.add_history(
                spec, loser, user, "merged", {MASTER_KEY: [None, names(master)]},
                version=versions[loser] + 1,
            )  # fmt: skip
        values = {
            key: rows[source][key]
            for key, source in picks.items()
            if source != master_id and rows[source][key] != master[key]
        }
        check: dict[str, list[str]] = {}
        records.check_unique(spec, values, check, exclude_id=master_id)
        if check:
            raise ValidationFailed(_("Nothing was merged."), errors=check)
        changes = {k: [records.jsonable(master[k]), records.jsonable(v)] for k, v in values.items()}
        version = versions[master_id]
        if values:
            version += 1
            spine = {"updated_at": now, "updated_by": user.id}
            _write_row(table, master_id, versions[master_id], names(master), {**values, **spine})
        records.add_history(
            spec, master_id, user, "merge",
            {**changes, MERGED_KEY: [None, [names(rows[i]) for i in losers]]},
            version=version if values else None,
        )  # fmt: skip
        log = RecordMerge(
            entity_key=spec.key, master_id=master_id, user_id=user.id, at=now,
            changes=changes, moved=moved,
        )  # fmt: skip
        db.session.add(log)
        db.session.flush()
        for loser in losers:
            db.session.add(
                MergedRecord(
                    merge_id=log.id, entity_key=spec.key, record_id=loser, master_id=master_id
                )
            )
        merge_id = log.id
    return merge_id


def _checked_rows(
    user: Any, spec: EntitySpec, ids: list[int], losers: list[int], versions: Mapping[int, int]
) -> dict[int, Mapping[str, Any]]:
    rows: dict[int, Mapping[str, Any]] = {}
    namer = present.record_namer(spec, user)
    for record_id in ids:
        row = records.get(user, spec, record_id, action="read")
        needed = ("edit", "delete") if record_id in losers else ("edit",)
        allowed = policy.allowed_on(user, spec, row, needed)
        if "edit" not in allowed:
            raise Forbidden(_("You may not edit “%(name)s”.", name=namer(row)))
        if "delete" in needed and "delete" not in allowed:
            raise Forbidden(
                _("You may not delete “%(name)s”, so it cannot be merged away.", name=namer(row))
            )
        if row["version"] != versions[record_id]:
            raise _stale(namer(row))
        rows[record_id] = row
    return rows


def _stale(name: str) -> Conflict:
    return Conflict(
        _(
            "“%(name)s” was changed after you opened this page. Nothing was merged: "
            "look at the records again.",
            name=name,
        )
    )


def _write_row(table, record_id: int, version: int, name: str, values: Mapping[str, Any]) -> None:
    """Update one live record at ``version`` (bumping it); ``Conflict`` if it moved on."""
    result = db.session.execute(
        update(table)
        .where(table.c.id == record_id, table.c.version == version, table.c.deleted_at.is_(None))
        .values(assign(table, values, version=version + 1))
    )
    if result.rowcount != 1:
        raise _stale(name)


def _move(spec: EntitySpec, master_id: int, losers: list[int]) -> dict[str, list]:
    """Re-point what hangs on ``losers`` to ``master_id``; returns what moved."""
    moved: dict[str, list] = {}
    for kind, model in _MOVABLE.items():
        found = db.session.execute(
            select(model.id, model.record_id).where(
                model.entity_key == spec.key, model.record_id.in_(losers)
            )
        ).all()
        moved[kind] = [[i, r] for i, r in found]
        _repoint(model, [i for i, _r in found], master_id)
    # History: the merged records' past shows on the master's timeline. Its version is
    # cleared (it is not a version of the master; kept here for the undo).
    h = RecordHistory
    found = db.session.execute(
        select(h.id, h.record_id, h.version).where(
            h.entity_key == spec.key, h.record_id.in_(losers)
        )
    ).all()
    moved["history"] = [[i, r, v] for i, r, v in found]
    _repoint(h, [i for i, _r, _v in found], master_id, version=None)
    moved["shares"] = _move_shares(spec, master_id, losers)
    moved["lookups"] = _move_lookups(spec, master_id, losers)
    return moved


def _repoint(model, row_ids: list[int], record_id: int, **extra: Any) -> None:
    for start in range(0, len(row_ids), 500):
        chunk = row_ids[start : start + 500]
        db.session.execute(
            update(model).where(model.id.in_(chunk)).values(record_id=record_id, **extra)
        )


def _move_shares(spec: EntitySpec, master_id: int, losers: list[int]) -> list:
    """Shares of the losers, moved where the master has none with the same user or
    department (the master's own share stays as it is; the loser keeps the other)."""
    s = RecordShare
    have = db.session.execute(
        select(s.user_id, s.department_id).where(s.entity_key == spec.key, s.record_id == master_id)
    ).all()
    taken = {(u, d) for u, d in have}
    out = []
    for share_id, record_id, user_id, department_id in db.session.execute(
        select(s.id, s.record_id, s.user_id, s.department_id)
        .where(s.entity_key == spec.key, s.record_id.in_(losers))
        .order_by(s.id)
    ):
        if (user_id, department_id) in taken:
            continue
        taken.add((user_id, department_id))
        out.append([share_id, record_id])
    _repoint(s, [i for i, _r in out], master_id)
    return out


def _move_lookups(spec: EntitySpec, master_id: int, losers: list[int]) -> list:
    """Lookup fields of any entity (live or binned records) pointing at a loser, pointed
    at the master: ``[[entity, field, row id, loser id], ...]``. The master's own lookup
    at a loser is left (it would point at itself)."""
    out = []
    for other, f in records.references_to(spec):
        t = table_of(other)
        col = t.c[f.key]
        query = select(t.c.id, col).where(col.in_(losers))
        if other.key == spec.key:
            query = query.where(t.c.id != master_id)
        found = db.session.execute(query).all()
        if not found:
            continue
        out.extend([other.key, f.key, i, r] for i, r in found)
        ids = [i for i, _r in found]
        for start in range(0, len(ids), 500):
            db.session.execute(
                update(t)
                .where(t.c.id.in_(ids[start : start + 500]))
                .values(assign(t, {f.key: master_id}, version=t.c.version + 1))
            )
    return out


def merges_of(user: Any, spec: EntitySpec, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest merges of ``spec`` that ``user`` may undo (they may edit the master and
    the merged records are all still in the bin): ``[{"id", "at", "master", "names"}]``."""
    logs = db.session.scalars(
        select(RecordMerge)
        .where(RecordMerge.entity_key == spec.key, RecordMerge.undone_at.is_(None))
        .order_by(RecordMerge.id.desc())
        .limit(limit * 3)
    ).all()
    namer = present.record_namer(spec, user)
    out = []
    for log in logs:
        try:
            master, losers = _undo_rows(user, spec, log)
        except (NotFound, Forbidden, ValidationFailed):
            continue
        out.append(
            {
                "id": log.id,
                "at": log.at,
                "master": master,
                "master_name": namer(master),
                "names": [namer(r) for r in losers],
            }
        )
        if len(out) >= limit:
            break
    return out


def _undo_rows(user: Any, spec: EntitySpec, log: RecordMerge):
    master = records.get(user, spec, log.master_id, action="edit")
    loser_ids = db.session.scalars(
        select(MergedRecord.record_id).where(MergedRecord.merge_id == log.id)
    ).all()
    losers = []
    namer = present.record_namer(spec, user)
    for record_id in loser_ids:
        try:
            losers.append(records.get(user, spec, record_id, action="delete", deleted=True))
        except NotFound:
            table = table_of(spec)
            row = (
                db.session.execute(
                    select(table).where(table.c.id == record_id, table.c.deleted_at.is_(None))
                )
                .mappings()
                .first()
            )
            if row is not None and policy.can(user, "read", spec, row):
                message = _(
                    "“%(name)s” is no longer in the recycle bin: the merge cannot be undone.",
                    name=namer(row),
                )
                raise ValidationFailed(message) from None
            raise
    return master, losers


def undo(user: Any, spec: EntitySpec, merge_id: Any) -> int:
    """Undo the merge ``merge_id`` of ``spec``: the merged records come back from the bin,
    what moved goes back to them, the master's overwritten values are restored (those the
    master still holds as the merge left them; a value changed since stays). Returns the
    master's id. ``NotFound`` for no such merge (or one ``user`` may not undo: edit right
    on the master, delete right on the merged records), ``ValidationFailed`` when it was
    undone already or a merged record has left the bin."""
    with unit_of_work(on_error=records.UNIQUE_RACE):
        log = row_of(RecordMerge, merge_id)
        if log is None or log.entity_key != spec.key:
            raise NotFound(_("There is no such merge."))
        if log.undone_at is not None:
            raise ValidationFailed(_("This merge was undone already."))
        master, losers = _undo_rows(user, spec, log)
        namer = present.record_namer(spec, user)
        table = table_of(spec)
        now = utcnow()
        back: dict[str, Any] = {}
        for key, (before, after) in (log.changes or {}).items():
            if spec.field(key) is not None and records.jsonable(master[key]) == after:
                back[key] = records.typed_from_history(spec, key, before)
        if back:
            spine = {"updated_at": now, "updated_by": user.id}
            _write_row(table, master["id"], master["version"], namer(master), {**back, **spine})
        for row in losers:
            unique = {
                f.key: row[f.key] for f in spec.active_fields if f.unique and row[f.key] is not None
            }
            errors: dict[str, list[str]] = {}
            records.check_unique(spec, unique, errors, exclude_id=row["id"])
            if errors:
                raise ValidationFailed(_("The merge cannot be undone."), errors=errors)
            db.session.execute(
                update(table)
                .where(table.c.id == row["id"])
                .values(assign(table, deleted_at=None, updated_at=now, updated_by=user.id,
                               version=table.c.version + 1))
            )  # fmt: skip
        _move_back(spec, log.master_id, log.moved or {})
        for row in losers:
            records.add_history(spec, row["id"], user, "restore", version=row["version"] + 1)
        records.add_history(
            spec, log.master_id, user, "unmerge",
            {**{k: [records.jsonable(master[k]), records.jsonable(v)] for k, v in back.items()},
             MERGED_KEY: [None, [namer(r) for r in losers]]},
            version=master["version"] + 1 if back else None,
        )  # fmt: skip
        log.undone_at, log.undone_by = now, user.id
        db.session.execute(MergedRecord.__table__.delete().where(MergedRecord.merge_id == log.id))
        master_id = log.master_id
    return master_id


def _move_back(spec: EntitySpec, master_id: int, moved: Mapping[str, list]) -> None:
    """Put back what ``_move`` moved (rows still on the master only)."""
    for kind, model in (*_MOVABLE.items(), ("shares", RecordShare)):
        for row_id, record_id in moved.get(kind, []):
            db.session.execute(
                update(model)
                .where(model.id == row_id, model.record_id == master_id)
                .values(record_id=record_id)
            )
    h = RecordHistory
    for row_id, record_id, version in moved.get("history", []):
        db.session.execute(
            update(h)
            .where(h.id == row_id, h.record_id == master_id)
            .values(record_id=record_id, version=version)
        )
    from crm.metadata import specs

    for entity_key, field_key, row_id, record_id in moved.get("lookups", []):
        other = specs.current().entity(entity_key)
        if other is None or other.field(field_key) is None:
            continue
        t = table_of(other)
        db.session.execute(
            update(t)
            .where(and_(t.c.id == row_id, t.c[field_key] == master_id))
            .values(assign(t, {field_key: record_id}, version=t.c.version + 1))
        )


def merged_into(spec: EntitySpec, record_ids: list[int]) -> dict[int, int]:
    """``{record id: master id}`` for those of ``record_ids`` merged into another."""
    if not record_ids:
        return {}
    rows = db.session.execute(
        select(MergedRecord.record_id, MergedRecord.master_id).where(
            MergedRecord.entity_key == spec.key, MergedRecord.record_id.in_(record_ids)
        )
    ).all()
    return {r: m for r, m in rows}


def words(action: str, stored: Mapping[str, Any] | None) -> str:
    """The timeline's words for a merge entry stored as ``stored`` (its ``changes``)."""
    stored = stored or {}
    if action == "merged":
        master = (stored.get(MASTER_KEY) or [None, ""])[1] or ""
        return _("merged this into %(name)s", name=master)
    names = (stored.get(MERGED_KEY) or [None, []])[1] or []
    joined = ", ".join(str(n) for n in names) if isinstance(names, list) else str(names)
    if action == "unmerge":
        return _("undid the merge with %(names)s", names=joined)
    return _("merged with %(names)s", names=joined)

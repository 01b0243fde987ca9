"""The record service: the only code that writes records.

Every write checks the access policy first, parses values through the field-type registry
(one set of rules for forms, imports and the API), enforces required / unique / lookup
rules with messages by the field, keeps an optimistic lock (``version``), writes the field
history, and commits. A refused write changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Exists, Integer, Select, bindparam, func, insert, select, update

from crm import uow
from crm.access import policy
from crm.access.models import User
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs, types
from crm.metadata.models import Sequence
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.models import RecordHistory, RecordNote
from crm.records.query import scoped, table_of
from crm.timeutil import utcnow
from crm.uow import unit_of_work

MAX_NOTE = 20_000


class RecordConflict(Conflict):
    """Someone saved the record after it was opened: ``current`` holds their values."""

    def __init__(self, current: Mapping[str, Any], yours: Mapping[str, Any]):
        super().__init__("Someone else saved this record after you opened it.")
        self.current = dict(current)
        self.yours = dict(yours)


def jsonable(value: Any) -> Any:
    """``value`` as JSON can store it in the history: decimals and dates as strings, lists
    element by element, anything else unchanged. Never raises."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def fingerprint(value: Any) -> str:
    """A short digest of a stored value: a form carries it to tell, when it is saved,
    whether the value changed since the form was opened (without carrying the value)."""
    data = json.dumps(jsonable(value), sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:24]


def get(
    user: Any, spec: EntitySpec, record_id: int, *, action: str = "read", deleted: bool = False
):
    """The record as a mapping, if ``user`` may ``action`` it; ``NotFound`` otherwise (a
    record one may not see does not exist for them)."""
    table = table_of(spec)
    row = (
        db.session.execute(
            scoped(user, spec, action, deleted=deleted).where(table.c.id == record_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"There is no such {spec.label_singular}, or you cannot see it.")
    return row


def readable(user: Any, spec: EntitySpec, record_id: int) -> Exists:
    """The SQL condition "``user`` may read this live record", to put in another query
    (never correlated with it: a related list of an entity's own records, such as parent
    accounts, queries the same table)."""
    table = table_of(spec)
    query = scoped(user, spec, "read", columns=[table.c.id]).where(table.c.id == record_id)
    return query.correlate(None).exists()


def require_readable(user: Any, spec: EntitySpec, record_id: int) -> None:
    """``NotFound`` unless ``user`` may read the live record (``get`` without its values)."""
    if not db.session.scalar(select(readable(user, spec, record_id))):
        raise NotFound(f"There is no such {spec.label_singular}, or you cannot see it.")


def _editable(user: Any, spec: EntitySpec) -> dict[str, FieldSpec]:
    return {f.key: f for f in policy.visible_fields(user, spec, "edit")}


def _blank(f: FieldSpec, value: Any) -> bool:
    return value is None or value == "" or value == []


def parse_values(
    user: Any, spec: EntitySpec, raw: Mapping[str, Any], *, creating: bool
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Parse and check submitted values: ``(values, errors by field key)``.

    Keys that are not editable fields of the entity (spine columns, archived, hidden or
    read-only fields, made-up names) are refused: a crafted form cannot set them.
    """
    editable = _editable(user, spec)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in raw.items():
        f = editable.get(key)
        if f is None:
            errors.setdefault(key, []).append("This field cannot be set here.")
            continue
        try:
            values[key] = types.get(f.type).parse(f, value)
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    if creating:
        for f in editable.values():
            if f.key not in values and f.default is not None:
                values[f.key] = types.get(f.type).parse(f, f.default)
    for f in editable.values():
        if f.required and f.key not in errors:
            missing = _blank(f, values.get(f.key)) if (creating or f.key in values) else False
            if missing:
                errors.setdefault(f.key, []).append("This field is required.")
    _check_references(user, spec, values, errors)
    return values, errors


def _check_references(user, spec, values, errors) -> None:
    compiled = specs.current()
    for key, value in values.items():
        if value is None:
            continue
        f = spec.field(key)
        reference = types.get(f.type).reference
        if reference == "record":
            target = compiled.entity(f.option("target"))
            ok = target is not None and db.session.scalar(
                scoped(user, target, "read", columns=[func.count()]).where(
                    table_of(target).c.id == value
                )
            )
            if not ok:
                label = target.label_singular if target else "record"
                errors.setdefault(key, []).append(f"Choose an existing {label} that you can see.")
        elif reference == "user":
            active = db.session.scalar(select(User.is_active).where(User.id == value))
            if not active:
                errors.setdefault(key, []).append("Choose an active user.")


def check_unique(
    spec: EntitySpec,
    values: Mapping[str, Any],
    errors: dict[str, list[str]],
    *,
    exclude_id: int | None = None,
) -> None:
    """Add a message to ``errors[key]`` for each unique field in ``values`` whose value a
    live record other than ``exclude_id`` already has (fields with errors already, and
    empty values, are skipped). Reads only; raises nothing of its own."""
    table = table_of(spec)
    for key, value in values.items():
        f = spec.field(key)
        if not f.unique or value is None or key in errors:
            continue
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c[key] == value, table.c.deleted_at.is_(None))
        )
        if exclude_id is not None:
            query = query.where(table.c.id != exclude_id)
        if db.session.scalar(query):
            errors.setdefault(key, []).append(
                f"Another {spec.label_singular} already has this {f.label}."
            )


def unique_race(_exc: Exception | None = None) -> ValidationFailed:
    """Two saves of the same unique value at once: the database refused the second."""
    return ValidationFailed(
        "The record was not saved.",
        errors={"__all__": ["Another record was saved with the same unique value just now."]},
    )


# What a record write tells people when the database refuses a unique value (a race
# between two saves that both passed ``check_unique``).
UNIQUE_RACE = {uow.UNIQUE: unique_race}


def _next_number(spec: EntitySpec, f: FieldSpec) -> str:
    """The next auto-number: the sequence row is locked by the UPDATE until commit."""
    stmt = (
        update(Sequence)
        .where(Sequence.entity_key == spec.key, Sequence.field_key == f.key)
        .values(next_value=Sequence.next_value + 1)
        .returning(Sequence.next_value)
    )
    after = db.session.scalar(stmt)
    if after is None:  # a sequence lost to a bad import: start again after the highest
        db.session.add(Sequence(entity_key=spec.key, field_key=f.key, next_value=2))
        after = 2
    number = after - 1
    padding = int(f.option("padding", 0) or 0)
    return f"{f.option('prefix', '') or ''}{number:0{padding}d}"


def add_history(
    spec: EntitySpec, record_id: int, user: Any, action: str, changes: dict | None = None
) -> None:
    """Add a history entry (``action``, with ``changes`` as ``{key: [before, after]}``) for
    the record to the current transaction; the caller commits or rolls back."""
    db.session.add(
        RecordHistory(
            entity_key=spec.key,
            record_id=record_id,
            user_id=getattr(user, "id", None),
            action=action,
            changes=changes,
        )
    )


def create(user: Any, spec: EntitySpec, raw: Mapping[str, Any]) -> int:
    """Create a record owned by ``user``; returns its id. ``ValidationFailed`` lists every
    problem by field; nothing is written then."""
    policy.require(user, "create", spec.key)
    with unit_of_work(on_error=UNIQUE_RACE):
        values, errors = parse_values(user, spec, raw, creating=True)
        check_unique(spec, values, errors)
        if errors:
            raise ValidationFailed("The record was not saved.", errors=errors)
        for f in spec.active_fields:
            if types.get(f.type).assigned:
                values[f.key] = _next_number(spec, f)
        now = utcnow()
        table = table_of(spec)
        record_id = db.session.execute(
            insert(table)
            .values(
                **values,
                owner_id=user.id,
                created_by=user.id,
                updated_by=user.id,
                created_at=now,
                updated_at=now,
                version=1,
            )
            .returning(table.c.id)
        ).scalar_one()
        add_history(
            spec, record_id, user, "create",
            {k: [None, jsonable(v)] for k, v in values.items() if v is not None},
        )  # fmt: skip
    return record_id


def bulk_create(
    user: Any,
    spec: EntitySpec,
    rows: list[Mapping[str, Any]],
    *,
    owner_ids: list[int] | None = None,
) -> list[int]:
    """Create many records in one transaction, all or nothing (imports, the demo).

    Every row is parsed and checked like ``create``; ``ValidationFailed`` reports problems
    as ``{"row N: field": [messages]}`` and writes nothing. ``owner_ids`` (one per row)
    assigns owners other than ``user`` (it needs the "assign" right)."""
    policy.require(user, "create", spec.key)
    if owner_ids is not None:
        policy.require(user, "assign", spec.key)
    with unit_of_work(on_error=UNIQUE_RACE):
        table = table_of(spec)
        numbered = [f for f in spec.active_fields if types.get(f.type).assigned]
        now = utcnow()
        errors: dict[str, list[str]] = {}
        payload = []
        seen_unique: dict[str, set] = {}
        for n, raw in enumerate(rows, start=1):
            values, row_errors = parse_values(user, spec, raw, creating=True)
            check_unique(spec, values, row_errors)
            for key, value in values.items():
                f = spec.field(key)
                if f.unique and value is not None:
                    if value in seen_unique.setdefault(key, set()):
                        row_errors.setdefault(key, []).append("This value appears twice.")
                    seen_unique[key].add(value)
            for key, messages in row_errors.items():
                errors[f"row {n}: {key}"] = messages
            owner = owner_ids[n - 1] if owner_ids else user.id
            payload.append(
                {
                    **{f.key: None for f in spec.active_fields},
                    **values,
                    "owner_id": owner,
                    "created_by": user.id,
                    "updated_by": user.id,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
        if errors:
            raise ValidationFailed(
                f"{len(errors)} problem(s); nothing was imported.", errors=errors
            )
        for item in payload:
            for f in numbered:
                item[f.key] = _next_number(spec, f)
        ids: list[int] = []
        for start in range(0, len(payload), 1000):
            chunk = payload[start : start + 1000]
            ids += list(db.session.scalars(insert(table).returning(table.c.id), chunk))
        db.session.add_all(
            RecordHistory(
                entity_key=spec.key, record_id=rid, user_id=user.id, action="create", changes=None
            )
            for rid in ids
        )
    return ids


def update_record(
    user: Any, spec: EntitySpec, record_id: int, raw: Mapping[str, Any], *, expected_version: int
) -> int:
    """Change some fields of a record; returns the new version.

    ``RecordConflict`` when the record changed since ``expected_version`` was read (their
    values and yours are both kept for the conflict page); nothing is overwritten.
    """
    with unit_of_work(on_error=UNIQUE_RACE):
        current = get(user, spec, record_id, action="edit")
        values, errors = parse_values(user, spec, raw, creating=False)
        check_unique(spec, values, errors, exclude_id=record_id)
        if errors:
            raise ValidationFailed("The record was not saved.", errors=errors)
        if current["version"] != expected_version:
            raise RecordConflict(current, values)
        changed = {k: v for k, v in values.items() if current[k] != v}
        if not changed:
            return current["version"]
        table = table_of(spec)
        result = db.session.execute(
            update(table)
            .where(
                table.c.id == record_id,
                table.c.version == expected_version,
                table.c.deleted_at.is_(None),
            )
            .values(**changed, version=table.c.version + 1, updated_at=utcnow(), updated_by=user.id)
        )
        if result.rowcount != 1:  # another save won between our read and this write
            raise RecordConflict(get(user, spec, record_id, action="read"), values)
        add_history(
            spec, record_id, user, "update",
            {k: [jsonable(current[k]), jsonable(v)] for k, v in changed.items()},
        )  # fmt: skip
    return expected_version + 1


def references_to(spec: EntitySpec) -> Iterator[tuple[EntitySpec, FieldSpec]]:
    """(entity spec, field) pairs of the active lookup fields that point at ``spec``."""
    for other in specs.current().active_entities:
        for f in other.active_fields:
            if types.lookup_target(f) == spec.key:
                yield other, f


def delete(user: Any, spec: EntitySpec, record_id: int) -> None:
    """Move a record to the recycle bin, applying each referencing lookup's rule (clear,
    restrict or cascade)."""
    with unit_of_work():
        get(user, spec, record_id, action="delete")
        now = utcnow()
        for other, f in references_to(spec):
            t = table_of(other)
            live = (t.c[f.key] == record_id, t.c.deleted_at.is_(None))
            rule = f.option("on_delete", "clear")
            if rule == "restrict":
                count = db.session.scalar(select(func.count()).select_from(t).where(*live))
                if count:
                    raise Conflict(
                        f"{count} {other.label_plural if count != 1 else other.label_singular} "
                        f"still refer to this {spec.label_singular} through “{f.label}”."
                    )
            elif rule == "cascade":
                db.session.execute(update(t).where(*live).values(deleted_at=now, updated_at=now))
            else:
                db.session.execute(
                    update(t).where(*live).values({f.key: None, "version": t.c.version + 1})
                )
        table = table_of(spec)
        db.session.execute(
            update(table)
            .where(table.c.id == record_id)
            .values(deleted_at=now, updated_at=now, updated_by=user.id, version=table.c.version + 1)
        )
        add_history(spec, record_id, user, "delete")


def restore(user: Any, spec: EntitySpec, record_id: int) -> None:
    """Bring a record back from the recycle bin (refused if a unique value is now taken)."""
    with unit_of_work():
        row = get(user, spec, record_id, action="delete", deleted=True)
        values = {
            f.key: row[f.key] for f in spec.active_fields if f.unique and row[f.key] is not None
        }
        errors: dict[str, list[str]] = {}
        check_unique(spec, values, errors, exclude_id=record_id)
        if errors:
            raise ValidationFailed("The record cannot be restored.", errors=errors)
        table = table_of(spec)
        db.session.execute(
            update(table)
            .where(table.c.id == record_id)
            .values(
                deleted_at=None,
                updated_at=utcnow(),
                updated_by=user.id,
                version=table.c.version + 1,
            )
        )
        add_history(spec, record_id, user, "restore")


def purge(user: Any, spec: EntitySpec, record_id: int) -> None:
    """Delete a record from the recycle bin for good (administrators only)."""
    if not policy.can(user, policy.CONFIGURE):
        raise Forbidden("Only administrators can empty the recycle bin.")
    with unit_of_work():
        get(user, spec, record_id, action="delete", deleted=True)
        table = table_of(spec)
        db.session.execute(table.delete().where(table.c.id == record_id))
        add_history(spec, record_id, user, "purge")


def add_note(user: Any, spec: EntitySpec, record_id: int, body: str) -> int:
    """Write a note on the record's timeline (anyone who may read the record)."""
    text = (body or "").replace("\x00", "").strip()
    if not text:
        raise ValidationFailed("The note is empty.", errors={"body": ["Write something first."]})
    if len(text) > MAX_NOTE:
        raise ValidationFailed(
            "The note is too long.", errors={"body": [f"Use at most {MAX_NOTE:,} characters."]}
        )
    with unit_of_work():
        get(user, spec, record_id, action="read")
        note = RecordNote(entity_key=spec.key, record_id=record_id, user_id=user.id, body=text)
        db.session.add(note)
        db.session.flush()
        note_id = note.id  # read before the commit expires the object
    return note_id


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "note" | "create" | "update" | "delete" | "restore" | "assign" | "share"
    user_id: int | None
    body: str = ""
    changes: tuple[tuple[str, Any, Any], ...] = ()


SHARE_HISTORY_KEY = "@share"  # the history key of a share change; never a field key


def timeline(
    user: Any, spec: EntitySpec, record_id: int, *, limit: int = 100
) -> list[TimelineEntry]:
    """Notes and changes of a record, newest first. Changes of fields the user may not
    see are left out."""
    get(user, spec, record_id, action="read")
    return _timeline(user, spec, record_id, limit)


def timeline_of(user: Any, spec: EntitySpec, row: Mapping, *, limit: int = 100):
    """``timeline`` of a record the caller has just read with ``get`` (not read again)."""
    return _timeline(user, spec, row["id"], limit)


@cache
def _timeline_queries() -> tuple[Select, Select]:
    """The statements of a record's history and notes, built once: building them costs
    more than running them on a record page."""
    at_most = bindparam("limit", type_=Integer)
    history = (
        select(RecordHistory.at, RecordHistory.action, RecordHistory.user_id, RecordHistory.changes)
        .where(
            RecordHistory.entity_key == bindparam("entity_key"),
            RecordHistory.record_id == bindparam("record_id"),
        )
        .order_by(RecordHistory.at.desc(), RecordHistory.id.desc())
        .limit(at_most)
    )
    notes = (
        select(RecordNote.at, RecordNote.user_id, RecordNote.body)
        .where(
            RecordNote.entity_key == bindparam("entity_key"),
            RecordNote.record_id == bindparam("record_id"),
            RecordNote.deleted_at.is_(None),
        )
        .order_by(RecordNote.at.desc())
        .limit(at_most)
    )
    return history, notes


def _timeline(user: Any, spec: EntitySpec, record_id: int, limit: int) -> list[TimelineEntry]:
    visible = {f.key for f in policy.visible_fields(user, spec, "read")}
    visible.update(("owner_id", SHARE_HISTORY_KEY))  # ownership and sharing: always readable
    params = {"entity_key": spec.key, "record_id": record_id, "limit": limit}
    history, notes = _timeline_queries()
    entries: list[TimelineEntry] = []
    for h in db.session.execute(history, params):
        changes = tuple(
            (k, old, new) for k, (old, new) in (h.changes or {}).items() if k in visible
        )
        if h.action in ("update", "assign", "share") and not changes:
            continue
        entries.append(TimelineEntry(h.at, h.action, h.user_id, changes=changes))
    for n in db.session.execute(notes, params):
        entries.append(TimelineEntry(n.at, "note", n.user_id, body=n.body))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def deleted(user: Any, spec: EntitySpec, *, limit: int = 200) -> list:
    """Records of ``spec`` in the recycle bin that ``user`` may restore, newest first."""
    table = table_of(spec)
    query = scoped(user, spec, "delete", deleted=True).order_by(table.c.deleted_at.desc())
    return list(db.session.execute(query.limit(limit)).mappings())

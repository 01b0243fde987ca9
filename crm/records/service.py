"""The record service: the only code that writes records.

Every write checks the access policy first, parses values through the field-type registry
(one set of rules for forms, imports and the API), enforces required / unique / lookup
rules with messages by the field, keeps an optimistic lock (``version``), writes the field
history, and commits. A refused write changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from flask import current_app
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from sqlalchemy import Exists, Integer, Select, bindparam, func, insert, select, update

from crm import uow
from crm.access import policy
from crm.access.models import User
from crm.automation import events as automation_events
from crm.binds import assign
from crm.dedupe import entry as dedupe_entry
from crm.dedupe import hook as dedupe_hook
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs, types
from crm.metadata.models import Sequence
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.pipelines import rules as stage_rules
from crm.pipelines.spec import STAGE_FIELD
from crm.records import many
from crm.records.models import RecordHistory, RecordNote
from crm.records.query import scoped, table_of
from crm.timeutil import utcnow
from crm.uow import unit_of_work

MAX_NOTE = 20_000


class RecordConflict(Conflict):
    """Someone saved the record after it was opened, and some values both sides changed
    differently: ``current`` holds the record as saved now, ``yours`` the parsed values
    submitted, ``fields`` the keys in real conflict (both changed, to different values; every
    differing key when the caller gave no fingerprints of what it saw)."""

    def __init__(
        self, current: Mapping[str, Any], yours: Mapping[str, Any], fields: Iterable[str] = ()
    ):
        super().__init__(_("Someone else saved this record after you opened it."))
        self.current = dict(current)
        self.yours = dict(yours)
        self.fields = tuple(fields)


@dataclass(frozen=True)
class Saved:
    """What ``merge_update`` did: the version now, the keys it wrote, and whether it merged
    onto a save by someone else (``by``: who saved the version it merged onto); ``row``:
    the record as it now is (read for the update, with what it wrote), so a caller need
    not read it again."""

    version: int
    written: tuple[str, ...] = ()
    merged: bool = False
    by: int | None = None
    row: Mapping[str, Any] | None = None
    # Keys of the change an approval rule held (``crm.approvals``): not written, waiting.
    held: tuple[str, ...] = ()


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


def _canonical(value: Any) -> Any:
    """``value`` as fingerprints compare it: equal stored values give equal text whatever
    their representation (``50`` and ``50.00``; choices of a multi-select in any order; an
    empty value, an unticked box and none chosen: a form shows them alike)."""
    if value is None or value is False or value == "" or value == []:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, list | tuple):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return jsonable(value)


def fingerprint(spec: EntitySpec, record_id: int, key: str, value: Any) -> str:
    """A short keyed digest of one stored value of one record: a form carries it to tell,
    when it is saved, whether the value changed since the form was opened (without carrying
    the value). Keyed with the application's secret and bound to the record and field, it
    cannot be made up: a client only holds the fingerprints of values it was shown."""
    data = json.dumps([spec.key, record_id, key, _canonical(value)], default=str)
    secret = str(current_app.secret_key or "").encode()
    return hmac.new(secret, data.encode(), hashlib.sha256).hexdigest()[:32]


def fingerprints(spec: EntitySpec, row: Mapping[str, Any], keys) -> dict[str, str]:
    """``{key: fingerprint}`` of ``keys`` of the stored record ``row``."""
    return {k: fingerprint(spec, row["id"], k, row[k]) for k in keys}


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
        raise _not_found(spec)
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
        raise _not_found(spec)


def _not_found(spec: EntitySpec) -> NotFound:
    return NotFound(
        _("There is no such %(entity)s, or you cannot see it.", entity=spec.label_singular)
    )


def _editable(user: Any, spec: EntitySpec) -> dict[str, FieldSpec]:
    return {f.key: f for f in policy.visible_fields(user, spec, "edit")}


def _blank(f: FieldSpec, value: Any) -> bool:
    return value is None or value == "" or value == []


def parse_values(
    user: Any,
    spec: EntitySpec,
    raw: Mapping[str, Any],
    *,
    creating: bool,
    typed: bool = False,
    editable: Mapping[str, FieldSpec] | None = None,
    references: bool = True,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Parse and check submitted values: ``(values, errors by field key)``.

    Keys that are not editable fields of the entity (spine columns, archived, hidden or
    read-only fields, made-up names) are refused: a crafted form cannot set them.
    ``typed``: the values are already stored values, as the field-type registry's own
    parsing gave them (an import's cells, read by ``FieldType.import_value``): they are
    not read again as typed text; every other check applies. ``editable``: the user's
    editable fields, when the caller (a batch) has them already. ``references`` False:
    lookups are left to the caller (a batch checks them for all its rows at once).
    """
    if editable is None:
        editable = _editable(user, spec)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in raw.items():
        f = editable.get(key)
        if f is None:
            errors.setdefault(key, []).append(_("This field cannot be set here."))
            continue
        if typed:
            values[key] = value
            continue
        try:
            values[key] = types.get(f.type).parse_input(f, value)  # typed by a person
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
                errors.setdefault(f.key, []).append(_("This field is required."))
    if references:
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
                message = (
                    _(
                        "Choose an existing %(entity)s that you can see.",
                        entity=target.label_singular,
                    )
                    if target
                    else _("Choose an existing record that you can see.")
                )
                errors.setdefault(key, []).append(message)
        elif reference == "user":
            active = db.session.scalar(select(User.is_active).where(User.id == value))
            if not active:
                errors.setdefault(key, []).append(_("Choose an active user."))


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
                _(
                    "Another %(entity)s already has this %(field)s.",
                    entity=spec.label_singular,
                    field=f.label,
                )
            )


def unique_race(_exc: Exception | None = None) -> ValidationFailed:
    """Two saves of the same unique value at once: the database refused the second."""
    return ValidationFailed(
        _("The record was not saved."),
        errors={"__all__": [_("Another record was saved with the same unique value just now.")]},
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


def _next_numbers(spec: EntitySpec, f: FieldSpec, count: int) -> list[str]:
    """``count`` auto-numbers in a row (``_next_number``'s, reserved with one UPDATE)."""
    if count <= 0:
        return []
    stmt = (
        update(Sequence)
        .where(Sequence.entity_key == spec.key, Sequence.field_key == f.key)
        .values(next_value=Sequence.next_value + count)
        .returning(Sequence.next_value)
    )
    after = db.session.scalar(stmt)
    if after is None:  # a sequence lost to a bad import: start again after the highest
        db.session.add(Sequence(entity_key=spec.key, field_key=f.key, next_value=count + 1))
        after = count + 1
    padding = int(f.option("padding", 0) or 0)
    prefix = f.option("prefix", "") or ""
    return [f"{prefix}{number:0{padding}d}" for number in range(after - count, after)]


def add_history(
    spec: EntitySpec,
    record_id: int,
    user: Any,
    action: str,
    changes: dict | None = None,
    *,
    version: int | None = None,
) -> None:
    """Add a history entry (``action``, with ``changes`` as ``{key: [before, after]}``) for
    the record to the current transaction; the caller commits or rolls back. ``version``:
    the version the change made (it lets a bulk edit tell which fields a record's newer
    versions changed: ``untouched_since``)."""
    db.session.add(
        RecordHistory(
            entity_key=spec.key,
            record_id=record_id,
            user_id=getattr(user, "id", None),
            action=action,
            changes=changes,
            version=version,
        )
    )
    automation_events.noticed(spec.key, record_id, action, changes)
    dedupe_hook.noticed(spec.key, record_id)


def create(user: Any, spec: EntitySpec, raw: Mapping[str, Any]) -> int:
    """Create a record owned by ``user``; returns its id. ``ValidationFailed`` lists every
    problem by field; nothing is written then."""
    policy.require(user, "create", spec.key)
    with unit_of_work(on_error=UNIQUE_RACE):
        values, errors = parse_values(user, spec, raw, creating=True)
        check_unique(spec, values, errors)
        if errors:
            raise ValidationFailed(_("The record was not saved."), errors=errors)
        dedupe_entry.guard(user, spec, values, creating=True)  # blocking duplicate rules
        move = stage_rules.prepare(spec, None, values)
        for f in spec.active_fields:
            if types.get(f.type).assigned:
                values[f.key] = _next_number(spec, f)
        now = utcnow()
        table = table_of(spec)
        record_id = db.session.execute(
            insert(table)
            .values(
                assign(
                    table,
                    values,
                    owner_id=user.id,
                    created_by=user.id,
                    updated_by=user.id,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            .returning(table.c.id)
        ).scalar_one()
        add_history(
            spec, record_id, user, "create",
            {k: [None, jsonable(v)] for k, v in values.items() if v is not None},
        )  # fmt: skip
        stage_rules.record(spec, record_id, user, move)
    return record_id


def bulk_create(
    user: Any,
    spec: EntitySpec,
    rows: list[Mapping[str, Any]],
    *,
    owner_ids: list[int] | None = None,
    typed: bool = False,
) -> list[int]:
    """Create many records in one transaction, all or nothing (imports, the demo).

    Every row is parsed and checked like ``create``; ``ValidationFailed`` reports problems
    as ``{"row N: field": [messages]}`` and writes nothing. ``owner_ids`` (one per row)
    assigns owners other than ``user`` (it needs the "assign" right). ``typed``: the rows
    hold stored values already (``parse_values``), and are not read again.

    The checks are ``create``'s, made for the whole batch at once: lookups and unique
    values with one query per field (and per 1,000 values), not one per row; a unique
    value twice in the batch is refused too."""
    policy.require(user, "create", spec.key)
    if owner_ids is not None:
        policy.require(user, "assign", spec.key)
    with unit_of_work(on_error=UNIQUE_RACE):
        table = table_of(spec)
        now = utcnow()
        editable = _editable(user, spec)
        checks = _Checks.of(spec, editable)
        parsed: list[tuple[dict[str, Any], dict[str, list[str]]]] = []
        for raw in rows:
            if typed:
                values, row_errors = checks.typed(raw)
            else:
                values, row_errors = parse_values(
                    user, spec, raw, creating=True, editable=editable, references=False
                )
            parsed.append((values, row_errors))
        checks.references(user, parsed)
        checks.unique(parsed)
        errors: dict[str, list[str]] = {}
        moves: dict[int, stage_rules.Move | None] = {}
        gated = stage_rules.pipelines_for(spec) is not None
        for n, (values, row_errors) in enumerate(parsed, start=1):
            if gated and not row_errors:
                try:
                    moves[n - 1] = stage_rules.prepare(spec, None, values)
                except ValidationFailed as exc:
                    row_errors = exc.errors
            for key, messages in row_errors.items():
                errors[f"row {n}: {key}"] = messages
        if errors:
            raise ValidationFailed(
                ngettext(
                    "%(num)d problem; nothing was imported.",
                    "%(num)d problems; nothing was imported.",
                    len(errors),
                ),
                errors=errors,
            )
        for f in spec.active_fields:
            if types.get(f.type).assigned:
                for (values, _e), number in zip(
                    parsed, _next_numbers(spec, f, len(parsed)), strict=True
                ):
                    values[f.key] = number
        keys = [f.key for f in spec.active_fields]
        keys += [k for k in dict.fromkeys(k for v, _e in parsed for k in v) if k not in keys]
        spine = (user.id, user.id, now, now, 1)
        ids = many.insert_rows(
            table,
            [*keys, "created_by", "updated_by", "created_at", "updated_at", "version", "owner_id"],
            [
                (*[values.get(k) for k in keys], *spine, owner_ids[i] if owner_ids else user.id)
                for i, (values, _e) in enumerate(parsed)
            ],
            ids=True,
        )
        # one history entry per record, all in one statement (not an ORM object each)
        many.insert_rows(
            RecordHistory.__table__,
            ["entity_key", "record_id", "user_id", "at", "action", "changes"],
            [(spec.key, rid, user.id, now, "create", None) for rid in ids],
        )
        if moves:
            stage_rules.record_moves(spec, user, {rid: moves.get(i) for i, rid in enumerate(ids)})
    return ids


_IN_CHUNK = 1000  # values per IN (...) of a batch check


@dataclass(frozen=True)
class _Checks:
    """``create``'s checks of one entity for the rows of one batch: what ``parse_values``
    checks per row (settable fields, defaults, required), and the lookups and unique
    values of all the rows with one query per field."""

    spec: EntitySpec
    editable: Mapping[str, FieldSpec]
    defaults: tuple[tuple[str, Any], ...]
    required: tuple[str, ...]
    lookups: tuple[tuple[str, str], ...]  # (field key, "record" | "user")
    unique_keys: tuple[str, ...]

    @classmethod
    def of(cls, spec: EntitySpec, editable: Mapping[str, FieldSpec]) -> _Checks:
        defaults = tuple(
            (f.key, types.get(f.type).parse(f, f.default))
            for f in editable.values()
            if f.default is not None
        )
        lookups = []
        for f in spec.active_fields:
            reference = types.get(f.type).reference
            if reference in ("record", "user"):
                lookups.append((f.key, reference))
        return cls(
            spec,
            editable,
            defaults,
            tuple(f.key for f in editable.values() if f.required),
            tuple(lookups),
            tuple(f.key for f in spec.active_fields if f.unique),
        )

    def typed(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """``parse_values(..., creating=True, typed=True)`` of one row, lookups aside."""
        editable = self.editable
        errors: dict[str, list[str]] = {}
        values = dict(raw)
        for key in raw:
            if key not in editable:
                del values[key]
                errors.setdefault(key, []).append(_("This field cannot be set here."))
        for key, default in self.defaults:
            if key not in values:
                values[key] = list(default) if isinstance(default, list) else default
        for key in self.required:
            if key not in errors and _blank(editable[key], values.get(key)):
                errors.setdefault(key, []).append(_("This field is required."))
        return values, errors

    def references(self, user: Any, rows: list[tuple[dict, dict[str, list[str]]]]) -> None:
        """``_check_references`` of every row: one query per lookup field."""
        compiled = specs.current()
        for key, kind in self.lookups:
            wanted = {v[key] for v, _e in rows if v.get(key) is not None}
            if not wanted:
                continue
            if kind == "record":
                target = compiled.entity(self.spec.field(key).option("target"))
                found = set() if target is None else _readable_ids(user, target, wanted)
                message = (
                    _("Choose an existing %(entity)s that you can see.",
                      entity=target.label_singular)
                    if target else _("Choose an existing record that you can see.")
                )  # fmt: skip
            else:
                found = set()
                for chunk in _chunks(wanted):
                    found.update(
                        db.session.scalars(
                            select(User.id).where(User.id.in_(chunk), User.is_active)
                        )
                    )
                message = _("Choose an active user.")
            for values, errors in rows:
                value = values.get(key)
                if value is not None and value not in found:
                    errors.setdefault(key, []).append(message)

    def unique(self, rows: list[tuple[dict, dict[str, list[str]]]]) -> None:
        """``check_unique`` of every row (one query per unique field), and a value that
        appears twice in the rows refused."""
        table = table_of(self.spec)
        for key in self.unique_keys:
            wanted = {v[key] for v, e in rows if v.get(key) is not None and key not in e}
            taken: set = set()
            for chunk in _chunks(wanted):
                taken.update(
                    db.session.scalars(
                        select(table.c[key]).where(
                            table.c[key].in_(chunk), table.c.deleted_at.is_(None)
                        )
                    )
                )
            if taken:
                f = self.spec.field(key)
                message = _("Another %(entity)s already has this %(field)s.",
                            entity=self.spec.label_singular, field=f.label)  # fmt: skip
            seen: set = set()
            for values, errors in rows:
                value = values.get(key)
                if value is None:
                    continue
                if key not in errors and value in taken:
                    errors.setdefault(key, []).append(message)
                if value in seen:
                    errors.setdefault(key, []).append(_("This value appears twice."))
                seen.add(value)


def _chunks(values: set) -> Iterator[list]:
    items = list(values)
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _readable_ids(user: Any, target: EntitySpec, ids: set) -> set:
    """Those of ``ids`` that are live records of ``target`` that ``user`` may read."""
    t = table_of(target)
    found: set = set()
    for chunk in _chunks(ids):
        found.update(
            db.session.scalars(
                scoped(user, target, "read", columns=[t.c.id]).where(t.c.id.in_(chunk))
            )
        )
    return found


def update_record(
    user: Any, spec: EntitySpec, record_id: int, raw: Mapping[str, Any], *, expected_version: int
) -> int:
    """Change some fields of a record; returns the new version. ``merge_update`` without
    fingerprints: when the record changed since ``expected_version``, a value that differs
    from the one saved now is a ``RecordConflict`` (nothing is overwritten)."""
    return merge_update(user, spec, record_id, None, raw, expected_version=expected_version).version


MERGE_ATTEMPTS = 3  # saves by others between our read and our write before we give up


def merge_update(
    user: Any,
    spec: EntitySpec,
    record_id: int,
    base: Mapping[str, str] | None,
    raw: Mapping[str, Any],
    *,
    expected_version: int,
    hold: bool = True,
) -> Saved:
    """Save the values ``raw`` of a record that was read at ``expected_version``, with
    ``base`` the fingerprints (``fingerprint``) of each value as it was then: a three-way
    merge by field when someone saved the record in between.

    Per submitted field, comparing the value saved now (theirs), the submitted one (yours)
    and what it was when read (base):

    - yours equals theirs (unchanged, or both changed it to the same value): nothing to do;
    - the record did not change since it was read: yours is saved;
    - theirs is still the base (only you changed it): yours is saved on top of their save;
    - yours is the base (only they changed it): theirs stays;
    - else (both changed it differently, or no base for it): a conflict.

    ``RecordConflict`` names the fields in conflict and writes nothing; ``ValidationFailed``
    as for any save. A base that is not a fingerprint of what was saved (forged, or from
    another record) only turns merges into conflicts, never into overwrites. Fields not
    submitted are never touched. When another save lands between this read and this write,
    the merge is done again on top of it.

    ``hold`` (False only when an approved change is applied): values an approval rule wants
    approved are not written but held in a request (``Saved.held``), and a value a pending
    request holds is refused (``ValidationFailed``), as ``crm.approvals.hold.hold`` says."""
    base = base or {}
    with unit_of_work(on_error=UNIQUE_RACE):
        current = get(user, spec, record_id, action="edit")
        values, errors = parse_values(user, spec, raw, creating=False)
        check_unique(spec, values, errors, exclude_id=record_id)
        if errors:
            raise ValidationFailed(_("The record was not saved."), errors=errors)
        table = table_of(spec)
        held: tuple[str, ...] = ()
        for attempt in range(MERGE_ATTEMPTS):
            stale = current["version"] != expected_version
            changed, conflicts = _merge(spec, current, values, base if stale else None)
            if conflicts:
                raise RecordConflict(current, values, conflicts)
            if hold and attempt == 0 and changed:  # held once: a retry keeps them out
                from crm.approvals.hold import hold as approval_hold

                changed, held = approval_hold(user, spec, current, changed)
            changed = {k: v for k, v in changed.items() if k not in held}
            by = current["updated_by"] if stale else None
            move = stage_rules.prepare(spec, current, changed) if changed else None
            if not changed:
                return Saved(current["version"], merged=stale, by=by, row=current, held=held)
            dedupe_entry.guard(
                user, spec, {**current, **changed}, creating=False,
                exclude_id=record_id, changed=changed,
            )  # fmt: skip
            version = current["version"] + 1
            spine = {"version": version, "updated_at": utcnow(), "updated_by": user.id}
            result = db.session.execute(
                update(table)
                .where(
                    table.c.id == record_id,
                    table.c.version == current["version"],
                    table.c.deleted_at.is_(None),
                )
                .values(assign(table, changed, **spine))
            )
            if result.rowcount == 1:
                add_history(
                    spec, record_id, user, "update",
                    {k: [jsonable(current[k]), jsonable(v)] for k, v in changed.items()},
                    version=version,
                )  # fmt: skip
                stage_rules.record(spec, record_id, user, move)
                row = {**current, **changed, **spine}
                return Saved(version, tuple(changed), merged=stale, by=by, row=row, held=held)
            current = get(user, spec, record_id, action="edit")  # another save won: again
        raise RecordConflict(current, values, tuple(values))


def _merge(
    spec: EntitySpec,
    current: Mapping[str, Any],
    values: Mapping[str, Any],
    base: Mapping[str, str] | None,
) -> tuple[dict[str, Any], list[str]]:
    """``(values to write, keys in conflict)``; ``base`` None: the record did not change
    since it was read (every differing value is written)."""
    changed: dict[str, Any] = {}
    conflicts: list[str] = []
    for key, value in values.items():
        if current[key] == value:
            continue
        if base is None:
            changed[key] = value
            continue
        theirs = fingerprint(spec, current["id"], key, current[key])
        yours = fingerprint(spec, current["id"], key, value)
        seen = str(base.get(key) or "")
        if yours == theirs:
            continue  # the same value both ways (an empty box and "no" read alike)
        if seen and hmac.compare_digest(seen, theirs):
            changed[key] = value  # only you changed it
        elif seen and hmac.compare_digest(seen, yours):
            continue  # only they changed it: theirs stays
        else:
            conflicts.append(key)
    return changed, conflicts


def values_seen(
    spec: EntitySpec, record_id: int, base: Mapping[str, str], keys, *, limit: int = 200
) -> dict[str, Any]:
    """The values of ``keys`` whose fingerprints ``base`` holds (what a form showed when it
    was opened), looked up in the record's history (newest ``limit`` entries): ``{key:
    value}``, without the keys whose value the history does not hold."""
    wanted = {k: str(base[k]) for k in keys if base.get(k)}
    found: dict[str, Any] = {}
    if not wanted:
        return found
    rows = db.session.scalars(
        select(RecordHistory.changes)
        .where(RecordHistory.entity_key == spec.key, RecordHistory.record_id == record_id)
        .order_by(RecordHistory.id.desc())
        .limit(limit)
    )
    for changes in rows:
        if not isinstance(changes, Mapping):
            continue
        for key in [k for k in wanted if isinstance(changes.get(k), list)]:
            for stored in changes[key][:2]:
                value = typed_from_history(spec, key, stored)
                if fingerprint(spec, record_id, key, value) == wanted[key]:
                    found[key] = value
                    del wanted[key]
                    break
        if not wanted:
            break
    return found


def typed_from_history(spec: EntitySpec, key: str, stored: Any) -> Any:
    """A value as the history keeps it (JSON), as the record holds it (its type's parse)."""
    f = spec.field(key)
    if f is None or stored is None:
        return stored
    try:
        return types.get(f.type).parse(f, stored)
    except (ValueError, TypeError):
        return stored


def untouched_since(
    spec: EntitySpec, record_id: int, seen: int, now: int, key: str, *, limit: int = 50
) -> bool:
    """Whether field ``key`` of the record kept its value from version ``seen`` to version
    ``now``, as its history tells: True only when the history accounts for every version in
    between (each change records the version it made) and none of the entries read until
    then changed ``key``. What it cannot account for (a version without its entry, more than
    ``limit`` versions) is False: "cannot be known" counts as changed."""
    if now <= seen:
        return now == seen
    if now - seen > limit:
        return False
    wanted = set(range(seen + 1, now + 1))
    rows = db.session.execute(
        select(RecordHistory.changes, RecordHistory.version)
        .where(RecordHistory.entity_key == spec.key, RecordHistory.record_id == record_id)
        .order_by(RecordHistory.id.desc())
        .limit(3 * limit)
    )
    for changes, version in rows:  # newest first, until the oldest version wanted is found
        if isinstance(changes, Mapping) and key in changes:
            return False
        wanted.discard(version)
        if not wanted:
            return True
    return False


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
        row = get(user, spec, record_id, action="delete")
        now = utcnow()
        for other, f in references_to(spec):
            t = table_of(other)
            live = (t.c[f.key] == record_id, t.c.deleted_at.is_(None))
            rule = f.option("on_delete", "clear")
            if rule == "restrict":
                count = db.session.scalar(select(func.count()).select_from(t).where(*live))
                if count:
                    raise Conflict(
                        ngettext(
                            "%(num)d %(what)s still refer to this %(entity)s through “%(field)s”.",
                            "%(num)d %(what)s still refer to this %(entity)s through “%(field)s”.",
                            count,
                            what=other.label_plural if count != 1 else other.label_singular,
                            entity=spec.label_singular,
                            field=f.label,
                        )
                    )
            elif rule == "cascade":
                db.session.execute(
                    update(t).where(*live).values(assign(t, deleted_at=now, updated_at=now))
                )
            else:
                db.session.execute(
                    update(t).where(*live).values(assign(t, {f.key: None}, version=t.c.version + 1))
                )
        table = table_of(spec)
        db.session.execute(
            update(table)
            .where(table.c.id == record_id)
            .values(
                assign(
                    table,
                    deleted_at=now,
                    updated_at=now,
                    updated_by=user.id,
                    version=table.c.version + 1,
                )
            )
        )
        add_history(spec, record_id, user, "delete", version=row["version"] + 1)


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
            raise ValidationFailed(_("The record cannot be restored."), errors=errors)
        table = table_of(spec)
        db.session.execute(
            update(table)
            .where(table.c.id == record_id)
            .values(
                assign(
                    table,
                    deleted_at=None,
                    updated_at=utcnow(),
                    updated_by=user.id,
                    version=table.c.version + 1,
                )
            )
        )
        add_history(spec, record_id, user, "restore", version=row["version"] + 1)


def purge(user: Any, spec: EntitySpec, record_id: int) -> None:
    """Delete a record from the recycle bin for good (administrators only)."""
    if not policy.can(user, policy.CONFIGURE):
        raise Forbidden(_("Only administrators can empty the recycle bin."))
    with unit_of_work():
        get(user, spec, record_id, action="delete", deleted=True)
        table = table_of(spec)
        db.session.execute(table.delete().where(table.c.id == record_id))
        add_history(spec, record_id, user, "purge")


def add_note(user: Any, spec: EntitySpec, record_id: int, body: str) -> int:
    """Write a note on the record's timeline (anyone who may read the record)."""
    text = (body or "").replace("\x00", "").strip()
    if not text:
        raise ValidationFailed(
            _("The note is empty."), errors={"body": [_("Write something first.")]}
        )
    if len(text) > MAX_NOTE:
        most = _("Use at most %(num)s characters.", num=format_number(MAX_NOTE))
        raise ValidationFailed(_("The note is too long."), errors={"body": [most]})
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
    # "note" | "create" | "update" | "delete" | "restore" | "assign" | "share" | "stage"
    # | "task" (a task done, its subject in body) | "activity" (crm.activities)
    # | "approval" (crm.approvals: the words in subject, a comment in body)
    # | "pool_enter" / "pool_claim" (crm.pools: their words in body)
    # | "merge" / "unmerge" / "merged" (crm.dedupe.merge: their words in body)
    kind: str
    user_id: int | None
    body: str = ""
    changes: tuple[tuple[str, Any, Any], ...] = ()
    # a logged activity: its kind (call, meeting, email, visit), subject and outcome
    activity: str = ""
    subject: str = ""
    outcome: str = ""


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
    moves = STAGE_FIELD in visible and stage_rules.pipelines_for(spec) is not None
    # Stage moves are told in words by their own entries: an update does not repeat them.
    told = {STAGE_FIELD} if moves else set()
    for h in db.session.execute(history, params):
        if h.action.startswith("pool_"):  # entered or claimed from a customer pool
            from crm.pools.history import words

            entries.append(
                TimelineEntry(h.at, h.action, h.user_id, body=words(h.action, h.changes))
            )
            continue
        if h.action in ("merge", "unmerge", "merged"):  # crm.dedupe.merge: words and values
            from crm.dedupe.merge import words as merge_words

            body = merge_words(h.action, h.changes)
            kept = tuple((k, v[0], v[1]) for k, v in (h.changes or {}).items() if k in visible)
            entries.append(TimelineEntry(h.at, h.action, h.user_id, body=body, changes=kept))
            continue
        changes = tuple(
            (k, old, new)
            for k, (old, new) in (h.changes or {}).items()
            if k in visible and not (h.action == "update" and k in told)
        )
        if h.action in ("update", "assign", "share") and not changes:
            continue
        entries.append(TimelineEntry(h.at, h.action, h.user_id, changes=changes))
    for n in db.session.execute(notes, params):
        entries.append(TimelineEntry(n.at, "note", n.user_id, body=n.body))
    # Logged activities and completed tasks: shown to whoever may read the record.
    from crm.activities.service import timeline_entries

    entries.extend(timeline_entries(spec.key, record_id, limit))
    from crm.approvals.service import timeline_entries as approval_entries

    entries.extend(approval_entries(spec.key, record_id, limit))
    if moves:
        from crm.pipelines import history as stage_history

        for m in stage_history.moves_of(spec.key, record_id, limit):
            words = stage_history.move_words(spec, m)
            entries.append(TimelineEntry(m.at, "stage", m.user_id, body=words))
    # Newest first; a move reads above the save that made it ("Started in New" above
    # "created this": written in one transaction, their times differ by microseconds).
    entries.sort(key=lambda e: (e.at.replace(microsecond=0), e.kind == "stage", e.at), reverse=True)
    return entries[:limit]


def deleted(user: Any, spec: EntitySpec, *, limit: int = 200) -> list:
    """Records of ``spec`` in the recycle bin that ``user`` may restore, newest first."""
    table = table_of(spec)
    query = scoped(user, spec, "delete", deleted=True).order_by(table.c.deleted_at.desc())
    return list(db.session.execute(query.limit(limit)).mappings())

"""Bulk actions on the records picked in a list: edit one field, assign an owner, delete.

Each action is one transaction and reports what happened to every picked record:

- changed, or already holding the value (nothing to write);
- stale: someone changed the very value being set after the list was loaded, or it cannot
  be known whether they did, so the record is left alone -- optimistic locking, as on the
  edit form. A record saved by someone else since the list was loaded whose history shows
  that none of its newer versions touched that value (each change records the version it
  made: ``service.untouched_since``) is no conflict: the value is set on top of their save,
  as the edit form merges by field. A version the history does not account for (a change
  made outside the record service, or too many of them) counts as touched. Bulk assign
  stays strict (any newer version is stale): a new owner moves the record between people's
  scopes, and that is decided on the record as it was seen;
- refused: the record does not exist, is in the recycle bin, or lies outside what the user
  may act on (the scoped query does not return it);
- blocked (delete only): other records still refer to it through a "restrict" lookup.

The access policy is asked before anything is read for writing, every record query goes
through ``crm.records.query.scoped``, values are parsed by the record service's rules, and
each change writes a history row through the record service's helpers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select, tuple_, update

from crm.access import directory, policy
from crm.access.models import User
from crm.binds import assign
from crm.dedupe import entry as dedupe_entry
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.ids import as_id
from crm.metadata.spec import EntitySpec
from crm.pipelines import history as stage_history
from crm.pipelines import rules as stage_rules
from crm.pipelines.spec import PIPELINE_FIELD, STAGE_FIELD
from crm.records import present
from crm.records.query import scoped, table_of
from crm.records.service import (
    UNIQUE_RACE,
    add_history,
    check_unique,
    jsonable,
    parse_values,
    references_to,
    untouched_since,
)
from crm.timeutil import utcnow
from crm.uow import unit_of_work

MAX_BULK = 500


@dataclass
class BulkResult:
    """What a bulk action did. ``stale`` and ``blocked`` hold ``(id, name)`` pairs of records
    the user may see; ``refused`` holds the ids that named nothing the user may act on."""

    action: str
    done: list[tuple[int, str]] = field(default_factory=list)
    unchanged: list[tuple[int, str]] = field(default_factory=list)
    stale: list[tuple[int, str]] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    blocked: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (
            len(self.done)
            + len(self.unchanged)
            + len(self.stale)
            + len(self.refused)
            + len(self.blocked)
        )


@dataclass(frozen=True)
class BulkOptions:
    """What the list page's bulk bar offers ``user``: the fields they may set, the users
    they may assign records to (by id), and whether they may delete."""

    fields: tuple = ()
    owners: Mapping[int, str] = field(default_factory=dict)
    delete: bool = False

    @property
    def any(self) -> bool:
        return bool(self.fields or self.owners or self.delete)

    @property
    def field_choices(self) -> list[tuple[str, str]]:
        """(key, label) of the fields, for the "Change a field" choice."""
        return [(f.key, f.label) for f in self.fields]


def options(user: Any, spec: EntitySpec) -> BulkOptions:
    """The bulk actions ``user`` may take on records of ``spec``."""

    edit = policy.can(user, "bulk_edit", spec.key) and policy.can(user, "edit", spec.key)
    return BulkOptions(
        fields=tuple(policy.visible_fields(user, spec, "edit")) if edit else (),
        owners=directory.user_names() if policy.can(user, "assign", spec.key) else {},
        delete=policy.can(user, "delete", spec.key),
    )


def parse_picks(values: Iterable[str], *, need_version: bool = True) -> dict[int, int | None]:
    """Picked rows as ``{id: version seen}`` from ``"<id>:<version>"`` strings (a bare
    ``"<id>"`` gives version None, accepted only when ``need_version`` is False).

    ``ValidationFailed`` when nothing is picked, a value is not of that shape, or more than
    ``MAX_BULK`` records are picked."""
    picks: dict[int, int | None] = {}
    for raw in values:
        text = str(raw).strip()
        id_text, sep, version_text = text.partition(":")
        record_id = as_id(id_text)
        version = as_id(version_text) if sep else None
        if record_id is None or (sep and version is None):
            raise ValidationFailed(
                _("The selection could not be read; reload the list and pick again."),
                errors={"pick": [_("The selection could not be read.")]},
            )
        if version is None and need_version:
            raise ValidationFailed(
                _("The selection does not say which version you saw; reload the list."),
                errors={"pick": [_("Reload the list and pick again.")]},
            )
        picks[record_id] = version
        if len(picks) > MAX_BULK:
            break
    if not picks:
        raise ValidationFailed(
            _("Pick at least one record first."), errors={"pick": [_("Nothing is picked.")]}
        )
    if len(picks) > MAX_BULK:
        raise ValidationFailed(
            ngettext(
                "Act on at most %(num)d record at a time; pick fewer and repeat.",
                "Act on at most %(num)d records at a time; pick fewer and repeat.",
                MAX_BULK,
            ),
            errors={
                "pick": [
                    ngettext(
                        "At most %(num)d record at a time.",
                        "At most %(num)d records at a time.",
                        MAX_BULK,
                    )
                ]
            },
        )
    return picks


def _rows(user: Any, spec: EntitySpec, action: str, ids: Iterable[int]) -> dict[int, Any]:
    """The picked records that ``user`` may ``action``, live ones only, by id."""
    table = table_of(spec)
    query = scoped(user, spec, action).where(table.c.id.in_(list(ids)))
    return {r["id"]: r for r in db.session.execute(query).mappings()}


def _sorted(result: BulkResult) -> BulkResult:
    for name in ("done", "unchanged", "stale", "blocked"):
        getattr(result, name).sort(key=lambda item: item[0])
    result.refused.sort()
    return result


def _write_versioned(
    user: Any,
    spec: EntitySpec,
    action: str,
    picks: Mapping[int, int | None],
    column: str,
    value: Any,
    history_action: str,
    *,
    merge: bool = False,
) -> BulkResult:
    """Set ``column`` to ``value`` on the picked records ``user`` may ``action`` whose
    ``column`` is still as it was in the version picked (see the module's "stale"); the
    caller has checked rights and the value, in the unit of work this runs in. Without
    ``merge``, any newer version than the one picked is stale."""
    result = BulkResult(action)
    rows = _rows(user, spec, action, picks)
    result.refused = [i for i in picks if i not in rows]
    if column in (PIPELINE_FIELD, STAGE_FIELD) and stage_rules.pipelines_for(spec) is not None:
        return _move_stages(user, spec, result, rows, picks, column, value)
    fresh: list[Any] = []
    for record_id, row in rows.items():
        name = present.record_name(spec, row, user)
        seen = picks[record_id]
        if row["version"] != seen and (
            not merge
            or seen is None
            or not untouched_since(spec, record_id, seen, row["version"], column)
        ):
            result.stale.append((record_id, name))
        elif row[column] == value:
            result.unchanged.append((record_id, name))
        else:
            fresh.append(row)
    if fresh:
        table = table_of(spec)
        # One statement; a record saved by someone else between our read and this
        # write no longer matches its (id, version) pair and is reported as stale.
        written = set(
            db.session.scalars(
                update(table)
                .where(
                    tuple_(table.c.id, table.c.version).in_(
                        [(r["id"], r["version"]) for r in fresh]
                    ),
                    table.c.deleted_at.is_(None),
                )
                .values(
                    assign(
                        table,
                        {column: value},
                        version=table.c.version + 1,
                        updated_at=utcnow(),
                        updated_by=user.id,
                    )
                )
                .returning(table.c.id)
            )
        )
        new = jsonable(value)
        for row in fresh:
            name = present.record_name(spec, row, user)
            if row["id"] in written:
                result.done.append((row["id"], name))
                add_history(
                    spec, row["id"], user, history_action,
                    {column: [jsonable(row[column]), new]}, version=row["version"] + 1,
                )  # fmt: skip
            else:
                result.stale.append((row["id"], name))
    return _sorted(result)


def _move_stages(
    user: Any,
    spec: EntitySpec,
    result: BulkResult,
    rows: Mapping[int, Any],
    picks: Mapping[int, int | None],
    column: str,
    value: Any,
) -> BulkResult:
    """Bulk edit of a record's stage (or pipeline): every record passes the stage rules
    as a single save does. A record missing what the stage requires, or whose pipeline
    has no such stage, is blocked with the reason; the others move (the probability
    follows the stage), grouped into one UPDATE per distinct set of values, with a history
    row and a stage-history row each."""
    groups: dict[tuple, list[tuple[Any, stage_rules.Move | None, dict]]] = {}
    for record_id, row in rows.items():
        name = present.record_name(spec, row, user)
        seen = picks[record_id]
        if row["version"] != seen and (
            seen is None or not untouched_since(spec, record_id, seen, row["version"], column)
        ):
            result.stale.append((record_id, name))
            continue
        if row[column] == value:
            result.unchanged.append((record_id, name))
            continue
        changed = {column: value}
        try:
            move = stage_rules.prepare(spec, row, changed)
        except stage_rules.GateBlocked as exc:
            reason = _("needs %(fields)s", fields=stage_history.gate_words(spec, exc.missing))
            result.blocked.append((record_id, name, reason))
            continue
        except ValidationFailed as exc:
            messages = [m for ms in exc.errors.values() for m in ms] or [exc.message]
            result.blocked.append((record_id, name, " ".join(messages)))
            continue
        key = tuple(sorted((k, jsonable(v)) for k, v in changed.items()))
        groups.setdefault(key, []).append((row, move, changed))
    table = table_of(spec)
    moves: dict[int, stage_rules.Move] = {}
    now = utcnow()
    for members in groups.values():
        changed = members[0][2]
        written = set(
            db.session.scalars(
                update(table)
                .where(
                    tuple_(table.c.id, table.c.version).in_(
                        [(r["id"], r["version"]) for r, _m, _c in members]
                    ),
                    table.c.deleted_at.is_(None),
                )
                .values(
                    assign(
                        table, changed, version=table.c.version + 1, updated_at=now,
                        updated_by=user.id,
                    )
                )
                .returning(table.c.id)
            )
        )  # fmt: skip
        for row, move, _c in members:
            name = present.record_name(spec, row, user)
            if row["id"] not in written:
                result.stale.append((row["id"], name))
                continue
            result.done.append((row["id"], name))
            add_history(
                spec, row["id"], user, "update",
                {k: [jsonable(row[k]), jsonable(v)] for k, v in changed.items()},
                version=row["version"] + 1,
            )  # fmt: skip
            if move is not None:
                moves[row["id"]] = move
    stage_rules.record_moves(spec, user, moves)
    return _sorted(result)


def bulk_edit(
    user: Any, spec: EntitySpec, picks: Mapping[int, int | None], field_key: str, raw: Any
) -> BulkResult:
    """Set field ``field_key`` to ``raw`` (parsed like a form value) on the picked records.

    ``Forbidden`` without the "bulk_edit" right; ``ValidationFailed`` (nothing changed) for a
    field the user may not edit, a value that does not parse or is required but empty, or a
    unique field whose value is taken or would be shared by several records."""
    policy.require(user, "bulk_edit", spec.key)
    policy.require(user, "edit", spec.key)
    with unit_of_work(on_error=UNIQUE_RACE):
        f = {x.key: x for x in policy.visible_fields(user, spec, "edit")}.get(field_key)
        if f is None:
            raise ValidationFailed(
                _("Choose a field you may change."),
                errors={"field": [_("Choose a field you may change.")]},
            )
        values, errors = parse_values(user, spec, {f.key: raw}, creating=False)
        value = values.get(f.key)
        if f.unique and value is not None and not errors.get(f.key):
            if len(picks) > 1:
                errors.setdefault(f.key, []).append(
                    _(
                        "%(field)s must be unique: it cannot be set on several records at once.",
                        field=f.label,
                    )
                )
            else:
                check_unique(spec, {f.key: value}, errors, exclude_id=next(iter(picks)))
        if errors:
            messages = [m for ms in errors.values() for m in ms]
            raise ValidationFailed(
                _("%(field)s: %(messages)s", field=f.label, messages=" ".join(messages)),
                errors={f.key: messages},
            )
        from crm.approvals.hold import check_bulk  # approval rules: no bulk way around them

        check_bulk(spec, f.key, value, picks)
        _refuse_duplicates(user, spec, picks, f.key, value)
        return _write_versioned(user, spec, "bulk_edit", picks, f.key, value, "update", merge=True)


def _refuse_duplicates(
    user: Any, spec: EntitySpec, picks: Mapping[int, int | None], key: str, value: Any
) -> None:
    """``ValidationFailed`` (nothing written) when setting ``key`` to ``value`` would make
    a picked record a duplicate under a blocking rule reading ``key`` (``crm.dedupe.entry``);
    no query when no blocking rule reads it."""
    if key not in dedupe_entry.watched(spec, creating=False, blocking=True):
        return
    messages: list[str] = []
    for record_id, row in sorted(_rows(user, spec, "bulk_edit", picks).items()):
        if row[key] == value:
            continue
        errors = dedupe_entry.refusals(
            user, spec, {**row, key: value}, creating=False, exclude_id=record_id, changed={key}
        )
        for ms in errors.values():
            name = present.record_name(spec, row, user)
            messages.extend(f"{name}: {m}" for m in ms)
    if messages:
        raise ValidationFailed(" ".join(messages), errors={key: messages})


def bulk_assign(
    user: Any, spec: EntitySpec, picks: Mapping[int, int | None], owner_id: Any
) -> BulkResult:
    """Make ``owner_id`` (an active user) the owner of the picked records.

    ``Forbidden`` without the "assign" right; ``ValidationFailed`` for anything but the id
    of an active user."""
    policy.require(user, "assign", spec.key)
    with unit_of_work(on_error=UNIQUE_RACE):
        owner = as_id(owner_id) or 0
        active = owner > 0 and db.session.scalar(select(User.is_active).where(User.id == owner))
        if not active:
            raise ValidationFailed(
                _("Choose an active user as the new owner."),
                errors={"owner_id": [_("Choose an active user.")]},
            )
        return _write_versioned(user, spec, "assign", picks, "owner_id", owner, "assign")


def bulk_delete(user: Any, spec: EntitySpec, ids: Iterable[int]) -> BulkResult:
    """Move the picked records to the recycle bin, applying each referencing lookup's rule
    as a single delete does: "clear" empties the lookups, "cascade" bins the referring
    records too, "restrict" keeps a referred-to record (reported as blocked)."""
    policy.require(user, "delete", spec.key)
    result = BulkResult("delete")
    wanted = list(dict.fromkeys(ids))
    with unit_of_work():
        rows = _rows(user, spec, "delete", wanted)
        result.refused = [i for i in wanted if i not in rows]
        targets = set(rows)
        for other, f in references_to(spec):
            if not targets:
                break
            if f.option("on_delete", "clear") != "restrict":
                continue
            t = table_of(other)
            held = db.session.execute(
                select(t.c[f.key], func.count())
                .where(t.c[f.key].in_(targets), t.c.deleted_at.is_(None))
                .group_by(t.c[f.key])
            ).all()
            for record_id, n in held:
                if record_id in targets:
                    targets.discard(record_id)
                    what = other.label_plural if n != 1 else other.label_singular
                    result.blocked.append(
                        (
                            record_id,
                            present.record_name(spec, rows[record_id], user),
                            ngettext(
                                "%(num)d %(what)s still refer to it through “%(field)s”.",
                                "%(num)d %(what)s still refer to it through “%(field)s”.",
                                n,
                                what=what,
                                field=f.label,
                            ),
                        )
                    )
        if targets:
            now = utcnow()
            for other, f in references_to(spec):
                t = table_of(other)
                live = (t.c[f.key].in_(targets), t.c.deleted_at.is_(None))
                rule = f.option("on_delete", "clear")
                if rule == "cascade":
                    db.session.execute(
                        update(t).where(*live).values(assign(t, deleted_at=now, updated_at=now))
                    )
                elif rule != "restrict":
                    db.session.execute(
                        update(t)
                        .where(*live)
                        .values(assign(t, {f.key: None}, version=t.c.version + 1))
                    )
            table = table_of(spec)
            db.session.execute(
                update(table)
                .where(table.c.id.in_(targets), table.c.deleted_at.is_(None))
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
            for record_id in targets:
                add_history(spec, record_id, user, "delete")
                result.done.append((record_id, present.record_name(spec, rows[record_id], user)))
    return _sorted(result)

"""The dry run: what an import would do, row by row, without writing anything.

``dry_run(user, spec, source, mapping)`` reads the whole file once, in batches, as the run
would: each row parsed through its plan (lookups resolved per batch, one query per lookup
column), existing records found by the mapping's ``match_on`` field (one query per batch,
through the scoped query layer), required fields checked for rows that would create. It
counts the rows that would be created, updated, skipped or fail, and keeps the first
``keep`` reasons (row, field, value, message) while counting them all per field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from flask_babel import gettext as _

from crm.access import policy
from crm.dedupe.batch import BatchMatcher
from crm.dedupe.rules import enabled_rules
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.imports import duplicates as dup
from crm.imports.mapping import BOTH, CREATE, UPDATE, Mapping, Plan, new_choices, plan
from crm.metadata.spec import EntitySpec
from crm.metadata.types import l10n
from crm.pipelines import rules as stage_rules
from crm.records.query import scoped, table_of

__all__ = ["DryRun", "RowIssue", "dry_run"]

BATCH = 1000
_ROW = "(row)"


@dataclass(frozen=True)
class RowIssue:
    """Why one row would fail: its ``line`` in the file, the ``field`` key and 1-based
    ``column`` concerned (None for the whole row), the ``value`` and the ``message``."""

    line: int
    field: str | None
    column: int | None
    value: Any
    message: str


@dataclass
class DryRun:
    """The counts of a dry run, the first ``issues`` kept, every issue counted per field
    (``by_field``; "(row)" for whole rows), lookup names that would be created
    (field -> count) and the choices the value tables add (field -> texts)."""

    rows: int = 0
    create: int = 0
    update: int = 0
    skip: int = 0
    error: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    by_field: Counter = field(default_factory=Counter)
    lookups_to_create: dict[str, int] = field(default_factory=dict)
    new_choices: dict[str, list[str]] = field(default_factory=dict)
    # rows that duplicate a record (or an earlier row) under the duplicate rules, by what
    # the import's option does with them (counted in ``skip`` / ``update`` too)
    duplicates_skipped: int = 0
    duplicates_updated: int = 0


def dry_run(
    user: Any,
    spec: EntitySpec,
    source: Any,
    mapping: Mapping,
    *,
    formats: l10n.Formats = l10n.DEFAULT,
    keep: int = 200,
    batch: int = BATCH,
) -> DryRun:
    """What importing ``source`` with ``mapping`` would do (see the module's docstring).
    ``ValidationFailed`` when the mapping itself needs fixing (``mapping.check``); writes
    nothing."""
    the_plan = plan(user, spec, mapping, source.columns, formats, dry_run=True)
    out = DryRun(new_choices=new_choices(mapping))
    seen: set[Any] = set()
    rows = source.rows()
    twins = _matcher(user, spec, mapping)
    while True:
        chunk = list(islice(rows, batch))
        if not chunk:
            break
        _check_batch(user, the_plan, chunk, out, seen, keep, twins)
    out.lookups_to_create = {k: len(v) for k, v in the_plan.to_create.items()}
    return out


def _matcher(user: Any, spec: EntitySpec, mapping: Mapping) -> BatchMatcher | None:
    """The duplicate check of the rows the import would create (none in mode update, or
    without a rule that changes what happens)."""
    if mapping.mode == UPDATE:
        return None
    rules = enabled_rules(spec.key)
    if dup.option_of(mapping.duplicates) == dup.CREATE:
        rules = [r for r in rules if r.blocks]
    matcher = BatchMatcher(user, spec, rules=rules) if rules else None
    return matcher if matcher else None


def _note(out: DryRun, keep: int, issue: RowIssue) -> None:
    out.by_field[issue.field or _ROW] += 1
    if len(out.issues) < keep:
        out.issues.append(issue)


def _check_batch(
    user: Any,
    the_plan: Plan,
    chunk: Sequence[Any],
    out: DryRun,
    seen: set,
    keep: int,
    twins: BatchMatcher | None = None,
) -> None:
    spec, fields = the_plan.spec, the_plan.mapping.match_fields
    match_on = fields[0] if fields else None
    good = [r for r in chunk if r.ok]
    parsed = dict(
        zip((id(r) for r in good), the_plan.parse_batch([r.values for r in good]), strict=True)
    )

    def key_of(p: Any) -> tuple | None:
        key = tuple(p.values.get(k) for k in fields)
        return None if not fields or None in key else key

    keys = {k for k in (key_of(p) for p in parsed.values()) if k is not None}
    readable, editable = _existing(user, spec, fields, keys)
    required = [
        f for f in policy.visible_fields(user, spec, "edit") if f.required and f.default is None
    ]
    hits: dict[int, tuple[Any, list]] = {}  # id(row) -> its duplicate check, all at once
    if twins is not None:
        clean = [r for r in good if not parsed[id(r)].problems]
        prepared = [twins.prepare(parsed[id(r)].values) for r in clean]
        for r, p, found in zip(clean, prepared, twins.existing(prepared), strict=True):
            hits[id(r)] = (p, found)
    for row in chunk:
        out.rows += 1
        if not row.ok:
            out.error += 1
            _note(out, keep, RowIssue(row.line, None, row.column, row.raw, str(row.message)))
            continue
        p = parsed[id(row)]
        if p.problems:
            out.error += 1
            for problem in p.problems:
                _note(out, keep, RowIssue(row.line, problem.field, problem.column, problem.value,
                                          problem.message))  # fmt: skip
            continue
        key = key_of(p)
        exists = key is not None and (key in readable or key in seen)
        if exists and the_plan.mode in (UPDATE, BOTH):
            if key in readable and key not in editable:
                out.error += 1
                _note(out, keep, RowIssue(row.line, match_on, None, key[0],
                                          _("You may not change this record.")))  # fmt: skip
            elif refused := _gates_refuse(spec, editable.get(key), p.values, fields):
                for k, message in refused:
                    _note(out, keep, RowIssue(row.line, k, None, p.values.get(k), message))
                out.error += 1
            else:
                out.update += 1
            continue
        if exists or (the_plan.mode == UPDATE):
            out.skip += 1
            continue
        missing = [f for f in required if p.values.get(f.key) in (None, "", [])]
        if the_plan.mode in (CREATE, BOTH) and missing:
            out.error += 1
            for f in missing:
                _note(out, keep, RowIssue(row.line, f.key, None, None,
                                          _("%(field)s is required.", field=f.label)))  # fmt: skip
            continue
        try:  # the stage's gates, as the record service checks them when it creates it
            stage_rules.prepare(spec, None, dict(p.values))
        except ValidationFailed as exc:
            out.error += 1
            for key, messages in exc.errors.items():
                for message in messages:
                    _note(out, keep, RowIssue(row.line, key, None, p.values.get(key), message))
            continue
        if id(row) in hits and twins is not None:
            p, found = hits[id(row)]
            decision = dup.decide(
                dup.option_of(the_plan.mapping.duplicates),
                [*found, *twins.earlier(p)],
                spec.key,
            )
            if decision.action == dup.SKIP:
                out.skip += 1
                out.duplicates_skipped += 1
                continue
            if decision.action == dup.UPDATE:
                out.update += 1
                out.duplicates_updated += 1
                continue
            twins.remember(row.line, p)
        if key is not None:
            seen.add(key)
        out.create += 1


def _gates_refuse(
    spec: EntitySpec, current: Any, values: dict, match: Sequence[str]
) -> list[tuple[str, str]]:
    """Why the stage's gates refuse the update of the record ``current`` with the row's
    ``values``, as the run's ``merge_update`` would (the values it would change: not empty,
    not the match fields, different from the record's): ``(field, message)`` pairs, none
    when they let it through (or no record is given)."""
    if current is None:
        return []
    changed = {
        k: v
        for k, v in values.items()
        if v is not None and k not in match and k in current and current[k] != v
    }
    if not changed:
        return []
    try:
        stage_rules.prepare(spec, current, changed)
    except ValidationFailed as exc:
        return [(k, m) for k, messages in exc.errors.items() for m in messages]
    return []


def _existing(
    user: Any, spec: EntitySpec, fields: Sequence[str], keys: set
) -> tuple[set, dict[tuple, Any]]:
    """The keys (values of ``fields``) among ``keys`` of records ``user`` may read, and
    the records they may edit by key (two queries per batch)."""
    if not fields or not keys:
        return set(), {}
    table = table_of(spec)
    columns = [table.c[k] for k in fields]
    first = list({k[0] for k in keys})
    query = scoped(user, spec, "read", columns=columns).where(columns[0].in_(first))
    readable = {tuple(row) for row in db.session.execute(query)} & keys
    editable: dict[tuple, Any] = {}
    query = scoped(user, spec, "edit").where(columns[0].in_(first))
    for row in db.session.execute(query).mappings():
        key = tuple(row[k] for k in fields)
        if key in keys:
            editable[key] = row
    return readable, editable

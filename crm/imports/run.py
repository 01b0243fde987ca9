"""Running an import: a file's rows, in batches, through the record service.

``run(import_id)`` reads the import's file (kept in the database, ``crm.imports.store``)
from the line after its checkpoint, parses each row for the mapped fields
(``crm.imports.values``), matches it to an existing record when the mode says so, and
creates or updates records through the record service: the importing user's scope and
field rights, the "import" right, required/unique/lookup checks, history and the stage
gates of pipelines all apply, row by row, as for a form. Each batch commits its records,
the lines it wrote (``import_rows``, for undo), the rows it could not import
(``import_problems``, for the error file) and the checkpoint in one transaction: a run
killed mid-way and started again resumes after the last committed batch, with nothing
lost or written twice (the checkpoint is moved only from the value this run read, so two
runs of one import cannot both commit a batch).

Matching (modes ``update`` and ``upsert``, or ``create`` with a match field): a row is
matched on the values of the chosen fields among the live records. A match the user may
not edit is an error of the row, never a silent skip; several matches are an error too.
An empty cell never clears a stored value in an update.

Duplicate rules (issue 18, ``crm.imports.duplicates``): a row the import would create is
checked against the entity's enabled duplicate rules, a batch at a time (one key query per
batch, ``crm.dedupe.batch``), and skipped (reported in ``import_problems`` under
``REPORT_KEY``, counted as skipped, not as an error), made to update its one best match, or
created anyway, as the import's option says. The records a batch creates get their
duplicate keys in the batch's transaction, so the next batch, a resumed run and the next
import find them.

A mapping made on the screens (``crm.imports.mapping.Plan``) resolves its lookup columns per
batch; names its lookup rule says to create are created first, once each, in the batch's
transaction (``create_linked``), so a killed batch leaves none and a resumed run finds
those of the committed batches. Its owner column (``crm.imports.owners``) gives each
created record its owner (``bulk_create``'s ``owner_ids``) and an updated one its new
owner (``sharing.transfer``, with the "assign" right).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from itertools import islice
from typing import Any

from flask_babel import format_number, format_timedelta
from flask_babel import gettext as _
from sqlalchemy import insert, select, update

from crm import uow
from crm.access import policy
from crm.access.models import User
from crm.dedupe import keys as dedupe_keys
from crm.dedupe.batch import BatchMatcher
from crm.dedupe.hook import keyed_entities
from crm.dedupe.models import DedupeKey
from crm.dedupe.rules import enabled_rules
from crm.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.imports import duplicates as dup
from crm.imports import store
from crm.imports.models import (
    CREATE,
    DONE,
    LINKED,
    RUNNING,
    UPDATE,
    Import,
    ImportProblem,
    ImportRow,
    mode_of,
)
from crm.imports.owners import OWNER, PREVIOUS_OWNER
from crm.imports.read import BadRow, Row, Settings, UnreadableFile, open_source
from crm.imports.values import ColumnMap, ImportContext, parse_row, parse_rows
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.records import many, sharing
from crm.records import service as records
from crm.records.query import scoped, table_of
from crm.schema import stats
from crm.timeutil import utcnow
from crm.uow import unit_of_work

BATCH = 500
COUNT_AHEAD = 8  # batches' worth of rows counted after each batch (progress)
SAMPLES = 20

Hook = Callable[[int], None]
Report = Callable[[int, int, str], None]


@dataclass
class Summary:
    """What a run did (this run and the runs before it of the same import)."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0
    rows: int = 0  # rows read, good or bad
    duplicates: int = 0  # rows skipped as duplicates by this run (counted in ``skipped`` too)
    # the first rows in error of this run: (line, {field: [messages]})
    samples: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)
    # the first rows skipped as duplicates by this run: (line, why)
    duplicate_samples: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if not k.endswith("samples")}


class Stopped(Exception):
    """The import's checkpoint moved under this run: another run of it committed first."""


def mapping_of(columns: Sequence[ColumnMap]) -> list[dict[str, Any]]:
    """Columns as the import row stores them (JSON): column, field and how it is read."""
    out = []
    for c in columns:
        item: dict[str, Any] = {"column": c.column, "field": c.spec.key}
        if c.ctx.date_order:
            item["date_order"] = c.ctx.date_order
        if c.ctx.decimal_mark:
            item["decimal_mark"] = c.ctx.decimal_mark
        aliases = c.ctx.choice_aliases.get(c.spec.key) if c.ctx.choice_aliases else None
        if aliases:
            item["aliases"] = dict(aliases)
        out.append(item)
    return out


def columns_of(spec: EntitySpec, mapping: Iterable[Mapping[str, Any]]) -> list[ColumnMap]:
    """The stored mapping as ``ColumnMap``s of ``spec``'s fields. ``ValidationFailed``
    when it names a field the entity does not have (any more)."""
    out = []
    for item in mapping:
        f = spec.field(str(item.get("field")))
        if f is None or f.archived:
            raise ValidationFailed(
                _("The mapping names a field that does not exist."),
                errors={str(item.get("field")): [_("There is no such field.")]},
            )
        aliases = item.get("aliases")
        ctx = ImportContext(
            date_order=item.get("date_order"),
            decimal_mark=item.get("decimal_mark"),
            **({"choice_aliases": {f.key: dict(aliases)}} if aliases else {}),
        )
        out.append(ColumnMap(int(item["column"]), f, ctx))
    return out


def plan_of(user: Any, spec: EntitySpec, data: Mapping[str, Any], names: Sequence[str]) -> Any:
    """The ``crm.imports.mapping.Plan`` of a mapping stored as JSON (``Mapping.to_json``):
    its lookups and value tables apply at run time. ``ValidationFailed`` when it needs
    fixing."""
    from crm.imports import mapping as mapping_service

    return mapping_service.plan(user, spec, mapping_service.Mapping.from_json(data), names)


def check_rights(user: Any, spec: EntitySpec, mode: str, fields: Iterable[str], match) -> None:
    """``Forbidden`` unless ``user`` may import into ``spec`` in ``mode``;
    ``ValidationFailed`` when the mapping names a field they may not set, or matches on
    one they may not see. Reads only."""
    if not policy.can(user, "import", spec.key):
        raise Forbidden(_("You may not import %(entity)s.", entity=spec.label_plural))
    if mode != UPDATE and not policy.can(user, "create", spec.key):
        raise Forbidden(_("You may not create %(entity)s.", entity=spec.label_plural))
    if mode != CREATE and not policy.can(user, "edit", spec.key):
        raise Forbidden(_("You may not edit %(entity)s.", entity=spec.label_plural))
    editable = {f.key for f in policy.visible_fields(user, spec, "edit")}
    visible = {f.key for f in policy.visible_fields(user, spec, "read")}
    errors: dict[str, list[str]] = {}
    for key in fields:
        if key not in editable:
            errors.setdefault(key, []).append(_("You cannot set this field."))
    for key in match:
        if key not in visible:
            errors.setdefault(key, []).append(_("You cannot match on this field."))
    if mode != CREATE and not match:
        errors.setdefault("match", []).append(_("Choose the field that finds the record."))
    if errors:
        raise ValidationFailed(_("The import cannot run with this mapping."), errors=errors)


def run(
    import_id: int,
    *,
    batch: int = BATCH,
    hook: Hook | None = None,
    report: Report | None = None,
    job: Any = None,
    dry_run: bool = False,
) -> Summary:
    """Run (or resume) the import ``import_id``; returns its counts.

    Outside a unit of work each batch commits on its own; inside one (a job: the runner's)
    each batch is committed with ``uow.checkpoint``, after checking that the job is still
    this attempt's (``job``: its ``JobContext``). ``dry_run``: the same work in one
    transaction that is rolled back, nothing kept. ``hook(n)`` is called before the n-th
    batch commits (tests kill runs there); ``report(done, total, message)`` says progress.

    Raises ``NotFound`` (no such import), ``Forbidden``/``ValidationFailed`` (rights or
    mapping, nothing written), ``UnreadableFile`` (the file), ``Stopped``."""
    imp = db.session.get(Import, import_id)
    if imp is None:
        raise NotFound(_("There is no such import."))
    user = db.session.get(User, imp.user_id) if imp.user_id else None
    spec = specs.current().entity(imp.entity_key)
    if user is None or spec is None:
        raise DomainError(_("The import's user or entity no longer exists."))
    the_plan = None
    if isinstance(imp.mapping, Mapping):  # a mapping made on the screens (``crm.imports.mapping``)
        names = list((imp.settings or {}).get("columns") or [])
        the_plan = plan_of(user, spec, imp.mapping, names)
        columns = the_plan.columns
    else:
        columns = columns_of(spec, imp.mapping)
    match = tuple(imp.match or ())
    check_rights(user, spec, mode_of(imp.mode), [c.spec.key for c in columns], match)
    engine = _Engine(imp, user, spec, columns, match, job)
    engine.plan = the_plan
    if dry_run:
        with unit_of_work() as unit:
            summary = engine.go(batch, hook, report, commit=False)
            unit.discard()
        return summary
    commit = uow.in_unit()  # a job's unit: commit each batch with a checkpoint
    if not commit:
        with unit_of_work():
            _start(imp)
    else:
        _start(imp)
    return engine.go(batch, hook, report, commit=commit)


def _start(imp: Import) -> None:
    db.session.execute(
        update(Import)
        .where(Import.id == imp.id)
        .values(status=RUNNING, started_at=imp.started_at or utcnow())
        .execution_options(synchronize_session=False)
    )


class _Engine:
    def __init__(self, imp, user, spec, columns, match, job) -> None:
        self.imp_id = imp.id
        self.mode = mode_of(imp.mode)  # imports stored before "both" say "upsert"
        self.name = imp.filename
        self.settings = dict(imp.settings or {})
        self.last_line = imp.last_line
        self.summary = Summary(imp.created, imp.updated, imp.skipped, imp.errors)
        self.user, self.spec, self.columns, self.match, self.job = user, spec, columns, match, job
        self.table = table_of(spec)
        self.plan: Any = None  # a mapping's Plan: lookups resolved per batch
        # the duplicate option (``crm.imports.duplicates``) and the entity's rules' matcher
        self.duplicates = dup.option_of(self.settings.get("duplicates"))
        self.matcher: BatchMatcher | None = None
        self.keyed = False  # whether created records get their duplicate keys at once
        self.direct_keys = False  # written from the check's keys (``BatchMatcher.key_rows``)
        # keys written by this run, and the count at which the key table is analyzed next:
        # a key table that was empty when its statistics were taken (a go-live import)
        # would be scanned by each batch's lookup on PostgreSQL (0.7 s a batch at 20,000)
        self.keys_written = 0
        self.analyze_at = stats.BULK_ROWS

    def start_matching(self) -> None:
        """Load the duplicate rules (once, before the first batch)."""
        if self.plan is not None and getattr(self.plan.mapping, "duplicates", None):
            self.duplicates = dup.option_of(self.plan.mapping.duplicates)
        self.keyed = self.spec.key in keyed_entities()
        if self.mode != UPDATE:
            rules = enabled_rules(self.spec.key)
            if self.duplicates == dup.CREATE:  # only a blocking rule changes what happens
                rules = [r for r in rules if r.blocks]
            matcher = BatchMatcher(self.user, self.spec, rules=rules) if rules else None
            self.matcher = matcher if matcher else None
        if self.keyed and self.matcher is not None:
            # the keys the check computed are the keys of the records it creates: written
            # as they are, not read back and normalised again (``keys.refresh``)
            keying = enabled_rules(self.spec.key, involving=True)
            mapped = {c.spec.key for c in self.columns}
            self.direct_keys = self.matcher.keys_all(keying, mapped)

    def source(self, file):
        s = self.settings
        chosen = Settings(
            encoding=s.get("encoding"), delimiter=s.get("delimiter"),
            quotechar=s.get("quotechar"), header_row=s.get("header_row"), sheet=s.get("sheet"),
        )  # fmt: skip
        return open_source(file, self.name, chosen)

    def go(self, size: int, hook: Hook | None, report: Report | None, *, commit: bool) -> Summary:
        self.start_matching()
        with store.opened(self.imp_id) as file, ExitStack() as more:
            source = self.source(file)
            counter = None
            if report is not None:
                # The rows are counted from a second copy of the file, made after the
                # first batch, a few batches' worth after each batch: the first progress
                # comes after the first batch, not after reading the whole file once more.
                # A file uploaded on the screens was counted then (its profile).
                counter = _Counter(
                    lambda: self.source(more.enter_context(store.opened(self.imp_id))),
                    known=(self.settings.get("profile") or {}).get("rows"),
                )
                if counter.total:
                    report(0, counter.total, _("Starting…"))
                else:
                    report(0, 0, _("Counting the rows…"))
            started, done, n = time.monotonic(), 0, 0
            pending: list[Row | BadRow] = []
            for item in source.rows():
                if item.line <= self.last_line:
                    done += 1
                    continue
                pending.append(item)
                if len(pending) >= size:
                    n += 1
                    self.batch(pending, n, hook, commit)
                    done += len(pending)
                    pending = []
                    if counter is not None and report is not None:
                        total = counter.advance(COUNT_AHEAD * size)
                        report(done, total, self.progress_words(done, total, started))
            n += 1
            self.batch(pending, n, hook, commit, last=True)
            done += len(pending)
        self.summary.rows = done
        return self.summary

    def progress_words(self, done: int, total: int, started: float) -> str:
        """The progress in words; ``total`` 0: not counted yet."""
        if not total:
            return _(
                "%(done)s rows, %(errors)s with errors; counting the rows…",
                done=done, errors=self.summary.errors,
            )  # fmt: skip
        spent = time.monotonic() - started
        left = (total - done) * spent / done if done else 0
        return _(
            "%(done)s of %(total)s rows, %(errors)s with errors; about %(left)s left.",
            done=format_number(done), total=format_number(total),
            errors=format_number(self.summary.errors),
            left=format_timedelta(timedelta(seconds=max(1, left)), threshold=1.1),
        )  # fmt: skip

    # -- one batch ----------------------------------------------------------------------

    def batch(self, items: list, n: int, hook: Hook | None, commit: bool, last=False) -> None:
        with unit_of_work(), specs.pinned():
            if self.matcher is not None and self.keys_written >= self.analyze_at:
                stats.refresh_statistics([DedupeKey.__tablename__])
                self.analyze_at = self.keys_written * 10
            work = _Batch(self)
            good = [i.values for i in items if not isinstance(i, BadRow)]
            if self.plan is not None:
                rows = [i for i in items if not isinstance(i, BadRow)]
                parsed = self.plan.parse_batch(good)
                if self.plan.to_create:
                    parsed = self.create_linked(rows, parsed, work)
            else:  # column by column: each column's reader and memo taken once
                parsed = parse_rows(self.columns, good)
            ahead = iter(parsed)
            for item in items:
                work.add(item, next(ahead) if parsed and not isinstance(item, BadRow) else None)
            work.finish()
            end = items[-1].line if items else self.last_line
            s = self.summary
            values = {
                "last_line": end, "created": s.created, "updated": s.updated,
                "skipped": s.skipped, "errors": s.errors,
            }  # fmt: skip
            if last:
                values |= {"status": DONE, "finished_at": utcnow()}
            moved = db.session.execute(
                update(Import)
                .where(Import.id == self.imp_id, Import.last_line == self.last_line)
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            if moved != 1:
                raise Stopped(self.imp_id)
            if self.job is not None:
                _still_ours(self.job)
            if hook is not None:
                hook(n)
        if commit:
            uow.checkpoint()
        self.last_line = end
        if self.matcher is not None:
            self.matcher.forget()  # the batch's new records carry their keys now

    def create_linked(self, good: list[Row], parsed: list[Any], work: _Batch) -> list[Any]:
        """Create the linked records the batch's rows name and no record matches (lookup
        rule "create"), once each, in the batch's transaction (a killed batch leaves none
        and a resumed run finds those of the batches before); then parse the rows again so
        they point at them. Each created record gets an import row ("linked": undo sends it
        to the recycle bin after the records that point at it)."""
        wanted, self.plan.to_create = self.plan.to_create, {}
        resolvers = list(self.plan.resolvers.values())
        made: dict[tuple[str, int], str] = {}  # (field, id) -> target entity
        for resolver in resolvers:
            names = wanted.get(resolver.field.key)
            if not names:
                continue
            for name, record_id in resolver.create_missing(sorted(names.values())):
                made[(resolver.field.key, record_id)] = resolver.target.key
                for other in resolvers:  # another lookup to the same records finds it too
                    if other is not resolver and other.target.key == resolver.target.key \
                            and other.match_on.key == resolver.match_on.key:  # fmt: skip
                        other.created(name, record_id)
        parsed = self.plan.parse_batch([i.values for i in good])
        self.plan.to_create = {}
        first: dict[tuple[str, int], int] = {}
        for item, p in zip(good, parsed, strict=True):
            for key, value in p.values.items():
                if (key, value) in made:
                    first.setdefault((key, value), item.line)
        for (key, record_id), entity in made.items():
            line = first.get((key, record_id), good[0].line if good else 0)
            work.rows.append(work.row(line, record_id, LINKED, 1, {"entity": entity}))
        return parsed


class _Counter:
    """The rows of a source counted a part at a time (``advance``)."""

    def __init__(self, source: Callable[[], Any], known: Any = None) -> None:
        self.source = source  # opened at the first ``advance`` (after the first batch)
        self.rows: Any = None
        self.seen = 0
        # a file uploaded on the screens was counted then (``crm.imports.profile``)
        self.total = known if isinstance(known, int) and known > 0 else 0

    def advance(self, most: int) -> int:
        """Count up to ``most`` more rows; the total once all are counted, else 0."""
        if not self.total:
            if self.rows is None:
                self.rows = self.source().rows()
            self.seen += sum(1 for _row in islice(self.rows, most))
            if next(self.rows, None) is None:
                self.total = self.seen
            else:
                self.seen += 1
        return self.total


def _still_ours(job: Any) -> None:
    """``Superseded`` unless the job row is still this attempt's (the sweep may have
    handed it to another worker: then this run's batch must not commit)."""
    from crm.jobs.models import RUNNING as JOB_RUNNING
    from crm.jobs.models import Job
    from crm.jobs.runner import Superseded

    ours = db.session.execute(
        update(Job)
        .where(Job.id == job.job_id, Job.status == JOB_RUNNING, Job.attempts == job.attempt)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if ours != 1:
        raise Superseded(job.job_id)


class _Batch:
    """The rows of one batch: matched, then created (many at once) or updated (one by
    one); its import rows and problems written at ``finish``."""

    def __init__(self, engine: _Engine) -> None:
        self.e = engine
        self.rows: list[dict[str, Any]] = []
        self.problems: list[dict[str, Any]] = []
        self.creates: list[tuple[int, dict, list]] = []
        self.create_keys: set[tuple] = set()
        self.parsed: list[tuple[int, dict, list]] = []
        self.line_ids: dict[int, int] = {}  # line -> the record it created
        self.prepared: dict[int, Any] = {}  # line -> its duplicate check (rows to create)

    def add(self, item: Row | BadRow, parsed: Any = None) -> None:
        if isinstance(item, BadRow):
            self.problem(item.line, {"raw": item.raw}, {"": [str(item.message)]})
            return
        if parsed is None:
            parsed = parse_row(self.e.columns, item.values)
        cells = item.values  # as JSON (``problem``) only for the rows in error
        if not parsed.ok:
            reasons: dict[str, list[str]] = {}
            for p in parsed.problems:
                reasons.setdefault(p.field, []).append(p.message)
            self.problem(item.line, cells, reasons)
            return
        self.parsed.append((item.line, parsed.values, cells))

    def problem(self, line: int, cells: Any, reasons: Mapping[str, list[str]]) -> None:
        if isinstance(cells, list | tuple):  # a row's cells as the error file keeps them
            cells = [records.jsonable(v) for v in cells]
        self.problems.append({"line": line, "cells": cells, "reasons": dict(reasons)})
        summary = self.e.summary
        summary.errors += 1
        if len(summary.samples) < SAMPLES:
            summary.samples.append((line, dict(reasons)))

    def finish(self) -> None:
        e = self.e
        found = self.find([self.key(v) for _l, v, _c in self.parsed]) if e.match else {}
        twins: list[Any] = []  # per row, its prepared duplicate check and hits
        if e.matcher is not None:
            prepared = [e.matcher.prepare(v) for _l, v, _c in self.parsed]
            twins = list(zip(prepared, e.matcher.existing(prepared), strict=True))
        for n, (line, values, cells) in enumerate(self.parsed):
            key = self.key(values) if e.match else None
            if key is not None and key in self.create_keys:
                # the same record twice in a batch: create the pending ones before matching
                # (all of them: each of their keys must now find its new record)
                flushed = list(self.create_keys)
                self.flush()
                found.update(self.find(flushed))
            ids = found.get(key, []) if key is not None else []
            if key is not None and None in key and e.mode == UPDATE:
                self.problem(
                    line, cells, {k: [_("The value to match on is empty.")] for k in e.match}
                )
            elif not ids:
                if e.mode == UPDATE:
                    e.summary.skipped += 1
                elif twins and not self.twin(line, values, cells, *twins[n]):
                    pass  # skipped or updated as a duplicate
                else:
                    self.creates.append((line, values, cells))
                    if key is not None and None not in key:
                        self.create_keys.add(key)
            elif len(ids) > 1:
                self.problem(line, cells, {
                    k: [_("%(num)s records match this row: make the match unique.", num=len(ids))]
                    for k in e.match
                })  # fmt: skip
            elif e.mode == CREATE:
                e.summary.skipped += 1
            else:
                self.update(line, values, cells, ids[0])
        self.flush()
        if self.rows:  # the undo data, one statement for the batch (COPY on PostgreSQL)
            keys = ["import_id", "line", "record_id", "action", "version", "previous"]
            many.insert_rows(ImportRow.__table__, keys, [[r[k] for k in keys] for r in self.rows])
        if self.problems:
            db.session.execute(
                insert(ImportProblem), [{"import_id": e.imp_id, **p} for p in self.problems]
            )

    def twin(self, line: int, values: dict, cells: list, prepared: Any, hits: list) -> bool:
        """Apply the duplicate option to a row that would be created; True when it is to
        be created after all (then it is remembered for the rows after it)."""
        e = self.e
        assert e.matcher is not None
        decision = dup.decide(
            e.duplicates, [*hits, *e.matcher.earlier(prepared)], e.spec.key
        )  # fmt: skip
        if decision.action == dup.CREATE:
            e.matcher.remember(line, prepared)
            self.prepared[line] = prepared
            return True
        if decision.action == dup.UPDATE and decision.hit is not None:
            rid = decision.hit.record_id
            if rid is None:  # an earlier row of the file: update the record it created
                if any(t[0] == decision.hit.line for t in self.creates):
                    self.flush()
                rid = self.line_ids.get(decision.hit.line or 0)
            if rid is not None:
                self.update(line, values, cells, rid, keys=())
                return False
            decision = dup.Decision(dup.SKIP, message=dup.describe(decision.hit))
        self.duplicate(line, cells, decision.message or "")
        return False

    def duplicate(self, line: int, cells: Any, message: str) -> None:
        """Report a row skipped as a duplicate (in the import's report, not an error)."""
        if isinstance(cells, list | tuple):
            cells = [records.jsonable(v) for v in cells]
        self.problems.append({"line": line, "cells": cells, "reasons": {dup.REPORT_KEY: [message]}})
        summary = self.e.summary
        summary.skipped += 1
        summary.duplicates += 1
        if len(summary.duplicate_samples) < SAMPLES:
            summary.duplicate_samples.append((line, message))

    def key(self, values: Mapping[str, Any]) -> tuple:
        return tuple(values.get(k) for k in self.e.match)

    def find(self, keys: list[tuple]) -> dict[tuple, list[int]]:
        """Live records holding each key (whoever may see them: a match the user may not
        edit must be reported, not taken for no match)."""
        e, wanted = self.e, {k for k in keys if None not in k}
        if not wanted:
            return {}
        cols = [e.table.c[k] for k in e.match]
        first = {k[0] for k in wanted}
        query = select(e.table.c.id, *cols).where(
            e.table.c.deleted_at.is_(None), cols[0].in_(first)
        )
        out: dict[tuple, list[int]] = {}
        for row in db.session.execute(query):
            key = tuple(row[1:])
            if key in wanted:
                out.setdefault(key, []).append(row[0])
        return out

    def update(
        self, line: int, values: dict, cells: list, record_id: int, keys: Any = None
    ) -> None:
        """Update ``record_id`` with the row's values (not the match fields, or ``keys``:
        the fields the row was found by; none for a duplicate's update)."""
        e = self.e
        match = e.match if keys is None else tuple(keys)
        current = db.session.execute(
            scoped(e.user, e.spec, "edit").where(e.table.c.id == record_id)
        ).mappings().first()  # fmt: skip
        if current is None:
            self.problem(line, cells, {
                k: [_("An existing %(entity)s matches this row, but you may not edit it.",
                      entity=e.spec.label_singular)] for k in (match or ("",))
            })  # fmt: skip
            return
        # the owner column gives the record its owner (the "assign" right, checked by
        # ``transfer``); the undo gives the previous owner back (``PREVIOUS_OWNER``)
        owner = values.get(OWNER)
        wanted = {
            k: v for k, v in values.items() if v is not None and k not in match and k != OWNER
        }
        raw = {k: records.jsonable(v) for k, v in wanted.items()}
        try:
            with unit_of_work():  # a savepoint: the row's fields and owner, or neither
                saved = records.merge_update(
                    e.user, e.spec, record_id, None, raw, expected_version=current["version"]
                )
                version = saved.version
                previous = {k: records.jsonable(current[k]) for k in saved.written}
                if owner is not None and owner != current["owner_id"]:
                    version = sharing.transfer(
                        e.user, e.spec, record_id, owner, expected_version=version
                    )
                    previous[PREVIOUS_OWNER] = current["owner_id"]
        except (ValidationFailed, Conflict, Forbidden, NotFound) as exc:
            self.problem(line, cells, exc.errors or {"": [exc.message]})
            return
        if not previous:
            e.summary.skipped += 1
            return
        self.rows.append(self.row(line, record_id, "updated", version, previous))
        e.summary.updated += 1

    def row(self, line, record_id, action, version, previous=None) -> dict[str, Any]:
        return {
            "import_id": self.e.imp_id, "line": line, "record_id": record_id,
            "action": action, "version": version, "previous": previous,
        }  # fmt: skip

    def flush(self) -> None:
        """Create the pending rows, many at once; rows the service refuses are problems
        and the others are tried again (all or nothing per call: ``bulk_create``)."""
        e, todo = self.e, self.creates
        self.creates, self.create_keys = [], set()
        while todo:
            rows = [{k: x for k, x in v.items() if k != OWNER} for _l, v, _c in todo]
            owners = [v.get(OWNER) or e.user.id for _l, v, _c in todo]
            chosen = owners if any(v.get(OWNER) for _l, v, _c in todo) else None
            try:
                ids = records.bulk_create(e.user, e.spec, rows, owner_ids=chosen, typed=True)
            except ValidationFailed as exc:
                bad = _rows_named(exc.errors, len(todo))
                if bad is None:  # not by row (a race on a unique value): one by one
                    self.one_by_one(todo)
                    return
                for i in sorted(bad):
                    line, _v, cells = todo[i]
                    self.problem(line, cells, bad[i])
                todo = [t for i, t in enumerate(todo) if i not in bad]
                continue
            except (Forbidden, Conflict) as exc:
                for line, _v, cells in todo:
                    self.problem(line, cells, {"": [exc.message]})
                return
            for (line, _v, _c), rid in zip(todo, ids, strict=True):
                self.rows.append(self.row(line, rid, "created", 1))
                self.line_ids[line] = rid
            e.summary.created += len(ids)
            if e.keyed:  # their duplicate keys now, in the batch's transaction
                self.keys([(line, rid) for (line, _v, _c), rid in zip(todo, ids, strict=True)])
            return

    def one_by_one(self, todo: list) -> None:
        e = self.e
        made: list[tuple[int, int]] = []
        for line, values, cells in todo:
            try:
                if values.get(OWNER):
                    row = {k: v for k, v in values.items() if k != OWNER}
                    (rid,) = records.bulk_create(
                        e.user, e.spec, [row], owner_ids=[values[OWNER]], typed=True
                    )
                else:
                    rid = records.create(
                        e.user, e.spec, {k: records.jsonable(v) for k, v in values.items()}
                    )
            except (ValidationFailed, Conflict, Forbidden) as exc:
                self.problem(line, cells, exc.errors or {"": [exc.message]})
                continue
            self.rows.append(self.row(line, rid, "created", 1))
            self.line_ids[line] = rid
            made.append((line, rid))
            e.summary.created += 1
        if e.keyed and made:
            self.keys(made)

    def keys(self, created: list[tuple[int, int]]) -> None:
        """Write the duplicate keys of records just created ((line, id) pairs)."""
        e = self.e
        if e.direct_keys and e.matcher is not None and all(n in self.prepared for n, _ in created):
            rows = e.matcher.key_rows([(rid, self.prepared[line]) for line, rid in created])
            if rows:
                db.session.execute(insert(DedupeKey), rows)
            e.keys_written += len(rows)
            return
        e.keys_written += dedupe_keys.refresh(e.spec, [rid for _l, rid in created])


def _rows_named(errors: Mapping[str, list[str]], count: int) -> dict[int, dict] | None:
    """``bulk_create``'s errors ({"row N: key": [...]}) by 0-based row, or None when one
    of them names no row."""
    out: dict[int, dict] = {}
    for name, messages in errors.items():
        head, sep, key = name.partition(": ")
        if not sep or not head.startswith("row "):
            return None
        try:
            n = int(head[4:])
        except ValueError:
            return None
        if not 1 <= n <= count:
            return None
        out.setdefault(n - 1, {})[key] = list(messages)
    return out


__all__ = [
    "BATCH", "Stopped", "Summary", "UnreadableFile", "check_rights", "columns_of",
    "mapping_of", "plan_of", "run",
]  # fmt: skip

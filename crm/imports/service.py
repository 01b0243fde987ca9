"""Imports as a service: start one (file kept, job queued), run it as a job, undo it, and
write its error file.

``start`` checks the user's rights and the mapping, keeps the file in the database and
adds the ``import.run`` job in the same transaction (the outbox): the job runs the import
on a worker (``crm.imports.run``), resuming after the last committed batch when it is run
again after a kill. ``undo`` sends the records the import created to the recycle bin and
gives the records it updated their previous values back, unless they changed since.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

from flask_babel import format_number
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.access import policy
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.imports import duplicates as dup
from crm.imports import run as engine
from crm.imports import store
from crm.imports.models import (
    LINKED,
    MODES,
    QUEUED,
    UNDONE,
    Import,
    ImportProblem,
    ImportRow,
    mode_of,
)
from crm.imports.owners import PREVIOUS_OWNER
from crm.imports.read import Settings, open_source
from crm.imports.values import ColumnMap
from crm.jobs import handler
from crm.jobs.outbox import enqueue
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec
from crm.records import service as records
from crm.records import sharing
from crm.records.export import safe_cell
from crm.records.query import table_of
from crm.timeutil import utcnow
from crm.uow import unit_of_work

KIND = "import.run"


def create(
    user: Any,
    spec: EntitySpec,
    file: BinaryIO,
    name: str,
    columns: Sequence[ColumnMap],
    *,
    mode: str = "create",
    match: Sequence[str] = (),
    settings: Settings | None = None,
    queue: bool = True,
    duplicates: str | None = None,
) -> Import:
    """Keep the file and the import's settings, and (``queue``) add the job that runs it,
    all in one transaction; returns the import row. ``duplicates``: what rows duplicating a
    record under the entity's duplicate rules become (``crm.imports.duplicates``; skip when
    not given).

    Raises ``Forbidden`` (no import right), ``ValidationFailed`` (a mode, mapping or match
    the user may not use), ``UnreadableFile`` (the file): nothing is written then."""
    mode = mode_of(mode)
    if mode not in MODES:
        raise ValidationFailed(
            _("Choose how rows are imported."), errors={"mode": [_("Unknown mode.")]}
        )
    engine.check_rights(user, spec, mode, [c.spec.key for c in columns], match)
    source = open_source(file, name, settings)
    chosen = source.how_read()
    if duplicates is not None:  # what rows duplicating a record become (``duplicates``)
        chosen["duplicates"] = dup.option_of(duplicates)
    with unit_of_work():
        imp = Import(
            entity_key=spec.key, user_id=user.id, filename=name[:255], size=source.size,
            settings=chosen, mapping=engine.mapping_of(columns), mode=mode, match=list(match),
            status=QUEUED, created=0, updated=0, skipped=0, errors=0, last_line=0,
            created_at=utcnow(),
        )  # fmt: skip
        db.session.add(imp)
        db.session.flush()
        store.save(imp.id, file)
        if queue:
            imp.job_id = enqueue(KIND, {"import_id": imp.id}, user_id=user.id).id
        import_id = imp.id
    return db.session.get(Import, import_id)


COUNTS = ("created", "updated", "skipped", "errors")


def _describe(payload: Mapping[str, Any], result: Any) -> dict[str, Any]:
    words: dict[str, Any] = {"title": _("Import")}
    if isinstance(result, Mapping):
        words["done"] = _(
            "Created: %(created)s, updated: %(updated)s, skipped: %(skipped)s, errors: %(errors)s.",
            **{
                k: format_number(result.get(k, 0))
                for k in ("created", "updated", "skipped", "errors")
            },
        )
        if payload.get("entity"):
            from flask import url_for

            words["link"] = (
                _("See the imports"), url_for("imports.import_list", key=payload["entity"])
            )  # fmt: skip
    return words


@handler(KIND, describe=_describe)
def run_job(ctx: Any) -> dict[str, int]:
    """The job: run (or resume) the import, committing batch by batch."""
    summary = engine.run(
        int(ctx.payload["import_id"]),
        report=lambda done, total, words: ctx.progress(done, total, words, unit="row"),
        job=ctx,
    )
    return summary.as_dict()


def summary_of(imp: Import) -> engine.Summary:
    """The counts an import row holds."""
    return engine.Summary(imp.created, imp.updated, imp.skipped, imp.errors)


# -- the error file ----------------------------------------------------------------------


def write_errors(import_id: int, out: TextIO, *, spec: EntitySpec | None = None) -> int:
    """Write the rows an import could not import as CSV to ``out``: the file's columns and
    an "Error" column saying why (per field); a cell that a spreadsheet would take for a
    formula is escaped. A row that could not be read into columns has its raw text in the
    first column. Returns the number of rows written."""
    imp = db.session.get(Import, import_id)
    if imp is None:
        raise NotFound(_("There is no such import."))
    names = list((imp.settings or {}).get("columns") or [])
    writer = csv.writer(out)
    writer.writerow([safe_cell(str(n)) for n in names] + [_("Error")])
    query = (
        select(ImportProblem.line, ImportProblem.cells, ImportProblem.reasons)
        .where(ImportProblem.import_id == import_id)
        .order_by(ImportProblem.line)
    )
    count = 0
    for _line, cells, reasons in db.session.execute(query):
        if isinstance(cells, Mapping):
            row = _split(str(cells.get("raw", "")), imp.settings or {})
            row += [""] * (len(names) - len(row))
        else:
            row = ["" if v is None else str(v) for v in cells]
            row += [""] * (len(names) - len(row))
        writer.writerow([safe_cell(v) for v in row] + [safe_cell(_reason(spec, reasons))])
        count += 1
    db.session.rollback()
    return count


def _split(raw: str, settings: Mapping[str, Any]) -> list[str]:
    """A row that could not be read into the columns, split as well as it goes (its
    fields, however many; else its text whole in the first column)."""
    delimiter = settings.get("delimiter") or "\t"
    try:
        found = list(csv.reader(io.StringIO(raw), delimiter=delimiter, strict=True))
    except csv.Error:
        return [raw]
    return found[0] if len(found) == 1 else [raw]


def _reason(spec: EntitySpec | None, reasons: Mapping[str, list[str]]) -> str:
    parts = []
    for key, messages in reasons.items():
        if key == dup.REPORT_KEY:  # a row skipped as a duplicate: its message says it all
            parts.append(" ".join(messages))
            continue
        f = spec.field(key) if spec is not None and key else None
        label = f.label if f is not None else key
        text = " ".join(messages)
        parts.append(f"{label}: {text}" if label else text)
    return "; ".join(parts)


# -- undo --------------------------------------------------------------------------------


@dataclass
class Undone:
    """What undoing did: records sent to the recycle bin, records given their values back,
    and those left as they are (changed since, or gone), as (record id, line)."""

    removed: int = 0
    restored: int = 0
    kept: list[tuple[int, int]] = field(default_factory=list)


def undo(user: Any, spec: EntitySpec, import_id: int) -> Undone:
    """Undo an import of ``user`` (or any import, for an administrator): created records
    go to the recycle bin (the record service's delete, with its rules); updated ones get
    back the values the import replaced, unless the record changed since (its version is
    not the one the import left): those are listed in ``kept``, never overwritten.

    Raises ``NotFound`` (no such import of this entity for this user), ``Conflict``
    (already undone, or still running)."""
    imp = db.session.get(Import, import_id) if 0 < import_id < 2**31 else None
    if imp is None or imp.entity_key != spec.key or not policy.may_see_job(user, imp.user_id):
        raise NotFound(_("There is no such import."))
    if not policy.can(user, "import", spec.key):
        raise Forbidden(_("You may not import %(entity)s.", entity=spec.label_plural))
    if imp.status == UNDONE:
        raise Conflict(_("This import was undone already."))
    if imp.status in ("queued", "running") and not _job_failed(imp.job_id):
        raise Conflict(_("This import is still running: undo it when it has finished."))
    done = Undone()
    rows = db.session.execute(
        select(ImportRow.line, ImportRow.record_id, ImportRow.action, ImportRow.version,
               ImportRow.previous)
        .where(ImportRow.import_id == import_id)
        .order_by(ImportRow.id.desc())
    ).all()  # fmt: skip
    with unit_of_work():
        for line, record_id, action, version, previous in rows:
            try:
                if action == LINKED:  # a linked record the import created (lookup rule)
                    target = specs.current().entity(str((previous or {}).get("entity")))
                    if target is None or _still_linked(target, record_id):
                        done.kept.append((record_id, line))
                        continue
                    records.delete(user, target, record_id)
                    done.removed += 1
                    continue
                if action == "created":
                    records.delete(user, spec, record_id)
                    done.removed += 1
                    continue
                current = records.get(user, spec, record_id, action="edit")
                if current["version"] != version:
                    done.kept.append((record_id, line))
                    continue
                before = dict(previous or {})
                owner = before.pop(PREVIOUS_OWNER, None)
                with unit_of_work():  # the values and the owner back, or neither
                    if before:
                        values = {k: _typed(spec, k, v) for k, v in before.items()}
                        version = records.update_record(
                            user, spec, record_id, values, expected_version=version
                        )
                    if owner is not None:
                        sharing.transfer(user, spec, record_id, owner, expected_version=version)
                done.restored += 1
            except (NotFound, Conflict, ValidationFailed, Forbidden):
                done.kept.append((record_id, line))
        db.session.execute(
            update(Import)
            .where(Import.id == import_id, Import.status != UNDONE)
            .values(status=UNDONE, undone_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return done


def _still_linked(target: EntitySpec, record_id: int) -> bool:
    """Whether a live record still points at ``record_id`` of ``target`` (one the import
    did not create, or kept by the undo): then the linked record stays."""
    for other, f in records.references_to(target):
        table = table_of(other)
        query = select(table.c.id).where(table.c[f.key] == record_id, table.c.deleted_at.is_(None))
        if db.session.scalar(query.limit(1)) is not None:
            return True
    return False


def _job_failed(job_id: int | None) -> bool:
    """Whether the import's job failed (its batches until then stay: they can be undone)."""
    from crm.jobs.models import FAILED, Job

    return (
        job_id is not None
        and db.session.scalar(select(Job.status).where(Job.id == job_id)) == FAILED
    )


def _typed(spec: EntitySpec, key: str, stored: Any) -> Any:
    f = spec.field(key)
    if f is None or stored is None:
        return stored
    try:
        return records.jsonable(types.get(f.type).parse(f, stored))
    except (ValueError, TypeError):
        return stored

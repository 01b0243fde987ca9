"""The go-live pack: the company's base data, one file per step, imported in order.

The steps are the organisation (departments, then users), then every entity in lookup
order: an entity comes after the entities its lookup fields point to, as the metadata
says today (a self-reference does not count; a cycle is broken at the entity with the
fewest lookups left, named in ``Order.cycles``). ``start`` checks every file and its
mapping before anything is written, keeps each file as an import and queues the first
step; each step's job runs its import and then queues the next, so a later step always
finds the records of the earlier ones. A step with rows in error, or that cannot run,
stops the pack and the pack says which.

An entity step's columns are matched to fields automatically (``crm.imports.matching``),
lookups find the target records by their name, rows are matched on a unique field (else
the name) so that importing a file again updates instead of doubling, and an "Owner"
column gives each record its owner by e-mail address or name (``crm.imports.owners``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select, update

from crm.access.service import require_admin
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.golive.models import DONE, FAILED, RUNNING, GoLivePack
from crm.imports import org, service
from crm.imports import run as engine
from crm.imports.errors import UnreadableFile
from crm.imports.mapping import BOTH, ColumnChoice, Mapping, plan
from crm.imports.matching import auto_match
from crm.imports.models import Import
from crm.imports.read import open_source
from crm.jobs import handler
from crm.jobs.outbox import enqueue
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec
from crm.timeutil import utcnow
from crm.uow import unit_of_work

log = logging.getLogger(__name__)

KIND = "golive.step"
WAITING = "waiting"


@dataclass(frozen=True)
class Order:
    """The entities in import order, and the cycles broken to get it (entity keys)."""

    entities: tuple[EntitySpec, ...]
    cycles: tuple[str, ...] = ()
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)


def entity_order(entities: Any = None) -> Order:
    """Every active entity, each after the entities its lookups point to (ties: by the
    entities' labels), from ``entities`` (key -> spec; default the current metadata)."""
    entities = dict(entities if entities is not None else specs.current().entities)
    live = {k: e for k, e in entities.items() if not e.archived}
    needs = {
        k: tuple(sorted({
            t for f in e.active_fields
            if (t := types.lookup_target(f)) and t != k and t in live
        }))
        for k, e in live.items()
    }  # fmt: skip
    done: list[str] = []
    cycles: list[str] = []
    left = set(live)
    while left:
        ready = sorted(
            (k for k in left if all(n in done for n in needs[k])),
            key=lambda k: (str(live[k].label_plural).casefold(), k),
        )
        if not ready:  # a cycle: take the entity with the fewest lookups still unmet
            pick = min(left, key=lambda k: (sum(n not in done for n in needs[k]), k))
            cycles.append(pick)
            ready = [pick]
        done.append(ready[0])
        left.discard(ready[0])
    return Order(tuple(live[k] for k in done), tuple(cycles), needs)


def steps() -> list[str]:
    """The pack's steps in order: ``@departments``, ``@users``, then entity keys."""
    return [*org.TARGETS, *(e.key for e in entity_order().entities)]


def entity_mapping(user: Any, spec: EntitySpec, columns: list[str]) -> Mapping:
    """The mapping a pack uses for a file of ``spec``: columns matched automatically (an
    "Owner" / "负责人" column gives each record its owner: ``crm.imports.owners``), rows
    matched on a mapped unique field, else on the name field (create or update)."""
    chosen = [ColumnChoice(column=m.column, name=m.name, field=m.field)
              for m in auto_match(user, spec, columns)]  # fmt: skip
    mapped = {c.field for c in chosen if c.field}
    unique = [f.key for f in spec.active_fields if f.unique and f.key in mapped]
    match = unique[0] if unique else (spec.name_field if spec.name_field in mapped else None)
    return Mapping(spec.key, tuple(chosen), mode=BOTH, match_on=match)


def start(actor: Any, files: dict[str, tuple[BinaryIO, str]]) -> GoLivePack:
    """Start a pack of the steps ``files`` gives (step -> (file, name)), in pack order.

    Every file is read and every mapping checked first: ``ValidationFailed`` (by step)
    or ``Forbidden`` leave nothing written. The first step's job is queued with it."""
    require_admin(actor, org.ONLY_ADMINS)
    order = [s for s in steps() if s in files]
    unknown = set(files) - set(order)
    if unknown or not order:
        raise ValidationFailed(_("Choose at least one file for a step of the list."),
                               errors={"files": [_("Choose a file.")]})  # fmt: skip
    errors: dict[str, list[str]] = {}
    made: list[dict[str, Any]] = []
    with unit_of_work():
        for target in order:
            file, name = files[target]
            try:
                made.append({"target": target, "import_id": _keep(actor, target, file, name),
                             "status": WAITING, "message": ""})  # fmt: skip
            except DomainError as exc:
                detail = [m for ms in (exc.errors or {}).values() for m in ms]
                errors[target] = [str(exc.message), *detail]
            except UnreadableFile as exc:
                errors[target] = [str(exc)]
        if errors:
            raise ValidationFailed(_("Nothing was imported: fix these files first."), errors=errors)
        pack = GoLivePack(user_id=actor.id, status=RUNNING, steps=made, message="",
                          created_at=utcnow())  # fmt: skip
        db.session.add(pack)
        db.session.flush()
        enqueue(KIND, {"pack_id": pack.id, "index": 0}, user_id=actor.id)
        pack_id = pack.id
    return db.session.get(GoLivePack, pack_id)


def _keep(actor: Any, target: str, file: BinaryIO, name: str) -> int:
    """Keep one step's file as an import (not queued); its id."""
    if target in org.TARGETS:
        return org.start(actor, target, file, name, queue=False).id
    spec = specs.current().entity(target)
    columns = list(open_source(file, name).columns)
    mapping = entity_mapping(actor, spec, columns)
    the_plan = plan(actor, spec, mapping, columns)
    match = list(mapping.match_fields)
    mode = BOTH if match else "create"
    imp = service.create(actor, spec, file, name, the_plan.columns, mode=mode, match=match,
                         queue=False)  # fmt: skip
    imp.mapping = mapping.to_json()
    db.session.flush()
    return imp.id


def _label(target: str) -> str:
    if target == org.DEPARTMENTS:
        return _("Departments")
    if target == org.USERS:
        return _("Users")
    spec = specs.current().entity(target)
    return str(spec.label_plural) if spec else target


def _describe(payload: Any, result: Any) -> dict[str, Any]:
    from flask import url_for

    words: dict[str, Any] = {"title": _("Go-live step")}
    if isinstance(result, dict) and result.get("step"):
        words["done"] = _label(str(result["step"]))
        words["link"] = (_("Go-live checklist"), url_for("golive.checklist"))
    return words


@handler(KIND, describe=_describe)
def run_step(ctx: Any) -> dict[str, Any]:
    """The job of one step: run its import, then queue the next step, or stop the pack.

    Rows in error, a refused import or an unexpected failure stop the pack (the batches
    an entity import committed before stay: they can be undone on its import list)."""
    from crm.imports.run import Stopped
    from crm.jobs.runner import Superseded

    pack_id, index = int(ctx.payload["pack_id"]), int(ctx.payload["index"])
    pack = db.session.get(GoLivePack, pack_id)
    if pack is None or pack.status != RUNNING or not 0 <= index < len(pack.steps):
        return {"skipped": True}
    target, import_id = pack.steps[index]["target"], int(pack.steps[index]["import_id"])
    _set(pack_id, index, RUNNING, "")
    db.session.execute(
        update(Import).where(Import.id == import_id).values(job_id=ctx.job_id)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    message = ""
    try:
        if target in org.TARGETS:
            summary = org.run(import_id)
        else:
            summary = engine.run(import_id, report=ctx.progress, job=ctx)
        if summary.errors:
            message = ngettext("%(num)d row was not imported.", "%(num)d rows were not imported.",
                               summary.errors)  # fmt: skip
    except DomainError as exc:
        message = str(exc.message)
    except (Superseded, Stopped):
        raise  # another attempt owns the step now
    except Exception:  # say which step failed rather than leave the pack running forever
        log.exception("Go-live pack %s: step %s failed", pack_id, target)
        db.session.rollback()
        message = _("The import failed unexpectedly.")
    pack = db.session.get(GoLivePack, pack_id)
    if message:
        _set(pack_id, index, FAILED, message)
        pack.status, pack.failed_step, pack.finished_at = FAILED, target, utcnow()
        pack.message = _("The pack stopped at “%(step)s”: %(message)s",
                         step=_label(target), message=message)  # fmt: skip
    else:
        _set(pack_id, index, DONE, "")
        if index + 1 < len(pack.steps):
            enqueue(KIND, {"pack_id": pack_id, "index": index + 1}, user_id=pack.user_id)
        else:
            pack.status, pack.finished_at = DONE, utcnow()
    db.session.flush()
    return {"step": target, "status": FAILED if message else DONE}


def _set(pack_id: int, index: int, status: str, message: str) -> None:
    pack = db.session.get(GoLivePack, pack_id)
    changed = [dict(s) for s in pack.steps]
    changed[index] |= {"status": status, "message": message}
    pack.steps = changed
    db.session.flush()


def latest() -> GoLivePack | None:
    """The newest pack, or None."""
    return db.session.scalar(
        select(GoLivePack).order_by(GoLivePack.created_at.desc(), GoLivePack.id.desc()).limit(1)
    )

"""Running jobs: claim the row, run its handler, record the outcome; sweep the stragglers.

``run(job_id)`` (the Huey task's body):

1. claims the row in a short transaction of its own (``queued`` -> ``running``, one more
   attempt): a job dispatched twice runs once;
2. runs the handler in one unit of work that also writes the final ``done`` status, so
   the handler's work and the job's outcome commit together. The status is written only
   if the row is still this attempt's: a run that the sweep gave up for dead and handed to
   another worker rolls its work back instead of committing it twice;
3. on failure (the handler's unit rolled back), records ``failed`` with the message.

While it runs, the worker beats (``crm.jobs.progress``) every ``JOBS_HEARTBEAT_SECONDS``
from a thread of the consumer, never of a web worker (immediate mode has no thread); the
sweep treats a ``running`` row whose beat is older than ``JOBS_STALE_SECONDS`` as killed
mid-way and queues it again, until ``JOBS_MAX_ATTEMPTS`` attempts are spent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, or_, select, update

from crm.db import writing_transactions
from crm.errors import DomainError
from crm.extensions import db
from crm.jobs import progress, queue, registry
from crm.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job
from crm.timeutil import utcnow
from crm.uow import unit_of_work

log = logging.getLogger(__name__)

DEFAULTS = {
    "JOBS_MAX_ATTEMPTS": 3,
    "JOBS_STALE_SECONDS": 60,
    "JOBS_HEARTBEAT_SECONDS": 10,
    "JOBS_REDISPATCH_SECONDS": 60,
}


def setting(name: str) -> int:
    """A job-queue setting of the app in context (``DEFAULTS`` unless configured)."""
    return int(current_app.config.get(name, DEFAULTS[name]))


class Superseded(Exception):
    """This run's attempt is no longer the row's: another worker took the job over."""


@dataclass
class JobContext:
    """What a handler gets: the job's id, payload, creator and a progress reporter."""

    job_id: int
    kind: str
    payload: Mapping[str, Any]
    user_id: int | None
    attempt: int
    reported: list[tuple[int, int, str]] = field(default_factory=list)

    def progress(self, done: int, total: int, message: str, unit: str = "step") -> None:
        """Report ``done`` of ``total`` steps (``unit`` "row": rows, the message saying
        the counts), the current one named by ``message``; readable at once by the job's
        page (it is not written to the app database)."""
        self.reported.append((done, total, message))
        progress.report(self.job_id, done, total, message, unit)


def _claim(job_id: int) -> JobContext | None:
    now = utcnow()
    with unit_of_work():
        claimed = db.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == QUEUED)
            .values(
                status=RUNNING,
                attempts=Job.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                finished_at=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return None
        job = db.session.execute(
            select(Job.kind, Job.payload, Job.created_by, Job.attempts).where(Job.id == job_id)
        ).one()
    progress.beat(job_id)
    return JobContext(job_id, job.kind, job.payload or {}, job.created_by, job.attempts)


def _finish(ctx: JobContext, status: str, **values: Any) -> None:
    """Write the outcome, if the row is still this attempt's (else ``Superseded``)."""
    done = db.session.execute(
        update(Job)
        .where(Job.id == ctx.job_id, Job.status == RUNNING, Job.attempts == ctx.attempt)
        .values(status=status, finished_at=utcnow(), heartbeat_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Superseded(ctx.job_id)


@contextmanager
def _heartbeat(job_id: int) -> Iterator[None]:
    """Beat from a thread of the consumer while the block runs (not in immediate mode:
    there the job runs in the dispatching process, and it is over when dispatch returns)."""
    if queue.current().huey.immediate:
        yield
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    interval = max(1, setting("JOBS_HEARTBEAT_SECONDS"))

    def beat() -> None:
        with app.app_context():
            while not stop.wait(interval):
                try:
                    progress.beat(job_id)
                except Exception:  # a missed beat is retried next time
                    log.warning("Job %s: heartbeat failed", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 1)


def run(job_id: int) -> str | None:
    """Run the job ``job_id`` if it is queued; returns its final status (None when it was
    not this call's to run). Never raises for a handler's failure: the row records it.
    Its transactions take SQLite's write lock when they begin (``writing_transactions``):
    two jobs writing at once wait in turn instead of failing each other."""
    with writing_transactions():
        return _run(job_id)


def _run(job_id: int) -> str | None:
    ctx = _claim(job_id)
    if ctx is None:
        return None
    entry = registry.get(ctx.kind)
    try:
        if entry is None:
            raise DomainError(_("This kind of job cannot run here."))
        with _heartbeat(job_id), unit_of_work():
            result = entry.run(ctx)
            _finish(ctx, DONE, result=result, error=None)
        return DONE
    except Superseded:
        log.warning("Job %s attempt %s was taken over; its work was rolled back.", *(
            job_id, ctx.attempt))  # fmt: skip
        return None
    except DomainError as exc:
        error = {"message": exc.message, "errors": exc.errors}
    except Exception:  # any failure of a handler fails its job, said plainly
        log.exception("Job %s (%s) failed", job_id, ctx.kind)
        error = {"message": _("The job failed unexpectedly."), "errors": {}}
    finally:
        progress.clear(job_id)
    try:
        with unit_of_work():
            _finish(ctx, FAILED, error=error)
    except Superseded:
        return None
    return FAILED


def _stale(job: Job, now_ts: float, limit: int) -> bool:
    beat = progress.last_beat(job.id)
    if beat is None:
        stamp = job.heartbeat_at or job.started_at or job.created_at
        beat = stamp.replace(tzinfo=UTC).timestamp() if stamp else 0.0
    return now_ts - beat > limit


def sweep(now: float | None = None) -> list[int]:
    """Queue again, and dispatch, the jobs left behind: ``queued`` rows older than
    ``JOBS_REDISPATCH_SECONDS`` (committed, never dispatched; a waiting job once its
    ``run_after`` has passed) and ``running`` rows whose
    worker stopped beating ``JOBS_STALE_SECONDS`` ago (killed mid-way); those that have
    spent ``JOBS_MAX_ATTEMPTS`` attempts fail instead. Returns the ids dispatched."""
    now_ts = time.time() if now is None else now
    cutoff = _naive_utc(now_ts - setting("JOBS_REDISPATCH_SECONDS"))
    stale_after, cap = setting("JOBS_STALE_SECONDS"), setting("JOBS_MAX_ATTEMPTS")
    again: list[int] = []
    with unit_of_work():
        left = db.session.scalars(
            select(Job.id).where(
                Job.status == QUEUED,
                func.coalesce(Job.heartbeat_at, Job.created_at) < cutoff,
                or_(Job.run_after.is_(None), Job.run_after <= _naive_utc(now_ts)),
            )
        ).all()
        for job_id in left:
            _touch(job_id, QUEUED)
            again.append(job_id)
        running = db.session.scalars(select(Job).where(Job.status == RUNNING)).all()
        for job in running:
            if not _stale(job, now_ts, stale_after):
                continue
            if job.attempts >= cap:
                _give_up(job)
                continue
            _touch(job.id, RUNNING, requeue=True)
            again.append(job.id)
    from crm.jobs.outbox import dispatch

    for job_id in again:
        progress.clear(job_id)
        dispatch(job_id)
    return again


def _naive_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def _touch(job_id: int, status: str, *, requeue: bool = False) -> None:
    db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == status)
        .values(status=QUEUED if requeue else status, heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _give_up(job: Job) -> None:
    message = ngettext(
        "The job was interrupted %(num)d time and was given up.",
        "The job was interrupted %(num)d times and was given up.",
        job.attempts,
    )
    db.session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == RUNNING, Job.attempts == job.attempts)
        .values(
            status=FAILED,
            finished_at=utcnow(),
            error={"message": message, "errors": {}},
        )
        .execution_options(synchronize_session=False)
    )
    progress.clear(job.id)

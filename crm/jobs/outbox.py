"""The outbox: a job is a row added in the unit of work of the change that causes it.

``enqueue`` adds the row to the current unit, so the change and its job commit together
or not at all (a rolled-back change leaves no job and dispatches nothing); once the
outermost unit has committed, the job is dispatched to the queue (a job given a ``delay``
waits instead: the sweep dispatches it once due). A process that dies
between the commit and the dispatch leaves a ``queued`` row, which the periodic sweep
dispatches again (``crm.jobs.runner.sweep``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from crm.extensions import db
from crm.jobs import queue, registry
from crm.jobs.models import QUEUED, Job
from crm.timeutil import utcnow
from crm.uow import current_unit

log = logging.getLogger(__name__)


def enqueue(
    kind: str,
    payload: Mapping[str, Any],
    user_id: int | None = None,
    *,
    delay: timedelta | None = None,
) -> Job:
    """Add a job of ``kind`` to the unit of work open now; it is dispatched after that unit's
    outermost commit, or, with a positive ``delay``, by the periodic sweep once ``delay``
    has passed (``run_after``; up to a sweep interval later). Returns the row (its ``id``
    is set).

    Raises ``RuntimeError`` outside a unit of work, ``ValueError`` for a kind no handler
    registered."""
    unit = current_unit()
    if registry.get(kind) is None:
        raise ValueError(f"No handler for jobs of kind {kind!r}.")
    now = utcnow()
    waits = delay is not None and delay > timedelta(0)
    job = Job(
        kind=kind,
        payload=dict(payload),
        status=QUEUED,
        attempts=0,
        created_by=user_id,
        created_at=now,
        run_after=now + delay if waits else None,
    )
    db.session.add(job)
    db.session.flush()
    job_id = job.id
    if not waits:
        unit.after_commit(lambda: dispatch(job_id))
    return job


def dispatch(job_id: int) -> bool:
    """Hand a committed job to the queue (in immediate mode: run it now). Returns False
    when the queue could not take it; the row stays ``queued`` for the sweep to retry."""
    try:
        queue.current().run_job(job_id)
    except Exception:  # a queue that is down must not fail the change
        log.exception("Could not dispatch job %s; the sweep will retry it.", job_id)
        return False
    return True

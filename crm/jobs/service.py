"""What the job page shows: one job, to the user who started it or an administrator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm.access.policy import may_see_job
from crm.errors import NotFound
from crm.extensions import db
from crm.jobs import progress, registry
from crm.jobs.models import DONE, FAILED, QUEUED, Job
from crm.jobs.progress import Progress


@dataclass(frozen=True)
class JobView:
    """A job as its page shows it (``describe`` of its handler supplies the wording)."""

    id: int
    status: str
    title: str
    progress: Progress | None
    finished: bool
    succeeded: bool
    done: str = ""
    link: tuple[str, str] | None = None  # (label, url) shown when it succeeded
    message: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


MAX_JOB_ID = 2**31 - 1


def job_view(user: Any, job_id: int) -> JobView:
    """The job ``job_id`` for ``user``'s page, with its live progress while it runs.

    Raises ``NotFound`` when there is no such job, or when ``user`` neither started it
    nor is an administrator (whether it exists is not theirs to learn)."""
    # jobs.id is a 32-bit integer: a larger number names no job (and must not reach SQL).
    job = db.session.get(Job, job_id) if 1 <= job_id <= MAX_JOB_ID else None
    if job is None or not may_see_job(user, job.created_by):
        raise NotFound(_("There is no such job."))
    entry = registry.get(job.kind)
    words: dict[str, Any] = {}
    if entry is not None and entry.describe is not None:
        words = entry.describe(job.payload or {}, job.result)
    error = job.error or {}
    live = None if job.finished else progress.read(job.id)
    if live is None and job.status == QUEUED:
        live = Progress(0, 0, _("Waiting for a worker…"))
    view = JobView(
        id=job.id,
        status=job.status,
        title=str(words.get("title") or _("Background job")),
        progress=live,
        finished=job.finished,
        succeeded=job.status == DONE,
        done=str(words.get("done") or _("Done.")),
        link=words.get("link"),
        message=str(error.get("message") or "") if job.status == FAILED else "",
        errors={k: list(v) for k, v in (error.get("errors") or {}).items()},
    )
    db.session.rollback()  # a read: leave no transaction open behind the page
    return view

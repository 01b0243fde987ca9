"""What the job page shows: one job, to the user who started it or an administrator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

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


@dataclass(frozen=True)
class JobLine:
    """One job in the jobs list."""

    id: int
    status: str
    title: str
    created_at: Any
    finished_at: Any
    by: str


LIST_PAGE = 50


def job_list(
    user: Any, *, status: str | None = None, before: int | None = None
) -> tuple[list[JobLine], bool]:
    """The jobs ``user`` may follow (an administrator: every job; anyone else: the jobs they
    started), newest first, ``LIST_PAGE`` of them older than the id ``before``, of one
    ``status`` when given; and whether older ones follow. Reads only.

    Raises ``ValueError`` for an unknown ``status``."""
    from crm.access.directory import user_names
    from crm.jobs.models import STATUSES

    if status is not None and status not in STATUSES:
        raise ValueError(f"Unknown job status {status!r}")
    query = select(Job).order_by(Job.id.desc()).limit(LIST_PAGE + 1)
    if not getattr(user, "is_admin", False):
        query = query.where(Job.created_by == user.id)
    if status is not None:
        query = query.where(Job.status == status)
    if before is not None:
        query = query.where(Job.id < min(before, MAX_JOB_ID + 1))
    jobs = db.session.scalars(query).all()
    names = user_names({j.created_by for j in jobs if j.created_by is not None})
    lines = []
    for job in jobs[:LIST_PAGE]:
        entry = registry.get(job.kind)
        words: dict[str, Any] = {}
        if entry is not None and entry.describe is not None:
            words = entry.describe(job.payload or {}, job.result)
        lines.append(
            JobLine(
                id=job.id,
                status=job.status,
                title=str(words.get("title") or _("Background job")),
                created_at=job.created_at,
                finished_at=job.finished_at,
                by=names.get(job.created_by, "") if job.created_by else "",
            )
        )
    db.session.rollback()
    return lines, len(jobs) > LIST_PAGE

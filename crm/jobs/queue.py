"""The job queue: one Huey instance per app, configured from the app's settings.

SQLite storage in a file of its own under the instance folder by default (nothing to
install), Redis when ``REDIS_URL`` is set (the production set-up: every web worker and
every consumer on every machine share it). Tests run it in immediate mode (a job runs
when it is dispatched, in the dispatching process).

Two Huey tasks: ``run_job(job_id)`` runs one row of the ``jobs`` table, and a periodic one
re-dispatches rows that were left behind (``crm.jobs.runner.sweep``); plus the periodic
work of ``crm.jobs.registry.PERIODIC`` (task reminders, the automation's schedule, the
customer pools' reclaim). Each pushes an app
context of their own: Huey's worker threads have none, and a job's session must not be
the dispatching request's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

EXTENSION = "atelier.jobs"
NAME = "atelier"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Queue:
    """The app's Huey instance and its tasks."""

    huey: Huey
    run_job: Any  # huey TaskWrapper: run_job(job_id) enqueues
    sweep: Any


def make_huey(config: dict[str, Any]) -> Huey:
    """A Huey instance for ``config``: ``RedisHuey`` on ``REDIS_URL`` when it is set, else
    ``SqliteHuey`` on ``JOBS_FILE`` (default ``<instance>/jobs.db``); ``JOBS_IMMEDIATE``
    (default: ``TESTING``) runs each task when it is enqueued."""
    immediate = bool(config.get("JOBS_IMMEDIATE", config.get("TESTING", False)))
    redis_url = (config.get("REDIS_URL") or "").strip()
    if redis_url:
        return RedisHuey(NAME, url=redis_url, immediate=immediate)
    path = config.get("JOBS_FILE") or str(Path(config["INSTANCE_PATH"]) / "jobs.db")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # No fsync of Huey's own file: the outbox row in the application's database is what
    # makes a job durable (a message lost with an OS crash is dispatched again by the
    # sweep), and a save that causes a job must not wait for a disk flush (~3 ms).
    return SqliteHuey(NAME, filename=path, immediate=immediate, fsync=False)


def init_app(app: Flask) -> Queue:
    """Create the app's queue, register its tasks and the job handlers; returns it."""
    from crm.jobs import registry, runner

    huey = make_huey(app.config)

    def run_job(job_id: int) -> None:
        with app.app_context():
            runner.run(job_id)

    def sweep_jobs() -> None:
        with app.app_context():
            runner.sweep()

    task = huey.task(name="atelier.run_job")(run_job)
    periodic = huey.periodic_task(crontab(minute="*"), name="atelier.sweep_jobs")(sweep_jobs)
    for name, minute, target in registry.PERIODIC:
        huey.periodic_task(crontab(minute=minute), name=name)(_periodic(app, target))
    registry.load_all()
    queue = Queue(huey, task, periodic)
    app.extensions[EXTENSION] = queue
    return queue


def _periodic(app: Flask, target: str) -> Any:
    """The body of a periodic task: ``target`` ("module:function") in an app context."""
    from crm.jobs import registry

    def run() -> None:
        with app.app_context():
            registry.run_periodic(target)

    run.__name__ = target.replace(":", "_").replace(".", "_")
    return run


def current() -> Queue:
    """The queue of the app in context."""
    return current_app.extensions[EXTENSION]


def consumer(app: Flask, *, workers: int | None = None, **options: Any) -> Consumer:
    """A Huey consumer of ``app``'s queue (threads: ``JOBS_WORKERS`` of them unless
    ``workers`` says), periodic tasks on. ``run()`` it from a command's main thread.

    Raises ``RuntimeError`` when the queue runs in immediate mode (nothing to consume)."""
    queue: Queue = app.extensions[EXTENSION]
    if queue.huey.immediate:
        raise RuntimeError("The job queue runs in immediate mode (JOBS_IMMEDIATE): no worker.")
    count = workers if workers is not None else int(app.config.get("JOBS_WORKERS", 2))
    return queue.huey.create_consumer(workers=count, worker_type="thread", **options)

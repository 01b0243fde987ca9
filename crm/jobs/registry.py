"""Job handlers, registered by kind in one place.

    @jobs.handler("package.apply", describe=describe_apply)
    def run_apply(ctx: JobContext) -> dict: ...

A handler runs inside the runner's unit of work (its writes and the job's final status
commit together) and reports progress with ``ctx.progress(done, total, message)``. It
returns a JSON-able result, or raises: a ``DomainError`` fails the job with its message and
errors; anything else fails it with a general message (and is logged).

``HANDLER_MODULES`` names the modules that register handlers; the queue imports them when
it starts, so a worker knows every kind the web process can enqueue.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Every module that registers a job handler: the one place a new kind is added.
HANDLER_MODULES = (
    "crm.packages.background",
    "crm.imports.service",
    "crm.imports.org",
    "crm.golive.plan",
    "crm.automation.engine",
    "crm.webhooks.service",
    "crm.notifications.sending",
    "crm.dedupe.keys",
    "crm.dedupe.scan",
)

# Periodic work besides the sweep: (Huey task name, crontab minute, "module:function"). The
# queue registers each as a periodic task run in an app context of its own; the function
# is called with no arguments, and one that fails is logged (the next run tries again).
PERIODIC = (
    ("atelier.task_reminders", "*", "crm.activities.reminders:send_due"),
    ("atelier.automation_schedule", "*/5", "crm.automation.schedule:tick"),
    ("atelier.reclaim_pools", "7", "crm.pools.reclaim:sweep"),
    ("atelier.housekeeping", "37", "crm.jobs.housekeeping:sweep"),
)


@dataclass(frozen=True)
class Handler:
    """What runs a kind of job, and how its page describes it (``describe(payload, result)``
    returns the page's wording: ``title``, and for a finished job ``done`` and ``link``)."""

    kind: str
    run: Callable[[Any], Any]
    describe: Callable[[Mapping[str, Any], Any], dict[str, Any]] | None = None


_HANDLERS: dict[str, Handler] = {}
log = logging.getLogger(__name__)


def handler(
    kind: str, *, describe: Callable[[Mapping[str, Any], Any], dict[str, Any]] | None = None
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register the decorated function as the handler of jobs of ``kind``.

    Raises ``ValueError`` when another function already handles ``kind``."""

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        existing = _HANDLERS.get(kind)
        if existing is not None and existing.run is not fn:
            raise ValueError(f"Jobs of kind {kind!r} already have a handler.")
        _HANDLERS[kind] = Handler(kind, fn, describe)
        return fn

    return register


def forget(kind: str) -> None:
    """Remove the handler of ``kind`` (tests that register their own)."""
    _HANDLERS.pop(kind, None)


def get(kind: str) -> Handler | None:
    """The handler of ``kind``, or None when no module registered one."""
    return _HANDLERS.get(kind)


def periodic_function(target: str) -> Callable[[], Any]:
    """The function a ``PERIODIC`` entry names ("module:function")."""
    module, _sep, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def load_all() -> None:
    """Import every module of ``HANDLER_MODULES`` (each registers its handlers)."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def run_periodic(target: str) -> None:
    """Call the function a ``PERIODIC`` entry names, in the caller's app context; a failure
    is logged, not raised (the task runs again at its next time)."""
    from crm.db import writing_transactions

    try:
        with writing_transactions():  # it writes, beside the jobs: see crm.db
            periodic_function(target)()
    except Exception:  # a failed run must not stop the queue's periodic work
        log.exception("Periodic task %s failed", target)

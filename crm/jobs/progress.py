"""Live progress and heartbeats of running jobs, kept in the queue's own storage.

A job's handler works in one long transaction of the app database; the page that shows
its progress must read it meanwhile, and SQLite allows one writer at a time. So live
progress never goes to the app database: it goes to Huey's storage (its own SQLite file,
or Redis) with ``huey.put``, read with ``huey.get(..., peek=True)``, keyed by job id. The
final state is the ``jobs`` row's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from crm.jobs import queue


@dataclass(frozen=True)
class Progress:
    """How far a running job is: ``done`` of ``total`` steps (or rows: ``unit``), the
    step's ``message`` (for rows, the message says the counts itself)."""

    done: int
    total: int
    message: str
    unit: str = "step"

    @property
    def percent(self) -> int:
        if self.total <= 0:
            return 0
        return max(0, min(100, round(100 * self.done / self.total)))


def _key(job_id: int, what: str) -> str:
    return f"{queue.NAME}.job.{int(job_id)}.{what}"


def report(job_id: int, done: int, total: int, message: str, unit: str = "step") -> None:
    """Record a running job's progress (and that it is alive)."""
    huey = queue.current().huey
    value = {"done": done, "total": total, "message": message, "unit": unit}
    huey.put(_key(job_id, "progress"), value)
    beat(job_id)


def read(job_id: int) -> Progress | None:
    """The last progress a running job reported, or None when it reported none."""
    value = queue.current().huey.get(_key(job_id, "progress"), peek=True)
    if not isinstance(value, dict):
        return None
    return Progress(
        int(value["done"]),
        int(value["total"]),
        str(value["message"]),
        str(value.get("unit") or "step"),
    )


def beat(job_id: int, now: float | None = None) -> None:
    """Record that a running job's worker is alive now."""
    queue.current().huey.put(_key(job_id, "beat"), time.time() if now is None else now)


def last_beat(job_id: int) -> float | None:
    """When the worker of a running job last said it was alive (a Unix time), or None."""
    value = queue.current().huey.get(_key(job_id, "beat"), peek=True)
    return float(value) if isinstance(value, int | float) else None


def clear(job_id: int) -> None:
    """Forget a job's live state (it finished: the row says the rest)."""
    huey = queue.current().huey
    huey.delete(_key(job_id, "progress"))
    huey.delete(_key(job_id, "beat"))

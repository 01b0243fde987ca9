"""The job queue (Huey) and the outbox that feeds it.

``handler(kind)`` registers what runs a kind of job (``crm.jobs.registry``);
``crm.jobs.outbox.enqueue`` adds a job to the change that causes it; ``crm.jobs.runner``
runs it on a worker; ``crm.jobs.progress`` keeps its live progress where a page can read
it while it runs; ``crm.jobs.queue`` builds the app's Huey instance and consumer.
"""

from crm.jobs.registry import handler

__all__ = ["handler"]

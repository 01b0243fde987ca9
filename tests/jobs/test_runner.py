"""Running jobs: outcomes, failures, progress while running, and the sweep that picks up
what was left behind (queued but never dispatched; running but killed)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, update

from crm.extensions import db
from crm.jobs import progress, runner
from crm.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job
from crm.timeutil import utcnow
from crm.uow import unit_of_work
from tests.jobs.conftest import note, notes


def add_job(kind: str, *, status: str = QUEUED, attempts: int = 0, age: int = 0, user=None):
    """A job row as a crashed process could have left it (committed, never dispatched)."""
    then = utcnow() - timedelta(seconds=age)
    job = Job(
        kind=kind,
        payload={"say": kind},
        status=status,
        attempts=attempts,
        created_by=user,
        created_at=then,
        started_at=then if status == RUNNING else None,
        heartbeat_at=then if status == RUNNING else None,
    )
    with unit_of_work():
        db.session.add(job)
        db.session.flush()
        job_id = job.id
    return job_id


def row(job_id: int) -> Job:
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    db.session.rollback()
    return job


def test_a_job_dispatched_twice_runs_once(app, echo):
    job_id = add_job("test.echo")
    assert runner.run(job_id) == DONE
    assert runner.run(job_id) is None
    assert len(echo) == 1 and row(job_id).attempts == 1


def test_a_refusing_handler_fails_the_job_with_its_message_and_keeps_nothing(app, admin, failing):
    job_id = add_job("test.refuse", user=admin.id)
    assert runner.run(job_id) == FAILED
    job = row(job_id)
    assert job.status == FAILED and job.finished_at is not None
    assert job.error == {"message": "Refused.", "errors": {"/x": ["X is wrong."]}}
    assert notes("refused") == 0  # its writes rolled back


def test_a_crashing_handler_fails_the_job_with_a_plain_message(app, admin, failing):
    job_id = add_job("test.crash", user=admin.id)
    assert runner.run(job_id) == FAILED
    job = row(job_id)
    assert job.error["message"] == "The job failed unexpectedly." and "boom" not in str(job.error)
    assert notes("crashed") == 0


def test_an_unknown_kind_fails(app):
    job_id = add_job("gone.kind")
    assert runner.run(job_id) == FAILED
    assert row(job_id).error["message"] == "This kind of job cannot run here."


def test_progress_is_readable_while_the_handler_works(app, admin, login_as, handlers):
    """The page reads the progress while the handler's transaction is open (and has
    written): it lives in the queue's storage, not the app database."""
    client = login_as(admin)
    seen = {}

    def slow(ctx):
        note(ctx.user_id, "slow")  # the handler's transaction now holds a write
        ctx.progress(1, 3, "Copying the widgets")
        seen["progress"] = progress.read(ctx.job_id)
        r = client.get(f"/admin/jobs/{ctx.job_id}", headers={"HX-Request": "true"})
        seen["status"], seen["html"] = r.status_code, r.get_data(as_text=True)
        return {}

    handlers("test.slow", slow)
    job_id = add_job("test.slow", user=admin.id)
    assert runner.run(job_id) == DONE
    assert seen["progress"] == progress.Progress(1, 3, "Copying the widgets")
    assert seen["status"] == 200  # running: polling goes on
    assert "Copying the widgets" in seen["html"] and "Step 1 of 3" in seen["html"]
    assert 'value="33"' in seen["html"] and 'hx-trigger="every 1s"' in seen["html"]
    assert progress.read(job_id) is None  # finished: the row says the rest


def test_the_sweep_dispatches_queued_rows_left_behind(app, echo):
    old = add_job("test.echo", age=600)
    fresh = add_job("test.echo")
    assert runner.sweep() == [old]
    assert row(old).status == DONE and row(fresh).status == QUEUED


def test_the_sweep_requeues_running_rows_whose_worker_died(app, echo):
    dead = add_job("test.echo", status=RUNNING, attempts=1, age=600)
    alive = add_job("test.echo", status=RUNNING, attempts=1, age=600)
    progress.beat(alive)  # its worker beats: it is only slow
    assert runner.sweep() == [dead]
    assert (row(dead).status, row(dead).attempts) == (DONE, 2)
    assert row(alive).status == RUNNING and len(echo) == 1


def test_the_sweep_gives_up_after_the_attempts_cap(app, echo):
    app.config["JOBS_MAX_ATTEMPTS"] = 3
    job_id = add_job("test.echo", status=RUNNING, attempts=3, age=600)
    assert runner.sweep() == []
    job = row(job_id)
    assert job.status == FAILED and echo == []
    assert job.error["message"] == "The job was interrupted 3 times and was given up."


def test_the_sweep_takes_the_beat_over_an_old_row(app, echo):
    """A beat older than JOBS_STALE_SECONDS is stale even when the row looks recent."""
    job_id = add_job("test.echo", status=RUNNING, attempts=1)
    progress.beat(job_id, now=time.time() - 3600)
    assert runner.sweep() == [job_id] and row(job_id).status == DONE


def test_a_run_taken_over_meanwhile_keeps_nothing(app, admin, handlers):
    """The sweep gave this run up for dead and another worker took the job: this run's
    work is rolled back rather than committed twice."""

    def overtaken(ctx):
        with db.engine.begin() as other:  # the other worker's claim, committed meanwhile
            other.execute(update(Job).where(Job.id == ctx.job_id).values(attempts=Job.attempts + 1))
        note(ctx.user_id, "overtaken")
        return {}

    handlers("test.overtaken", overtaken)
    job_id = add_job("test.overtaken", user=admin.id)
    assert runner.run(job_id) is None
    assert notes("overtaken") == 0
    assert row(job_id).status == RUNNING  # the other attempt's to finish


def test_jobs_are_listed_by_status(app, echo):
    """The status index exists for the sweep's two queries."""
    add_job("test.echo", age=600)
    assert db.session.scalars(select(Job.status)).all() == [QUEUED]

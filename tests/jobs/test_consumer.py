"""A real Huey consumer (SqliteHuey in a temporary file, its worker threads inside this
test process) takes a package apply queued by the web side and finishes it; the job page
polls while it waits. No sleeps: polling with a deadline."""

from __future__ import annotations

import json
import signal
import time

from sqlalchemy import select

from crm.auth import service
from crm.extensions import db
from crm.jobs import queue
from crm.jobs.models import DONE, Job
from crm.metadata import specs
from crm.packages import staging
from crm.packages.apply import plan_package
from crm.packages.background import queue_apply
from crm.packages.load import load
from tests.conftest import build_app
from tests.factories import make_user
from tests.packages.test_apply import package

SIGNALS = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s]


def wait_for(check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the job did not finish in time")


def test_a_real_consumer_runs_a_queued_package_apply(db_url, tmp_path):
    app = build_app(
        db_url,
        str(tmp_path / "instance"),
        JOBS_IMMEDIATE=False,
        JOBS_FILE=str(tmp_path / "queue.db"),
    )
    with app.app_context():
        huey = queue.current().huey
        assert not huey.immediate and huey.storage.filename == str(tmp_path / "queue.db")
        admin = make_user("admin@example.com", is_admin=True)
        data = json.dumps(package()).encode()
        loaded = load(data, filename="p.json", existing=specs.raw().entities)
        token = staging.stage(data, "p.json", admin.id)
        p = plan_package(loaded.data)
        job_id = queue_apply(
            admin.id, token, loaded, staging.fingerprint(p), choices={}, allow_destructive=False
        )
        assert huey.pending_count() == 1  # on the queue, nobody has run it

        client = app.test_client()
        with client.session_transaction() as sess:
            auth = service.open_session(admin, ip="127.0.0.1", user_agent="pytest")
            db.session.commit()
            sess["_user_id"], sess["_fresh"] = auth.token, True
        waiting = client.get(f"/admin/jobs/{job_id}", headers={"HX-Request": "true"})
        assert waiting.status_code == 200 and "Waiting for a worker" in waiting.get_data(True)

        saved = {s: signal.getsignal(s) for s in SIGNALS}
        consumer = queue.consumer(
            app, workers=1, periodic=False, initial_delay=0.05, max_delay=0.2,
            check_worker_health=False,
        )  # fmt: skip
        consumer.start()
        try:

            def finished():
                db.session.rollback()
                status = db.session.scalar(select(Job.status).where(Job.id == job_id))
                return status if status in ("done", "failed") else None

            assert wait_for(finished) == DONE
        finally:
            consumer.stop(graceful=True)
            for s, handler in saved.items():
                signal.signal(s, handler)
        job = db.session.get(Job, job_id)
        assert job.result == {"changed": True, "steps": job.result["steps"]} and job.attempts == 1
        assert specs.current().entity("deal") is not None
        done = client.get(f"/admin/jobs/{job_id}", headers={"HX-Request": "true"})
        assert done.status_code == 286 and "Applied the package" in done.get_data(True)
        db.session.remove()
        db.engine.dispose()

"""Probes of the go-live checklist: full administrators only. Everyone else gets 403 on
the page, on a pack upload (nothing imported, no department created) and on an import's
error file."""

from __future__ import annotations

import io

from tests.authz import oracle
from tests.authz.harness import Run


def probe_golive(run: Run) -> None:
    allowed = oracle.is_admin(run.actor)
    r = run.get("/admin/go-live/")
    run.read_case("golive.checklist", "-", "-", allowed, r)
    before = run.world.admin_state()
    # an allowed upload names a department path whose parent does not exist: nothing made
    data = {"org-departments": (io.BytesIO(b"Name,Parent\nProbe,No/Such/Parent\n"), "d.csv")}
    r = run.client.submit("/admin/go-live/", data, content_type="multipart/form-data")
    status = r.status_code
    changed = run.world.admin_state() != before
    if allowed:
        observed = status in (302, 303) and not changed
    else:
        observed = not (status == 403 and not changed)
    run.case("golive.checklist[upload]", "-", "-", allowed, observed,
             f"(HTTP {status}{', changed stored data' if changed else ''})")  # fmt: skip
    r = run.get("/admin/go-live/imports/999999/errors.csv")
    status = r.status_code
    run.case("golive.errors", "-", "missing", allowed,
             status == 404 if allowed else status != 403, f"(HTTP {status})")  # fmt: skip

"""Probes of the import screens: every route refused (403, nothing kept) without the import
right, usable with it."""

from __future__ import annotations

import io

from tests.authz import oracle
from tests.authz.harness import Run


def probe_imports(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "import")
    r = run.get(f"/r/{entity}/imports/")
    run.read_case("imports.import_list", entity, "entity", allowed, r)
    data = {"file": (io.BytesIO(b"name,memo\nx,y\n"), "probe.csv")}
    r = run.client.submit(f"/r/{entity}/imports/", data, content_type="multipart/form-data")
    status = r.status_code
    run.case("imports.import_list[upload]", entity, "entity", allowed,
             status == 302 if allowed else status != 403, f"(HTTP {status})")  # fmt: skip
    target = (
        r.headers["Location"]
        if allowed and status == 302
        else f"/r/{entity}/imports/999999/mapping"
    )
    r = run.get(target)
    run.read_case("imports.import_mapping", entity, "draft", allowed, r)
    number = target.rstrip("/").split("/")[-2]
    r = run.get(f"/r/{entity}/imports/{number}/errors.csv")
    run.read_case("imports.import_errors", entity, "draft", allowed, r)
    r = run.client.submit(f"/r/{entity}/imports/999999/undo", {"confirm": "yes"})
    status = r.status_code
    run.case("imports.import_undo", entity, "missing", allowed,
             status == 404 if allowed else status != 403, f"(HTTP {status})")  # fmt: skip

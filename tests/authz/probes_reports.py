"""Reports (issue 19): the builder and its exports count and sum only the records the
actor may read, refuse an entity they may not read (404) and a field they may not read
(400: it can be neither measured, grouped nor filtered)."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import Run


def probe_reports(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    query = urlencode([("entity", entity), ("m", "count:"), ("m", "sum:amount")])
    counted = urlencode([("entity", entity), ("g1", "owner_id"), ("m", "count:")])
    page = run.get(f"/reports/new?{counted}", hx=True)
    run.read_case("reports.builder", entity, "entity", allowed, page)
    r = run.get(f"/reports/export.csv?{query}")
    amount_seen = oracle.field_access(run.actor, entity, "amount") != d.HIDDEN
    if not allowed:
        run.read_case("reports.export_csv", entity, "entity", False, r)
        x = run.get(f"/reports/export.xlsx?{query}")
        run.read_case("reports.export_xlsx", entity, "entity", False, x)
        return
    if not amount_seen:
        run.case("reports.export_csv[hidden]", entity, "amount", False, r.status_code != 400)
        return
    run.read_case("reports.export_csv", entity, "entity", True, r)
    x = run.get(f"/reports/export.xlsx?{query}")
    run.read_case("reports.export_xlsx", entity, "entity", True, x)
    if r.status_code != 200:
        return
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    n, total = int(rows[-1][0]), int(rows[-1][1] or 0)
    seen = [x for x in run.world.live(entity) if oracle.may(run.actor, "read", x.rec)]
    want_n, want_total = len(seen), sum(x.amount or 0 for x in seen)
    run.case("reports.export_csv[n]", entity, "entity", True, (n, total) == (want_n, want_total),
             f"(got {n}, {total}; expected {want_n}, {want_total})")  # fmt: skip
    if oracle.field_access(run.actor, entity, "secret") == d.HIDDEN:
        f = run.get(f"/reports/new?{counted}&f.secret.contains=a", hx=True)
        run.case("reports.builder[hidden filter]", entity, "secret", False, f.status_code != 400)

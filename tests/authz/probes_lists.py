"""Probes of the list-like routes: list page and fragments, search, count, exports, lookups,
the recycle bin, bulk actions, saved views, create, field checks, filters, the home page.
Each judges every record of the world at once where the route shows or acts on many."""

from __future__ import annotations

import csv
import html
import io
import re

from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import DENIED, LOOKUP_RE, MORE_RE, PICK_RE, Run, position_label
from tests.authz.world import Record


def positions(run: Run, entity: str) -> list[tuple[str, Record]]:
    w, a = run.world, run.actor
    return [(p, w.record(entity, d.POSITIONS[p](a))) for p in d.RECORD_POSITIONS]


def readable(run: Run, r: Record) -> bool:
    return oracle.may(run.actor, "read", r.rec)


def probe_list(run: Run, entity: str) -> None:
    """The list page, its htmx fragments (results, rows, "show more") and quick search."""
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "read")
    live = list(w.live(entity))
    page = run.get(f"/r/{entity}/")
    if run.read_case("records.record_list[page]", entity, "entity", allowed, page) and allowed:
        ids = {int(i) for i, _ in PICK_RE.findall(page.data.decode())}
        run.membership(
            "records.record_list[page rows]", entity, live, lambda r: readable(run, r), ids
        )
    # the rows fragment, then "show more" until the end
    rows = run.get(f"/r/{entity}/?size=10", hx=True, headers={"HX-Target": "rows"})
    if run.read_case("records.record_list[rows]", entity, "entity", allowed, rows) and allowed:
        body = rows.data.decode()
        assert "<html" not in body, "the rows fragment is a whole page"
        ids = {int(i) for i, _ in PICK_RE.findall(body)}
        for _ in range(20):
            more = MORE_RE.search(body)
            if not more:
                break
            page_n = run.get(
                html.unescape(more.group(1)), hx=True, headers={"HX-Target": "more-row"}
            )
            body = page_n.data.decode()
            if page_n.status_code != 200:
                run.case(
                    "records.record_list[more]",
                    entity,
                    "entity",
                    True,
                    None,
                    f"(HTTP {page_n.status_code})",
                )
                break
            ids |= {int(i) for i, _ in PICK_RE.findall(body)}
        run.membership(
            "records.record_list[rows+more]", entity, live, lambda r: readable(run, r), ids
        )
    # someone else's private view is not there for anyone (not even a full administrator)
    other = w.private_views[entity]
    for path in ("/", "/count", "/export.csv"):
        r = run.get(f"/r/{entity}{path}?view={other}", hx=path == "/count")
        run.read_case(
            f"records.record_list[another user's view {path}]", entity, "entity", False, r
        )
    search = run.get(f"/r/{entity}/?q=REF-{entity.upper()}-L", hx=True)
    if run.read_case("records.record_list[search]", entity, "entity", allowed, search) and allowed:
        ids = {int(i) for i, _ in PICK_RE.findall(search.data.decode())}
        run.membership("records.record_list[search]", entity, live, lambda r: readable(run, r), ids)


def probe_count(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    r = run.get(f"/r/{entity}/count", hx=True)
    if run.read_case("records.record_count", entity, "entity", allowed, r) and allowed:
        n = int(re.search(r"([\d,]+)", r.data.decode()).group(1).replace(",", ""))
        want = sum(1 for x in run.world.live(entity) if readable(run, x))
        run.case(
            "records.record_count[n]",
            entity,
            "entity",
            True,
            n == want,
            f"(counted {n}, expected {want})",
        )


def _export_refs(response, fmt: str) -> set[str]:
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    else:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(response.data), read_only=True)
        rows = [
            [c if c is not None else "" for c in row]
            for row in book.active.iter_rows(values_only=True)
        ]
        book.close()
    header = rows[0]
    col = header.index(d.FIELD_LABELS["ref"])
    return {row[col] for row in rows[1:]}


def probe_export(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "export")
    live = list(w.live(entity))
    for fmt in ("csv", "xlsx"):
        r = run.get(f"/r/{entity}/export.{fmt}")
        if run.read_case(f"records.record_export[{fmt}]", entity, "entity", allowed, r) and allowed:
            refs = _export_refs(r, fmt)
            ids = {x.id for x in live if x.ref in refs}
            run.membership(
                f"records.record_export[{fmt} rows]",
                entity,
                live,
                lambda x: oracle.may(a, "export", x.rec),
                ids,
            )


def probe_lookup(run: Run, entity: str) -> None:
    """Lookup autocomplete, ten at most: asked for ten references at a time."""
    allowed = oracle.may_entity(run.actor, entity, "read")
    live = sorted(run.world.live(entity), key=lambda r: r.index)
    for start in range(0, len(live), 10):
        prefix = d.ref_value(entity, start)[:-1]  # REF-ACCOUNT-L00 .. L03
        chunk = [r for r in live if r.ref.startswith(prefix)]
        r = run.get(f"/r/{entity}/lookup?q={prefix}&field=x", hx=True)
        if run.read_case("records.lookup", entity, f"refs {prefix}*", allowed, r) and allowed:
            ids = {int(i) for i in LOOKUP_RE.findall(r.data.decode())}
            run.membership(
                "records.lookup[options]", entity, chunk, lambda x: readable(run, x), ids
            )


def probe_bin(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "delete")
    r = run.get(f"/r/{entity}/bin")
    if run.read_case("records.recycle_bin", entity, "entity", allowed, r) and allowed:
        ids = {int(i) for i in re.findall(rf"/r/{entity}/(\d+)/restore", r.data.decode())}
        run.membership(
            "records.recycle_bin[rows]",
            entity,
            list(w.binned(entity)),
            lambda x: oracle.may(a, "delete", x.rec),
            ids,
        )


def probe_bulk_input(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    r = run.get(f"/r/{entity}/bulk/input?field=memo", hx=True)
    run.read_case("records.bulk_input", entity, "entity", allowed, r)


def probe_save_view(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    before = run.counters()
    r = run.post(f"/r/{entity}/views", {"name": f"Mine {run.actor}", "sort": "ref"})
    written = run.counters() != before
    observed = (
        True
        if r.status_code in (302, 303) and written
        else False
        if r.status_code in DENIED and not written
        else None
    )
    run.case("records.save_view", entity, "entity", allowed, observed, f"(HTTP {r.status_code})")
    if written:
        run.world.reset()


def _new_rows(run: Run, entity: str) -> list[dict]:
    return run.world.rows_after(entity, max(run.world.snapshot_ids(entity)))


def probe_new(run: Run, entity: str) -> None:
    """The create form (page and quick), creating, and creating with a lookup to a record in
    each position (allowed only when the user may read that record)."""
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "create")
    run.read_case("records.record_new[GET]", entity, "entity", allowed, run.get(f"/r/{entity}/new"))
    quick = run.get(f"/r/{entity}/new?quick=1", hx=True)
    run.read_case("records.record_new[GET quick]", entity, "entity", allowed, quick)
    for variant, hx, data in (
        ("POST", False, {"name": f"Made by {a}"}),
        ("POST quick", True, {"name": f"Quick by {a}", "quick": "1"}),
    ):
        r = run.post(f"/r/{entity}/new", data, hx=hx)
        made = _new_rows(run, entity)
        dirty = bool(made) or run.counters() != w.snapshot_counters
        ok = (200,) if hx else (302, 303)
        observed = (
            True
            if r.status_code in ok and len(made) == 1
            else False
            if r.status_code in DENIED and not dirty
            else None
        )
        run.case(
            f"records.record_new[{variant}]",
            entity,
            "entity",
            allowed,
            observed,
            f"(HTTP {r.status_code}, {len(made)} made)",
        )
        if dirty:
            w.reset()
    lookups = d.ENTITIES[entity]["lookups"]
    if not lookups:
        return
    key = sorted(lookups)[0]
    target = lookups[key]
    for position, _ in positions(run, target):
        t = w.record(target, d.POSITIONS[position](a))
        expected = allowed and oracle.can_set_field(a, entity, key) and oracle.may(a, "read", t.rec)
        r = run.post(f"/r/{entity}/new", {"name": f"Linked by {a}", key: str(t.id)})
        made = _new_rows(run, entity)
        dirty = bool(made) or run.counters() != w.snapshot_counters
        linked = len(made) == 1 and made[0][key] == t.id
        # refused: a 400 by the field (or 403) writing nothing, or -- when the user may not
        # set the field at all -- the record made without the link
        refused = (r.status_code in (400, *DENIED) and not dirty) or (
            r.status_code in (302, 303) and len(made) == 1 and made[0][key] is None
        )
        observed = True if r.status_code in (302, 303) and linked else False if refused else None
        run.case(
            f"records.record_new[lookup {key}]",
            entity,
            f"{target}: {position}",
            expected,
            observed,
            f"(HTTP {r.status_code})",
        )
        if dirty:
            w.reset()


def probe_validate(run: Run, entity: str) -> None:
    a = run.actor
    r = run.post(f"/r/{entity}/validate/memo", {"memo": "x"}, hx=True)
    run.read_case(
        "records.validate_field[create]",
        entity,
        "entity",
        oracle.may_entity(a, entity, "create"),
        r,
    )
    for position, rec in positions(run, entity):
        r = run.post(f"/r/{entity}/validate/memo?record={rec.id}", {"memo": "x"}, hx=True)
        run.read_case(
            "records.validate_field[record]", entity, position, oracle.may(a, "edit", rec.rec), r
        )
    run.finish_group(f"validate {entity}")


def probe_duplicate_warning(run: Run, entity: str) -> None:
    """The form's live duplicate check: the create right for a new record, the edit right
    on the record being edited (as the form itself)."""
    a = run.actor
    r = run.post(f"/r/{entity}/duplicates", {"memo": "x"}, hx=True)
    run.read_case(
        "records.duplicates[create]", entity, "entity", oracle.may_entity(a, entity, "create"), r
    )
    for position, rec in positions(run, entity):
        r = run.post(f"/r/{entity}/duplicates?record={rec.id}", {"memo": "x"}, hx=True)
        run.read_case(
            "records.duplicates[record]", entity, position, oracle.may(a, "edit", rec.rec), r
        )
    run.finish_group(f"duplicates {entity}")


def probe_bulk(run: Run, entity: str) -> None:
    """Bulk edit, assign and delete of every live record at once (each judged alone)."""
    a, w = run.actor, run.world
    live = list(w.live(entity))
    picks = [f"{r.id}:{w.snapshot_value(entity, r.id, 'version')}" for r in live]
    spare = w.user_id("spare")
    actions = (
        (
            "records.bulk_edit",
            "bulk_edit",
            "/bulk/edit",
            {"field": "memo", "value": f"bulk {a}"},
            lambda row: row["memo"] == f"bulk {a}",
        ),
        (
            "records.bulk_assign",
            "assign",
            "/bulk/assign",
            {"owner_id": str(spare)},
            lambda row: row["owner_id"] == spare,
        ),
        (
            "records.bulk_delete",
            "delete",
            "/bulk/delete",
            {},
            lambda row: row["deleted_at"] is not None,
        ),
    )
    for route, action, path, data, effect in actions:
        allowed_entity = oracle.may_entity(a, entity, action)
        r = run.post(f"/r/{entity}{path}", {"pick": picks, **data}, hx=True)
        status = r.status_code
        run.case(
            f"{route}[entity]",
            entity,
            "entity",
            allowed_entity,
            True if status == 200 else False if status in DENIED else None,
            f"(HTTP {status})",
        )
        changed_anything = False
        for rec in live:
            before = w.snapshot_row(entity, rec.id)
            after_raw = w.row(entity, rec.id)
            after = w.as_dict(entity, after_raw)
            untouched = after_raw == before
            changed_anything |= not untouched
            observed = (
                True if (after is not None and effect(after)) else False if untouched else None
            )
            detail = "" if observed is not None else "(refused, but the row changed)"
            run.case(
                route,
                entity,
                position_label(a, rec),
                oracle.may(a, action, rec.rec),
                observed,
                detail,
            )
        if changed_anything or run.counters() != w.snapshot_counters:
            w.reset()
        run.finish_group(f"{route} {entity}")


def probe_filters(run: Run, entity: str) -> None:
    """The "Add filter" builder (page and fragment), its inputs, applying a filter, and the
    names of the records a lookup filter picked (only those the user may read)."""
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "read")
    base = f"/r/{entity}"
    run.read_case(
        "records.filter_builder[page]", entity, "entity", allowed, run.get(f"{base}/filters/new")
    )
    run.read_case(
        "records.filter_builder[fragment]",
        entity,
        "entity",
        allowed,
        run.get(f"{base}/filters/new", hx=True),
    )
    run.read_case(
        "records.filter_input",
        entity,
        "entity",
        allowed,
        run.get(f"{base}/filter-input?field=ref&op=contains", hx=True),
    )
    r = run.get(f"{base}/filters/apply?field=ref&op=contains&value=REF&q=x")
    status = r.status_code
    run.case(
        "records.filter_apply",
        entity,
        "entity",
        allowed,
        True if status == 303 else False if status in DENIED else None,
        f"(HTTP {status})",
    )
    for key, target in d.ENTITIES[entity]["lookups"].items():
        if not (allowed and oracle.can_see_field(a, entity, key)):
            continue
        parents = list(w.live(target))
        values = "&".join(f"value={p.id}" for p in parents)
        # the list filtered by every parent: its chip names only those the user may read
        r = run.get(f"{base}/?{values.replace('value=', f'f.{key}.in=')}")
        if run.read_case("records.record_list[lookup filter]", entity, key, True, r):
            body = r.data.decode()
            ids = {int(i) for i, _ in PICK_RE.findall(body)}
            run.membership(
                f"records.record_list[filtered by {key}]",
                entity,
                list(w.live(entity)),
                lambda x: readable(run, x),
                ids,
            )
            run.membership(
                f"records.record_list[chip names of {key}]",
                target,
                parents,
                lambda x, t=target: (
                    oracle.may(a, "read", x.rec) and oracle.can_see_field(a, t, "name")
                ),
                {p.id for p in parents if p.name in body},
            )
        r = run.get(f"{base}/filters/new?field={key}&op=in&{values}", hx=True)
        if run.read_case("records.filter_builder[lookup picks]", entity, key, True, r):
            body = r.data.decode()
            named = {p.id for p in parents if p.name in body}
            run.membership(
                f"records.filter_builder[names of {key}]",
                target,
                parents,
                lambda x, t=target: (
                    oracle.may(a, "read", x.rec) and oracle.can_see_field(a, t, "name")
                ),
                named,
            )


def probe_home_entity(run: Run, entity: str) -> None:
    """The home page's block of one entity: only for readers of it; its count is the
    records they may read, and every recent record it names is one they may read."""
    allowed = oracle.may_entity(run.actor, entity, "read")
    r = run.get(f"/home/entity/{entity}", hx=True)
    if not (run.read_case("web.home_entity", entity, "entity", allowed, r) and allowed):
        return
    body = r.data.decode()
    n = int(re.search(r'home-count">(?:More than )?([\d,]+)', body).group(1).replace(",", ""))
    want = sum(1 for x in run.world.live(entity) if readable(run, x))
    run.case("web.home_entity[n]", entity, "entity", True, n == want, f"({n}, not {want})")
    seen = {int(i) for i in re.findall(rf'href="/r/{entity}/(\d+)"', body)}
    for x in run.world.live(entity):
        if x.id in seen:  # named: must be readable (an unexpected allow otherwise)
            run.case(
                "web.home_entity[recent]",
                entity,
                position_label(run.actor, x),
                readable(run, x),
                True,
            )


def probe_home(run: Run) -> None:
    r = run.get("/")
    run.read_case("web.home", "-", "-", True, r)
    nav = re.search(r'<nav class="nav".*?</nav>', r.data.decode(), re.S)
    links = nav.group(0) if nav else ""
    for entity in d.ENTITY_ORDER:
        run.case(
            "web.home[nav link]",
            entity,
            "entity",
            oracle.may_entity(run.actor, entity, "read"),
            f'href="/r/{entity}/"' in links,
        )
    probe_home_blocks(run)


def probe_home_blocks(run: Run) -> None:
    """The home page's blocks (issue 19): every signed-in person has their own; a manager's
    department block needs a department-wide read scope (not a full administrator's); the
    set-up health block the configure right. Others get a 404."""
    a = run.actor
    team = not oracle.is_admin(a) and any(
        oracle.level(a, e, "read") in (d.DEPT, d.SUBTREE) for e in d.ENTITY_ORDER
    )
    expected = {
        "tasks": True,
        "pipeline": True,
        "recent": True,
        "pool": True,
        "notifications": True,
        "team": team,
        "health": oracle.may_configure(a),
    }
    for name, allowed in expected.items():
        r = run.get(f"/home/block/{name}")
        run.read_case("web.home_block", name, "-", allowed, r)


def probe_job_page(run: Run) -> None:
    """A background job the administrator started: its page is theirs (and any
    administrator's); everyone else gets a 404, not a glimpse of its outcome."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.jobs.models import DONE, Job

    admin = run.world.users["admin"]
    job_id = db.session.scalar(select(Job.id).where(Job.kind == "authz.probe"))
    if job_id is None:
        job = Job(kind="authz.probe", payload={}, status=DONE, created_by=admin.id, result={})
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    r = run.get(f"/admin/jobs/{job_id}")
    run.read_case("jobs.job_page", "-", "-", run.actor in d.ADMINS, r)
    # The jobs list: every signed-in person has one, listing the administrator's job only
    # to administrators.
    r = run.get("/admin/jobs/")
    if run.read_case("jobs.job_list_page", "-", "-", True, r):
        listed = f'data-job="{job_id}"' in r.get_data(as_text=True)
        run.case("jobs.job_list_page[row]", "-", "job", run.actor in d.ADMINS, listed)

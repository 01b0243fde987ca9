"""Probes of the single-record routes, tried on the record in each position: the record
page, related lists, inline edit, the edit form, notes, delete, restore and purge, sharing
and ownership, the recycle bin's records, and "who can see this and why"."""

from __future__ import annotations

import re

from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import Run
from tests.authz.probes_lists import positions, readable


def probe_record_page(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        r = run.get(f"/r/{entity}/{rec.id}")
        if run.read_case(
            "records.record_page", entity, position, oracle.may(a, "read", rec.rec), r
        ):
            body = r.data.decode()
            has_edit = f'href="/r/{entity}/{rec.id}/edit"' in body
            has_delete = f'action="/r/{entity}/{rec.id}/delete"' in body
            run.case(
                "records.record_page[edit button]",
                entity,
                position,
                oracle.may(a, "edit", rec.rec),
                has_edit,
            )
            run.case(
                "records.record_page[delete button]",
                entity,
                position,
                oracle.may(a, "delete", rec.rec),
                has_delete,
            )
            run.case(
                "records.record_page[add task form]",
                entity,
                position,
                oracle.may(a, "edit", rec.rec),
                f'action="/r/{entity}/{rec.id}/tasks"' in body,
            )


def related_sources(entity: str) -> list[tuple[str, str]]:
    return [
        (source, key)
        for source in d.ENTITY_ORDER
        for key, target in d.ENTITIES[source]["lookups"].items()
        if target == entity
    ]


def probe_related(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for source, key in related_sources(entity):
        for position, rec in positions(run, entity):
            expected = (
                oracle.may(a, "read", rec.rec)
                and oracle.may_entity(a, source, "read")
                and oracle.can_see_field(a, source, key)
            )
            r = run.get(f"/r/{entity}/{rec.id}/related/{source}/{key}", hx=True)
            route = "records.related_list"
            if run.read_case(route, entity, f"{position} ({source}.{key})", expected, r):
                ids = {int(i) for i in re.findall(rf'href="/r/{source}/(\d+)"', r.data.decode())}
                run.membership(
                    f"{route}[rows]",
                    source,
                    w.children(rec, source, key),
                    lambda x: readable(run, x),
                    ids,
                )


def probe_inline(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        may_read, may_edit = oracle.may(a, "read", rec.rec), oracle.may(a, "edit", rec.rec)
        base = f"/r/{entity}/{rec.id}/field/memo"
        run.read_case("records.field_value", entity, position, may_read, run.get(base, hx=True))
        run.read_case(
            "records.field_edit", entity, position, may_edit, run.get(f"{base}/edit", hx=True)
        )
        version = w.snapshot_value(entity, rec.id, "version")
        value = f"inline {a} {rec.id}"
        r = run.post(base, {"memo": value, "version": str(version)}, hx=True)
        run.write_case(
            "records.field_save",
            rec,
            position,
            may_edit,
            r,
            lambda row, v=value: row is not None and row["memo"] == v,
        )


def probe_edit(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        may_edit = oracle.may(a, "edit", rec.rec)
        url = f"/r/{entity}/{rec.id}/edit"
        run.read_case("records.record_edit[GET]", entity, position, may_edit, run.get(url))
        version = w.snapshot_value(entity, rec.id, "version")
        value = f"edited {a} {rec.id}"
        r = run.post(url, {"memo": value, "version": str(version)})
        run.write_case(
            "records.record_edit[POST]",
            rec,
            position,
            may_edit,
            r,
            lambda row, v=value, n=version + 1: (
                row is not None and row["memo"] == v and row["version"] == n
            ),
        )


def probe_note(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        before = run.counters()[1]
        r = run.post(f"/r/{entity}/{rec.id}/notes", {"body": f"note by {a}"}, hx=True)
        run.write_case(
            "records.note_add",
            rec,
            position,
            oracle.may(a, "read", rec.rec),
            r,
            lambda row, b=before: run.counters()[1] > b,
            ok_status=(200,),
        )


def probe_delete(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        r = run.post(f"/r/{entity}/{rec.id}/delete")
        run.write_case(
            "records.record_delete",
            rec,
            position,
            oracle.may(a, "delete", rec.rec),
            r,
            lambda row: row is not None and row["deleted_at"] is not None,
        )


def probe_restore_purge(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for position, _ in positions(run, entity):
        rec = w.record(entity, d.POSITIONS[position](a), live=False)
        may_delete = oracle.may(a, "delete", rec.rec)
        r = run.post(f"/r/{entity}/{rec.id}/restore")
        run.write_case(
            "records.record_restore",
            rec,
            f"{position} (binned)",
            may_delete,
            r,
            lambda row: row is not None and row["deleted_at"] is None,
        )
        r = run.post(f"/r/{entity}/{rec.id}/purge")
        run.write_case(
            "records.record_purge",
            rec,
            f"{position} (binned)",
            may_delete and oracle.may_configure(a),
            r,
            lambda row: row is None,
        )


def probe_sharing(run: Run, entity: str) -> None:
    """The sharing panel, sharing, stopping a share, and ownership transfer."""
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        may_read, may_edit = oracle.may(a, "read", rec.rec), oracle.may(a, "edit", rec.rec)
        may_assign = oracle.may(a, "assign", rec.rec)
        base = f"/r/{entity}/{rec.id}"
        r = run.get(f"{base}/sharing", hx=True)
        if run.read_case("records.sharing_panel", entity, position, may_read, r):
            body = r.data.decode()
            run.case(
                "records.sharing_panel[share form]",
                entity,
                position,
                may_edit,
                'class="share-form"' in body,
            )
            run.case(
                "records.sharing_panel[owner form]",
                entity,
                position,
                may_assign,
                'class="owner-form"' in body,
            )
        target = w.user_id("boss")
        r = run.post(f"{base}/sharing", {"target": f"user:{target}", "access": "edit"}, hx=True)
        run.write_case(
            "records.share_add",
            rec,
            position,
            may_edit,
            r,
            lambda row, t=target, i=rec.id: w.has_share(entity, i, t),
        )
        share_id = w.spare_share(entity, rec.id)
        r = run.post(f"{base}/sharing/{share_id}/remove", hx=True)
        run.write_case(
            "records.share_remove",
            rec,
            position,
            may_edit,
            r,
            lambda row, i=rec.id: not w.has_share(entity, i, w.user_id("spare")),
        )
        spare = w.user_id("spare")
        version = w.snapshot_value(entity, rec.id, "version")
        r = run.post(f"{base}/owner", {"owner_id": str(spare), "version": str(version)}, hx=True)
        run.write_case(
            "records.owner_transfer",
            rec,
            position,
            may_assign,
            r,
            lambda row, s=spare: row is not None and row["owner_id"] == s,
        )


def probe_binned(run: Run, entity: str) -> None:
    """A record in the recycle bin is out of reach of every route but restore and purge --
    even for the user who could change it before it was deleted, even for administrators."""
    a, w = run.actor, run.world
    rec = w.record(entity, ("own", a), live=False)
    base = f"/r/{entity}/{rec.id}"
    version = str(w.snapshot_value(entity, rec.id, "version"))
    pos = "own (binned)"
    run.read_case("records.record_page", entity, pos, False, run.get(base))
    run.read_case("records.record_edit[GET]", entity, pos, False, run.get(f"{base}/edit"))
    run.read_case("records.sharing_panel", entity, pos, False, run.get(f"{base}/sharing", hx=True))
    unchanged = lambda row: False  # noqa: E731 - nothing may change
    writes = (
        ("records.record_edit[POST]", f"{base}/edit", {"memo": "x", "version": version}, False),
        ("records.field_save", f"{base}/field/memo", {"memo": "x", "version": version}, True),
        ("records.note_add", f"{base}/notes", {"body": "x"}, True),
        ("records.record_delete", f"{base}/delete", {}, False),
        (
            "records.share_add",
            f"{base}/sharing",
            {"target": f"user:{w.user_id('boss')}", "access": "edit"},
            True,
        ),
        (
            "records.owner_transfer",
            f"{base}/owner",
            {"owner_id": str(w.user_id("spare")), "version": version},
            True,
        ),
    )
    for route, url, data, hx in writes:
        run.write_case(route, rec, pos, False, run.post(url, data, hx=hx), unchanged)
    # a share of a record out of reach, removed through the URL of one's own record
    mine = w.record(entity, ("own", a))
    theirs = w.record(entity, ("user", "support"))
    r = run.post(
        f"/r/{entity}/{mine.id}/sharing/{w.spare_share(entity, theirs.id)}/remove", hx=True
    )
    run.write_case(
        "records.share_remove", theirs, "other_dept via my record's URL", False, r, unchanged
    )


def probe_access_panel(run: Run, entity: str) -> None:
    """The administrators' "who can see this and why": allowed to access managers on records
    they read; what it says must agree with the oracle for every actor."""
    a = run.actor
    for position, rec in positions(run, entity):
        expected = oracle.may_manage_access(a) and oracle.may(a, "read", rec.rec)
        r = run.get(f"/r/{entity}/{rec.id}/access", hx=True)
        if run.read_case("records.access_panel", entity, position, expected, r):
            body = r.data.decode()
            readers = set(re.findall(r'<li class="reader">\s*<strong>Actor (\w+)</strong>', body))
            editors_line = re.search(r"<strong>Can edit:</strong>(.*?)</p>", body, re.S)
            editors = set(re.findall(r"Actor (\w+)", editors_line.group(1) if editors_line else ""))
            for other in d.ACTORS:
                run.case(
                    "records.access_panel[says reads]",
                    entity,
                    f"{position} / {other}",
                    oracle.may(other, "read", rec.rec),
                    other in readers,
                )
                run.case(
                    "records.access_panel[says edits]",
                    entity,
                    f"{position} / {other}",
                    oracle.may(other, "edit", rec.rec),
                    other in editors,
                )


def probe_stage_move(run: Run, entity: str) -> None:
    """The stage path's move: on the entity with a pipeline (deals), only records the
    actor may edit move (the stage and version written); any other is refused with
    nothing written. Entities without pipelines refuse it for everyone."""
    from tests.authz.probes_boards import PIPELINE_ENTITY

    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        url = f"/r/{entity}/{rec.id}/stage"
        if entity != PIPELINE_ENTITY:
            page = run.get(f"{url}?stage=x")
            run.read_case("records.stage_move[GET]", entity, position, False, page)
            r = run.post(url, {"stage": "x", "version": "1"})
            run.write_case("records.stage_move[POST]", rec, position, False, r, lambda row: False)
            continue
        allowed = oracle.may(a, "edit", rec.rec)
        version = w.snapshot_value(entity, rec.id, "version")
        # Nothing gates "won" in the world's pipeline: the allowed answer is the way
        # back to the record page (303); a refusal is a 403/404.
        page = run.get(f"{url}?stage=won&version={version}")
        status = page.status_code
        target = page.headers.get("Location", "")
        seen = (status == 303 and target.endswith(f"/r/{entity}/{rec.id}")) or (
            False if status in (403, 404) else None
        )
        run.case("records.stage_move[GET]", entity, position, allowed, seen, f"(HTTP {status})")
        r = run.post(url, {"stage": "won", "version": str(version)})
        run.write_case(
            "records.stage_move[POST]",
            rec,
            position,
            allowed,
            r,
            lambda row, n=version + 1: (
                row is not None and row["stage"] == "won" and row["version"] == n
            ),
        )

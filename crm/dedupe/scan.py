"""The duplicates page's data: a background job finds the duplicate groups of an entity
(``find_groups`` over the key table) and stores them (``DuplicateScan``); the page reads
the stored groups, keeps the records its reader may read (a group left with fewer than
two is dropped) and shows one page of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access import policy
from crm.dedupe import rules as rules_mod
from crm.dedupe.groups import find_groups
from crm.dedupe.models import DuplicateScan
from crm.errors import Forbidden
from crm.extensions import db
from crm.jobs.models import DONE, FAILED, Job
from crm.jobs.registry import handler
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.records import present
from crm.records.query import scoped, table_of
from crm.timeutil import utcnow
from crm.uow import unit_of_work

KIND = "dedupe.groups"
MAX_GROUPS = 5000  # groups a scan keeps (best first)
PAGE = 20  # groups per page
_BATCH = 500


def own_rules(spec: EntitySpec) -> list:
    """The enabled rules comparing ``spec``'s records with each other."""
    return [
        r
        for r in rules_mod.enabled_rules(spec.key)
        if r.entity_key == spec.key and not r.compare_entity_key
    ]


def may_use(user: Any, spec: EntitySpec) -> bool:
    """Whether ``user`` may use the duplicates page of ``spec`` (edit right on it)."""
    return policy.can(user, "edit", spec.key)


def request_scan(user: Any, spec: EntitySpec) -> int:
    """Queue the job that finds ``spec``'s duplicate groups again; returns its id (a job
    already queued or running for it is returned instead of a second one). ``Forbidden``
    without edit right on ``spec``."""
    if not may_use(user, spec):
        raise Forbidden()
    from crm.jobs import outbox

    with unit_of_work():
        scan = db.session.scalar(select(DuplicateScan).where(DuplicateScan.entity_key == spec.key))
        if scan is not None and scan.job_id is not None:
            job = db.session.get(Job, scan.job_id)
            if job is not None and not job.finished:
                return job.id
        job = outbox.enqueue(KIND, {"entity": spec.key}, user_id=user.id)
        if scan is None:
            scan = DuplicateScan(entity_key=spec.key, groups=[], skipped=0)
            db.session.add(scan)
        scan.job_id = job.id
        job_id = job.id
    return job_id


def running(spec: EntitySpec) -> bool:
    """Whether the search last asked for ``spec``'s duplicates has not finished yet."""
    scan = db.session.scalar(select(DuplicateScan).where(DuplicateScan.entity_key == spec.key))
    job = db.session.get(Job, scan.job_id) if scan is not None and scan.job_id else None
    return job is not None and not job.finished


def _describe(payload: Mapping[str, Any], result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"title": _("Finding duplicates")}
    if isinstance(result, dict) and "groups" in result:
        out["done"] = _("%(num)d groups of likely duplicates found.", num=result["groups"])
        key = payload.get("entity")
        if isinstance(key, str):
            from flask import url_for

            out["link"] = (_("See the duplicates"), url_for("dedupe.duplicates", key=key))
    return out


@handler(KIND, describe=_describe)
def run_scan(ctx: Any) -> dict[str, Any]:
    """The job: find the groups of the entity ``payload["entity"]`` and store them."""
    key = ctx.payload.get("entity")
    spec = specs.current().entity(key) if isinstance(key, str) else None
    if spec is None:
        return {"skipped": True}
    ctx.progress(0, 1, _("Finding duplicates"))
    wanted = own_rules(spec)
    grouping = find_groups(spec, wanted) if wanted else None
    groups = grouping.groups[:MAX_GROUPS] if grouping else []
    scan = db.session.scalar(select(DuplicateScan).where(DuplicateScan.entity_key == spec.key))
    if scan is None:
        scan = DuplicateScan(entity_key=spec.key, job_id=ctx.job_id)
        db.session.add(scan)
    scan.groups = [{"ids": g.record_ids, "score": round(g.score, 3)} for g in groups]
    scan.skipped = grouping.skipped_keys if grouping else 0
    scan.computed_at = utcnow()
    ctx.progress(1, 1, _("Finding duplicates"))
    return {"groups": len(groups), "rules": len(wanted)}


@dataclass
class ShownGroup:
    """One group as a reader sees it: the records they may read, and the best score."""

    score: float
    rows: list[Mapping[str, Any]]
    names: list[str] = field(default_factory=list)


@dataclass
class ScanPage:
    """The duplicates page: when the groups were computed, whether a search runs now, one
    page of the groups the reader may see, and how many there are."""

    computed_at: datetime | None
    running: bool
    failed: bool
    job_id: int | None
    groups: list[ShownGroup]
    total: int
    page: int
    pages: int
    rules: int
    skipped: int = 0


def scan_page(user: Any, spec: EntitySpec, page: int = 1) -> ScanPage:
    """Page ``page`` (from 1; past the end: the last) of the stored groups of ``spec``
    reduced to the records ``user`` may read. ``Forbidden`` without edit right."""
    if not may_use(user, spec):
        raise Forbidden()
    scan = db.session.scalar(select(DuplicateScan).where(DuplicateScan.entity_key == spec.key))
    job = db.session.get(Job, scan.job_id) if scan is not None and scan.job_id else None
    stored = list(scan.groups or []) if scan is not None else []
    readable = _readable(user, spec, {i for g in stored for i in g.get("ids", [])})
    kept = []
    for g in stored:
        ids = [i for i in g.get("ids", []) if i in readable]
        if len(ids) >= 2:
            kept.append((float(g.get("score") or 0), ids))
    pages = max(1, -(-len(kept) // PAGE))
    page = min(max(page, 1), pages)
    chosen = kept[(page - 1) * PAGE : page * PAGE]
    rows = _rows(user, spec, {i for _s, ids in chosen for i in ids})
    namer = present.record_namer(spec, user)
    groups = []
    for score, ids in chosen:
        members = [rows[i] for i in ids if i in rows]
        groups.append(ShownGroup(score, members, [namer(r) for r in members]))
    return ScanPage(
        computed_at=scan.computed_at if scan is not None else None,
        running=job is not None and not job.finished,
        failed=job is not None and job.status == FAILED,
        job_id=job.id if job is not None and job.status != DONE else None,
        groups=groups,
        total=len(kept),
        page=page,
        pages=pages,
        rules=len(own_rules(spec)),
        skipped=scan.skipped if scan is not None else 0,
    )


def _readable(user: Any, spec: EntitySpec, ids: set[int]) -> set[int]:
    t = table_of(spec)
    out: set[int] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), _BATCH):
        chunk = ordered[start : start + _BATCH]
        query = scoped(user, spec, "read", columns=[t.c.id]).where(t.c.id.in_(chunk))
        out.update(db.session.scalars(query))
    return out


def _rows(user: Any, spec: EntitySpec, ids: set[int]) -> dict[int, Mapping[str, Any]]:
    t = table_of(spec)
    if not ids:
        return {}
    query = scoped(user, spec, "read").where(t.c.id.in_(sorted(ids)))
    return {r["id"]: r for r in db.session.execute(query).mappings()}

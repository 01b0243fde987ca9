"""Saved reports: private to their owner, or shared with roles. A shared report runs for
whoever opens it with their own scope and fields (``engine.run``): sharing a report never
shares the records or fields behind it. Only the owner changes or deletes a report.

Names are kept like role names: a plain name and ``{"name": {locale: text}}``
translations (``crm.access.names``), read in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, exists, or_, select

from crm.access import names, policy
from crm.access.models import Role
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.ids import MAX_ROW_ID, row_of
from crm.reports import definition as d
from crm.reports.models import ReportShare, SavedReport
from crm.timeutil import utcnow
from crm.uow import unit_of_work

MAX_NAME = 200
MAX_SHARES = 50


@dataclass(frozen=True)
class Listed:
    id: int
    name: str
    entity_key: str
    mine: bool
    shared: bool


def _role_ids(user: Any) -> list[int]:
    return [r.id for r in getattr(user, "roles", [])]


def _visible(user: Any):
    shared = exists().where(
        ReportShare.report_id == SavedReport.id, ReportShare.role_id.in_(_role_ids(user) or [0])
    )
    return or_(SavedReport.owner_id == user.id, shared)


def visible_reports(user: Any) -> list[Listed]:
    """The reports ``user`` owns or that are shared with one of their roles, on entities
    they may read, by name in their language."""
    rows = db.session.scalars(select(SavedReport).where(_visible(user))).all()
    shared_ids = set(
        db.session.scalars(
            select(ReportShare.report_id).where(
                ReportShare.report_id.in_([r.id for r in rows] or [0])
            )
        )
    )
    out = [
        Listed(r.id, names.shown(r.name, r.translations), r.entity_key, r.owner_id == user.id,
               r.id in shared_ids)
        for r in rows
        if policy.can(user, "read", r.entity_key)
    ]  # fmt: skip
    return sorted(out, key=lambda r: (r.name.lower(), r.id))


def get(user: Any, report_id: int) -> SavedReport:
    """The saved report, when ``user`` may open it; ``NotFound`` otherwise (one answer for
    "does not exist" and "not yours": nothing is told)."""
    if not 1 <= report_id <= MAX_ROW_ID:  # 32-bit keys: a larger id names no report
        raise NotFound(_("There is no such report."))
    row = db.session.scalar(select(SavedReport).where(SavedReport.id == report_id, _visible(user)))
    if row is None or not policy.can(user, "read", row.entity_key):
        raise NotFound(_("There is no such report."))
    return row


def shared_roles(report_id: int) -> list[int]:
    return list(
        db.session.scalars(select(ReportShare.role_id).where(ReportShare.report_id == report_id))
    )


def name_of(row: SavedReport) -> str:
    return names.shown(row.name, row.translations)


def save(
    user: Any,
    data: dict,
    *,
    name: str,
    translations: Any = None,
    role_ids: list[int] | None = None,
    report_id: int | None = None,
) -> SavedReport:
    """Save the definition ``data`` (checked for ``user``: fields they may read) as a new
    report, or over ``report_id`` (theirs only: ``NotFound`` otherwise), shared with
    ``role_ids`` (empty: private). ``ValidationFailed`` with every problem, keyed."""
    errors: dict[str, list[str]] = {}
    try:
        defn = d.parse(user, data)
    except (ValidationFailed, NotFound) as exc:
        errors.update(exc.errors)
        defn = None
    name = " ".join(str(name or "").split())
    if not name:
        errors.setdefault("name", []).append(_("Give the report a name."))
    elif len(name) > MAX_NAME or "\x00" in name:
        errors.setdefault("name", []).append(_("Use at most %(num)d characters.", num=MAX_NAME))
    cleaned, problems = names.check(translations or {}, MAX_NAME)
    if problems:
        errors.setdefault("name", []).extend(problems)
    wanted = sorted({int(r) for r in role_ids or []})
    if len(wanted) > MAX_SHARES:
        errors.setdefault("roles", []).append(
            _("Share with at most %(num)d roles.", num=MAX_SHARES)
        )
    storable = [r for r in wanted if 1 <= r <= MAX_ROW_ID]
    known = set(db.session.scalars(select(Role.id).where(Role.id.in_(storable or [0]))))
    if set(wanted) - known:
        errors.setdefault("roles", []).append(_("Choose roles from the list."))
    if errors:
        raise ValidationFailed(
            " ".join(m for ms in errors.values() for m in ms if m != "too_many"), errors=errors
        )
    with unit_of_work():
        if report_id is None:
            row = SavedReport(owner_id=user.id, created_at=utcnow())
            db.session.add(row)
        else:
            row = row_of(SavedReport, report_id)
            if row is None or row.owner_id != user.id:
                raise NotFound(_("There is no such report."))
        row.name, row.translations = name, cleaned
        row.entity_key, row.definition = defn.entity, defn.to_data()
        row.updated_at = utcnow()
        db.session.flush()
        db.session.execute(delete(ReportShare).where(ReportShare.report_id == row.id))
        for role_id in wanted:
            db.session.add(ReportShare(report_id=row.id, role_id=role_id))
    return row


def remove(user: Any, report_id: int) -> None:
    """Delete the report (its owner only; ``NotFound`` otherwise)."""
    with unit_of_work():
        row = row_of(SavedReport, report_id)
        if row is None or row.owner_id != user.id:
            raise NotFound(_("There is no such report."))
        db.session.execute(delete(ReportShare).where(ReportShare.report_id == report_id))
        _remove_tiles(report_id)
        db.session.delete(row)


def _remove_tiles(report_id: int) -> None:
    """Dashboard tiles showing the report go with it (a few tiles per dashboard: their
    settings are read here rather than queried inside JSON on two databases)."""
    from crm.analytics.models import Tile

    gone = [
        t.id
        for t in db.session.scalars(select(Tile).where(Tile.kind == "report"))
        if (t.config or {}).get("report_id") == report_id
    ]
    if gone:
        db.session.execute(delete(Tile).where(Tile.id.in_(gone)))


def stored_definition(user: Any, row: SavedReport) -> d.ReportDef:
    """The saved definition checked for ``user`` (who may read fewer fields than its
    author: ``ValidationFailed`` names what they cannot use)."""
    return d.parse(user, row.definition)


def role_choices() -> list[tuple[int, str]]:
    """Every role as (id, its name in the reader's language), for sharing a report."""
    from crm.access.models import Role

    return [(r.id, r.display_name) for r in db.session.scalars(select(Role).order_by(Role.name))]

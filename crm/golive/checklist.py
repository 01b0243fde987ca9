"""The go-live checklist: per step of the pack, what is loaded and what is still missing.

For each step: how many departments, users or records there are, the last import (who,
when, counts, errors), and what still needs doing — an empty list, users who have not
chosen a password yet, rows of the last import whose lookups named records that were not
found. Read-only; for full administrators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from crm.access import invites
from crm.access.models import Department, User
from crm.access.service import require_admin
from crm.errors import NotFound
from crm.extensions import db
from crm.golive import plan
from crm.golive.models import GoLivePack
from crm.imports import org
from crm.imports.models import Import, ImportProblem
from crm.metadata import specs, types
from crm.records.query import scoped, table_of

PROBLEMS_READ = 10_000  # problems of one import looked at for unfound lookups


@dataclass
class LastImport:
    """An import as the checklist shows it."""

    id: int
    filename: str
    by: str
    at: datetime | None
    status: str
    created: int
    updated: int
    skipped: int
    errors: int
    job_id: int | None


@dataclass
class Step:
    """One step: ``key`` (``@departments``, ``@users`` or an entity key), its label and
    position, how many there are, the last import, what is missing, what it needs."""

    key: str
    label: str
    number: int
    count: int
    last: LastImport | None = None
    missing: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    status: str = ""  # in the latest pack: waiting, running, done, failed
    invited: int = 0  # users: how many have not chosen a password (invitation not used)

    @property
    def loaded(self) -> bool:
        """Something is loaded: for users, someone beside the first administrator."""
        return self.count > (1 if self.key == org.USERS else 0)

    @property
    def field_name(self) -> str:
        """The name of the step's file input."""
        return "org-" + self.key[1:] if self.key.startswith("@") else "entity-" + self.key


@dataclass
class Checklist:
    steps: list[Step]
    pack: GoLivePack | None
    cycles: list[str]

    @property
    def loaded(self) -> int:
        return sum(1 for s in self.steps if s.loaded)


def checklist(actor: Any) -> Checklist:
    """The checklist for a full administrator (``Forbidden`` for anyone else)."""
    require_admin(actor, org.ONLY_ADMINS)
    order = plan.entity_order()
    labels = {e.key: str(e.label_plural) for e in order.entities}
    pack = plan.latest()
    in_pack = {s["target"]: s for s in (pack.steps if pack else [])}
    steps = [
        Step(org.DEPARTMENTS, _("Departments"), 1, _count(Department)),
        Step(org.USERS, _("Users"), 2, _count(User)),
    ]
    for n, spec in enumerate(order.entities, start=3):
        table = table_of(spec)
        query = scoped(actor, spec, "read", columns=[func.count(table.c.id)])
        steps.append(
            Step(
                spec.key,
                str(spec.label_plural),
                n,
                db.session.scalar(query) or 0,
                needs=[labels[k] for k in order.needs.get(spec.key, ())],
            )
        )
    for step in steps:
        step.last = _last(step.key)
        step.status = (in_pack.get(step.key) or {}).get("status", "")
        step.missing = _missing(step)
    return Checklist(steps, pack, [labels[k] for k in order.cycles])


def pending(actor: Any) -> bool:
    """For the home page: True for a full administrator while the base data is not all
    loaded (only one user, or a list without records). One query per entity at most."""
    if not getattr(actor, "is_admin", False):
        return False
    if _count(User) <= 1:
        return True
    for spec in plan.entity_order().entities:
        found = scoped(actor, spec, "read", columns=[table_of(spec).c.id]).limit(1)
        if db.session.scalar(found) is None:
            return True
    return False


def step_import(actor: Any, import_id: int) -> Import:
    """The import of a pack step (any step: the org targets or an entity), for a full
    administrator; ``NotFound`` otherwise."""
    require_admin(actor, org.ONLY_ADMINS)
    imp = db.session.get(Import, import_id) if 0 < import_id < 2**31 else None
    if imp is None or imp.status == "draft":
        raise NotFound(_("There is no such import."))
    return imp


def _count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _last(key: str) -> LastImport | None:
    row = db.session.execute(
        select(Import, User.display_name)
        .outerjoin(User, User.id == Import.user_id)
        .where(Import.entity_key == key, Import.status != "draft")
        .order_by(Import.created_at.desc(), Import.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    imp, by = row
    return LastImport(imp.id, imp.filename, by or "", imp.finished_at or imp.created_at,
                      imp.status, imp.created, imp.updated, imp.skipped, imp.errors,
                      imp.job_id)  # fmt: skip


def _missing(step: Step) -> list[str]:
    out = []
    if step.key == org.DEPARTMENTS and not step.count:
        out.append(_("No departments yet."))
    elif step.key == org.USERS:
        if step.count <= 1:
            out.append(_("Only the first administrator so far."))
        never = (
            select(func.count())
            .select_from(User)
            .where(User.is_active.is_(True), User.last_login_at.is_(None))
        )
        invited = never.where(User.password_hash.startswith(invites.NO_PASSWORD[:1]))
        step.invited = db.session.scalar(invited) or 0
        waiting = (db.session.scalar(never) or 0) - step.invited  # chose a password, never came
        if waiting:
            out.append(ngettext("%(num)d user has never signed in.",
                                "%(num)d users have never signed in.", waiting))  # fmt: skip
    elif not step.count:
        out.append(_("%(entities)s: 0 records.", entities=step.label))
    if step.last is not None and step.last.errors:
        out.extend(_unfound(step))
        left = step.last.errors
        out.append(
            ngettext(
                "The last import left %(num)d row out.",
                "The last import left %(num)d rows out.",
                left,
            )
        )
    return out


def _unfound(step: Step) -> list[str]:
    """ "Deals: 12 rows name accounts that were not found", per lookup field."""
    spec = specs.current().entity(step.key) if not step.key.startswith("@") else None
    if spec is None or step.last is None:
        return []
    lookups = {f.key: f for f in spec.active_fields if types.lookup_target(f)}
    if not lookups:
        return []
    counts: dict[str, int] = {}
    query = (
        select(ImportProblem.reasons)
        .where(ImportProblem.import_id == step.last.id)
        .limit(PROBLEMS_READ)
    )
    for reasons in db.session.scalars(query):
        for key in reasons or {}:
            if key in lookups:
                counts[key] = counts.get(key, 0) + 1
    out = []
    for key, n in sorted(counts.items()):
        target = specs.current().entity(types.lookup_target(lookups[key]) or "")
        out.append(
            ngettext("%(entities)s: %(num)d row names %(targets)s that were not found.",
                     "%(entities)s: %(num)d rows name %(targets)s that were not found.", n,
                     entities=step.label,
                     targets=str(target.label_plural) if target else lookups[key].label)
        )  # fmt: skip
    return out

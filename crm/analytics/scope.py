"""The records an analytics figure counts, for one viewer: the scoped query layer's
records of one pipeline (``crm.records.query.scoped``, so the access policy decides),
narrowed by the owner and department filters; and the people a viewer may see figures
and set targets for.

Nothing here reads a field the viewer may not read: ``readable`` names what they may
group or sum by, and callers refuse hidden ones with a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, select

from crm.access import levels, policy
from crm.access.models import Department, User
from crm.analytics.filters import Filters
from crm.errors import Forbidden, NotFound
from crm.extensions import db
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.pipelines import board as boards
from crm.pipelines.spec import PIPELINE_FIELD, STAGE_FIELD, PipelineSpec
from crm.records import listing
from crm.records.query import scoped, table_of


@dataclass(frozen=True)
class Subject:
    """What one analytics page is about: an entity and one of its pipelines."""

    spec: EntitySpec
    pipeline: PipelineSpec

    @property
    def name(self) -> str:
        return boards.pipeline_name(self.pipeline)


def subject(user: Any, spec: EntitySpec, pipeline_key: str | None) -> Subject:
    """The pipeline ``pipeline_key`` of ``spec`` (its default when empty) for ``user``.
    ``NotFound`` without pipelines; ``Forbidden`` when the stage is hidden from them (no
    figure can be told without it)."""
    pipeline = boards.pipeline_of(spec, (pipeline_key or "")[:41] or None)
    if STAGE_FIELD not in listing.readable_fields(user, spec):
        raise Forbidden(_("The stage of these records is hidden from you."))
    return Subject(spec, pipeline)


def readable(user: Any, spec: EntitySpec) -> Any:
    """The fields ``user`` may read of ``spec`` (group or sum by), by key."""
    return listing.readable_fields(user, spec)


def owner_condition(spec: EntitySpec, filters: Filters) -> list[ColumnElement]:
    """The owner and department filters as SQL on ``spec``'s table (department: the
    owners in it or any department under it)."""
    table = table_of(spec)
    out: list[ColumnElement] = []
    if filters.owner_id is not None:
        out.append(table.c.owner_id == filters.owner_id)
    if filters.department_id is not None:
        department = db.session.get(Department, filters.department_id)
        if department is None:
            raise NotFound(_("There is no such department."))
        members = (
            select(User.id)
            .join(Department, User.department_id == Department.id)
            .where(Department.path.startswith(department.path))
        )
        out.append(table.c.owner_id.in_(members))
    return out


def records(user: Any, subj: Subject, filters: Filters, columns: list | None = None) -> Select:
    """``SELECT`` of the live records of the pipeline that ``user`` may read, with the
    owner and department filters (``columns``: default the id)."""
    table = table_of(subj.spec)
    cols = columns if columns is not None else [table.c.id]
    return scoped(user, subj.spec, "read", columns=cols).where(
        table.c[PIPELINE_FIELD] == subj.pipeline.key, *owner_condition(subj.spec, filters)
    )


def amount_field(user: Any, subj: Subject) -> FieldSpec | None:
    """The pipeline's amount field when ``user`` may read it (None: no sums)."""
    return boards.readable_amount_field(user, subj.spec, subj.pipeline)


def people_in_reach(user: Any, entity_key: str) -> list[User]:
    """The active people whose records ``user`` reads as a manager on ``entity_key``:
    everyone at "all records" (and for administrators), the members of their department
    (and those below) at the department levels, nobody at "own records" or less: only
    managers set targets and compare people."""
    r = policy.rights(user)
    query = select(User).where(User.is_active.is_(True)).order_by(User.display_name, User.id)
    if r.is_admin or r.level(entity_key, "read") == levels.ALL:
        return list(db.session.scalars(query))
    level = levels.level(r.level(entity_key, "read"))
    if level.reach is None or r.department_id is None:
        return []
    members = level.reach(r).members()
    return list(db.session.scalars(query.where(User.id.in_(members))))


def names_of(user_ids: Any) -> dict[int, str]:
    """Display names by user id (one query)."""
    ids = [i for i in set(user_ids) if i is not None]
    if not ids:
        return {}
    return dict(
        db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
    )


def departments_of(user_ids: Any) -> dict[int, tuple[int | None, str]]:
    """Each user's department (id, name) by user id (one query)."""
    ids = [i for i in set(user_ids) if i is not None]
    if not ids:
        return {}
    rows = db.session.execute(
        select(User.id, Department.id, Department.name)
        .select_from(User)
        .outerjoin(Department, User.department_id == Department.id)
        .where(User.id.in_(ids))
    ).all()
    return {uid: (did, name or "") for uid, did, name in rows}


def departments_among(people: list[User]) -> list[Department]:
    """The departments of ``people``, by name (the department filter's choices)."""
    ids = {p.department_id for p in people if p.department_id}
    if not ids:
        return []
    query = select(Department).where(Department.id.in_(ids)).order_by(Department.name)
    return list(db.session.scalars(query))

"""Records, shares and list views: through the services where a test means the real path,
by direct insert where a test needs speed or rows the services would refuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select

from crm.extensions import db
from crm.metadata import list_views, specs
from crm.metadata.list_views import ListViewSpec
from crm.records import service as records
from crm.records import sharing
from crm.records.query import table_of


def make_record(user: Any, entity_key: str, values: Mapping[str, Any]) -> int:
    """Create a record of ``entity_key`` owned by ``user`` through the record service (form
    values, as a person types them); returns its id. Raises what ``records.create`` raises
    (``Forbidden``, ``ValidationFailed``)."""
    return records.create(user, specs.current().entity(entity_key), dict(values))


def insert_rows(entity_key: str, *rows: dict) -> list[int]:
    """Insert raw rows into ``x_<entity_key>`` (no service, no rights, no audit) and commit;
    returns their ids. For speed, and for values the services would refuse."""
    table = specs.current().table(entity_key)
    ids = []
    for row in rows:
        ids.append(
            db.session.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()
        )
    db.session.commit()
    specs.forget_request_specs()
    return ids


def stored(entity_key: str, record_id: int):
    """The record's stored row (every column, as the database returns it), or None."""
    db.session.rollback()
    t = table_of(specs.current().entity(entity_key))
    return db.session.execute(select(t).where(t.c.id == record_id)).mappings().first()


def make_share(
    user: Any,
    entity_key: str,
    record_id: int,
    *,
    to_user: Any = None,
    to_department: Any = None,
    access: str = "read",
) -> sharing.ShareChange:
    """Share a record, as ``user``, with one user or one department, through the sharing
    service. Raises what ``sharing.share`` raises."""
    return sharing.share(
        user,
        specs.current().entity(entity_key),
        record_id,
        user_id=to_user.id if to_user is not None else None,
        department_id=to_department.id if to_department is not None else None,
        access=access,
    )


def make_list_view(
    entity_key: str,
    data: Mapping[str, Any],
    *,
    owner: Any = None,
    actor_id: int | None = None,
) -> ListViewSpec:
    """A list view: private to ``owner`` when given, else shared (published by
    ``actor_id``). Raises what the list-view service raises."""
    if owner is not None:
        return list_views.save_private_view(entity_key, data, user_id=owner.id)
    return list_views.save_shared_view(entity_key, data, actor_id=actor_id)

"""Fixtures of the customer pool tests: an "account" entity with a "vip" checkbox, two
reps in department East (own records only), a rep in West, a manager of East (department
records, may assign), and helpers to define a pool and put records in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from crm import timeutil
from crm.access import policy as P
from crm.extensions import db
from crm.metadata import specs
from crm.pools import config, service
from crm.pools.models import MANUAL, Pool
from crm.pools.spec import by_id
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import make_department, make_role, make_user


@pytest.fixture
def model(app):
    schema.create_entity(
        "account",
        "Account",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "vip", "type": "boolean", "label": "VIP"},
        ],
        name_field="name",
    )
    return specs.current().entity("account")


@pytest.fixture
def people(app, model):
    east = make_department("East")
    west = make_department("West")
    make_role("Rep", {"read": P.OWN, "edit": P.OWN, "create": P.ALL, "assign": P.OWN})
    make_role("Lead", {"read": P.DEPARTMENT, "edit": P.DEPARTMENT, "assign": P.DEPARTMENT})
    return {
        "admin": make_user("admin@example.com", display_name="Ada Admin", is_admin=True),
        "ann": make_user("ann@example.com", display_name="Ann", roles=("Rep",), department=east),
        "bob": make_user("bob@example.com", display_name="Bob", roles=("Rep",), department=east),
        "wes": make_user("wes@example.com", display_name="Wes", roles=("Rep",), department=west),
        "max": make_user("max@example.com", display_name="Max", roles=("Lead",), department=east),
        "east": east,
        "west": west,
    }


def make_pool(actor: Any, key: str = "east", **values: Any) -> int:
    """Define a pool of accounts through the configuration service; returns its id."""
    data = {"key": key, "entity_key": "account", "name": key.title(), "enabled": True}
    data.update(values)
    pool_id = config.save(actor, data)
    specs.forget_request_specs()
    return pool_id


def pool_spec(pool_id: int):
    db.session.rollback()
    return by_id(pool_id)


def account(user: Any, name: str = "Acme", **values: Any) -> int:
    return records.create(user, specs.current().entity("account"), {"name": name, **values})


def into_pool(manager: Any, ids: list[int], pool_key: str = "east", note: str = "idle") -> int:
    """Return ``ids`` to the pool by hand, as ``manager``."""
    return service.return_to_pool(
        manager, specs.current().entity("account"), ids, pool_key=pool_key, note=note
    )


def owner_of(record_id: int) -> int | None:
    db.session.rollback()
    t = specs.current().table("account")
    return db.session.scalar(select(t.c.owner_id).where(t.c.id == record_id))


def freeze(monkeypatch, moment: datetime) -> None:
    """Freeze ``crm.timeutil.utcnow`` (what the pool services read) at ``moment``."""
    monkeypatch.setattr(timeutil, "utcnow", lambda: moment)


__all__ = ["MANUAL", "Pool"]

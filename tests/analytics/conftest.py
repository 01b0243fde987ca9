"""A sales world for the home page and adoption tests: two departments, reps, a manager,
deals with a pipeline, raw rows for speed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from crm.access import policy as P
from crm.activities.models import Task
from crm.extensions import db
from tests.factories import insert_rows, make_departments, make_entity, make_role, make_user, text
from tests.pipelines.factories import make_deal_entity

NOW = datetime(2026, 11, 18, 10, 0)  # a Wednesday
STAGES = ("new", "qualified", "proposal", "won", "lost")
PROBABILITY = {"new": 10, "qualified": 30, "proposal": 60, "won": 100, "lost": 0}


@dataclass
class World:
    rep: object
    rep2: object
    boss: object
    carer: object
    admin: object
    deals: list  # (id, owner id, stage, amount)


def _row(owner, stage, amount, n, now):
    at = now - timedelta(days=n % 20)
    return {
        "title": f"Deal {n}",
        "amount": amount,
        "pipeline": "sales",
        "stage": stage,
        "probability": PROBABILITY[stage],  # as the record service writes it
        "owner_id": owner.id,
        "created_by": owner.id,
        "updated_by": owner.id,
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }


@pytest.fixture
def world(app) -> World:
    return make_world()


def make_world(now: datetime = NOW, deals: int = 40) -> World:
    """The world: deals owned round-robin by rep, rep, rep2, carer, boss, created and
    changed over the 20 days up to ``now``."""
    make_deal_entity()
    make_entity("memo", "Memo", [text("title", "Title")], name_field="title")
    depts = make_departments({"Sales": None, "Care": None})
    make_role("Rep", {("*", "read"): P.OWN, ("*", "create"): P.ALL, ("*", "edit"): P.OWN})
    make_role("Manager", {("*", "read"): P.DEPARTMENT, ("*", "edit"): P.DEPARTMENT})
    rep = make_user(
        "rep@example.com", display_name="Rita Rep", roles=("Rep",), department=depts["Sales"]
    )
    rep2 = make_user(
        "rep2@example.com", display_name="Ray Rep", roles=("Rep",), department=depts["Sales"]
    )
    boss = make_user(
        "boss@example.com", display_name="Bea Boss", roles=("Manager",), department=depts["Sales"]
    )
    carer = make_user(
        "carer@example.com", display_name="Cal Care", roles=("Rep",), department=depts["Care"]
    )
    admin = make_user("admin@example.com", display_name="Ada Admin", is_admin=True)
    rows, spec = [], []
    owners = [rep, rep, rep2, carer, boss]
    for n in range(deals):
        owner = owners[n % len(owners)]
        stage = STAGES[(n * 7) % len(STAGES)]
        amount = Decimal(100 + 37 * n)
        rows.append(_row(owner, stage, amount, n, now))
        spec.append((owner.id, stage, amount))
    ids = insert_rows("deal", *rows)
    deals = [(i, *s) for i, s in zip(ids, spec, strict=True)]
    return World(rep, rep2, boss, carer, admin, deals)


def add_task(user, record_id: int, due: date, subject: str, entity_key: str = "deal") -> None:
    db.session.add(
        Task(
            entity_key=entity_key,
            record_id=record_id,
            subject=subject,
            due_date=due,
            assignee_id=user.id,
        )
    )
    db.session.commit()

"""A hand-made sales pipeline for the analytics tests: deals with an amount, an expected
close date and a lead source; two departments (East with reps Ann and Bob and their lead
Max, West with rep Wes); and a stage history written row by row, so every figure can be
computed here independently of the code under test."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete

from crm.access import policy as P
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines import service as pipelines
from crm.pipelines.models import StageMove
from tests.factories import (
    field,
    make_department,
    make_entity,
    make_role,
    make_user,
    picklist,
    text,
)
from tests.factories.records import insert_rows
from tests.pipelines.factories import stages

T0 = datetime(2026, 10, 1, 9, 0)  # the period is October to December 2026
PERIOD = {"from": "2026-10-01", "to": "2026-12-31"}
ORDER = ["new", "qualified", "proposal"]  # the open stages; then "won"
PROBABILITY = {"new": 10, "qualified": 30, "proposal": 60, "won": 100, "lost": 0}

# owner, amount, close day, source, path [(stage, days after T0)]
DEALS = {
    "r1": ("ann", 1000, date(2026, 11, 15), "web",
           [("new", 0), ("qualified", 2), ("proposal", 7), ("won", 10)]),
    "r2": ("ann", 500, date(2026, 11, 20), "web", [("new", 1), ("qualified", 4), ("lost", 6)]),
    "r3": ("bob", 2000, date(2026, 12, 5), "event", [("new", 0), ("proposal", 3)]),
    "r4": ("bob", 800, date(2026, 11, 1), None, [("new", 2), ("qualified", 5)]),
    "r5": ("wes", 3000, date(2026, 10, 20), "event",
           [("new", 0), ("qualified", 1), ("proposal", 2), ("won", 4)]),
    "r6": ("wes", 400, date(2026, 12, 10), "web", [("new", 3)]),
    "r7": ("max", 600, date(2026, 11, 11), "web", [("new", -40), ("qualified", -35)]),
    "r8": ("ann", 900, date(2027, 2, 1), "web", [("new", 5), ("qualified", 6.5)]),
}  # fmt: skip


@pytest.fixture
def world(app):
    return build_world()


def build_world() -> dict:
    """The departments, people, entity, pipeline, deals and their stage history (inside
    an app context)."""
    east = make_department("East")
    west = make_department("West")
    rep = {"read": P.OWN, "edit": P.OWN, "create": P.ALL}
    lead = {"read": P.DEPARTMENT, "edit": P.DEPARTMENT, "create": P.ALL}
    make_role("Rep", rep)
    make_role("Lead", lead)
    people = {
        "admin": make_user("admin@example.com", display_name="Ada Admin", is_admin=True),
        "ann": make_user("ann@example.com", display_name="Ann", roles=("Rep",), department=east),
        "bob": make_user("bob@example.com", display_name="Bob", roles=("Rep",), department=east),
        "wes": make_user("wes@example.com", display_name="Wes", roles=("Rep",), department=west),
        "max": make_user("max@example.com", display_name="Max", roles=("Lead",), department=east),
    }
    make_entity(
        "deal",
        "Deal",
        [
            text("title", "Title", required=True),
            field("amount", "currency", "Amount", options={"currency": "EUR"}),
            field("close_date", "date", "Close date"),
            picklist("lead_source", "Lead source", ["web", "event"]),
        ],
        name_field="title",
    )
    pipelines.save_pipeline("deal", "sales", "Sales", stages(), options={"amount_field": "amount"})
    specs.forget_request_specs()
    ids = {}
    for name, (owner, amount, close, source, path) in DEALS.items():
        last_stage, last_at = path[-1][0], T0 + timedelta(days=path[-1][1])
        (rid,) = insert_rows(
            "deal",
            {
                "title": name,
                "owner_id": people[owner].id,
                "amount": amount,
                "close_date": close,
                "lead_source": source,
                "pipeline": "sales",
                "stage": last_stage,
                "probability": PROBABILITY[last_stage],
                "created_at": T0 + timedelta(days=path[0][1]),
                "updated_at": last_at,
                "created_by": people[owner].id,
                "updated_by": people[owner].id,
                "version": 1,
            },
        )
        ids[name] = rid
    db.session.execute(delete(StageMove))
    for name, (owner, *_rest, path) in DEALS.items():
        previous = None
        for stage, day in path:
            at = T0 + timedelta(days=day)
            seconds = int((at - previous[1]).total_seconds()) if previous else None
            db.session.add(
                StageMove(
                    entity_key="deal",
                    record_id=ids[name],
                    pipeline="sales",
                    from_stage=previous[0] if previous else None,
                    to_stage=stage,
                    at=at,
                    user_id=people[owner].id,
                    seconds_in_from=seconds,
                )
            )
            previous = (stage, at)
    db.session.commit()
    return {**people, "east": east, "west": west, "ids": ids}


def visible_deals(who: str) -> list[str]:
    """The deals each person reads: a rep their own, Max all of East's, admin all."""
    east = {"ann", "bob", "max"}
    return [
        n
        for n, (owner, *_r) in DEALS.items()
        if who == "admin" or owner == who or (who == "max" and owner in east)
    ]

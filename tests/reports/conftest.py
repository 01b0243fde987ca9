"""A sales organisation with deals to report on: Sales > Sales East, and Support; reps
read their own deals, the manager Sales and below, the viewer all; reps may not read the
deals' cost. Deals are inserted from a fixed random sequence, so each test computes its
expected figures from the same rows in plain Python."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from crm.access import policy as P
from crm.metadata import specs
from tests.factories import insert_rows, make_department, make_entity, make_role, make_user
from tests.factories.schema import field, picklist, text

STATUSES = ("open", "won", "lost")


@pytest.fixture
def sales(app):
    make_entity(
        "deal",
        "Deal",
        [
            text("name", "Name"),
            field("amount", "currency", "Amount"),
            field("cost", "currency", "Cost"),
            field("seats", "integer", "Seats"),
            picklist("status", "Status", [("open", "Open"), ("won", "Won"), ("lost", "Lost")]),
            field("hot", "boolean", "Hot"),
            field("closes", "date", "Closes"),
            field("met", "datetime", "Met"),
        ],
        plural="Deals",
    )
    top = make_department("Sales")
    east = make_department("Sales East", top)
    support = make_department("Support")
    make_role("Rep", {"read": P.OWN, "create": P.ALL, "edit": P.OWN}, {("deal", "cost"): "hidden"})
    make_role("Manager", {"read": P.SUBTREE})
    make_role("Viewer", {"read": P.ALL})
    people = {
        "ann": make_user(display_name="Ann Rep", roles=("Rep",), department=east),
        "ben": make_user(display_name="Ben Rep", roles=("Rep",), department=top),
        "cy": make_user(display_name="Cy Rep", roles=("Rep",), department=support),
        "mia": make_user(display_name="Mia Manager", roles=("Manager",), department=top),
        "vic": make_user(display_name="Vic Viewer", roles=("Viewer",), department=support),
    }
    dept_of = {"ann": east.id, "ben": top.id, "cy": support.id, "mia": top.id, "vic": support.id}
    rng = random.Random(19)
    owners = ["ann", "ben", "cy", "mia", None]
    rows = []
    for n in range(90):
        who = rng.choice(owners)
        rows.append(
            {
                "name": f"Deal {n}",
                "owner_id": people[who].id if who else None,
                "amount": Decimal(rng.randrange(0, 100_000)) / 100,
                "cost": Decimal(rng.randrange(0, 5_000)) / 100,
                "seats": rng.choice([None, 1, 2, 5, 10]),
                "status": rng.choice([*STATUSES, None]),
                "hot": rng.choice([True, False, None]),
                "closes": date(2026, 1, 1) + timedelta(days=rng.randrange(0, 400)),
                "met": datetime(2026, 3, 1) + timedelta(minutes=rng.randrange(0, 60 * 24 * 300)),
                "version": 1,
            }
        )
    insert_rows("deal", *rows)
    for r in rows:
        r["dept"] = next((dept_of[k] for k, u in people.items() if r["owner_id"] == u.id), None)
    return {
        "spec": specs.current().entity("deal"),
        "p": people,
        "rows": rows,
        "d": {"top": top, "east": east, "support": support},
    }


def in_scope(sales, who: str) -> list[dict]:
    """The deals ``who`` may read, worked out here, not by the policy."""
    people, d = sales["p"], sales["d"]
    me = people[who]
    if who in ("ann", "ben", "cy"):
        return [r for r in sales["rows"] if r["owner_id"] == me.id]
    if who == "mia":
        return [r for r in sales["rows"] if r["dept"] in (d["top"].id, d["east"].id)]
    return list(sales["rows"])


@pytest.fixture
def request_ctx(app):
    """Reports are read in a request (the reader's language, zone and URLs)."""
    with app.test_request_context():
        yield

"""A deal entity with a pipeline, people in a department and roles, for the rule tests."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from crm.extensions import db
from crm.metadata import specs
from crm.pipelines import service as pipelines
from crm.records import service as records
from tests.factories import field, make_department, make_entity, make_role, make_user, text
from tests.pipelines.factories import stages
from tests.webhooks.conftest import receiver  # noqa: F401 - the local receiver, for webhook rules

PLAIN = (
    ("new", "New", 10, "open", []),
    ("proposal", "Proposal", 60, "open", []),
    ("won", "Won", 100, "won", []),
    ("lost", "Lost", 0, "lost", []),
)


@pytest.fixture
def model(app):
    make_entity(
        "deal",
        "Deal",
        [
            text("title", "Title", required=True),
            text("status", "Status"),
            text("note", "Note"),
            field("amount", "integer", "Amount"),
            field("margin", "integer", "Margin"),
            field("birthday", "date", "Birthday"),
        ],
        name_field="title",
    )
    pipelines.save_pipeline("deal", "sales", "Sales", stages(PLAIN))
    return specs.current().entity("deal")


@pytest.fixture
def people(app, model):
    """``admin`` (owns the rules), ``boss`` (manages Sales), ``ann``/``bob`` (Sales
    department, Seller role), ``own`` (reads and edits only their own deals, no margin)."""
    make_role(
        "Seller",
        {"read": P.ALL, "edit": P.ALL, "create": P.ALL, "assign": P.ALL, "bulk_edit": P.ALL},
    )
    make_role(
        "Own",
        {"read": P.OWN, "edit": P.OWN, "create": P.ALL},
        {("deal", "margin"): P.HIDDEN},
    )
    sales = make_department("Sales")
    boss = make_user("boss@example.com", display_name="Boss", department=sales)
    sales.manager_id = boss.id
    db.session.commit()
    return {
        "admin": make_user("admin@example.com", display_name="Ada Admin", is_admin=True),
        "boss": boss,
        "ann": make_user("ann@example.com", display_name="Ann", roles=("Seller",),
                         department=sales),
        "bob": make_user("bob@example.com", display_name="Bob", roles=("Seller",),
                         department=sales),
        "own": make_user("own@example.com", display_name="Olga Own", roles=("Own",)),
        "sales": sales,
    }  # fmt: skip


def deal(user, **values) -> int:
    """A deal created through the record service by ``user``."""
    spec = specs.current().entity("deal")
    return records.create(user, spec, {"title": "Big deal", **values})


def edit(user, record_id: int, **values) -> None:
    """Save ``values`` on the deal as ``user`` (at its current version)."""
    spec = specs.current().entity("deal")
    row = records.get(user, spec, record_id)
    records.merge_update(user, spec, record_id, None, values, expected_version=row["version"])


def row(record_id: int):
    """The deal as stored now."""
    from tests.factories import stored

    return stored("deal", record_id)

"""A small CRM for duplicate rules: contacts and leads (people), accounts (companies),
two reps who read only their own records and a manager who reads everything."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from crm.dedupe import rules
from crm.metadata import specs
from crm.uow import unit_of_work
from tests.factories import field, make_entity, make_role, make_user, text

REP = {"create": P.ALL, "read": P.OWN, "edit": P.OWN}
PERSON = [
    text("full_name", required=True),
    field("email", "email"),
    field("phone", "phone"),
]


@pytest.fixture
def crm(app):
    make_entity("contact", fields=PERSON, name_field="full_name")
    make_entity("lead", fields=PERSON, name_field="full_name")
    make_entity(
        "account",
        fields=[text("name", required=True), field("phone", "phone"), field("website", "url")],
        name_field="name",
    )
    make_role("Rep", REP)
    make_role("Manager", {"create": P.ALL, "read": P.ALL, "edit": P.ALL, "delete": P.ALL})
    return {
        "olga": make_user(display_name="Olga Rep", roles=("Rep",)),
        "bob": make_user(display_name="Bob Rep", roles=("Rep",)),
        "mia": make_user(display_name="Mia Manager", roles=("Manager",)),
    }


def save_rules(*data: dict, other: str | None = None) -> None:
    """Save rule data through ``rules.save`` (its keys are rebuilt by the job at commit)."""
    with unit_of_work():
        for d in data:
            spec = specs.current().entity(d["entity_key"])
            rules.save(d, spec, specs.current().entity(other) if other else None)

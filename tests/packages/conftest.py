"""A small configuration built through the services, for the package tests."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from crm.access import roles
from crm.metadata import layouts
from crm.pipelines.service import StageInput, save_pipeline
from crm.schema import service as schema
from tests.factories import make_list_view, make_user
from tests.factories.schema import lookup, picklist, text


@pytest.fixture
def small(app):
    """Two entities (one with a picklist, a lookup, a pipeline, a layout and list views)
    and a role, made the way an administrator makes them; returns the administrator."""
    admin = make_user("admin@example.com", is_admin=True)
    schema.create_entity(
        "account",
        "Account",
        fields=[text("name", "Name", required=True, searchable=True)],
        name_field="name",
        icon="🏢",
    )
    schema.create_entity(
        "deal",
        "Deal",
        fields=[
            text("title", "Title", required=True, translations={"label": {"es": "Título"}}),
            {
                "key": "amount",
                "type": "currency",
                "label": "Amount",
                "options": {"currency": "EUR"},
            },
            picklist("kind", "Kind", [("new", "New", "blue"), ("renewal", "Renewal")]),
            lookup("account", "Account", "account"),
        ],
        translations={"singular": {"zh_Hans": "商机"}, "plural": {"es": "Oportunidades"}},
    )
    save_pipeline(
        "deal",
        "sales",
        "Sales",
        [
            StageInput(
                "qualify", "Qualify", probability=10, translations={"name": {"es": "Calificar"}}
            ),
            StageInput(
                "won",
                "Won",
                probability=100,
                category="won",
                color="green",
                required_fields=["amount"],
            ),
        ],
        is_default=True,
        options={"amount_field": "amount"},
    )
    layouts.save_layout(
        "deal",
        "form",
        {
            "sections": [
                {"key": "s1", "title": "Details", "columns": 1, "fields": [["title", "amount"]]}
            ]
        },
        actor_id=admin.id,
    )
    make_list_view(
        "deal",
        {
            "name": "Big deals",
            "columns": ["title", "amount"],
            "sort": [["amount", "desc"]],
            "filters": [{"field": "kind", "op": "in", "value": ["new"]}],
            "translations": {"zh_Hans": "大单"},
        },
        actor_id=admin.id,
    )
    make_list_view("deal", {"name": "Only mine", "columns": ["title"]}, owner=admin)
    roles.create(
        admin,
        name="Sales rep",
        description="Sells.",
        grants={("*", "read"): P.OWN, ("deal", "read"): P.DEPARTMENT, ("deal", "delete"): P.NONE},
        fields={("deal", "amount"): "read", ("deal", "title"): "edit"},
        translations={"name": {"zh_Hans": "销售代表"}},
    )
    return admin

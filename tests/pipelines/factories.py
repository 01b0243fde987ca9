"""Pipelines for tests, through the real pipeline service."""

from __future__ import annotations

from typing import Any

from crm.pipelines import service
from crm.pipelines.service import StageInput
from tests.factories import field, make_entity, text

SALES = (
    ("new", "New", 10, "open", []),
    ("qualified", "Qualified", 30, "open", []),
    ("proposal", "Proposal", 60, "open", ["amount"]),
    ("won", "Won", 100, "won", ["amount", "close_date"]),
    ("lost", "Lost", 0, "lost", []),
)


def stages(rows=SALES, **extra: Any) -> list[StageInput]:
    return [
        StageInput(key=k, name=n, probability=p, category=c, required_fields=list(g), **extra)
        for k, n, p, c, g in rows
    ]


def make_deal_entity(key: str = "deal"):
    """An entity with an amount and a close date, and a "sales" pipeline."""
    make_entity(
        key,
        "Deal",
        [
            text("title", "Title", required=True),
            field("amount", "currency", "Amount", options={"currency": "EUR"}),
            field("close_date", "date", "Close date"),
        ],
        name_field="title",
    )
    return service.save_pipeline(
        key, "sales", "Sales", stages(), options={"amount_field": "amount"}
    )

"""A failure at any step of the pipeline leaves metadata, schema and version as before."""

from __future__ import annotations

import pytest

from crm.metadata import specs
from crm.schema import service
from tests.factories import insert_rows
from tests.schema.helpers import snapshot

STEPS = ["after_metadata_write", "after_ddl", "at_commit"]


class Injected(RuntimeError):
    pass


def base(app):
    service.create_entity(
        "deal",
        "Deal",
        fields=[
            {"key": "title", "type": "text", "label": "Title"},
            {"key": "amount", "type": "integer", "label": "Amount"},
            {"key": "old", "type": "text", "label": "Old"},
            {"key": "gone", "type": "text", "label": "Gone"},
        ],
    )
    service.create_entity("company", "Company")
    service.archive_field("deal", "gone")
    insert_rows(
        "deal", {"title": "A", "amount": 5, "old": "x", "gone": "bye"}, {"title": "B", "amount": 7}
    )


CHANGES = {
    "create entity": lambda: service.create_entity(
        "ticket", "Ticket", fields=[{"key": "subject", "type": "text", "label": "Subject"}]
    ),
    "add field": lambda: service.add_field("deal", "notes", "long_text", "Notes"),
    "add indexed field": lambda: service.add_field(
        "deal", "company", "lookup", "Company", options={"target": "company"}
    ),
    "add unique field": lambda: service.add_field("deal", "code", "text", "Code", unique=True),
    "add field with default": lambda: service.add_field(
        "deal", "tier", "text", "Tier", default="std"
    ),
    "change type": lambda: service.update_field("deal", "amount", type="decimal"),
    "widen text": lambda: service.update_field("deal", "title", options={"max_length": 500}),
    "make unique": lambda: service.update_field("deal", "title", unique=True),
    "relabel": lambda: service.update_field("deal", "title", label="Name"),
    "archive field": lambda: service.archive_field("deal", "old"),
    "restore field": lambda: service.restore_field("deal", "gone"),
    "purge field": lambda: service.purge_field("deal", "gone", confirm_key="gone"),
    "archive entity": lambda: service.archive_entity("company"),
    "purge entity": lambda: (
        service.archive_entity("company"),
        service.purge_entity("company", confirm_key="company"),
    ),
}


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("name", list(CHANGES))
def test_fault_leaves_everything_as_before(app, name, step):
    base(app)
    if name == "purge entity":
        service.archive_entity("company")
        run = lambda: service.purge_entity("company", confirm_key="company")  # noqa: E731
    else:
        run = CHANGES[name]
    before = snapshot()

    def explode(at: str) -> None:
        if at == step:
            raise Injected(at)

    app.config["SCHEMA_CHECKPOINT"] = explode
    with pytest.raises(Injected):
        run()
    assert snapshot() == before
    # The cached specs of this process follow the database, not the failed attempt.
    assert specs.current().version == before[-1]

    # Positive control: the same change goes through once the fault is gone.
    app.config["SCHEMA_CHECKPOINT"] = None
    run()
    assert snapshot() != before

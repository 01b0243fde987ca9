"""A small CRM for the runtime page tests: accounts, contacts pointing at them, deals that
keep their account from being deleted."""

from __future__ import annotations

from crm.metadata import specs
from crm.records import service as records
from crm.schema import service as schema


def build_model():
    schema.create_entity(
        "account",
        "Account",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True, "searchable": True},
            {"key": "code", "type": "text", "label": "Code", "unique": True},
            {"key": "industry", "type": "picklist", "label": "Industry",
             "choices": [{"key": "retail", "label": "Retail", "color": "pink"},
                         {"key": "tech", "label": "Tech", "color": "indigo"}]},
            {"key": "employees", "type": "integer", "label": "Employees"},
            {"key": "active", "type": "boolean", "label": "Active"},
            {"key": "number", "type": "auto_number", "label": "Number"},
        ],
        name_field="name",
    )  # fmt: skip
    schema.create_entity(
        "contact",
        "Contact",
        fields=[
            {"key": "full_name", "type": "text", "label": "Full name", "required": True,
             "searchable": True},
            {"key": "account", "type": "lookup", "label": "Account",
             "options": {"target": "account"}},
            {"key": "tags", "type": "multi_picklist", "label": "Tags",
             "choices": [{"key": "vip", "label": "VIP"}, {"key": "press", "label": "Press"}]},
        ],
        name_field="full_name",
    )  # fmt: skip
    schema.create_entity(
        "deal",
        "Deal",
        fields=[
            {"key": "title", "type": "text", "label": "Title", "required": True},
            {"key": "account", "type": "lookup", "label": "Account",
             "options": {"target": "account", "on_delete": "restrict"}},
        ],
        name_field="title",
    )  # fmt: skip
    return specs.current()


def entity(key: str):
    return specs.current().entity(key)


def make(user, key: str, **values) -> int:
    defaults = {
        "account": {"name": "Acme"},
        "contact": {"full_name": "Ann"},
        "deal": {"title": "D"},
    }
    return records.create(user, entity(key), {**defaults[key], **values})


def picks(*pairs) -> list[str]:
    """``pick`` values as the list rows carry them: "<id>:<version>"."""
    return [f"{i}:{v}" for i, v in pairs]

"""The package format's JSON Schema is a valid 2020-12 schema and stays in step with the
registries it copies (field types, actions, colours, stage categories, field rights)."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from crm.access.policy import ACTIONS
from crm.access.rights import FIELD_ACCESS
from crm.metadata.keys import KEY_RE
from crm.metadata.palette import PALETTE
from crm.metadata.types import REGISTRY
from crm.packages.load import schema
from crm.pipelines.spec import CATEGORIES

DEFS = schema()["$defs"]


def test_the_schema_is_a_valid_2020_12_schema():
    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_field_types_are_the_registry():
    assert DEFS["field"]["properties"]["type"]["enum"] == sorted(REGISTRY)


def test_actions_colours_categories_and_field_rights_are_the_application():
    grants = DEFS["role"]["properties"]["grants"]["additionalProperties"]
    assert sorted(grants["propertyNames"]["enum"]) == sorted(ACTIONS)
    assert DEFS["color"]["enum"] == list(PALETTE)
    stage = DEFS["pipeline"]["properties"]["stages"]["items"]["properties"]
    assert stage["category"]["enum"] == list(CATEGORIES)
    rights = DEFS["role"]["properties"]["field_rights"]["additionalProperties"]
    assert sorted(rights["additionalProperties"]["enum"]) == sorted(FIELD_ACCESS)


def test_the_key_pattern_is_the_metadata_key_rule():
    assert DEFS["key"]["pattern"] == KEY_RE.pattern


def test_the_limits_are_those_of_the_format():
    top = schema()["properties"]
    assert top["entities"]["maxProperties"] == 200
    assert top["roles"]["maxProperties"] == 200
    entity = DEFS["entity"]["properties"]
    assert entity["fields"]["maxProperties"] == 500
    assert entity["pipelines"]["maxProperties"] == 20
    assert DEFS["field"]["properties"]["choices"]["maxItems"] == 200
    assert DEFS["pipeline"]["properties"]["stages"]["maxItems"] == 40

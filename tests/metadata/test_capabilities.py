"""Each type's capabilities are declared on its entry, and nothing else tests type names."""

from __future__ import annotations

import re
from pathlib import Path

from crm.metadata import types

ROOT = Path(__file__).resolve().parents[2]


def having(capability: str) -> set[str]:
    return {k for k, t in types.REGISTRY.items() if getattr(t, capability)}


def test_the_families_the_application_relies_on():
    assert having("can_name_records") == {"text", "email", "phone", "url", "auto_number"}
    assert set(types.REGISTRY) - having("can_be_unique") == {
        "long_text",
        "multi_picklist",
        "boolean",
        "pipeline",
        "stage",
    }
    assert set(types.REGISTRY) - having("sortable") == {"long_text", "multi_picklist"}
    assert having("textual") == {"text", "long_text", "email", "phone", "url", "auto_number"}
    assert having("temporal") == {"date", "datetime"}
    assert having("numeric") == {"integer", "decimal", "currency", "percent", "rating"}
    assert having("has_choices") == {"picklist", "multi_picklist", "pipeline", "stage"}
    assert having("managed") == {"pipeline", "stage"}
    assert having("multi_valued") == {"multi_picklist"}
    assert having("assigned") == {"auto_number"}
    assert set(types.REGISTRY) - having("takes_default") == {
        "auto_number",
        "boolean",
        "pipeline",
        "stage",
    }
    assert {k: t.reference for k, t in types.REGISTRY.items() if t.reference} == {
        "lookup": "record",
        "user": "user",
    }
    assert having("names_new_entities") == {"text"}


def test_hooks_have_working_defaults():
    for key, entry in types.REGISTRY.items():
        assert entry.parse_import is not None and entry.to_json is not None, key
        assert set(entry.aggregates) <= {"count", "sum", "avg", "min", "max"}, key
    from datetime import date

    from crm.metadata.spec import FieldSpec

    spec = FieldSpec(key="d", type="date", label="D")
    assert types.get("date").to_json(spec, date(2025, 1, 2)) == "2025-01-02"
    assert types.get("date").to_json(spec, None) is None
    tags = FieldSpec(key="t", type="multi_picklist", label="T")
    assert types.get("multi_picklist").to_json(tags, ["a", "b"]) == ["a", "b"]
    money = FieldSpec(key="m", type="currency", label="M")
    assert types.get("currency").to_json(money, types.get("currency").parse(money, "1.5")) == "1.50"
    assert types.get("date").import_value(spec, " 2025-01-02 ") == date(2025, 1, 2)
    assert types.get("date").import_value(spec, "NULL") is None


# A comparison of a type with a literal type name: ``f.type == "lookup"``,
# ``field.type in ("date", "datetime")``, ``{% if f.type == 'lookup' %}``.
_BRANCH = re.compile(r"""\.type\s*(==|!=|in|not in)\s*[("'{\[]|type_key\s*(==|in)\s*[("']""")


def test_no_branch_on_type_names_outside_the_registry():
    found = []
    for folder, pattern in (("crm", "*.py"), ("forms", "*.py"), ("templates", "*.html")):
        for path in sorted((ROOT / folder).rglob(pattern)):
            if "metadata/types" in path.as_posix():
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _BRANCH.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []

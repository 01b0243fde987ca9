"""Loading a configuration package: hostile or broken input is refused before any write,
every problem named with its JSON pointer; a valid package loads with a stable hash."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from crm.errors import ValidationFailed
from crm.metadata import specs
from crm.packages.load import MAX_BYTES, Package, load
from crm.packages.problems import PackageInvalid, pointer
from tests.factories.schema import field, make_entity, text

VALID: dict[str, Any] = {
    "format": "atelier.package",
    "format_version": 1,
    "package": {"name": "b2b-mini", "version": "1.0.0", "default_locale": "en"},
    "entities": {
        "account": {
            "label_singular": "Account",
            "label_plural": "Accounts",
            "name_field": "name",
            "translations": {"singular": {"zh_Hans": "客户"}, "plural": {"es": "Cuentas"}},
            "fields": {"name": {"type": "text", "label": "Name", "position": 10, "required": True}},
        },
        "deal": {
            "label_singular": "Deal",
            "label_plural": "Deals",
            "icon": "🤝",
            "color": "violet",
            "name_field": "title",
            "fields": {
                "title": {"type": "text", "label": "Title", "position": 10, "required": True},
                "amount": {
                    "type": "currency",
                    "label": "Amount",
                    "position": 20,
                    "options": {"currency": "EUR", "decimal_places": 2},
                },
                "stage": {"type": "stage", "label": "Stage", "position": 30},
                "kind": {
                    "type": "picklist",
                    "label": "Kind",
                    "position": 40,
                    "choices": [{"key": "new", "label": "New", "color": "blue"}],
                },
                "account": {
                    "type": "lookup",
                    "label": "Account",
                    "position": 50,
                    "options": {"target": "account", "on_delete": "clear"},
                },
            },
            "layouts": {
                "form": {
                    "sections": [
                        {"key": "s1", "title": "Details", "columns": 2,
                         "fields": [["title"], ["amount"]], "titles": {"es": "Detalles"}}
                    ]
                },
                "quick": {"fields": ["title", "amount"]},
            },
            "list_views": {
                "open_deals": {
                    "name": "Open deals",
                    "columns": ["title", "amount", "owner_id"],
                    "sort": {"field": "amount", "dir": "desc"},
                    "filters": [{"field": "kind", "op": "in", "value": ["new"]}],
                    "default": True,
                    "position": 10,
                }
            },
            "pipelines": {
                "sales": {
                    "name": "Sales",
                    "translations": {"name": {"zh_Hans": "销售"}},
                    "default": True,
                    "options": {"amount_field": "amount", "card_fields": ["amount"]},
                    "stages": [
                        {"key": "new", "name": "New", "probability": 10, "category": "open",
                         "required_fields": ["amount"], "stale_days": 14},
                        {"key": "won", "name": "Won", "probability": 100, "category": "won"},
                    ],
                }
            },
        },
    },
    "roles": {
        "sales_rep": {
            "name": "Sales rep",
            "translations": {"name": {"zh_Hans": "销售代表"}},
            "grants": {"*": {"read": "own", "edit": "own"}, "deal": {"read": "department"}},
            "field_rights": {"deal": {"amount": "read"}},
        }
    },
    "extensions": {"dedupe_rules": {"anything": ["goes", 1]}},
    "seed": {"account": [{"@key": "acme", "name": "Acme"}]},
}  # fmt: skip


def as_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def refused(raw: bytes, filename: str | None = None, **kw: Any) -> dict[str, list[str]]:
    with pytest.raises(PackageInvalid) as caught:
        load(raw, filename=filename, **kw)
    assert isinstance(caught.value, ValidationFailed)
    return caught.value.errors


def changed(edit) -> bytes:
    data = copy.deepcopy(VALID)
    edit(data)
    return as_json(data)


def assert_problem(errors: dict[str, list[str]], where: str, *words: str) -> None:
    assert where in errors, f"no problem at {where!r}: {errors}"
    text = " ".join(errors[where])
    for word in words:
        assert word in text, f"{word!r} not in {errors[where]}"


# --- a valid package -----------------------------------------------------------------------


def test_valid_package_loads_with_its_data_and_hash(app):
    package = load(as_json(VALID), filename="b2b.json")
    assert isinstance(package, Package)
    assert package.name == "b2b-mini" and package.version == "1.0.0"
    assert package.data == VALID
    assert len(package.content_hash) == 64


def test_hash_is_stable_across_key_order_and_file_form(app):
    first = load(as_json(VALID)).content_hash
    reordered = json.loads(json.dumps(VALID), object_pairs_hook=lambda p: dict(reversed(p)))
    assert list(reordered) != list(VALID)
    assert load(as_json(reordered)).content_hash == first
    as_yaml = yaml.safe_dump(VALID, allow_unicode=True, sort_keys=False).encode()
    assert load(as_yaml, filename="b2b.yaml").content_hash == first
    other = changed(lambda d: d["package"].update(version="1.0.1"))
    assert load(other).content_hash != first


def test_yaml_keeps_no_and_dates_as_text(app):
    raw = b"""
format: atelier.package
format_version: 1
package: {name: p, version: 2024-01-01}
entities:
  thing:
    label_singular: Thing
    label_plural: Things
    fields:
      answer:
        type: picklist
        label: Answer
        choices: [{key: "yes", label: Yes}, {key: "no", label: No}]
"""
    package = load(raw, filename="p.yml")
    assert package.version == "2024-01-01"
    choices = package.data["entities"]["thing"]["fields"]["answer"]["choices"]
    assert [c["label"] for c in choices] == ["Yes", "No"]


# --- hostile or broken files ---------------------------------------------------------------

BILLION_LAUGHS = b"""
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""

FILES = [
    ("too large", b" " * (11 * 1024 * 1024), None, "", ["MB"]),
    ("not utf-8", b'{"format": "\xff\xfe"}', None, "", ["UTF-8", "byte 12"]),
    ("json syntax", b'{"format": "atelier.package",\n  "x": }', "p.json", "",
     ["JSON", "line 2, column 8"]),
    ("duplicate json key",
     b'{"format": "atelier.package", "format_version": 1, "format_version": 1,'
     b' "package": {"name": "p", "version": "1"}}', None, "/format_version", ["more than once"]),
    ("duplicate yaml key", b"format: atelier.package\nformat_version: 1\npackage:\n"
     b"  name: p\n  name: q\n  version: '1'\n", "p.yaml", "/package/name", ["more than once"]),
    ("yaml object tag", b"format: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
     "p.yaml", "", ["python/object/apply:os.system", "line 1"]),
    ("yaml local tag", b"format: !custom x\n", "p.yaml", "", ["tags"]),
    ("yaml billion laughs", BILLION_LAUGHS, "p.yaml", "", ["anchors"]),
    ("yaml alias only", b"a: *x\n", "p.yaml", "", ["anchors"]),
    ("deep nesting json", b'{"extensions": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}", None,
     pointer("extensions", "x", *([0] * 30)), ["Nesting"]),
    ("very deep nesting json", b"[" * 100_000 + b"]" * 100_000, None, "", ["deeply"]),
    ("deep nesting yaml", b"x: " + b"[" * 40 + b"]" * 40 + b"\n", "p.yaml", "", ["deeply"]),
    ("NaN", b'{"format": NaN}', None, "", ["NaN"]),
    ("not an object", b"[1, 2]", None, "", ["object"]),
    ("unknown format", b'{"format": "other", "format_version": 1}', None, "/format",
     ["atelier.package"]),
    ("unknown format version", as_json({**VALID, "format_version": 2}), None, "/format_version",
     ["“2”", "version 1"]),
    ("format version true", as_json({**VALID, "format_version": True}), None, "/format_version",
     ["True"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "filename", "where", "words"),
    [f[1:] for f in FILES],
    ids=[f[0] for f in FILES],
)
def test_hostile_files_are_refused_with_the_problem_named(app, raw, filename, where, words):
    errors = refused(raw, filename)
    assert_problem(errors, where, *words)


def test_refusing_writes_nothing(app):
    before = specs.raw().version
    refused(changed(lambda d: d["entities"]["deal"].update(name_field="nope")))
    assert specs.raw().version == before
    assert "deal" not in specs.raw().entities


def test_the_limit_of_a_file_is_ten_megabytes(app):
    # Exactly at the limit: not refused for its size (it is no package, though).
    errors = refused(b" " * MAX_BYTES)
    assert "MB" not in " ".join(errors[""])


def test_ten_thousand_fields_are_refused_by_the_limit(app):
    fields = {f"f{i}": {"type": "text", "label": f"F {i}"} for i in range(10_001)}
    errors = refused(changed(lambda d: d["entities"]["account"].update(fields=fields)))
    assert_problem(errors, "/entities/account/fields", "at most 500 fields", "10001")


# --- schema failures -----------------------------------------------------------------------

Edit = Any


def _set(path: tuple, value: Any):
    def edit(data):
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


DEAL = ("entities", "deal")
SCHEMA = [
    ("missing package", lambda d: d.pop("package"), "", ["“package” is missing"]),
    ("unknown property", _set((*DEAL, "colour"), "red"), "/entities/deal/colour",
     ["not part of the package format"]),
    ("unknown field property", _set((*DEAL, "fields", "title", "size"), 3),
     "/entities/deal/fields/title/size", ["not part"]),
    ("wrong type", _set((*DEAL, "fields", "title", "required"), "yes"),
     "/entities/deal/fields/title/required", ["true or false"]),
    ("unknown field type", _set((*DEAL, "fields", "title", "type"), "blob"),
     "/entities/deal/fields/title/type", ["“blob”", "currency"]),
    ("label with markup", _set((*DEAL, "label_singular"), "<script>alert(1)</script>"),
     "/entities/deal/label_singular", ["plain text"]),
    ("translation with markup", _set((*DEAL, "translations"), {"singular": {"es": "<b>x</b>"}}),
     "/entities/deal/translations/singular/es", ["plain text"]),
    ("choice label with control char", _set((*DEAL, "fields", "kind", "choices", 0, "label"),
                                            "New\x07"),
     "/entities/deal/fields/kind/choices/0/label", ["control characters"]),
    ("path as entity key", _set(("entities", "../etc/passwd"), VALID["entities"]["account"]),
     "/entities/..~1etc~1passwd", ["entity key"]),
    ("dunder as field key", _set((*DEAL, "fields", "__class__"), {"type": "text", "label": "X"}),
     "/entities/deal/fields/__class__", ["field key", "start"]),
    ("tilde in key", _set(("roles", "a~b"), {"name": "X"}), "/roles/a~0b", ["key"]),
    ("bad grant entity key", _set(("roles", "sales_rep", "grants", "*x"), {"read": "own"}),
     "/roles/sales_rep/grants/*x", ["key"]),
    ("unknown action", _set(("roles", "sales_rep", "grants", "deal"), {"fly": "all"}),
     "/roles/sales_rep/grants/deal/fly", ["not an action"]),
    ("too many stages", _set((*DEAL, "pipelines", "sales", "stages"),
                             [{"key": f"s{i}", "name": "S"} for i in range(41)]),
     "/entities/deal/pipelines/sales/stages", ["at most 40 stages"]),
    ("no stages", _set((*DEAL, "pipelines", "sales", "stages"), []),
     "/entities/deal/pipelines/sales/stages", ["at least one stage"]),
    ("too long label", _set((*DEAL, "label_plural"), "x" * 201), "/entities/deal/label_plural",
     ["at most 200"]),
    ("bad package name", _set(("package", "name"), "My Package"), "/package/name",
     ["package name"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "where", "words"), [s[1:] for s in SCHEMA], ids=[s[0] for s in SCHEMA]
)
def test_schema_failures_are_named_where_they_are(app, edit, where, words):
    assert_problem(refused(changed(edit)), where, *words)


def test_every_problem_is_reported_at_once(app):
    def edit(d):
        d["entities"]["deal"]["label_singular"] = "<b>"
        d["entities"]["deal"]["fields"]["title"]["type"] = "blob"
        d["entities"]["deal"]["name_field"] = "gone"
        d["roles"]["sales_rep"]["grants"]["ghost"] = {"read": "all"}

    errors = refused(changed(edit))
    for where in (
        "/entities/deal/label_singular",
        "/entities/deal/fields/title/type",
        "/entities/deal/name_field",
        "/roles/sales_rep/grants/ghost",
    ):
        assert where in errors


# --- references and rules ------------------------------------------------------------------

SEMANTIC = [
    ("lookup to a missing entity", _set((*DEAL, "fields", "account", "options", "target"),
                                        "company"),
     "/entities/deal/fields/account/options/target", ["“company”"]),
    ("name field missing", _set((*DEAL, "name_field"), "subject"), "/entities/deal/name_field",
     ["“subject”"]),
    ("name field archived", _set((*DEAL, "fields", "title", "archived"), True),
     "/entities/deal/name_field", ["not an active field"]),
    ("layout field missing", _set((*DEAL, "layouts", "form", "sections", 0, "fields"),
                                  [["title"], ["margin"]]),
     "/entities/deal/layouts/form/sections/0/fields/1/0", ["“margin”"]),
    ("quick layout field missing", _set((*DEAL, "layouts", "quick", "fields"), ["ghost"]),
     "/entities/deal/layouts/quick/fields/0", ["“ghost”"]),
    ("view column missing", _set((*DEAL, "list_views", "open_deals", "columns"), ["ghost"]),
     "/entities/deal/list_views/open_deals/columns/0", ["“ghost”"]),
    ("view sort field missing", _set((*DEAL, "list_views", "open_deals", "sort"),
                                     [{"field": "ghost"}]),
     "/entities/deal/list_views/open_deals/sort/0/field", ["“ghost”"]),
    ("view filter field missing", _set((*DEAL, "list_views", "open_deals", "filters"),
                                       [{"field": "ghost", "op": "in"}]),
     "/entities/deal/list_views/open_deals/filters/0/field", ["“ghost”"]),
    ("view filter op wrong", _set((*DEAL, "list_views", "open_deals", "filters"),
                                  [{"field": "amount", "op": "contains_any"}]),
     "/entities/deal/list_views/open_deals/filters/0/op", ["“contains_any”"]),
    ("amount field missing", _set((*DEAL, "pipelines", "sales", "options", "amount_field"),
                                  "total"),
     "/entities/deal/pipelines/sales/options/amount_field", ["“total”"]),
    ("amount field not a number", _set((*DEAL, "pipelines", "sales", "options", "amount_field"),
                                       "title"),
     "/entities/deal/pipelines/sales/options/amount_field", ["number"]),
    ("card field missing", _set((*DEAL, "pipelines", "sales", "options", "card_fields"),
                                ["ghost"]),
     "/entities/deal/pipelines/sales/options/card_fields/0", ["“ghost”"]),
    ("gate field missing", _set((*DEAL, "pipelines", "sales", "stages", 0, "required_fields"),
                                ["margin"]),
     "/entities/deal/pipelines/sales/stages/0/required_fields/0", ["“margin”"]),
    ("stage key twice", _set((*DEAL, "pipelines", "sales", "stages", 1, "key"), "new"),
     "/entities/deal/pipelines/sales/stages/1/key", ["“new”"]),
    ("stage key in two pipelines", _set((*DEAL, "pipelines", "renewals"),
                                        {"name": "Renewals", "stages": [{"key": "new",
                                                                         "name": "New"}]}),
     "/entities/deal/pipelines/renewals/stages/0/key", ["Another pipeline"]),
    ("no open stage", _set((*DEAL, "pipelines", "sales", "stages"),
                           [{"key": "won", "name": "Won", "category": "won"}]),
     "/entities/deal/pipelines/sales/stages", ["open stage"]),
    ("grant on missing entity", _set(("roles", "sales_rep", "grants", "invoice"),
                                     {"read": "all"}),
     "/roles/sales_rep/grants/invoice", ["“invoice”"]),
    ("unknown level", _set(("roles", "sales_rep", "grants", "deal"), {"read": "everyone"}),
     "/roles/sales_rep/grants/deal/read", ["“everyone”", "subtree"]),
    ("create scoped to own", _set(("roles", "sales_rep", "grants", "deal"), {"create": "own"}),
     "/roles/sales_rep/grants/deal/create", ["“create”"]),
    ("field right on missing entity", _set(("roles", "sales_rep", "field_rights"),
                                           {"invoice": {"total": "read"}}),
     "/roles/sales_rep/field_rights/invoice", ["“invoice”"]),
    ("field right on missing field", _set(("roles", "sales_rep", "field_rights"),
                                          {"deal": {"margin": "hidden"}}),
     "/roles/sales_rep/field_rights/deal/margin", ["“margin”"]),
    ("managed type with choices", _set((*DEAL, "fields", "stage", "choices"),
                                       [{"key": "a", "label": "A"}]),
     "/entities/deal/fields/stage/choices", ["pipelines"]),
    ("text with choices", _set((*DEAL, "fields", "title", "choices"),
                               [{"key": "a", "label": "A"}]),
     "/entities/deal/fields/title/choices", ["Only picklists"]),
    ("bad type option", _set((*DEAL, "fields", "amount", "options"),
                             {"currency": "EUR", "decimal_places": 9}),
     "/entities/deal/fields/amount/options/decimal_places", []),
    ("reserved entity key", _set(("entities", "select"), VALID["entities"]["account"]),
     "/entities/select", ["reserved"]),
    ("spine field key", _set((*DEAL, "fields", "owner_id"), {"type": "text", "label": "O"}),
     "/entities/deal/fields/owner_id", ["every record already has"]),
    ("unknown language", _set((*DEAL, "translations"), {"singular": {"fr": "Affaire"}}),
     "/entities/deal/translations/singular/fr", ["“fr”"]),
    ("blank label", _set((*DEAL, "label_singular"), "   "), "/entities/deal/label_singular",
     ["Enter a label"]),
    ("seed on missing entity", _set(("seed", "invoice"), [{"@key": "a"}]), "/seed/invoice",
     ["“invoice”"]),
    ("seed key twice", _set(("seed", "account"), [{"@key": "a"}, {"@key": "a"}]),
     "/seed/account/1/@key", ["“a”"]),
    ("seed unknown field", _set(("seed", "account"), [{"@key": "a", "nam": "x"}]),
     "/seed/account/0/nam", ["“nam”"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "where", "words"), [s[1:] for s in SEMANTIC], ids=[s[0] for s in SEMANTIC]
)
def test_dangling_references_and_broken_rules_are_refused(app, edit, where, words):
    assert_problem(refused(changed(edit)), where, *words)


# --- against the target installation (the database matters) --------------------------------


def test_references_resolve_against_the_installation(app):
    make_entity("company", "Company", [text("name")], name_field="name")

    def edit(d):
        d["entities"]["deal"]["fields"]["account"]["options"]["target"] = "company"
        d["roles"]["sales_rep"]["field_rights"] = {"company": {"name": "read"}}

    raw = changed(edit)
    refused(raw)  # without the installation, "company" dangles
    package = load(raw, existing=specs.raw().entities)
    assert package.data["entities"]["deal"]["fields"]["account"]["options"]["target"] == "company"


def test_installation_fields_count_for_an_entity_the_package_carries(app):
    make_entity("deal", "Deal", [text("title"), field("margin", "decimal")], name_field="title")
    raw = changed(_set((*DEAL, "pipelines", "sales", "stages", 0, "required_fields"), ["margin"]))
    refused(raw)
    load(raw, existing=specs.raw().entities)


def test_incompatible_type_change_against_the_installation_is_refused(app):
    make_entity("deal", "Deal", [text("title"), field("amount", "date")], name_field="title")
    errors = refused(as_json(VALID), existing=specs.raw().entities)
    assert_problem(errors, "/entities/deal/fields/amount/type", "“amount”")
    assert specs.raw().entities["deal"].field("amount").type == "date"


def test_problems_read_in_the_language_of_the_reader(app):
    from flask_babel import force_locale

    raw = changed(_set((*DEAL, "label_singular"), "<b>Deal</b>"))
    with force_locale("es"):
        errors = refused(raw)
    assert_problem(errors, "/entities/deal/label_singular", "texto sin formato", "«<»")
    with force_locale("zh_Hans"):
        errors = refused(raw)
    assert_problem(errors, "/entities/deal/label_singular", "纯文本")

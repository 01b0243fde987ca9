"""The planner: a pure comparison of configurations in the package format."""

from __future__ import annotations

import copy

import pytest

from crm.packages.plan import ADD, ARCHIVE, CHANGE, KEEP, Unresolved, plan


def config() -> dict:
    return {
        "format": "atelier.package",
        "format_version": 1,
        "package": {"name": "b2b", "version": "1"},
        "entities": {
            "deal": {
                "label_singular": "Deal",
                "label_plural": "Deals",
                "translations": {"singular": {"es": "Oportunidad"}},
                "fields": {
                    "title": {"type": "text", "label": "Title", "position": 10},
                    "kind": {
                        "type": "picklist",
                        "label": "Kind",
                        "position": 20,
                        "choices": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}],
                    },
                    "amount": {
                        "type": "currency",
                        "label": "Amount",
                        "position": 30,
                        "options": {"currency": "GBP"},
                    },
                },
                "layouts": {"quick": {"fields": ["title"]}},
                "pipelines": {
                    "sales": {
                        "name": "Sales",
                        "stages": [
                            {"key": "new", "name": "New", "category": "open"},
                            {"key": "won", "name": "Won", "category": "won"},
                        ],
                    }
                },
            }
        },
        "roles": {"rep": {"name": "Rep", "grants": {"*": {"read": "own"}}}},
    }


# property kind -> (JSON pointer of the property, three distinct values)
PROPS = {
    "entity label": ("/entities/deal/label_plural", "Deals", "Opportunities", "Affairs"),
    "entity translations": (
        "/entities/deal/translations",
        {"singular": {"es": "Oportunidad"}},
        {"singular": {"es": "Trato"}},
        {"singular": {"zh_Hans": "商机"}},
    ),
    "field label": ("/entities/deal/fields/title/label", "Title", "Name", "Subject"),
    "field options": (
        "/entities/deal/fields/amount/options",
        {"currency": "GBP"},
        {"currency": "USD"},
        {"currency": "CNY"},
    ),
    "choices order": (
        "/entities/deal/fields/kind/choices",
        [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}],
        [{"key": "b", "label": "B"}, {"key": "a", "label": "A"}],
        [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}, {"key": "c", "label": "C"}],
    ),
    "stages": (
        "/entities/deal/pipelines/sales/stages",
        [{"key": "new", "name": "New", "category": "open"}],
        [{"key": "new", "name": "Fresh", "category": "open"}],
        [{"key": "new", "name": "New", "category": "open", "probability": 10}],
    ),
    "layout": (
        "/entities/deal/layouts/quick",
        {"fields": ["title"]},
        {"fields": ["amount"]},
        {"fields": ["title", "amount"]},
    ),
    "role grants": (
        "/roles/rep/grants",
        {"*": {"read": "own"}},
        {"*": {"read": "all"}},
        {"*": {"read": "department"}},
    ),
}


def with_value(pointer: str, value) -> dict:
    out = config()
    parts = pointer.split("/")[1:]
    node = out
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = copy.deepcopy(value)
    return out


# (case, base, mine, theirs) as "A"/"B"/"C" or None (no base at all) -> expected outcome
CASES = [
    ("nobody changed", "A", "A", "A", None),
    ("only mine changed", "A", "B", "A", KEEP),
    ("only theirs changed", "A", "A", "B", CHANGE),
    ("both changed alike", "A", "B", "B", None),
    ("both changed differently", "A", "B", "C", "conflict"),
    ("no base, equal", None, "A", "A", None),
    ("no base, different", None, "A", "B", CHANGE),
    ("theirs back to mine's old", "B", "A", "A", None),
]


@pytest.mark.parametrize("prop", list(PROPS))
@pytest.mark.parametrize(("case", "b", "m", "t", "expected"), CASES, ids=[c[0] for c in CASES])
def test_three_way_merge_per_property(prop, case, b, m, t, expected):
    pointer, *values = PROPS[prop]
    value = dict(zip("ABC", values, strict=True))
    base = with_value(pointer, value[b]) if b else None
    result = plan(with_value(pointer, value[m]), with_value(pointer, value[t]), base)
    found = (
        [("conflict", c.path, c.mine, c.theirs) for c in result.conflicts]
        + [(KEEP, k.path, k.new, k.old) for k in result.kept]
        + [(c.action, c.path, c.old, c.new) for c in result.changes]
    )
    if expected is None:
        assert found == []
        assert result.empty
    else:
        assert found == [(expected, pointer, value[m], value[t])]
        assert result.empty is (expected == KEEP)


def test_options_spelled_out_at_their_defaults_are_no_change():
    theirs = config()
    theirs["entities"]["deal"]["fields"]["amount"]["options"] = {
        "currency": "GBP",
        "decimal_places": 2,
    }
    assert plan(config(), theirs).empty


def test_plan_of_identical_configs_is_empty():
    result = plan(config(), config())
    assert result.empty and result.by_entity() == {}
    assert plan(config(), config(), config()).empty


def test_added_items_are_listed_by_entity_with_their_settings():
    theirs = config()
    theirs["entities"]["deal"]["fields"]["notes"] = {"type": "long_text", "label": "Notes"}
    theirs["entities"]["ticket"] = {
        "label_singular": "Ticket",
        "label_plural": "Tickets",
        "fields": {"subject": {"type": "text", "label": "Subject"}},
    }
    result = plan(config(), theirs)
    groups = result.by_entity()
    assert [(c.action, c.path) for c in groups["deal"]] == [(ADD, "/entities/deal/fields/notes")]
    assert [(c.action, c.kind, c.path) for c in groups["ticket"]] == [
        (ADD, "entity", "/entities/ticket"),
        (ADD, "field", "/entities/ticket/fields/subject"),
    ]
    assert groups["ticket"][0].new == {"label_singular": "Ticket", "label_plural": "Tickets"}
    # The wanted configuration is the package's where nothing conflicts.
    wanted = result.wanted()
    assert wanted["entities"]["ticket"]["fields"]["subject"]["label"] == "Subject"
    assert wanted["entities"]["deal"]["fields"]["notes"]["type"] == "long_text"


def test_items_missing_from_the_package_are_archived_never_dropped():
    theirs = config()
    del theirs["entities"]["deal"]["fields"]["amount"]
    result = plan(config(), theirs)
    assert [(c.action, c.path) for c in result.changes] == [
        (ARCHIVE, "/entities/deal/fields/amount/archived")
    ]
    assert result.wanted()["entities"]["deal"]["fields"]["amount"]["archived"] is True


def test_local_items_are_kept_when_the_package_never_had_them():
    mine = config()
    mine["entities"]["deal"]["fields"]["mine_only"] = {"type": "text", "label": "Mine"}
    assert plan(mine, config(), config()).empty  # base says: not the package's item
    # Without provenance the package is taken as the whole configuration: archived.
    assert [c.action for c in plan(mine, config()).changes] == [ARCHIVE]


def test_a_field_the_package_dropped_since_base_is_archived():
    base = config()
    base["entities"]["deal"]["fields"]["old"] = {"type": "text", "label": "Old"}
    mine = copy.deepcopy(base)
    result = plan(mine, config(), base)
    assert [(c.action, c.path) for c in result.changes] == [
        (ARCHIVE, "/entities/deal/fields/old/archived")
    ]


def test_an_item_both_sides_added_differently_is_a_conflict():
    base = config()
    mine, theirs = config(), config()
    mine["entities"]["deal"]["fields"]["x"] = {"type": "text", "label": "Mine"}
    theirs["entities"]["deal"]["fields"]["x"] = {"type": "text", "label": "Theirs"}
    result = plan(mine, theirs, base)
    assert [c.path for c in result.conflicts] == ["/entities/deal/fields/x/label"]


def test_conflicts_need_a_choice_each():
    pointer = "/entities/deal/fields/title/label"
    result = plan(with_value(pointer, "Mine"), with_value(pointer, "Theirs"), config())
    with pytest.raises(Unresolved):
        result.steps({})
    with pytest.raises(Unresolved):
        result.steps({pointer: "both"})
    assert result.steps({pointer: "mine"}) == []
    assert result.wanted({pointer: "mine"})["entities"]["deal"]["fields"]["title"]["label"] == (
        "Mine"
    )
    taken = result.wanted({pointer: "theirs"})
    assert taken["entities"]["deal"]["fields"]["title"]["label"] == "Theirs"


class Counts:
    def __init__(self, empty=0, held=0):
        self.empty, self.held = empty, held

    def empty_values(self, entity, field):
        return self.empty

    def stage_records(self, entity, stage):
        return self.held


@pytest.mark.parametrize(
    ("pointer", "value", "probe", "destructive"),
    [
        ("/entities/deal/fields/title/type", "long_text", None, True),
        ("/entities/deal/fields/title/unique", True, None, True),
        ("/entities/deal/fields/title/required", True, Counts(empty=3), True),
        ("/entities/deal/fields/title/required", True, Counts(empty=0), False),
        ("/entities/deal/fields/title/label", "Name", None, False),
        (
            "/entities/deal/pipelines/sales/stages",
            [{"key": "new", "name": "New", "category": "open"}],
            Counts(held=2),
            True,
        ),
        (
            "/entities/deal/pipelines/sales/stages",
            [{"key": "new", "name": "New", "category": "open"}],
            Counts(held=0),
            False,
        ),
    ],
)
def test_destructive_steps_are_flagged_with_why(pointer, value, probe, destructive):
    result = plan(config(), with_value(pointer, value), probe=probe)
    (step,) = result.changes
    assert step.destructive is destructive
    assert bool(step.why) is destructive
    assert (result.destructive() == [step]) is destructive

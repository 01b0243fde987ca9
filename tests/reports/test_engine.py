"""Report figures against sums worked out in the test, for a rep, a manager and a viewer
of everything; hidden fields; what the engine refuses."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from crm.errors import NotFound, ValidationFailed
from crm.reports import definition as d
from crm.reports.engine import run
from tests.reports.conftest import in_scope


@pytest.fixture(autouse=True)
def _in_request(request_ctx):
    return None


def report(user, **data):
    return run(user, d.parse(user, {"entity": "deal", **data}))


@pytest.mark.parametrize("who", ["ann", "ben", "mia", "vic"])
def test_sum_and_count_by_status_match_the_scope(app, sales, who):
    user = sales["p"][who]
    result = report(
        user,
        groups=[{"field": "status"}],
        measures=["count:", "sum:amount", "max:amount", "avg:seats"],
    )
    expected: dict = defaultdict(lambda: [0, Decimal(0), None, []])
    for r in in_scope(sales, who):
        e = expected[r["status"]]
        e[0] += 1
        e[1] += r["amount"]
        e[2] = r["amount"] if e[2] is None else max(e[2], r["amount"])
        if r["seats"] is not None:
            e[3].append(r["seats"])
    got = {row.keys[0]: row.values for row in result.rows}
    assert set(got) == set(expected)
    for key, (n, total, top, seats) in expected.items():
        assert got[key][0] == n
        assert Decimal(str(got[key][1])) == total
        assert Decimal(str(got[key][2])) == top
        if seats:
            assert abs(float(got[key][3]) - sum(seats) / len(seats)) < 1e-6
        else:
            assert got[key][3] is None
    rows = in_scope(sales, who)
    assert result.totals[0] == len(rows)
    assert Decimal(str(result.totals[1])) == sum((r["amount"] for r in rows), Decimal(0))


def test_two_groupings_with_subtotals_and_a_non_additive_measure(app, sales):
    user = sales["p"]["mia"]
    result = report(
        user,
        groups=[{"field": "owner_id"}, {"field": "hot"}],
        measures=["sum:amount", "distinct:status"],
    )
    rows = in_scope(sales, "mia")
    cells: dict = defaultdict(Decimal)
    statuses: dict = defaultdict(set)
    for r in rows:
        cells[(r["owner_id"], r["hot"])] += r["amount"]
        if r["status"]:
            statuses[r["owner_id"]].add(r["status"])
    got = {row.keys: Decimal(str(row.values[0])) for row in result.rows}
    assert got == dict(cells)
    for owner, sub in result.subtotals.items():
        assert Decimal(str(sub.values[0])) == sum(
            (r["amount"] for r in rows if r["owner_id"] == owner), Decimal(0)
        )
        assert sub.values[1] == len(statuses[owner])
    assert result.totals[1] == len({r["status"] for r in rows if r["status"]})
    assert result.pivot


def test_the_owners_department(app, sales):
    result = report(sales["p"]["vic"], groups=[{"field": d.DEPARTMENT}])
    expected: dict = defaultdict(int)
    for r in sales["rows"]:
        expected[r["dept"]] += 1
    assert {row.keys[0]: row.values[0] for row in result.rows} == dict(expected)
    labels = {row.keys[0]: row.labels[0] for row in result.rows}
    assert labels[sales["d"]["east"].id] == "Sales East"


def test_a_hidden_field_can_be_neither_grouped_measured_nor_filtered(app, sales):
    ann = sales["p"]["ann"]
    with pytest.raises(ValidationFailed) as e:
        d.parse(
            ann,
            {
                "entity": "deal",
                "groups": [{"field": "cost"}],
                "measures": ["sum:cost"],
                "filters": [{"field": "cost", "op": "gt", "value": "1"}],
            },
        )
    assert set(e.value.errors) == {"groups", "measures", "filters"}
    # the same words as for a field that does not exist: nothing is told
    with pytest.raises(ValidationFailed) as unknown:
        d.parse(ann, {"entity": "deal", "measures": ["sum:nothing"]})
    assert str(unknown.value).replace("nothing", "cost") == e.value.errors["measures"][0]
    # the manager's definition with the cost, run by a rep: refused, not run
    defn = d.parse(sales["p"]["mia"], {"entity": "deal", "measures": ["sum:cost"]})
    with pytest.raises(ValidationFailed):
        run(ann, defn)


def test_bad_input_is_a_message(app, sales):
    vic = sales["p"]["vic"]
    cases = [
        ({"measures": ["sum:name"]}, "measures"),
        ({"measures": ["median:amount"]}, "measures"),
        ({"groups": ["name"]}, "groups"),
        ({"groups": [{"field": "closes", "bucket": "decade"}]}, "groups"),
        ({"groups": ["status", "hot", "owner_id"]}, "groups"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1e9"}, "limit"),
        ({"limit": "99999999999999999999"}, "limit"),
        ({"chart": "radar"}, "chart"),
        (
            {"filters": [{"field": "closes", "op": "between", "value": ["0001-01-01", "x"]}]},
            "filters",
        ),
    ]
    for data, key in cases:
        with pytest.raises(ValidationFailed) as e:
            d.parse(vic, {"entity": "deal", **data})
        assert key in e.value.errors, data
    with pytest.raises(NotFound) as e:
        d.parse(vic, {"entity": "nope"})
    assert "entity" in e.value.errors


def test_ten_thousand_years_are_the_right_numbers(app, sales):
    vic = sales["p"]["vic"]
    result = report(
        vic,
        groups=[{"field": "closes", "bucket": "day"}],
        filters=[{"field": "closes", "op": "between", "value": ["0001-01-01", "9999-12-31"]}],
    )
    assert result.totals[0] == len(sales["rows"])


def test_too_many_cells_is_a_message(app, sales, monkeypatch):
    from crm.reports import engine

    monkeypatch.setattr(engine, "MAX_CELLS", 20)
    with pytest.raises(ValidationFailed) as e:
        report(sales["p"]["vic"], groups=[{"field": "met", "bucket": "day"}, {"field": "status"}])
    assert "groups" in e.value.errors


def test_limit_and_sort_by_measure(app, sales):
    vic = sales["p"]["vic"]
    result = report(
        vic, groups=["owner_id"], measures=["sum:amount"], sort="measure", direction="desc", limit=2
    )
    sums: dict = defaultdict(Decimal)
    for r in sales["rows"]:
        sums[r["owner_id"]] += r["amount"]
    best = sorted(sums, key=lambda k: sums[k], reverse=True)[:2]
    assert result.first_keys == best
    assert [r.keys[0] for r in result.shown_rows] == best
    assert result.hidden_groups == len(sums) - 2


def test_choices_keep_their_own_order(app, sales):
    result = report(sales["p"]["vic"], groups=["status"], sort="group")
    assert result.first_keys == ["open", "won", "lost", None]
    result = report(sales["p"]["vic"], groups=["status"], sort="group", direction="desc")
    assert result.first_keys == ["lost", "won", "open", None]

"""Conversion, time in stage, win rate, stale deals and the forecast on the hand-made
history of conftest.py, each checked against a computation written here from the same
rows, for a rep (their own deals), a department lead (East's) and an administrator."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from crm.analytics import pipeline as analytics
from crm.analytics.filters import parse_filters
from crm.analytics.forecast import forecast
from crm.analytics.scope import subject
from crm.metadata import specs
from tests.pipeline_analytics.conftest import DEALS, ORDER, PERIOD, PROBABILITY, T0, visible_deals

START = datetime(2026, 10, 1)
END = datetime(2027, 1, 1)


def _subj(user):
    return subject(user, specs.current().entity("deal"), None)


def _filters(**extra):
    return parse_filters({**PERIOD, **extra}, "UTC")


def expected_conversion(names):
    steps = [*ORDER, "won"]
    reached = []
    cohort = [n for n in names if START <= T0 + timedelta(days=DEALS[n][4][0][1]) < END]
    for i, _stage in enumerate(steps):
        count = 0
        for n in cohort:
            positions = [steps.index(s) for s, _d in DEALS[n][4] if s in steps]
            if positions and max(positions) >= i:
                count += 1
        reached.append(count)
    return reached


def expected_times(names):
    per = {}
    for n in names:
        path = DEALS[n][4]
        for (stage, day), (_nxt, nday) in pairwise(path):
            left = T0 + timedelta(days=nday)
            if START <= left < END:
                per.setdefault(stage, {}).setdefault(n, 0)
                per[stage][n] += (nday - day) * 86400
    out = {}
    for stage, by_record in per.items():
        values = sorted(by_record.values())
        if len(values) == 1:
            out[stage] = (1, values[0], values[0])
        else:
            deciles = statistics.quantiles(values, n=10, method="inclusive")
            out[stage] = (len(values), statistics.median(values), deciles[8])
    return out


@pytest.mark.parametrize("who", ["ann", "max", "admin"])
def test_conversion(world, who):
    user = world[who]
    steps = analytics.conversion(user, _subj(user), _filters())
    assert [s.key for s in steps] == [*ORDER, "won"]
    want = expected_conversion(visible_deals(who))
    assert [s.reached for s in steps] == want
    for i, s in enumerate(steps[:-1]):
        assert s.converted == (want[i + 1] / want[i] if want[i] else None)


def test_conversion_numbers_by_hand(world):
    # Admin: r1..r6 and r8 entered in the period (r7 before): 7 reached New; r1, r2, r3
    # (skipped Qualified), r4, r5, r8 reached Qualified; r1, r3, r5 Proposal; r1, r5 won.
    steps = analytics.conversion(world["admin"], _subj(world["admin"]), _filters())
    assert [s.reached for s in steps] == [7, 6, 3, 2]


@pytest.mark.parametrize("who", ["ann", "max", "admin"])
def test_time_in_stage(world, who):
    user = world[who]
    times = {t.key: t for t in analytics.time_in_stage(user, _subj(user), _filters())}
    want = expected_times(visible_deals(who))
    for key in ORDER:
        t = times[key]
        if key not in want:
            assert t.records == 0 and t.median is None
            continue
        n, median, p90 = want[key]
        assert t.records == n
        assert t.median == pytest.approx(median)
        assert t.p90 == pytest.approx(p90)


def test_percentile_matches_percentile_cont():
    assert analytics.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert analytics.percentile([10.0], 0.9) == 10.0
    assert analytics.percentile([0.0, 10.0], 0.9) == pytest.approx(9.0)
    assert analytics.percentile([], 0.5) is None


def test_win_rates(world):
    rates = analytics.win_rates(world["admin"], _subj(world["admin"]), _filters())
    by_owner = {r.label: (r.won, r.lost) for r in rates["owner"]}
    assert by_owner == {"Ann": (1, 1), "Wes": (1, 0)}
    assert rates["source_field"].key == "lead_source"
    by_source = {r.key: (r.won, r.lost) for r in rates["source"]}
    assert by_source == {"web": (1, 1), "event": (1, 0)}
    # a rep sees only their own closed deals
    mine = analytics.win_rates(world["wes"], _subj(world["wes"]), _filters())
    assert [(r.label, r.won, r.lost) for r in mine["owner"]] == [("Wes", 1, 0)]


def test_hidden_source_is_not_grouped(world):
    from tests.factories import make_role, make_user

    make_role(
        "Blind",
        {"read": 4},
        fields={("deal", "lead_source"): "hidden"},
        entity="deal",
    )
    blind = make_user("blind@example.com", roles=("Blind",))
    rates = analytics.win_rates(blind, _subj(blind), _filters())
    assert rates["source"] == [] and rates["source_field"] is None


def test_stale(world):
    now = T0 + timedelta(days=30)
    admin = world["admin"]
    total, rows = analytics.stale(admin, _subj(admin), _filters(), 20, now=now)
    # open deals whose last move is before Oct 11: r3 (Oct 4), r4 (Oct 6), r6 (Oct 4),
    # r7 (Aug 27); r8 moved on Oct 7 12:00
    assert total == 5
    assert rows[0].name == "r7"
    total, rows = analytics.stale(admin, _subj(admin), _filters(), 26, now=now)
    assert sorted(r.name for r in rows) == ["r3", "r6", "r7"] and total == 3
    total, rows = analytics.stale(world["bob"], _subj(world["bob"]), _filters(), 20, now=now)
    assert sorted(r.name for r in rows) == ["r3", "r4"]


def expected_forecast(names, first=date(2026, 10, 1), end=date(2027, 1, 1)):
    months, owners = {}, {}
    for n in names:
        owner, amount, close, _source, path = DEALS[n]
        stage = path[-1][0]
        if stage == "lost" or not first <= close < end:
            continue
        amount = Decimal(amount)
        won = amount if stage == "won" else Decimal(0)
        weighted = amount * PROBABILITY[stage] / 100
        best = amount
        key = date(close.year, close.month, 1)
        for bucket, k in ((months, key), (owners, owner)):
            b = bucket.setdefault(k, [Decimal(0)] * 3)
            b[0] += won
            b[1] += weighted
            b[2] += best
    return months, owners


@pytest.mark.parametrize("who", ["ann", "max", "admin"])
def test_forecast(world, who):
    user = world[who]
    fc = forecast(user, _subj(user), _filters())
    months, owners = expected_forecast(visible_deals(who))
    assert fc.close.key == "close_date"
    assert list(fc.months) == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    for m, f in fc.months.items():
        want = months.get(m, [0, 0, 0])
        assert (f.won, f.weighted, f.best) == (want[0], want[1], want[2])
    names = {world[n].id: n for n in ("ann", "bob", "wes", "max")}
    got = {names[k]: [f.won, f.weighted, f.best] for k, f in fc.owners.items() if k in names}
    got = {k: v for k, v in got.items() if any(v)}
    assert got == owners


def test_forecast_by_owner_filter_and_department(world):
    admin = world["admin"]
    fc = forecast(admin, _subj(admin), _filters(owner=str(world["bob"].id)))
    assert set(fc.owners) == {world["bob"].id}
    fc = forecast(admin, _subj(admin), _filters(department=str(world["west"].id)))
    assert set(fc.owners) == {world["wes"].id}
    assert fc.total.won == Decimal(3000)
    fc = forecast(admin, _subj(admin), _filters())
    east = fc.departments[world["east"].id]
    _months, owners = expected_forecast([n for n in DEALS if DEALS[n][0] in ("ann", "bob", "max")])
    assert east.best == sum(v[2] for v in owners.values())

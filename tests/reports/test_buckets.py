"""Dates and moments bucketed in the viewer's time zone, across clock changes, on both
engines: the SQL keys against Python's zoneinfo."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from crm import timeutil
from crm.metadata.types import l10n
from crm.reports import buckets
from crm.reports import definition as d
from crm.reports.engine import run
from tests.factories import insert_rows


def python_key(moment: datetime, bucket: str, zone: str) -> str:
    local = timeutil.to_local(moment, zone)
    day = local.date()
    if bucket == "day":
        return day.isoformat()
    if bucket == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if bucket == "month":
        return f"{day:%Y-%m}"
    if bucket == "quarter":
        return f"{day.year}-Q{(day.month + 2) // 3}"
    return str(day.year)


# Moments around the nights the clocks change (Madrid: 29 March and 25 October 2026, at
# 01:00 UTC; New York: 8 March and 1 November 2026), midnights, and year and quarter ends.
EDGES = [
    datetime(2026, 3, 28, 22, 59),
    datetime(2026, 3, 28, 23, 0),
    datetime(2026, 3, 29, 0, 59),
    datetime(2026, 3, 29, 1, 0),
    datetime(2026, 3, 29, 22, 0),
    datetime(2026, 3, 29, 21, 59),
    datetime(2026, 10, 24, 21, 59),
    datetime(2026, 10, 24, 22, 0),
    datetime(2026, 10, 25, 0, 30),
    datetime(2026, 10, 25, 1, 30),
    datetime(2026, 10, 25, 22, 59),
    datetime(2026, 10, 25, 23, 0),
    datetime(2026, 3, 8, 6, 59),
    datetime(2026, 3, 8, 7, 0),
    datetime(2026, 11, 1, 4, 59),
    datetime(2026, 11, 1, 5, 0),
    datetime(2026, 11, 2, 4, 59),
    datetime(2026, 11, 2, 5, 0),
    datetime(2025, 12, 31, 22, 30),
    datetime(2025, 12, 31, 23, 30),
    datetime(2026, 1, 1, 4, 0),
    datetime(2026, 3, 31, 15, 59),
    datetime(2026, 3, 31, 16, 0),
    datetime(2026, 6, 30, 22, 0),
    datetime(1987, 7, 1, 12, 0),
    datetime(2150, 7, 1, 21, 30),
]


@pytest.fixture
def moments(app, sales):
    insert_rows("deal", *({"name": f"m{i}", "met": m, "version": 1} for i, m in enumerate(EDGES)))
    return EDGES


@pytest.mark.parametrize("zone", ["Europe/Madrid", "America/New_York", "Asia/Shanghai", "UTC"])
@pytest.mark.parametrize("bucket", ["day", "week", "month", "quarter", "year"])
def test_moments_fall_in_the_viewers_buckets(
    app, sales, moments, request_ctx, monkeypatch, zone, bucket
):
    monkeypatch.setattr(l10n, "current", lambda: l10n.formats("en", zone))
    vic = sales["p"]["vic"]
    defn = d.parse(
        vic,
        {
            "entity": "deal",
            "groups": [{"field": "met", "bucket": bucket}],
            "filters": [{"field": "name", "op": "starts_with", "value": "m"}],
        },
    )
    result = run(vic, defn)
    expected = Counter(python_key(m, bucket, zone) for m in EDGES)
    assert {r.keys[0]: r.values[0] for r in result.rows} == dict(expected)


def test_transitions_are_the_zones_clock_changes():
    changes = dict(buckets.transitions("Europe/Madrid"))
    assert changes[datetime(2026, 3, 29, 1, 0)] == 7200
    assert changes[datetime(2026, 10, 25, 1, 0)] == 3600
    assert len(buckets.transitions("UTC")) == 1


def test_labels_in_the_readers_language(app):
    zh, es = l10n.formats("zh_Hans", "UTC"), l10n.formats("es", "UTC")
    assert buckets.label("2026-03", "month", zh) == "2026年3月"
    assert "2026" in buckets.label("2026-Q1", "quarter", es)
    assert buckets.span("2026-Q4", "quarter")[1].isoformat() == "2026-12-31"
    assert buckets.span("2024-02", "month")[1].isoformat() == "2024-02-29"
    assert buckets.span("junk", "month") is None

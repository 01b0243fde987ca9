"""Reading the period and the filters: presets, chosen days, and refusals."""

from __future__ import annotations

from datetime import date

import pytest

from crm.analytics.filters import parse_filters, parse_period
from crm.errors import ValidationFailed

TODAY = date(2026, 12, 5)


def test_presets_and_days(app):
    with app.test_request_context():
        p = parse_period({}, "UTC", today=TODAY)
        assert (p.start, p.end) == (date(2026, 10, 1), date(2027, 1, 1))
        assert p.previous().start == date(2026, 7, 1)
        p = parse_period({"from": "2026-02-03", "to": "2026-02-03"}, "UTC", today=TODAY)
        assert p.days == 1 and p.previous().end == date(2026, 2, 3)
        # a preset chosen wins over days the form still carries
        p = parse_period(
            {"period": "last_month", "from": "2020-01-01", "to": "2020-01-31"}, "UTC", today=TODAY
        )
        assert (p.start, p.end) == (date(2026, 11, 1), date(2026, 12, 1))
        p = parse_period({"period": "custom", "from": "2020-01-01", "to": "2020-01-31"}, "UTC")
        assert p.start == date(2020, 1, 1)


@pytest.mark.parametrize(
    "args",
    [
        {"from": "0001-01-01", "to": "9999-12-31"},  # ten thousand years
        {"from": "1990-01-01", "to": "2010-01-01"},  # twenty
        {"from": "2026-01-02", "to": "2026-01-01"},
        {"from": "2026-01-01"},
        {"from": "2026-13-01", "to": "2026-12-01"},
        {"period": "always"},
        {"owner": "0"},
        {"owner": "٣"},
        {"department": "2147483648"},
    ],
)
def test_refusals(app, args):
    with app.test_request_context(), pytest.raises(ValidationFailed) as err:
        parse_filters(args, "UTC", today=TODAY)
    assert err.value.errors

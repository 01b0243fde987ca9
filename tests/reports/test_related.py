"""Reports over related records (one hop through a lookup): deals grouped by, filtered on
and measuring their account's fields, checked against figures worked out here for a rep,
a manager and a viewer of everything; a related field the viewer may not read refused
like an unknown one; accounts the viewer may not read never giving away their values;
drill-down lists holding exactly a cell's records."""

from __future__ import annotations

import html
import random
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from crm.access import policy as P
from crm.errors import ValidationFailed
from crm.reports import definition as d
from crm.reports.engine import run
from crm.reports.related import NOT_VISIBLE
from tests.factories import insert_rows, make_department, make_entity, make_role, make_user
from tests.factories.schema import field, lookup, picklist, text
from tests.reports.test_views import listed

INDUSTRIES = ("tech", "retail", "energy")


@pytest.fixture
def crm(app):
    make_entity(
        "account",
        "Account",
        [
            text("name", "Name"),
            picklist(
                "industry",
                "Industry",
                [
                    ("tech", "Tech"),
                    ("retail", "Retail"),
                    ("energy", "Energy"),
                    ("health", "Health"),
                ],
            ),
            field("employees", "integer", "Employees"),
            field("margin", "integer", "Margin"),
            field("since", "date", "Customer since"),
        ],
        plural="Accounts",
    )
    make_entity(
        "deal",
        "Deal",
        [
            text("name", "Name"),
            field("amount", "currency", "Amount"),
            lookup("account", "Account", "account"),
        ],
        plural="Deals",
    )
    top = make_department("Sales")
    east = make_department("Sales East", top)
    support = make_department("Support")
    make_role(
        "Rep",
        {"read": P.OWN, "create": P.ALL, "edit": P.OWN},
        {("account", "margin"): "hidden"},
    )
    make_role("Manager", {"read": P.SUBTREE})
    make_role("Viewer", {"read": P.ALL})
    people = {
        "ann": make_user(display_name="Ann Rep", roles=("Rep",), department=east),
        "ben": make_user(display_name="Ben Rep", roles=("Rep",), department=top),
        "cy": make_user(display_name="Cy Rep", roles=("Rep",), department=support),
        "mia": make_user(display_name="Mia Manager", roles=("Manager",), department=top),
        "vic": make_user(display_name="Vic Viewer", roles=("Viewer",), department=support),
    }
    dept = {"ann": east.id, "ben": top.id, "cy": support.id, "mia": top.id, "vic": support.id}
    rng = random.Random(1919)
    owners = ["ann", "ben", "cy", "mia", None]
    accounts = []
    for n in range(14):
        who = rng.choice(owners)
        accounts.append(
            {
                "name": f"Account {n}",
                "owner": who,
                "owner_id": people[who].id if who else None,
                "industry": rng.choice([*INDUSTRIES, None]),
                "employees": rng.choice([None, 5, 40, 300]),
                "margin": rng.randrange(0, 50),
                "since": rng.choice([None, date(2019, 5, 1), date(2021, 12, 31), date(2022, 1, 1)]),
                "version": 1,
            }
        )
    accounts.append(
        {"name": "Ann's own", "owner": "ann", "owner_id": people["ann"].id, "industry": "tech",
         "employees": 50, "margin": 3, "version": 1}
    )  # fmt: skip
    # the only account in health care, Cy's: Ann and Mia have deals on it, but may not
    # read it (Cy is in Support)
    accounts.append(
        {"name": "Secret Co", "owner": "cy", "owner_id": people["cy"].id, "industry": "health",
         "employees": 999, "margin": 7, "version": 1}
    )  # fmt: skip
    ids = insert_rows("account", *({k: v for k, v in a.items() if k != "owner"} for a in accounts))
    for a, i in zip(accounts, ids, strict=True):
        a["id"] = i
    secret = accounts[-1]
    deals = []
    for n in range(80):
        who = rng.choice(owners)
        account = rng.choice([*accounts[:-1], None])
        deals.append(
            {"name": f"Deal {n}", "owner": who, "amount": Decimal(rng.randrange(0, 100_000)) / 100,
             "account": account["id"] if account else None}
        )  # fmt: skip
    mine = next(a for a in accounts if a["name"] == "Ann's own")
    for n in range(2):
        deals.append({"name": f"Ann's deal {n}", "owner": "ann", "amount": Decimal("10.00"),
                      "account": mine["id"]})  # fmt: skip
    for n, who in enumerate(["ann", "ann", "mia"]):
        deals.append({"name": f"Secret deal {n}", "owner": who, "amount": Decimal("123.45"),
                      "account": secret["id"]})  # fmt: skip
    insert_rows(
        "deal",
        *(
            {"name": r["name"], "owner_id": people[r["owner"]].id if r["owner"] else None,
             "amount": r["amount"], "account": r["account"], "version": 1}
            for r in deals
        ),
    )  # fmt: skip
    return {"p": people, "dept": dept, "deals": deals, "accounts": {a["id"]: a for a in accounts},
            "secret": secret, "d": {"top": top.id, "east": east.id}}  # fmt: skip


def may_read(crm, who: str, owner: str | None) -> bool:
    """Whether ``who`` reads a record owned by ``owner``, worked out here."""
    if who in ("ann", "ben", "cy"):
        return owner == who
    if who == "mia":
        return owner is not None and crm["dept"][owner] in crm["d"].values()
    return True


def expected_key(crm, who: str, deal: dict, field_key: str):
    if deal["account"] is None:
        return None
    account = crm["accounts"][deal["account"]]
    if not may_read(crm, who, account["owner"]):
        return NOT_VISIBLE
    return account.get(field_key)


@pytest.fixture(autouse=True)
def _in_request(request_ctx):
    return None


def report(user, **data):
    return run(user, d.parse(user, {"entity": "deal", **data}))


@pytest.mark.parametrize("who", ["ann", "ben", "mia", "vic"])
def test_grouped_by_the_accounts_industry_matches_the_scope(app, crm, who):
    user = crm["p"][who]
    result = report(
        user,
        groups=[{"field": "account.industry"}],
        measures=["count:", "sum:amount", "sum:account.employees"],
    )
    expected: dict = defaultdict(lambda: [0, Decimal(0), None])
    for deal in crm["deals"]:
        if not may_read(crm, who, deal["owner"]):
            continue
        e = expected[expected_key(crm, who, deal, "industry")]
        e[0] += 1
        e[1] += deal["amount"]
        employees = expected_key(crm, who, deal, "employees")
        if employees is not None and employees is not NOT_VISIBLE:
            e[2] = (e[2] or 0) + employees
    got = {row.keys[0]: row.values for row in result.rows}
    assert set(got) == set(expected)
    for key, (n, amount, employees) in expected.items():
        assert got[key][0] == n
        assert Decimal(str(got[key][1])) == amount
        assert got[key][2] == employees
    labels = {row.keys[0]: row.labels[0] for row in result.rows}
    if NOT_VISIBLE in labels:
        assert labels[NOT_VISIBLE] == "(not visible)"
    if "tech" in labels:
        assert labels["tech"] == "Tech"
    assert result.measure_labels[2] == "Sum: Account → Employees"
    # the groups without a value come last
    assert all(k not in (None, NOT_VISIBLE) for k in result.first_keys[: len(got) - 2])


def test_accounts_the_viewer_may_not_read_keep_their_values(app, crm):
    ann, vic = crm["p"]["ann"], crm["p"]["vic"]
    result = report(ann, groups=[{"field": "account.industry"}], measures=["count:"])
    got = {row.keys[0]: row.values[0] for row in result.rows}
    assert "health" not in got  # Secret Co's industry is not Ann's to see
    assert got[NOT_VISIBLE] >= 2
    assert "Health" not in " ".join(r.labels[0] for r in result.rows)
    health = report(
        ann,
        filters=[{"field": "account.industry", "op": "in", "value": ["health"]}],
        measures=["count:", "max:account.employees"],
    )
    assert health.totals == (0, None)
    empty = report(ann, filters=[{"field": "account.industry", "op": "empty"}], measures=["count:"])
    expected = sum(
        1 for r in crm["deals"]
        if r["owner"] == "ann" and expected_key(crm, "ann", r, "industry") is None
        and r["account"] is not None
    )  # fmt: skip
    assert empty.totals == (expected,)  # not Secret Co's deals: its account is not Ann's
    # the viewer of everything sees it
    seen = report(vic, groups=[{"field": "account.industry"}], measures=["count:"])
    assert {r.keys[0]: r.values[0] for r in seen.rows}["health"] == 3


def test_a_hidden_related_field_is_refused_like_an_unknown_one(app, crm):
    ann, vic = crm["p"]["ann"], crm["p"]["vic"]

    def problems(user, **data) -> dict:
        with pytest.raises(ValidationFailed) as caught:
            d.parse(user, {"entity": "deal", **data})
        return caught.value.errors

    for key in ("account.margin", "account.nope", "nope.industry"):
        groups = problems(ann, groups=[{"field": key}])["groups"]
        assert groups == [f"“{key}” is not a field the records can be grouped by."]
        measures = problems(ann, measures=[f"sum:{key}"])["measures"]
        assert measures == [f"There is no field “{key}” to measure."]
        filters = problems(ann, filters=[{"field": key, "op": "gt", "value": "1"}])["filters"]
        assert filters == [f"There is no field “{key}” to filter by."]
    # the viewer who may read it measures it
    margins = report(vic, measures=["sum:account.margin"])
    assert margins.totals[0] == sum(
        crm["accounts"][r["account"]]["margin"] for r in crm["deals"] if r["account"]
    )
    # a measure of text is refused by its type
    assert "measures" in problems(vic, measures=["sum:account.name"])


def test_builder_offers_related_fields_under_the_lookup(app, crm, login_as):
    c = login_as(crm["p"]["ann"])
    body = c.get("/reports/new?entity=deal&g1=account.industry").data.decode()
    assert '<optgroup label="Account">' in body
    assert 'value="account.industry" selected' in body
    assert 'value="sum:account.employees"' in body
    assert "account.margin" not in body  # hidden from Ann
    r = c.get("/reports/new?entity=deal&f.account.employees.gt=4&nf=account.industry")
    assert r.status_code == 200
    chips = re.findall(r'<li class="chip">([^<]+)<a', r.data.decode())
    assert [html.unescape(t).strip() for t in chips] == ["Account → Employees is more than 4"]
    assert 'name="nop"' in r.data.decode()  # the related field's conditions are offered


@pytest.mark.parametrize("who", ["ann", "mia", "vic"])
def test_drill_down_from_a_related_group_lists_the_cells_records(app, crm, login_as, who):
    user = crm["p"][who]
    result = report(
        user,
        groups=[{"field": "account.industry"}, {"field": "owner_id"}],
        filters=[{"field": "account.employees", "op": "gt", "value": "4"}],
        measures=["count:"],
    )
    c = login_as(user)
    checked = 0
    for row in [*result.rows, *result.subtotals.values()]:
        if row.keys[0] in (None, NOT_VISIBLE):
            assert row.url is None  # no list holds exactly these
            continue
        assert row.url is not None and "f.account.in=" in row.url
        assert len(listed(c, row.url)) == row.values[0], row.labels
        checked += 1
    assert checked
    # the related filter alone: every deal whose readable account has more than 4 employees
    assert len(listed(c, result.total_url)) == result.totals[0]


@pytest.mark.parametrize("who", ["ann", "vic"])
def test_subtotals_of_a_non_additive_related_measure(app, crm, who):
    """Averages are queried per first group (not added up): the related flag holds there
    too, so "(not visible)" stays a group of its own."""
    user = crm["p"][who]
    result = report(
        user,
        groups=[{"field": "account.industry"}, {"field": "owner_id"}],
        measures=["avg:account.employees", "count:"],
    )
    values: dict = defaultdict(list)
    counts: dict = defaultdict(int)
    for deal in crm["deals"]:
        if not may_read(crm, who, deal["owner"]):
            continue
        key = expected_key(crm, who, deal, "industry")
        counts[key] += 1
        employees = expected_key(crm, who, deal, "employees")
        if employees is not None and employees is not NOT_VISIBLE:
            values[key].append(employees)
    assert set(result.subtotals) == set(counts)
    for key, sub in result.subtotals.items():
        assert sub.values[1] == counts[key]
        if values[key]:
            assert abs(float(sub.values[0]) - sum(values[key]) / len(values[key])) < 1e-6
        else:
            assert sub.values[0] is None


@pytest.mark.parametrize("who", ["mia", "vic"])
def test_a_related_date_in_periods_and_its_drill_down(app, crm, login_as, who):
    user = crm["p"][who]
    result = report(user, groups=[{"field": "account.since", "bucket": "year"}])
    expected: dict = defaultdict(int)
    for deal in crm["deals"]:
        if may_read(crm, who, deal["owner"]):
            since = expected_key(crm, who, deal, "since")
            expected[since.year if isinstance(since, date) else since] += 1
    got = {}
    c = login_as(user)
    for row in result.rows:
        key = row.keys[0]
        if key in (None, NOT_VISIBLE):
            got[key] = row.values[0]
            continue
        got[int(row.labels[0])] = row.values[0]
        assert len(listed(c, row.url)) == row.values[0]
    assert got == dict(expected)


def test_pages_refuse_bad_related_keys_and_export_related_groups(app, crm, login_as):
    c = login_as(crm["p"]["ann"])
    for key in ("account.margin", "account.", ".industry", "account.industry.x", "nope.name"):
        r = c.get(f"/reports/new?entity=deal&g1={key}")
        assert r.status_code == 400, key
        assert "is not a field the records can be grouped by" in r.data.decode()
    r = c.get("/reports/new?entity=deal&f.account.margin.gt=3")
    assert r.status_code == 400
    r = c.get("/reports/export.csv?entity=deal&g1=account.industry&m=count:")
    assert r.status_code == 200
    text = r.data.decode()
    assert "(not visible)" in text and "Health" not in text

"""The builder page, its htmx fragment, drill-down links whose lists hold exactly the
cell's records, saved reports shared with a narrower role, exports, and bad input."""

from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter
from decimal import Decimal
from urllib.parse import urlencode

from openpyxl import load_workbook
from sqlalchemy import select

from crm.access.models import Role
from crm.extensions import db
from tests.reports.conftest import in_scope

RECORD_LINK = re.compile(r'href="/r/deal/(\d+)"')


def builder_url(**args) -> str:
    pairs = [("entity", "deal")]
    for k, v in args.items():
        for item in v if isinstance(v, list) else [v]:
            pairs.append((k.replace("__", "."), item))
    return "/reports/new?" + urlencode(pairs)


def listed(client, url: str) -> set[int]:
    """The records a list page shows (one page of up to 200)."""
    r = client.get(url + "&size=200")
    assert r.status_code == 200, url
    return {int(i) for i in RECORD_LINK.findall(r.data.decode())}


def drill_links(body: str) -> dict[str, str]:
    """{figure text: list url} of the result's links to lists."""
    found = {}
    for href, text in re.findall(r'<a href="(/r/deal/\?[^"]+)">([^<]+)</a>', body):
        found.setdefault(text, html.unescape(href))
    return found


def test_the_builder_page_and_its_fragment(login_as, sales):
    c = login_as(sales["p"]["vic"])
    r = c.get(builder_url(g1="status", m="sum:amount", chart="bar"))
    assert r.status_code == 200
    body = r.data.decode()
    assert "<svg" in body and "series-0" in body and "<table" in body
    assert "style=" not in body.split("<main")[1]  # no inline style (CSP)
    assert 'href="/reports/"' in body  # the navigation's entry
    frag = c.get(builder_url(g1="status"), headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.data.decode()
    assert "HX-Request" in frag.headers.get("Vary", "")


def test_every_drill_down_lists_exactly_its_records(login_as, sales):
    mia = sales["p"]["mia"]
    c = login_as(mia)
    r = c.get(builder_url(g1="owner_id", g2="met", b2="month", chart="stacked"))
    assert r.status_code == 200
    body = r.data.decode()
    urls = re.findall(r'<a href="(/r/deal/\?[^"]+)">([0-9,]+)</a>', body)
    assert len(urls) > 5
    for href, n in urls:
        assert len(listed(c, html.unescape(href))) == int(n.replace(",", "")), href


def test_drill_down_of_a_hot_flag_and_empty_values_with_a_filter(login_as, sales):
    vic = sales["p"]["vic"]
    c = login_as(vic)
    r = c.get(builder_url(g1="hot", g2="status", f__amount__gt="200", chart="table"))
    body = r.data.decode()
    urls = re.findall(r'<a href="(/r/deal/\?[^"]+)">([0-9,]+)</a>', body)
    assert urls
    expected = Counter((x["hot"], x["status"]) for x in sales["rows"] if x["amount"] > 200)
    assert sum(expected.values()) == max(int(n.replace(",", "")) for _h, n in urls)
    for href, n in urls:
        assert len(listed(c, html.unescape(href))) == int(n.replace(",", ""))


def test_a_shared_report_shows_each_reader_their_own_numbers(login_as, sales):
    mia, ann = sales["p"]["mia"], sales["p"]["ann"]
    rep_role = db.session.scalar(select(Role.id).where(Role.name == "Rep"))
    c = login_as(mia)
    r = c.post(
        "/reports/save",
        data={
            "entity": "deal",
            "g1": "status",
            "m": ["count:", "sum:amount"],
            "name": "Pipeline by status",
            "name_zh_Hans": "按状态的销售管道",
            "role": [str(rep_role)],
            "csrf_token": c.csrf_token(),
        },
    )
    assert r.status_code == 303, r.data
    url = r.headers["Location"]
    mine = c.get(url).data.decode()
    theirs_client = login_as(ann)
    assert "Pipeline by status" in theirs_client.get("/reports/").data.decode()
    theirs = theirs_client.get(url)
    assert theirs.status_code == 200
    expected = sum((x["amount"] for x in in_scope(sales, "ann")), Decimal(0))
    total_mia = sum((x["amount"] for x in in_scope(sales, "mia")), Decimal(0))
    assert f"{expected:,.2f}" in theirs.data.decode()
    assert f"{total_mia:,.2f}" in mine and f"{total_mia:,.2f}" not in theirs.data.decode()
    # someone it is not shared with: not found
    assert login_as(sales["p"]["vic"]).get(url).status_code == 404
    # a reader may not delete it
    assert (
        theirs_client.post(
            url + "/delete", data={"csrf_token": theirs_client.csrf_token()}
        ).status_code
        == 404
    )


def test_a_shared_report_on_a_field_the_reader_cannot_read_says_so(login_as, sales):
    mia, ann = sales["p"]["mia"], sales["p"]["ann"]
    rep_role = db.session.scalar(select(Role.id).where(Role.name == "Rep"))
    c = login_as(mia)
    r = c.post(
        "/reports/save",
        data={"entity": "deal", "g1": "status", "m": "sum:cost", "name": "Costs",
              "role": str(rep_role), "csrf_token": c.csrf_token()},
    )  # fmt: skip
    assert r.status_code == 303
    page = login_as(ann).get(r.headers["Location"])
    assert page.status_code == 400
    body = page.data.decode()
    assert "There is no field" in body and "<svg" not in body.split("<main")[1]


def test_exports(login_as, sales):
    vic = sales["p"]["vic"]
    c = login_as(vic)
    q = urlencode([("entity", "deal"), ("g1", "status"), ("m", "count:"), ("m", "sum:amount")])
    r = c.get("/reports/export.csv?" + q)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == ["Status", "Count", "Sum: Amount"]
    assert rows[-1][0] == "Total" and int(rows[-1][1]) == len(sales["rows"])
    assert Decimal(rows[-1][2]) == sum((x["amount"] for x in sales["rows"]), Decimal(0))
    x = c.get("/reports/export.xlsx?" + q)
    assert x.status_code == 200
    sheet = load_workbook(io.BytesIO(x.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[-1][1] == len(sales["rows"])


def test_bad_input_is_a_message_not_a_500(login_as, sales, monkeypatch):
    ann = sales["p"]["ann"]
    c = login_as(ann)
    for url in (
        builder_url(g1="cost"),
        builder_url(m="sum:cost"),
        builder_url(m="sum:name"),
        builder_url(f__cost__gt="1"),
        builder_url(limit="-5"),
        builder_url(limit="10000000000000000000000"),
        builder_url(g1="closes", b1="century"),
        builder_url(f__closes__between=["0001-01-01", "99999-01-01"]),
        "/reports/export.csv?entity=deal&m=sum:cost",
    ):
        r = c.get(url)
        assert r.status_code == 400, (url, r.status_code)
    for url in ("/reports/export.xlsx?entity=nothing", "/reports/new?entity=nothing"):
        assert c.get(url).status_code == 404
    from crm.reports import engine

    monkeypatch.setattr(engine, "MAX_CELLS", 10)
    r = c.get(builder_url(g1="met", b1="day", g2="status"))
    assert r.status_code == 422
    assert "too many groups" in r.data.decode()
    assert c.get("/reports/99999999999999").status_code == 404
    assert c.get("/reports/4294967296").status_code == 404
    r = c.post(
        "/reports/save",
        data={
            "entity": "deal",
            "name": "x",
            "role": "99999999999",
            "report_id": "99999999999",
            "csrf_token": c.csrf_token(),
        },
    )
    assert r.status_code in (400, 404)
    r = c.post("/reports/save", data={"entity": "deal", "name": "", "csrf_token": c.csrf_token()})
    assert r.status_code == 400 and "Give the report a name." in r.data.decode()


def test_ten_thousand_years_by_day_is_the_right_numbers(login_as, sales):
    c = login_as(sales["p"]["vic"])
    r = c.get(builder_url(g1="met", b1="day", f__met__between=["0001-01-01", "9999-12-31"]))
    assert r.status_code == 200


def test_drill_down_by_the_owners_department_and_in_a_funnel(login_as, sales):
    c = login_as(sales["p"]["vic"])
    r = c.get(builder_url(g1="@department", chart="funnel"))
    assert r.status_code == 200
    body = r.data.decode()
    assert "<svg" in body and "Sales East" in body
    urls = re.findall(r'<a href="(/r/deal/\?[^"]+)">([0-9,]+)</a>', body)
    assert len(urls) >= 3  # three departments and the total (no department: no link)
    for href, n in urls:
        assert len(listed(c, html.unescape(href))) == int(n.replace(",", ""))

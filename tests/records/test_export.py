"""Exports hold exactly what the list shows, and never carry a live formula."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from crm.metadata import specs
from crm.records import service as records
from crm.records.export import safe_cell
from crm.schema import service as schema

NASTY = [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tlead",
    "\rcr",
    "plain",
    "a=b",
]


@pytest.fixture
def filled(app, staff):
    schema.create_entity(
        "lead",
        "Lead",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "searchable": True},
            {"key": "note", "type": "text", "label": "=Note"},
            {"key": "score", "type": "integer", "label": "Score"},
        ],
    )
    spec = specs.current().entity("lead")
    for i, text in enumerate(NASTY):
        records.create(
            staff,
            spec,
            {
                "name": f"Lead {i} 客户",
                "note": text.strip("\t\r") if i in (4, 5) else text,
                "score": str(i),
            },
        )
    return spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+x", "'+x"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("x=1", "x=1"),
        ("", ""),
    ],
)
def test_safe_cell(text, expected):
    assert safe_cell(text) == expected


def test_csv_has_the_view_escaped_and_filtered(login_as, staff, filled):
    r = login_as(staff).get("/r/lead/export.csv?sort=score&f.score.lte=3")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'filename="lead-' in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == ["Name", "'=Note", "Score"]
    assert [row[2] for row in rows[1:]] == ["0", "1", "2", "3"]
    assert rows[1] == ["Lead 0 客户", '\'=HYPERLINK("http://evil","x")', "0"]
    assert rows[2][1] == "'+1+1" and rows[3][1] == "'-2+3" and rows[4][1] == "'@SUM(A1)"


def test_csv_follows_search_and_streams_every_page(login_as, staff, filled):
    spec = specs.current().entity("lead")
    records.bulk_create(staff, spec, [{"name": f"Bulk {i}", "score": "100"} for i in range(2500)])
    body = login_as(staff).get("/r/lead/export.csv?q=bulk").data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body)))
    assert len(lines) == 2501 and all(line[0].startswith("Bulk") for line in lines[1:])


def test_xlsx_opens_and_is_escaped(login_as, staff, filled):
    r = login_as(staff).get("/r/lead/export.xlsx?sort=score")
    book = load_workbook(io.BytesIO(r.data), read_only=True)
    rows = [list(row) for row in book.active.iter_rows(values_only=True)]
    assert rows[0] == ["Name", "'=Note", "Score"]
    assert rows[1][1].startswith("'=") and rows[8][1] == "a=b"


def test_unknown_format_and_bad_filters(login_as, staff, filled):
    c = login_as(staff)
    assert c.get("/r/lead/export.pdf").status_code == 404
    assert c.get("/r/lead/export.csv?f.secret.eq=1").status_code == 400

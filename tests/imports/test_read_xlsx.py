"""Reading XLSX uploads: streamed, typed values, formulas, links, zip bombs (issue 16)."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook

from crm.imports.read import BadRow, Limits, Row, Settings, UnreadableFile, open_source


def workbook(rows, *, title="Customers", more_sheets=()) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    for name in more_sheets:
        wb.create_sheet(name).append(["other"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rezip(data: bytes, change) -> bytes:
    """The workbook with some of its parts rewritten (``change(name, bytes) -> bytes``)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info.filename)))
    return out.getvalue()


def test_typed_values_header_and_sheets():
    data = workbook(
        [
            ["Code", "Name", "Joined", "Amount", "Active", None],
            ["000720", "新 能 泰", datetime(2018, 11, 8), 1234.5, True],
            [None, None, None, None, None],
            ["42", "Bob\u00a0Smith", datetime(2020, 1, 2, 14, 30), 0.07200000000000001, False],
        ],
        more_sheets=["Notes"],
    )
    source = open_source(io.BytesIO(data), "c.xlsx")
    assert source.kind == "xlsx" and source.sheet == "Customers"
    assert source.sheets == ("Customers", "Notes")
    assert source.columns == ("Code", "Name", "Joined", "Amount", "Active")
    rows = list(source.rows())
    assert [r.line for r in rows] == [2, 4]
    assert rows[0].values == ("000720", "新 能 泰", datetime(2018, 11, 8), 1234.5, True)
    assert rows[1].values[1] == "Bob\u00a0Smith"
    assert source.counts.blank == 1
    assert {n.code for n in source.notices} == {"sheets"}
    other = open_source(io.BytesIO(data), "c.xlsx", Settings(sheet="Notes"))
    assert other.columns == ("other",)
    with pytest.raises(UnreadableFile) as exc:
        open_source(io.BytesIO(data), "c.xlsx", Settings(sheet="Nope"))
    assert exc.value.code == "sheet"


def test_a_workbook_named_csv_is_read_by_its_content():
    data = workbook([["a", "b"], [1, 2]])
    source = open_source(io.BytesIO(data), "export.csv")
    assert source.kind == "xlsx" and [r.values for r in source.rows()] == [(1, 2)]


def test_formulas_read_as_cached_values_and_missing_values_reported():
    data = workbook([["name", "total"], ["Ann", 10], ["Bob", 20]])

    def add_formulas(name, body):
        if name != "xl/worksheets/sheet1.xml":
            return body
        body = body.replace(b'<c r="B2" t="n"><v>10</v></c>', b'<c r="B2"><f>5+5</f><v>10</v></c>')
        return body.replace(b'<c r="B3" t="n"><v>20</v></c>', b'<c r="B3"><f>SUM(B1:B2)</f></c>')

    data = rezip(data, add_formulas)
    source = open_source(io.BytesIO(data), "f.xlsx")
    notice = next(n for n in source.notices if n.code == "formulas")
    assert "2 cells hold formulas" in str(notice.message)
    rows = list(source.rows())
    assert isinstance(rows[0], Row) and rows[0].values == ("Ann", 10)
    assert isinstance(rows[1], BadRow) and rows[1].code == "formula" and rows[1].line == 3
    assert "B3" in str(rows[1].message)


def test_links_to_other_workbooks_are_not_followed_and_said():
    data = workbook([["a"], [1]])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["xl/externalLinks/externalLink1.xml"] = b"<externalLink/>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in parts.items():
            z.writestr(name, body)
    source = open_source(io.BytesIO(out.getvalue()), "l.xlsx")
    assert "external_links" in {n.code for n in source.notices}
    assert [r.values for r in source.rows()] == [(1,)]


def test_a_zip_bomb_is_refused_before_parsing():
    data = workbook([["a"], [1]])
    bomb = rezip(
        data,
        lambda name, body: body + b" " * (60 * 2**20) if name == "xl/styles.xml" else body,
    )
    assert len(bomb) < 1 << 20
    with pytest.raises(UnreadableFile) as exc:
        open_source(io.BytesIO(bomb), "bomb.xlsx")
    assert exc.value.code == "zip_bomb"
    with pytest.raises(UnreadableFile) as exc:
        open_source(io.BytesIO(data), "x.xlsx", limits=Limits(max_uncompressed=1000))
    assert exc.value.code == "zip_bomb"


def test_damaged_and_foreign_zips_are_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    with pytest.raises(UnreadableFile) as exc:
        open_source(io.BytesIO(out.getvalue()), "doc.xlsx")
    assert exc.value.code == "xlsx"
    data = workbook([["a"], [1]])
    with pytest.raises(UnreadableFile) as exc:
        open_source(io.BytesIO(data[: len(data) // 2]), "cut.xlsx")
    assert exc.value.code == "xlsx"


def test_xml_entities_are_refused():
    data = workbook([["a"], [1]])
    evil = rezip(
        data,
        lambda name, body: (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + body.split(b"?>")[-1]
            if name == "xl/worksheets/sheet1.xml"
            else body
        ),
    )
    with pytest.raises(UnreadableFile) as exc:
        list(open_source(io.BytesIO(evil), "e.xlsx").rows())
    assert exc.value.code == "xlsx"


def test_big_cells_and_cells_without_a_header_are_bad_rows():
    # a cell holds at most 32,767 characters in Excel: the limit is lowered to show it
    data = workbook([["id", "notes"], [1, "x" * 2000], [2, "ok"], [3, "fine", "stray"]])
    rows = list(open_source(io.BytesIO(data), "b.xlsx", limits=Limits(max_cell_chars=1000)).rows())
    assert [(r.line, r.code, r.column) for r in rows if not r.ok] == [
        (2, "cell_too_large", 2),
        (4, "field_count", None),
    ]
    assert [r.values for r in rows if r.ok] == [(2, "ok")]


def test_too_many_columns_is_refused():
    data = workbook([[f"c{i}" for i in range(1200)], list(range(1200))])
    with pytest.raises(UnreadableFile) as exc:
        open_source(io.BytesIO(data), "wide.xlsx")
    assert exc.value.code == "columns"


def test_a_sheet_declaring_a_huge_size_is_not_padded():
    data = workbook([["a", "b"], [1, 2]])
    huge = rezip(
        data,
        lambda name, body: (
            body.replace(b'<dimension ref="A1:B2" />', b'<dimension ref="A1:XFD1048576" />')
            if name == "xl/worksheets/sheet1.xml"
            else body
        ),
    )
    assert b"XFD1048576" in zipfile.ZipFile(io.BytesIO(huge)).read("xl/worksheets/sheet1.xml")
    source = open_source(io.BytesIO(huge), "h.xlsx")
    assert source.columns == ("a", "b") and [r.values for r in source.rows()] == [(1, 2)]


def test_opening_a_sheet_without_a_declared_size_reads_only_its_head():
    # Many programs (openpyxl's write-only mode among them) write no <dimension>; openpyxl
    # alone then parses the whole sheet just to open the workbook, again on every pass.
    from openpyxl import load_workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Orders")
    for i in range(50):
        ws.append([f"Customer {i}", i])
    out = io.BytesIO()
    wb.save(out)
    data = out.getvalue()
    assert b"<dimension" not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    # the rows are read as ever
    source = open_source(io.BytesIO(data), "w.xlsx", Settings(header_row=0))
    assert [r.values for r in source.rows()][-1] == ("Customer 49", 49)
    # a sheet whose data is broken past its head still opens: the data was not parsed
    broken = rezip(data, lambda name, body: body.replace(b"</sheetData>", b"<oops></sheetData>")
                   if name == "xl/worksheets/sheet1.xml" else body)  # fmt: skip
    book = load_workbook(io.BytesIO(broken), read_only=True)
    assert book["Orders"].title == "Orders"
    # a declared size is still read from the head, as openpyxl does
    sized = load_workbook(io.BytesIO(workbook([["a", "b"], [1, 2]])), read_only=True)
    assert (sized.active.max_row, sized.active.max_column) == (2, 2)

"""A report's result as CSV or XLSX: one row per group (per cell for two groupings), the
group labels then the measures, and a totals row. CSV holds the machine forms of numbers
(1234.50); XLSX real numbers. Labels that a spreadsheet would read as a formula are
escaped (``crm.records.export.safe_cell``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from crm.records import present
from crm.records.export import safe_cell, sheet_title
from crm.reports.engine import Result


def _header(result: Result) -> list[str]:
    return [safe_cell(str(present.field_label(f))) for f in result.group_fields] + [
        safe_cell(label) for label in result.measure_labels
    ]


def _number(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal | int):
        return value
    return Decimal(str(value))


def _rows(result: Result) -> Iterator[list[Any]]:
    for row in result.shown_rows:
        yield [safe_cell(label) for label in row.labels] + [_number(v) for v in row.values]
    if result.group_fields:
        pad = [""] * (len(result.group_fields) - 1)
        yield [_("Total"), *pad] + [_number(v) for v in result.totals]
    else:
        yield [_number(v) for v in result.totals]


def csv_text(result: Result) -> str:
    """The result as CSV (UTF-8 with BOM, so spreadsheets read accents and CJK)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(_header(result))
    for row in _rows(result):
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def xlsx_bytes(result: Result, title: str) -> bytes:
    """The result as an XLSX workbook with real numbers."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title(title))
    sheet.append(_header(result))
    for row in _rows(result):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

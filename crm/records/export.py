"""Export exactly what a list shows (its columns, filters, sort and search) as CSV or XLSX.

Rows are read in keyset batches, so an export of a large list streams in constant memory.
Cells that a spreadsheet would read as a formula (starting with = + - @, their full-width
forms ＝ ＋ － ＠, which some spreadsheets fold to them, a tab or a carriage return) are
prefixed with an apostrophe: they stay text, never run (OWASP "CSV injection").

Values (each field type says how: ``FieldType.csv_text`` and ``sheet_cell``):

- XLSX holds real numbers and dates: a number cell with a number format (an amount with
  its currency's symbol where the user's language puts it, a percentage as 0.125 shown as
  12.5%), a date cell, a date-and-time cell in the user's time zone; the spreadsheet then
  writes them as its own language does. Other values are the text the list shows.
- CSV holds the machine forms of numbers and dates, whatever the user's language: 1234.50
  (a point, no grouping, no symbol: the currency is the field's), a percentage as 12.5,
  dates as 2026-12-31, dates and times in the user's time zone as 2026-12-31 14:30 (no
  offset: the zone is the user's). They read back the same in any language (an import
  takes them as they are) and a program reads them without knowing the language. Other
  values (picklist labels, names, yes/no) are the text the list shows, in the user's
  language; the header row holds the labels.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flask_babel import gettext as _

from crm.access import policy
from crm.metadata import types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records import listing, present

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Excel refuses these in a sheet title, and titles longer than 31 characters
SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/*?:\[\]\x00-\x1f]")
SHEET_TITLE_MAX = 31
PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
BATCH = 1000
MAX_ROWS = 1_000_000


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as typed, never evaluates."""
    return "'" + text if text.startswith(FORMULA_START) else text


def sheet_title(label: str) -> str:
    """``label`` as a worksheet title Excel accepts: the characters it refuses
    (``/ \\ * ? : [ ]``) become spaces, at most 31 characters, no leading or trailing
    apostrophe, never empty."""
    title = " ".join(SHEET_TITLE_FORBIDDEN.sub(" ", label or "").split())
    title = title[:SHEET_TITLE_MAX].strip().strip("'").strip()
    return title or _("Records")


def _csv_cell(f: FieldSpec, value: Any, names: Any, formats: types.Formats) -> str:
    ftype = types.get(f.type)
    text = ftype.csv_text(f, value, names, formats)
    # A number's machine form (-5, -0.25) is a number to a spreadsheet, never a formula.
    return text if ftype.csv is not None and PLAIN_NUMBER.fullmatch(text) else safe_cell(text)


def _sheet_cell(f: FieldSpec, value: Any, names: Any, formats: types.Formats) -> Any:
    shown, number_format = types.get(f.type).sheet_cell(f, value, names, formats)
    if shown is None or isinstance(shown, str):
        return safe_cell(shown) if shown else None
    return shown, number_format


def _rows(
    user: Any, spec: EntitySpec, request: listing.ListRequest, cell: Any, formats: types.Formats
) -> Iterator[list[Any]]:
    req = replace(request, after=None, size=BATCH)
    sent = 0
    while True:
        page = listing.list_page(user, spec, req, action="export")
        display = present.Display(user, spec, page.columns, page.rows)
        names = [display.names(c) for c in page.columns]
        for row in page.rows:
            yield [
                cell(c, row[c.key], n, formats) for c, n in zip(page.columns, names, strict=True)
            ]
        sent += len(page.rows)
        if not page.next_after or sent >= MAX_ROWS:
            return
        req = replace(req, after=listing.decode_cursor(page.next_after))


def header(user: Any, spec: EntitySpec, request: listing.ListRequest) -> list[str]:
    """The header row: the columns' labels ("Owner", "Created"... in the user's language)."""
    visible = listing.readable_fields(user, spec)
    # str(): labels may be lazy translations, which a spreadsheet writer cannot take.
    return [
        safe_cell(str(present.field_label(visible[k])))
        for k in request.view.columns
        if k in visible
    ]


def csv_chunks(user: Any, spec: EntitySpec, request: listing.ListRequest) -> Iterator[str]:
    """The export as CSV text chunks (UTF-8 with BOM, so spreadsheets read accents)."""
    policy.require(user, "export", spec.key)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header(user, spec, request))
    formats = types.current()  # the user's language and time zone, once
    for n, row in enumerate(_rows(user, spec, request, _csv_cell, formats), start=1):
        writer.writerow(row)
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(user: Any, spec: EntitySpec, request: listing.ListRequest) -> bytes:
    """The export as an XLSX workbook (write-only mode: rows are not kept in memory);
    numbers and dates are real ones, with their number formats."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    policy.require(user, "export", spec.key)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title(spec.label_plural))
    sheet.append(header(user, spec, request))
    formats = types.current()

    def typed(value: Any) -> Any:
        if not isinstance(value, tuple):
            return value
        cell = WriteOnlyCell(sheet, value=value[0])
        if value[1]:
            cell.number_format = value[1]
        return cell

    for row in _rows(user, spec, request, _sheet_cell, formats):
        sheet.append([typed(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

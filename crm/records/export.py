"""Export exactly what a list shows (its columns, filters, sort and search) as CSV or XLSX.

Rows are read in keyset batches, so an export of a large list streams in constant memory.
Cells that a spreadsheet would read as a formula (starting with = + - @, their full-width
forms ＝ ＋ － ＠, which some spreadsheets fold to them, a tab or a carriage return) are
prefixed with an apostrophe: they stay text, never run (OWASP "CSV injection").
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
from crm.metadata.spec import EntitySpec
from crm.records import listing, present

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Excel refuses these in a sheet title, and titles longer than 31 characters
SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/*?:\[\]\x00-\x1f]")
SHEET_TITLE_MAX = 31
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


def _rows(user: Any, spec: EntitySpec, request: listing.ListRequest) -> Iterator[list[str]]:
    req = replace(request, after=None, size=BATCH)
    sent = 0
    while True:
        page = listing.list_page(user, spec, req, action="export")
        display = present.Display(user, spec, page.columns, page.rows)
        for row in page.rows:
            yield [safe_cell(display.text(c, row[c.key])) for c in page.columns]
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
    for n, row in enumerate(_rows(user, spec, request), start=1):
        writer.writerow(row)
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(user: Any, spec: EntitySpec, request: listing.ListRequest) -> bytes:
    """The export as an XLSX workbook (write-only mode: rows are not kept in memory)."""
    from openpyxl import Workbook

    policy.require(user, "export", spec.key)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title(spec.label_plural))
    sheet.append(header(user, spec, request))
    for row in _rows(user, spec, request):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

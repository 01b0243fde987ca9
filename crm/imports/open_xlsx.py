"""Opening an XLSX upload as a ``Source`` (the zip checked first: ``xlsx.guard``)."""

from __future__ import annotations

import warnings
from itertools import islice
from typing import Any, BinaryIO

from flask_babel import lazy_gettext as _l

from crm.imports import sniff, xlsx
from crm.imports.encoding import Guess
from crm.imports.errors import UnreadableFile
from crm.imports.read import Source, widest_row
from crm.imports.source import Limits, Notice, Settings, column_names


def open_xlsx(
    stream: BinaryIO, opener: Any, name: str, size: int, settings: Settings, limits: Limits
) -> Source:
    """A workbook's sheet (the chosen one, else the first) as a ``Source``; UnreadableFile
    for a zip bomb, a damaged file, an unknown sheet, a header over the column limit."""
    archive, notices = xlsx.guard(stream, limits)
    with archive:
        paths = xlsx.sheet_paths(archive)
        sheets = tuple(paths)
        if not sheets:
            raise UnreadableFile("xlsx", _l("This workbook has no sheets."))
        sheet = settings.sheet or sheets[0]
        if sheet not in paths:
            raise UnreadableFile(
                "sheet", _l("The workbook has no sheet “%(name)s”.", name=sheet[:60])
            )
        formulas, missing = xlsx.formula_cells(archive, paths[sheet])
    if formulas:
        notices.append(
            Notice(
                "formulas",
                _l("%(count)s cells hold formulas: their values are read as the workbook "
                   "last calculated them.", count=formulas),
            )
        )  # fmt: skip
    if len(sheets) > 1:
        notices.append(
            Notice("sheets", _l("The workbook has %(count)s sheets; “%(name)s” is read.",
                                count=len(sheets), name=sheet))
        )  # fmt: skip
    first = _first_rows(stream, sheet)
    if not first:
        raise UnreadableFile("empty", _l("The sheet “%(name)s” is empty.", name=sheet[:60]))
    widest = widest_row(first, limits)
    texts = [["" if v is None else str(v) for v in r] for r in first]
    if settings.header_row is not None:
        header = Guess(settings.header_row, "chosen", _l("Chosen."))
    else:
        row, reason = sniff.guess_header(texts)
        header = Guess(row, "medium" if row == 1 else "low", reason)
    if header.value > len(texts):
        raise UnreadableFile(
            "header", _l("The file has no row %(row)s to take as the header.", row=header.value)
        )
    columns = (
        column_names([], widest)
        if header.value == 0
        else column_names(list(first[header.value - 1]), len(first[header.value - 1]))
    )
    return Source(
        kind="xlsx", name=name, size=size, columns=columns, header=header, sheet=sheet,
        sheets=sheets, notices=notices, limits=limits, opener=opener, formula_rows=missing,
    )  # fmt: skip


def _first_rows(stream: BinaryIO, sheet: str) -> list[tuple[Any, ...]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        book = xlsx.open_book(stream)
        try:
            rows = xlsx.sheet_rows(book, sheet)
            return [v for _n, v in islice(rows, sniff.HEADER_SCAN * 2) if v][: sniff.HEADER_SCAN]
        finally:
            book.close()

"""Opening an uploaded file (CSV, TSV or XLSX) and streaming its rows.

``open_source(file, name)`` reads only what it needs to decide how to read the file
(its kind by content, not by name; its encoding, delimiter, quoting and header row, each a
guess the user may override through ``Settings``) and returns a ``Source``; its
``rows()`` streams ``Row``s and ``BadRow``s from the start each time it is called, never
holding the file: a million rows read in a few MB beyond one row.

A file that cannot be read at all raises ``UnreadableFile`` with a code and a message:
too large, empty, binary, an unknown encoding, a zip bomb, an old .xls, a header wider
than ``Limits.max_columns``. A row that cannot be read into the columns is a ``BadRow``
with its line number and raw text: a wrong number of fields (an address with an unquoted
comma), broken quotes, a cell over ``max_cell_chars``, characters the encoding cannot
read. Values are given as they stand (no-break spaces, padding and all): the value parser
(``crm.imports.values``) cleans them per field.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, BinaryIO

from flask_babel import lazy_gettext as _l

from crm.imports import csvrows, sniff, xlsx
from crm.imports.encoding import Guess, check_encoding, detect, signature
from crm.imports.errors import UnreadableFile
from crm.imports.source import (
    BadRow,
    Counts,
    Limits,
    Notice,
    Row,
    Settings,
    column_names,
    shorten,
)

__all__ = [
    "BadRow", "Counts", "Guess", "Limits", "Notice", "Row", "Settings", "Source",
    "UnreadableFile", "open_source",
]  # fmt: skip

_SNIFF_CHARS = 1 << 16
_REPLACEMENT = "\ufffd"


@dataclass
class Source:
    """A file opened for import: how it is read, and its rows.

    ``kind`` "csv" or "xlsx"; ``encoding``, ``delimiter`` (CSV) and ``header`` (the
    header row's 1-based number among the non-blank rows, 0 for none) are ``Guess``es
    (confidence "chosen" when the user set them); ``quotechar``, ``line_ending`` (CSV),
    ``sheet`` and ``sheets`` (XLSX); ``columns`` the column names; ``notices`` what the
    user should know; ``counts`` what the last full pass of ``rows()`` met."""

    kind: str
    name: str
    size: int
    columns: tuple[str, ...]
    header: Guess
    encoding: Guess | None = None
    delimiter: Guess | None = None
    quotechar: str | None = None
    skip_space: bool = False
    line_ending: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    notices: list[Notice] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    limits: Limits = field(default_factory=Limits)
    # how to open the file again (a context manager giving the binary stream), and the
    # XLSX rows holding a formula without a saved value (row -> cell)
    opener: Any = field(default=None, repr=False)
    formula_rows: dict[int, str] = field(default_factory=dict, repr=False)

    def how_read(self) -> dict[str, Any]:
        """How this file was read, as an import keeps it (JSON): what ``Settings`` needs
        to read it the same way again, and its column names."""
        return {
            "encoding": self.encoding.value if self.encoding else None,
            "delimiter": self.delimiter.value if self.delimiter else None,
            "quotechar": self.quotechar,
            "header_row": self.header.value,
            "sheet": self.sheet,
            "columns": list(self.columns),
        }

    def rows(self) -> Iterator[Row | BadRow]:
        """Every data row after the header, in file order: ``Row`` or ``BadRow``. Blank
        rows are skipped and counted; ``counts`` is reset at the start."""
        self.counts = Counts()
        if self.kind == "xlsx":
            return self._xlsx_rows()
        return self._csv_rows()

    def preview(self, n: int = 20) -> list[Row | BadRow]:
        """The first ``n`` rows (good or bad)."""
        return list(islice(self.rows(), n))

    # -- CSV ------------------------------------------------------------------------------

    def _csv_rows(self) -> Iterator[Row | BadRow]:
        width = len(self.columns)
        fmt = sniff.dialect(self.delimiter.value, self.quotechar or "", self.skip_space)
        counts, limit = self.counts, self.limits.max_cell_chars
        seen = 0
        with self.opener() as stream, _text(stream, self.encoding.value) as text:
            for item in csvrows.records(text, fmt, self.limits):
                if isinstance(item, BadRow):
                    counts.add_bad(item.code)
                    yield item
                    continue
                line, fields, raw = item
                if not fields or not any(fields):
                    counts.blank += 1
                    continue
                seen += 1
                if seen <= self.header.value:  # the header and the rows above it
                    if seen < self.header.value:
                        counts.before_header += 1
                    continue
                bad = _check_fields(line, fields, raw, width, limit)
                if bad is not None:
                    counts.add_bad(bad.code)
                    yield bad
                    continue
                counts.rows += 1
                yield Row(line, tuple(fields[:width]))

    # -- XLSX -----------------------------------------------------------------------------

    def _xlsx_rows(self) -> Iterator[Row | BadRow]:
        width = len(self.columns)
        counts, limit = self.counts, self.limits.max_cell_chars
        seen = 0
        with self.opener() as stream, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # openpyxl's notes on styles
            book = xlsx.open_book(stream)
            try:
                for number, values in xlsx.sheet_rows(book, self.sheet):
                    if not values:
                        counts.blank += 1
                        continue
                    seen += 1
                    if seen <= self.header.value:
                        if seen < self.header.value:
                            counts.before_header += 1
                        continue
                    bad = _check_cells(number, values, width, limit, self.formula_rows)
                    if bad is not None:
                        counts.add_bad(bad.code)
                        yield bad
                        continue
                    counts.rows += 1
                    yield Row(number, values + (None,) * (width - len(values)))
            finally:
                book.close()


def _check_fields(line: int, fields: list[str], raw: str, width: int, limit: int) -> BadRow | None:
    """A CSV record that does not fit the columns, as a BadRow (None when it fits).
    Extra fields that are all empty (a trailing delimiter) are dropped, not reported."""
    if len(fields) != width and not (len(fields) > width and not any(fields[width:])):
        return BadRow(
            line,
            raw.rstrip("\r\n"),
            "field_count",
            _l("Line %(line)s has %(found)s fields instead of %(expected)s: a value holds "
               "the delimiter without quotes around it, or a field is missing. Nothing of "
               "this row is imported.", line=line, found=len(fields), expected=width),
        )  # fmt: skip
    cells = fields[:width]
    for i, value in enumerate(cells if cells and max(map(len, cells)) > limit else ()):
        if len(value) > limit:
            return BadRow(
                line, shorten(raw, 1000), "cell_too_large",
                _l("Line %(line)s, column %(column)s: the value is longer than %(limit)s "
                   "characters.", line=line, column=i + 1, limit=limit),
                i + 1,
            )  # fmt: skip
    if _REPLACEMENT in raw:
        return BadRow(
            line,
            raw.rstrip("\r\n"),
            "characters",
            _l("Line %(line)s has bytes that are not valid in the file's encoding (shown as "
               "�): choose another encoding, or fix the line.", line=line),
        )  # fmt: skip
    return None


def _check_cells(
    number: int, values: tuple[Any, ...], width: int, limit: int, formulas: dict[int, str]
) -> BadRow | None:
    def raw() -> str:
        return "\t".join("" if v is None else str(v) for v in values)

    if len(values) > width:
        return BadRow(
            number, shorten(raw(), 1000), "field_count",
            _l("Row %(line)s has values in %(found)s columns but the header names "
               "%(expected)s: a value stands under no column. Nothing of this row is "
               "imported.", line=number, found=len(values), expected=width),
        )  # fmt: skip
    for i, v in enumerate(values):
        if isinstance(v, str) and len(v) > limit:
            return BadRow(
                number, shorten(raw(), 1000), "cell_too_large",
                _l("Row %(line)s, column %(column)s: the value is longer than %(limit)s "
                   "characters.", line=number, column=i + 1, limit=limit),
                i + 1,
            )  # fmt: skip
    if number in formulas:
        return BadRow(
            number, shorten(raw(), 1000), "formula",
            _l("Row %(line)s: cell %(cell)s holds a formula with no saved value. Open the "
               "file in Excel (or another spreadsheet), save it, and upload it again.",
               line=number, cell=formulas[number]),
        )  # fmt: skip
    return None


@contextmanager
def _text(stream: BinaryIO, encoding: str) -> Iterator[io.TextIOWrapper]:
    """A text view of the binary stream (which stays open): undecodable bytes become
    U+FFFD and their rows are reported; line endings are left to the csv module."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    try:
        yield text
    finally:
        text.detach()


def _opener(file: str | os.PathLike | BinaryIO) -> Any:
    if isinstance(file, str | os.PathLike):
        path = os.fspath(file)

        @contextmanager
        def from_path() -> Iterator[BinaryIO]:
            with open(path, "rb") as f:
                yield f

        return from_path

    @contextmanager
    def from_stream() -> Iterator[BinaryIO]:
        file.seek(0)
        yield file

    return from_stream


def _size(stream: BinaryIO) -> int:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def open_source(
    file: str | os.PathLike | BinaryIO,
    name: str = "",
    settings: Settings | None = None,
    limits: Limits | None = None,
) -> Source:
    """Open an uploaded file (a path, or a seekable binary stream that must stay open
    while its rows are read) and decide how to read it. ``name`` (the uploaded file's
    name) only hints: a ``.tsv`` puts the tab first among delimiters. UnreadableFile when
    the file cannot be read at all (see the module's docstring)."""
    settings = settings or Settings()
    limits = limits or Limits()
    opener = _opener(file)
    with opener() as stream:
        size = _size(stream)
        if size > limits.max_bytes:
            raise UnreadableFile(
                "too_large",
                _l("The file is %(size)s MB; the largest file an import reads is %(limit)s "
                   "MB. Split it into smaller files.",
                   size=round(size / 2**20), limit=limits.max_bytes // 2**20),
            )  # fmt: skip
        if size == 0:
            raise UnreadableFile("empty", _l("The file is empty."))
        head = stream.read(16)
        stream.seek(0)
        kind = signature(head)
        if kind == "xls":
            raise UnreadableFile(
                "xls",
                _l("This is an old Excel file (.xls). Open it in Excel and save it as .xlsx "
                   "or CSV (UTF-8), then upload that file."),
            )  # fmt: skip
        if kind == "zip":
            from crm.imports.open_xlsx import open_xlsx

            return open_xlsx(stream, opener, name, size, settings, limits)
        return _open_csv(stream, opener, name, size, settings, limits)


def _open_csv(
    stream: BinaryIO, opener: Any, name: str, size: int, settings: Settings, limits: Limits
) -> Source:
    if settings.encoding:
        encoding = Guess(check_encoding(settings.encoding), "chosen", _l("Chosen."))
    else:
        encoding = detect(stream)
    with _text(stream, encoding.value) as text:
        sample = text.read(_SNIFF_CHARS)
        cut = bool(text.read(1))
    if "\n" not in sample and "\r" not in sample and cut:
        with _text(stream, encoding.value) as text:  # one very long first line
            sample = text.read(limits.max_line_chars)
    tsv = name.lower().endswith((".tsv", ".tab"))
    delimiter = (
        Guess(settings.delimiter, "chosen", _l("Chosen."))
        if settings.delimiter
        else sniff.sniff_delimiter(sample, cut, tsv)
    )
    if delimiter.value not in sniff.DELIMITERS:
        raise UnreadableFile("delimiter", _l("Choose a comma, semicolon, tab or vertical bar."))
    quote = (
        settings.quotechar
        if settings.quotechar is not None
        else sniff.sniff_quote(sample, delimiter.value)
    )
    skip_space = sniff.skips_space(sample, delimiter.value)
    recs = sniff.records(sample, delimiter.value, quote or '"')
    if cut and len(recs) > 1:
        recs = recs[:-1]
    header = _header(settings, recs)
    source = Source(
        kind="csv", name=name, size=size, columns=(), header=header, encoding=encoding,
        delimiter=delimiter, quotechar=quote, skip_space=skip_space,
        line_ending=sniff.line_ending(sample), limits=limits, opener=opener,
    )  # fmt: skip
    source.columns = _csv_columns(source, stream, limits)
    return source


def widest_row(rows: list, limits: Limits) -> int:
    """The widest of ``rows`` (the first rows of a file or sheet); ``UnreadableFile`` when
    it has more columns than an import reads."""
    widest = max(len(r) for r in rows)
    if widest > limits.max_columns:
        raise UnreadableFile(
            "columns",
            _l("The file has more than %(limit)s columns: an import reads at most %(limit)s. "
               "Check the delimiter, or remove the columns you do not need.",
               limit=limits.max_columns),
        )  # fmt: skip
    return widest


def _header(settings: Settings, recs: list[list[str]]) -> Guess:
    if settings.header_row is not None:
        if settings.header_row < 0:
            raise UnreadableFile("header", _l("Choose the header row: 0 (none) or more."))
        return Guess(settings.header_row, "chosen", _l("Chosen."))
    row, reason = sniff.guess_header(recs)
    return Guess(row, "medium" if row == 1 else "low", reason)


def _csv_columns(source: Source, stream: BinaryIO, limits: Limits) -> tuple[str, ...]:
    """The header row's cells (or, without one, as many "Column N" as the widest of the
    first rows), read with the real reader; the widths are checked against the limit."""
    fmt = sniff.dialect(source.delimiter.value, source.quotechar or "", source.skip_space)
    wanted = max(source.header.value, 1)
    found: list[list[str]] = []
    with _text(stream, source.encoding.value) as text:
        for item in csvrows.records(text, fmt, limits):
            if isinstance(item, BadRow) and item.code == "line_too_long" and not found:
                raise UnreadableFile(
                    "header",
                    _l("Line %(line)s is longer than %(limit)s characters before any row "
                       "could be read: this file is not a table an import can read.",
                       line=item.line, limit=limits.max_line_chars),
                )  # fmt: skip
            if isinstance(item, BadRow) or not item[1] or not any(item[1]):
                continue
            found.append(item[1])
            if len(item[1]) > limits.max_columns:
                break
            if len(found) >= max(wanted, sniff.HEADER_SCAN):
                break
    if not found:
        raise UnreadableFile("empty", _l("The file has no rows."))
    if source.header.value > len(found):
        raise UnreadableFile(
            "header",
            _l("The file has no row %(row)s to take as the header.", row=source.header.value),
        )
    widest = widest_row(found, limits)
    if source.header.value == 0:
        return column_names([], widest)
    header = found[source.header.value - 1]
    if not header or not any(c.strip() for c in header):
        raise UnreadableFile("header", _l("The header row is empty."))
    width = len(header)
    while width > 1 and not header[width - 1].strip():  # a trailing delimiter names nothing
        width -= 1
    return column_names(header, width)

"""What reading a file gives: its settings, its rows, the rows it could not read.

Plain data shared by the CSV and XLSX readers (``read.open_source`` builds a ``Source``).
Messages are lazy strings: a job writing the error file draws them in its user's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Limits:
    """What a file may be: larger files, wider rows and bigger cells are refused with a
    message (a whole file) or reported as bad rows (one row), never half read.

    ``max_line_chars`` and ``max_record_lines`` bound what one CSV record may take (a
    quote opened and never closed would otherwise swallow the rest of the file);
    ``max_uncompressed`` / ``max_ratio`` are the zip-bomb guard of XLSX files, checked on
    the zip's directory before any XML is parsed (Python's zipfile never inflates a member
    past the size the directory declares); ``max_shared_strings`` bounds the one part of
    an XLSX that openpyxl holds in memory whole."""

    max_bytes: int = 256 * 2**20
    max_columns: int = 1000
    max_cell_chars: int = 100_000
    max_line_chars: int = 4_000_000
    max_record_lines: int = 1000
    max_uncompressed: int = 2**30
    max_ratio: int = 100
    max_shared_strings: int = 64 * 2**20


@dataclass(frozen=True)
class Settings:
    """What the user chose instead of the guesses (None: guess). ``header_row``: the
    header is the nth row of the file (1-based, blank rows not counted); 0: no header
    (columns are named "Column 1", "Column 2" ...). ``quotechar`` "" reads no quotes."""

    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    header_row: int | None = None
    sheet: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: ``line`` is its first physical line in the file (a sheet's row
    number in an XLSX); ``values`` one per column (text in a CSV; text, numbers, dates or
    booleans from an XLSX; None for an empty XLSX cell)."""

    line: int
    values: tuple[Any, ...]
    ok = True


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that could not be read into the columns: reported, never dropped or shifted.
    ``code``: "field_count", "quote", "cell_too_large", "line_too_long", "characters",
    "formula"; ``raw`` the row's text as it stands in the file (lines joined); ``column``
    the 1-based column concerned, when one is."""

    line: int
    raw: str
    code: str
    message: Any
    column: int | None = None
    ok = False


@dataclass(frozen=True)
class Notice:
    """Something the user should know about how the file was read (not an error)."""

    code: str
    message: Any


@dataclass
class Counts:
    """What the last full pass over the rows met."""

    rows: int = 0
    bad: int = 0
    blank: int = 0
    before_header: int = 0
    by_code: dict[str, int] = field(default_factory=dict)

    def add_bad(self, code: str) -> None:
        self.bad += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1


def column_names(header: list[Any], width: int) -> tuple[str, ...]:
    """Header cells as column names: trimmed; blank ones "Column N"; repeated ones with
    " (2)", " (3)"... so every column can be told apart."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i in range(width):
        cell = header[i] if i < len(header) else None
        name = " ".join(str(cell).replace("\ufeff", "").split()) if cell is not None else ""
        if not name:
            name = str(_l("Column %(number)s", number=i + 1))
        count = seen.get(name.casefold(), 0) + 1
        seen[name.casefold()] = count
        names.append(name if count == 1 else f"{name} ({count})")
    return tuple(names)


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (raw text in messages)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"

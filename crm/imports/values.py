"""Parsing a file's cells for the fields they are mapped to, through the type registry.

Every type reads its own cells (``FieldType.import_value`` and the ``parse_import``
hooks in ``crm.metadata.types.importing``): this module never looks at a type's name. It
adds what concerns a whole row or column: one row's cells parsed into the values to store
and the problems found (per field, with the column and the value), and guesses of a
column's date order and decimal mark from its values, for a screen to propose.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm.metadata import types
from crm.metadata.spec import FieldSpec
from crm.metadata.types.importing import EMPTY_WORDS, ImportContext, ValueProblem

__all__ = [
    "EMPTY_WORDS", "ColumnMap", "ImportContext", "Parsed", "Problem", "ValueProblem",
    "guess_date_order", "guess_decimal_mark", "parse_row", "parse_rows", "parse_value",
]  # fmt: skip

_XY_YEAR = re.compile(r"\s*([0-9]{1,2})\s*[-/.]\s*([0-9]{1,2})\s*[-/.]\s*[0-9]{4}\b.*")


_MEMO_SIZE = 8192
_MISS = object()


@dataclass(frozen=True)
class ColumnMap:
    """One column of the file read into one field: ``column`` its 0-based index in the
    row; ``ctx`` how its values are read (date order, decimal mark...). ``memo`` keeps
    the values read for the column's most frequent texts (cities, segments, yes/no, dates
    repeat in most files): a text is parsed once per column, not once per row. The
    column's reader (``FieldType.import_reader``) is made once, at its first cell."""

    column: int
    spec: FieldSpec
    ctx: ImportContext = field(default_factory=ImportContext)
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    made: list[Callable[[Any], Any]] = field(default_factory=list, compare=False, repr=False)

    def reader(self) -> Callable[[Any], Any]:
        """The function reading one cell of this column (``parse_value`` with its ctx)."""
        if not self.made:
            self.made.append(types.get(self.spec.type).import_reader(self.spec, self.ctx))
        return self.made[0]


@dataclass(frozen=True)
class Problem:
    """A cell that cannot be stored: the field's key, the 1-based column, the cell as it
    stands and the message (quoting it)."""

    field: str
    column: int
    value: Any
    message: str


@dataclass(frozen=True)
class Parsed:
    """One row's values to store (field key -> value; None for empty cells) and its
    problems (the row is imported only when there are none)."""

    values: dict[str, Any]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_value(spec: FieldSpec, raw: Any, ctx: ImportContext | None = None) -> Any:
    """One cell as ``spec``'s stored value (None when empty); ValueProblem otherwise."""
    return types.get(spec.type).import_value(spec, raw, ctx)


def parse_row(columns: Sequence[ColumnMap], values: Sequence[Any]) -> Parsed:
    """A row's cells read into their fields: every problem of the row at once."""
    return parse_rows(columns, [values])[0]


def parse_rows(columns: Sequence[ColumnMap], rows: Sequence[Sequence[Any]]) -> list[Parsed]:
    """Many rows read column by column (each column's reader and memo taken once for
    all its cells): ``parse_row`` of each row, in order."""
    outs: list[dict[str, Any]] = [{} for _row in rows]
    problems: list[list[Problem]] = [[] for _row in rows]
    for col in columns:
        key, index, memo, read = col.spec.key, col.column, col.memo, col.reader()
        room = _MEMO_SIZE - len(memo)
        for out, row, found in zip(outs, rows, problems, strict=True):
            raw = row[index] if index < len(row) else None
            if raw.__class__ is str:
                value = memo.get(raw, _MISS)
                if value is not _MISS:
                    out[key] = value
                    continue
            try:
                value = read(raw)
            except ValueError as exc:
                found.append(Problem(key, index + 1, raw, str(exc)))
                continue
            out[key] = value
            if room > 0 and raw.__class__ is str and value.__class__ is not list:
                memo[raw] = value  # values are immutable (lists, of multi-selects, are not)
                room -= 1
    return [Parsed(out, found) for out, found in zip(outs, problems, strict=True)]


def guess_date_order(samples: Iterable[Any]) -> str | None:
    """ "dmy" or "mdy" when a column's a/b/yyyy dates say it (a first number over 12 means
    day first, a second one means month first, and none says the other), else None
    (ambiguous, or no such dates: the language's order applies)."""
    day_first = month_first = False
    for value in samples:
        if not isinstance(value, str):
            continue
        m = _XY_YEAR.fullmatch(unicodedata.normalize("NFKC", value))
        if not m:
            continue
        a, b = int(m[1]), int(m[2])
        day_first |= a > 12 >= b
        month_first |= b > 12 >= a
    if day_first != month_first:
        return "dmy" if day_first else "mdy"
    return None


def guess_decimal_mark(samples: Iterable[Any]) -> str | None:
    """ "." or "," when a column's numbers say which is the decimal mark (both in one
    value: the last; one of them with other than three digits after it, or twice), else
    None (only 1,234-like values, or none: the language's convention applies)."""
    votes = {".": 0, ",": 0}
    for value in samples:
        if not isinstance(value, str):
            continue
        s = "".join(c for c in value if c.isdigit() or c in ".,")
        dots, commas = s.count("."), s.count(",")
        if dots and commas:
            votes["." if s.rfind(".") > s.rfind(",") else ","] += 1
        elif dots > 1 or commas > 1:
            votes["," if dots > 1 else "."] += 1
        elif dots or commas:
            sep = "." if dots else ","
            whole, frac = s.split(sep)
            if len(frac) != 3 or not whole or whole.startswith("0"):
                votes[sep] += 1
    if votes["."] and not votes[","]:
        return "."
    if votes[","] and not votes["."]:
        return ","
    return None

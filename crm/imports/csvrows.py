"""Streaming a CSV's records with the physical line each starts on, and reporting the ones
that cannot be read instead of dropping them or shifting their values.

The text is read one physical line at a time (``readline`` with a size limit: a file
without line breaks never sits in memory whole). ``csv.reader`` pulls lines from
``_Lines``, which remembers which lines the current record took: a record's first line is
its line number and those lines joined are its raw text. When the csv module gives up on
a record (a quote opened and never closed, text after a closing quote, a NUL) or a record
grows past the limits, the record is reported, the lines after its first are given again
to a new reader, and reading goes on: one broken quote costs one row, not the rest of the
file.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from typing import Any, TextIO

from flask_babel import lazy_gettext as _l

from crm.imports.source import BadRow, Limits, shorten

_NEWLINES = ("\n", "\r")


class _LongLine(Exception):
    def __init__(self, number: int, head: str) -> None:
        self.number, self.head = number, head


class _Runaway(Exception):
    pass


class _Lines:
    """Physical lines of a text stream, numbered from 1; ``taken`` holds the current
    record's (number, text) pairs; ``again`` lines to give once more after a resync."""

    def __init__(self, text: TextIO, limits: Limits) -> None:
        self.text = text
        self.limits = limits
        self.again: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.taken_chars = 0
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.again:
            number, line = self.again.popleft()
        else:
            line = self.text.readline(self.limits.max_line_chars + 1)
            if not line:
                raise StopIteration
            self.number += 1
            number = self.number
            if len(line) > self.limits.max_line_chars:
                head = line
                while line and not line.endswith(_NEWLINES):  # skip the rest of the line
                    line = self.text.readline(1 << 20)
                raise _LongLine(number, head)
        self.taken.append((number, line))
        self.taken_chars += len(line)
        if (
            len(self.taken) > self.limits.max_record_lines
            or self.taken_chars > self.limits.max_line_chars
        ):
            raise _Runaway
        return line

    def start_record(self) -> None:
        self.taken = []
        self.taken_chars = 0

    def give_back_after_first(self) -> None:
        """The current record's lines but its first are read again (a resync)."""
        self.again.extendleft(reversed(self.taken[1:]))


def records(
    text: TextIO, fmt: dict[str, Any], limits: Limits
) -> Iterator[tuple[int, list[str], str] | BadRow]:
    """Each record as (first line, fields, raw text) or, when it cannot be read, a
    ``BadRow`` ("quote", "cell_too_large", "line_too_long", "characters"). Blank lines
    come as records without fields."""
    lines = _Lines(text, limits)
    while True:
        reader = csv.reader(lines, **fmt)
        lines.start_record()
        try:
            for fields in reader:
                taken = lines.taken
                first = taken[0][0] if taken else lines.number
                raw = taken[0][1] if len(taken) == 1 else "".join(t[1] for t in taken)
                yield first, fields, raw
                lines.start_record()
            return
        except _LongLine as exc:
            # lines the record took before the long one belong to the same bad row
            before = "".join(t[1] for t in lines.taken)
            first = lines.taken[0][0] if lines.taken else exc.number
            where = long_cell(before + exc.head, fmt, limits.max_cell_chars)
            yield BadRow(
                first,
                shorten(before + exc.head, 1000),
                "line_too_long",
                _l("Line %(line)s is longer than %(limit)s characters; its column %(column)s "
                   "holds the longest value.", line=exc.number, limit=limits.max_line_chars,
                   column=where),
                where,
            )  # fmt: skip
        except _Runaway:
            yield _unclosed(lines, limits)
        except csv.Error as exc:
            yield _csv_error(lines, exc, fmt, limits)


def _unclosed(lines: _Lines, limits: Limits) -> BadRow:
    first, line = lines.taken[0]
    lines.give_back_after_first()
    return BadRow(
        first,
        line,
        "quote",
        _l("Line %(line)s: a quoted value that starts here never ends (it runs over "
           "%(lines)s lines or %(chars)s characters): a closing quote is probably missing.",
           line=first, lines=limits.max_record_lines, chars=limits.max_line_chars),
    )  # fmt: skip


def _csv_error(lines: _Lines, exc: csv.Error, fmt: dict[str, Any], limits: Limits) -> BadRow:
    """A record the csv module refused, reported; its later lines are read again when the
    error came from a quote left open."""
    text = str(exc)
    taken = lines.taken or [(lines.number, "")]
    first = taken[0][0]
    raw = "".join(t[1] for t in taken)
    if "field larger than field limit" in text:
        column = long_cell(raw, fmt, limits.max_cell_chars)
        return BadRow(
            first, shorten(raw, 1000), "cell_too_large",
            _l("Line %(line)s, column %(column)s: the value is longer than %(limit)s "
               "characters.", line=first, column=column, limit=limits.max_cell_chars),
            column,
        )  # fmt: skip
    if "NUL" in text:
        return BadRow(
            first, raw.replace("\x00", "\\0"), "characters",
            _l("Line %(line)s contains a NUL character: the file may be damaged.", line=first),
        )  # fmt: skip
    if len(taken) > 1:
        lines.give_back_after_first()
        raw = taken[0][1]
    return BadRow(
        first,
        raw,
        "quote",
        _l("Line %(line)s: the quotes do not match (a quote inside a value must be written "
           "twice, and a quoted value must end with a quote before the delimiter).",
           line=first),
    )  # fmt: skip


def long_cell(text: str, fmt: dict[str, Any], limit: int) -> int:
    """The 1-based column of the first value longer than ``limit`` characters in a
    record's text (or of its last value when none is): where to point the user."""
    delimiter = fmt["delimiter"]
    quote = fmt.get("quotechar") if fmt.get("quoting") != csv.QUOTE_NONE else None
    column, size, quoted = 1, 0, False
    for ch in text:
        if quote and ch == quote:
            quoted = not quoted
            continue
        if ch == delimiter and not quoted:
            column, size = column + 1, 0
            continue
        size += 1
        if size > limit:
            return column
    return column

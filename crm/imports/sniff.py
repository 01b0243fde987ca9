"""Guessing a CSV's delimiter, quoting and header row from its first records.

``csv.Sniffer`` is not used: on the files people send it guesses wrong too often (tried on
the Northwind export with unquoted commas it picks the space; on short semicolon files it
raises "Could not determine delimiter"). The rule here: parse the sample with each
candidate (comma, semicolon, tab, pipe) and keep the one whose rows most often have the
same number of fields, more than one; a tie goes to the most fields, then to the order
above (a ``.tsv`` name puts the tab first).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

from flask_babel import lazy_gettext as _l

from crm.imports.encoding import Guess

DELIMITERS: dict[str, Any] = {
    ",": _l("Comma"),
    ";": _l("Semicolon"),
    "\t": _l("Tab"),
    "|": _l("Vertical bar"),
}
QUOTES: dict[str, Any] = {'"': _l('Double quote (")'), "'": _l("Single quote (')"), "": _l("None")}
SAMPLE_LINES = 200
HEADER_SCAN = 30


def dialect(delimiter: str, quotechar: str, skip_space: bool) -> dict[str, Any]:
    """Keyword arguments of ``csv.reader`` for these settings (strict: broken quotes
    raise, and are reported as bad rows)."""
    if not quotechar:
        return {"delimiter": delimiter, "quoting": csv.QUOTE_NONE, "strict": True}
    return {
        "delimiter": delimiter,
        "quotechar": quotechar,
        "doublequote": True,
        "skipinitialspace": skip_space,
        "strict": True,
    }


def records(sample: str, delimiter: str, quotechar: str = '"') -> list[list[str]]:
    """The sample's records, leniently (a sample may end mid-record: the last is dropped
    when the sample was cut)."""
    kwargs = dialect(delimiter, quotechar, False)
    kwargs["strict"] = False
    out: list[list[str]] = []
    try:
        for rec in csv.reader(io.StringIO(sample, newline=""), **kwargs):
            out.append(rec)
    except csv.Error:
        pass
    return out


def sniff_delimiter(sample: str, cut: bool, tsv_name: bool = False) -> Guess:
    """The delimiter of a sample of the file's text (``cut``: the sample ends mid-file)."""
    order = ["\t", ",", ";", "|"] if tsv_name else [",", ";", "\t", "|"]
    best: tuple[float, int, int] | None = None
    chosen = order[0]
    for rank, d in enumerate(order):
        if d not in sample:
            continue
        counts = [len(r) for r in records(sample, d) if r and any(c.strip() for c in r)]
        if cut and len(counts) > 1:
            counts = counts[:-1]
        if not counts:
            continue
        width, times = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (times / len(counts), width, -rank)
        if best is None or score > best:
            best, chosen = score, d
    name = DELIMITERS[chosen]
    if best is None:
        return Guess(chosen, "low", _l("No delimiter found: the file has one column."))
    share = best[0]
    confidence = "high" if share >= 0.95 else "medium" if share >= 0.7 else "low"
    return Guess(
        chosen,
        confidence,
        _l("%(share)s%% of the first rows have %(count)s fields with this delimiter (%(name)s).",
           share=round(share * 100), count=best[1], name=name),
    )  # fmt: skip


def skips_space(sample: str, delimiter: str) -> bool:
    """True when (nearly) every delimiter is followed by a space ("a, b, c": FEBRL):
    then a quote after ", " still opens a quoted value."""
    total = sample.count(delimiter)
    return delimiter != " " and total >= 3 and sample.count(delimiter + " ") >= 0.9 * total


def sniff_quote(sample: str, delimiter: str) -> str:
    """'"' unless values are wrapped in single quotes ('a','b') and never in double ones."""
    double = sample.count(delimiter + '"') + sample.count('"' + delimiter)
    single = sample.count(delimiter + "'") + sample.count("'" + delimiter)
    return "'" if single > 3 and double == 0 and single > sample.count("\n") else '"'


def line_ending(sample: str) -> str:
    """ "CRLF", "LF" or "CR": how the sample's lines end (shown with the settings)."""
    crlf = sample.count("\r\n")
    lf = sample.count("\n") - crlf
    cr = sample.count("\r") - crlf
    if crlf >= max(lf, cr) and crlf:
        return "CRLF"
    return "CR" if cr > lf else "LF"


def guess_header(recs: list[list[str]]) -> tuple[int, Any]:
    """The 1-based index (blank rows not counted) of the header among the first records,
    and why: the first row as wide as most rows, with at most a quarter of its cells empty
    and none of them a number. Title lines above a table ("Report of 2024-03-01") are
    skipped that way. 1 when nothing fits."""
    rows = [r for r in recs[:HEADER_SCAN] if any(c.strip() for c in r)]
    if not rows:
        return 1, _l("The first row.")
    width = Counter(len(r) for r in rows).most_common(1)[0][0]
    for i, r in enumerate(rows[:HEADER_SCAN], start=1):
        if len(r) < width:
            continue
        cells = [c.strip() for c in r]
        while cells and not cells[-1]:  # a trailing delimiter
            cells.pop()
        empty = sum(1 for c in cells if not c)
        numbers = sum(1 for c in cells if c and _numberish(c))
        if empty <= len(cells) // 4 and numbers == 0:
            if i == 1:
                return 1, _l("The first row names the columns.")
            return i, _l("Row %(row)s is the first that looks like column names; the rows "
                         "above it are skipped.", row=i)  # fmt: skip
    return 1, _l("No row looks like column names; the first row is taken.")


def _numberish(cell: str) -> bool:
    s = cell.replace(",", "").replace(".", "").replace("-", "").replace("/", "").strip()
    return s.isdigit()

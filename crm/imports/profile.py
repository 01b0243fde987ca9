"""What each column of a file holds, read once when the file is uploaded (or read again
with other settings) and kept with the draft: its row count and, per column, its distinct
values with their counts (up to ``MAX_DISTINCT`` of them).

The mapping screen shows, for every picklist column, the values that match no choice;
computing them from the profile instead of reading the file on every view of the screen
keeps the screen instant for a file of a million rows or a slow-to-parse workbook. A
column with more distinct values than the profile keeps (``"more"``) is read again when
such a column is mapped to a picklist, which a real picklist column rarely needs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

MAX_DISTINCT = 500  # distinct values kept per column
MAX_TEXT = 200  # characters of a value kept (longer ones are not picklist values)
MAX_COLUMNS = 256  # columns profiled


def build(source: Any) -> dict[str, Any]:
    """``{"rows": n, "columns": {"<index>": {"values": {text: count}, "more": bool}}}``
    of the rows ``source`` reads (rows that cannot be read count, but hold no values)."""
    width = min(len(source.columns), MAX_COLUMNS)
    counts: list[Counter] = [Counter() for _ in range(width)]
    more = [False] * width
    rows = 0
    for row in source.rows():
        rows += 1
        if not row.ok:
            continue
        for i, cell in enumerate(row.values[:width]):
            if cell is None:
                continue
            text = str(cell).strip()
            if not text:
                continue
            seen = counts[i]
            if text in seen:
                seen[text] += 1
            elif len(seen) < MAX_DISTINCT and len(text) <= MAX_TEXT:
                seen[text] = 1
            else:
                more[i] = True
    return {
        "rows": rows,
        "columns": {
            str(i): {"values": dict(c.most_common()), "more": more[i]} for i, c in enumerate(counts)
        },
    }


def column_values(profile: Any, column: int) -> dict[str, int] | None:
    """The distinct values of ``column`` with their counts, or None when the profile does
    not hold them all (no profile, a column past ``MAX_COLUMNS``, or ``"more"``)."""
    if not isinstance(profile, dict):
        return None
    entry = (profile.get("columns") or {}).get(str(column))
    if not isinstance(entry, dict) or entry.get("more"):
        return None
    values = entry.get("values")
    return values if isinstance(values, dict) else None

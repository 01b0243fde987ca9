"""The one error a file that cannot be read raises."""

from __future__ import annotations

from typing import Any


class UnreadableFile(ValueError):
    """A file the import refuses as a whole, before any row is read: ``code`` names why
    ("binary", "encoding", "too_large", "zip_bomb", "columns", "empty", "xls", "xlsx",
    "header", "sheet", "encoding_unknown", "delimiter"); ``message`` says it for people
    (a lazy string, drawn in the reader's language)."""

    def __init__(self, code: str, message: Any) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return str(self.message)

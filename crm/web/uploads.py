"""Routes that take large uploads (an import's file): a limit of their own.

Every request is bounded by ``MAX_CONTENT_LENGTH`` (32 MB); a route decorated with
``large_upload`` takes up to ``IMPORT_MAX_BYTES`` (256 MB, the import reader's own
limit). The limit must be known before the body is read, and the CSRF check reads it
before any view runs, so it is the request class that looks the route up, not the view.
Werkzeug spools such a body to a temporary file, never to memory; a larger one is
refused with 413 and its message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Request, current_app

F = TypeVar("F", bound=Callable[..., Any])

MARK = "takes_large_upload"


def large_upload(view: F) -> F:
    """Let ``view``'s route take up to ``IMPORT_MAX_BYTES``."""
    setattr(view, MARK, True)
    return view


class LargeUploads(Request):
    """A request class mixin: the limit of ``large_upload`` routes."""

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        limit = super().max_content_length
        if self._max_content_length is None and current_app and self.endpoint:
            view = current_app.view_functions.get(self.endpoint)
            if getattr(view, MARK, False):
                return int(current_app.config.get("IMPORT_MAX_BYTES", limit or 0)) or limit
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def install(app: Any) -> None:
    """Give ``app``'s request class (htmx-flask's, once it is set up) the limit of
    ``large_upload`` routes."""
    if not issubclass(app.request_class, LargeUploads):
        app.request_class = type("AppRequest", (LargeUploads, app.request_class), {})

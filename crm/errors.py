"""Domain errors raised by services and mapped to HTTP responses by one handler."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """Base class: ``status`` is the HTTP status the web layer answers with."""

    status = 400
    title = _l("Something is wrong with the request")

    def __init__(self, message: str = "", *, errors: dict[str, list[str]] | None = None):
        # Plain text in the language of the request raising it (titles are lazy strings;
        # a caller may pass one too): messages are joined and compared as ``str``.
        message = str(message) if message else str(self.title)
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 400
    title = _l("Some values need fixing")


class Forbidden(DomainError):
    status = 403
    title = _l("You do not have access to this")


class NotFound(DomainError):
    status = 404
    title = _l("Not found")


class Conflict(DomainError):
    status = 409
    title = _l("Someone else changed this first")


class TooManyAttempts(DomainError):
    status = 429
    title = _l("Too many attempts")

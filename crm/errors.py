"""Domain errors raised by services and mapped to HTTP responses by one handler."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``status`` is the HTTP status the web layer answers with."""

    status = 400
    title = "Something is wrong with the request"

    def __init__(self, message: str = "", *, errors: dict[str, list[str]] | None = None):
        super().__init__(message or self.title)
        self.message = message or self.title
        self.errors = errors or {}


class ValidationFailed(DomainError):
    status = 400
    title = "Some values need fixing"


class Forbidden(DomainError):
    status = 403
    title = "You do not have access to this"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Someone else changed this first"


class TooManyAttempts(DomainError):
    status = 429
    title = "Too many attempts"

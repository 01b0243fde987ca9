"""One error handler: domain errors and HTTP errors become calm pages or htmx fragments.

Nothing internal (stack traces, SQL, exception text of unexpected errors) is ever shown.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, make_response, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from crm.api import problems
from crm.db import discard_session
from crm.errors import DomainError
from crm.web.htmx import is_htmx, retarget, vary

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("The request could not be understood"), _l("Check what you entered and try again.")),
    403: (_l("You do not have access to this"), _l("Ask an administrator if you need it.")),
    404: (_l("Page not found"), _l("The page or record does not exist, or it was removed.")),
    405: (_l("Not allowed here"), _l("This page cannot be used that way.")),
    409: (_l("Someone else changed this first"), _l("Reload the page to see the latest version.")),
    413: (_l("That upload is too large"), _l("Send a smaller file.")),
    429: (_l("Too many attempts"), _l("Wait a little and try again.")),
    500: (
        _l("Something went wrong on our side"),
        _l("The error was logged. Try again in a moment."),
    ),
}


def render_error(status: int, message: str | None = None) -> Response:
    """A full error page, or for htmx a notice swapped into the page's message area."""
    title, hint = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    ctx = {"status": status, "title": str(title), "message": message or str(hint)}
    if is_htmx():
        response = make_response(render_template("errors/_notice.html", **ctx), status)
        retarget(response, "#messages", "afterbegin")
    else:
        response = make_response(render_template("errors/error.html", **ctx), status)
    return vary(response)


def register_error_handlers(app: Flask) -> None:
    """Map every error to ``render_error``."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        discard_session()
        if problems.is_api_request():
            return problems.from_exception(exc)
        return render_error(exc.status, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> Response:
        return render_error(
            400,
            _(
                "This form was open too long or came from another page. "
                "Reload the page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        if isinstance(exc, InternalServerError):
            return _unexpected(exc)
        if problems.is_api_request():
            return problems.from_exception(exc)
        response = render_error(exc.code or 500)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("Unhandled error", exc_info=exc)
        try:
            discard_session()
        except Exception:
            log.exception("Rollback after an unhandled error failed")
        if problems.is_api_request():
            return problems.problem(500)
        return render_error(500)

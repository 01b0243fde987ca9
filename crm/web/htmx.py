"""The one module that reads htmx request headers and builds htmx responses."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment (history restores want the page)."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.history_restore_request


def render_page_or_block(template: str, block: str, status: int = 200, **context: Any) -> Response:
    """Render the whole page, or only ``block`` of it for htmx; ``Vary`` tells caches so."""
    if is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    vary(response)
    return response


def vary(response: Response) -> Response:
    """Mark a response whose body depends on whether htmx asked for it."""
    response.vary.add("HX-Request")
    return response


def redirect(url: str, status: int = 303) -> Response:
    """Redirect a browser: an ``HX-Redirect`` for htmx, a normal 303 otherwise."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
    else:
        response = make_response("", status)
        response.headers["Location"] = url
    return vary(response)


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Ask the browser to fire ``event`` (with ``detail``) after the swap."""
    existing = response.headers.get("HX-Trigger")
    events: dict[str, Any] = json.loads(existing) if existing else {}
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def retarget(response: Response, selector: str, swap: str = "innerHTML") -> Response:
    """Send the response somewhere other than the element that asked for it."""
    response.headers["HX-Retarget"] = selector
    response.headers["HX-Reswap"] = swap
    return response

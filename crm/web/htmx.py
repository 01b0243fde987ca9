"""The one module that reads htmx request headers and builds htmx responses.

Views ask ``is_htmx()`` and ``hx_target()`` instead of reading ``HX-*`` headers, and answer
through ``render_page_or_block``, ``redirect``, ``location``, ``trigger`` and ``retarget``
instead of setting them; every answer whose body depends on a request header says so in
``Vary`` (``tests/web/test_house_rules.py`` keeps it that way).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment (history restores want the page)."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.history_restore_request


def hx_target() -> str | None:
    """The ``id`` of the element htmx will swap the answer into (``HX-Target``), or None.
    A view that picks its block by it answers with ``vary(response, by_target=True)``."""
    return request.headers.get("HX-Target")


def render_page_or_block(template: str, block: str, status: int = 200, **context: Any) -> Response:
    """Render the whole page, or only ``block`` of it for htmx; ``Vary`` tells caches so."""
    if is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    vary(response)
    return response


def vary(response: Response, *, by_target: bool = False) -> Response:
    """Mark a response whose body depends on whether htmx asked for it (``by_target``: and
    on which element asked, when the view chose its block by ``hx_target()``)."""
    response.vary.add("HX-Request")
    if by_target:
        response.vary.add("HX-Target")
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


def location(path: str, *, target: str, select: str, swap: str = "outerHTML") -> Response:
    """Send htmx to ``path`` without a full page load (``HX-Location``: the URL is pushed, so
    the back button works), swapping ``select`` of the answer into ``target``. For htmx
    requests only; plain browsers get ``redirect``."""
    response = make_response("", 204)
    spec = {"path": path, "target": target, "select": select, "swap": swap}
    response.headers["HX-Location"] = json.dumps(spec)
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

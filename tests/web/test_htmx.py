"""The htmx helpers: the only code that reads htmx request headers or sets htmx response
headers, and says in ``Vary`` what a response depends on."""

from __future__ import annotations

import json

from crm.web import htmx


def test_hx_target_reads_the_header(app):
    with app.test_request_context("/", headers={"HX-Request": "true", "HX-Target": "rows"}):
        assert htmx.hx_target() == "rows" and htmx.is_htmx()
    with app.test_request_context("/"):
        assert htmx.hx_target() is None and not htmx.is_htmx()


def test_location_sends_htmx_elsewhere_and_varies(app):
    with app.test_request_context("/", headers={"HX-Request": "true"}):
        r = htmx.location("/r/account/?q=a", target="#results", select="#results")
    assert r.status_code == 204
    assert json.loads(r.headers["HX-Location"]) == {
        "path": "/r/account/?q=a",
        "target": "#results",
        "select": "#results",
        "swap": "outerHTML",
    }
    assert "HX-Request" in r.headers["Vary"]


def test_vary_by_target(app):
    with app.test_request_context("/"):
        plain = htmx.vary(htmx.redirect("/"))
        chosen = htmx.vary(htmx.redirect("/"), by_target=True)
    assert "HX-Target" not in plain.headers["Vary"]
    assert {"HX-Request", "HX-Target"} <= {v.strip() for v in chosen.headers["Vary"].split(",")}

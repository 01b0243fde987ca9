"""Front-end files we serve are the pinned, recorded ones."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def test_vendored_files_match_their_manifest():
    manifest = json.loads((VENDOR / "VENDORED.json").read_text())
    assert {m["package"] for m in manifest} >= {"htmx.org"}
    for entry in manifest:
        data = (VENDOR / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        assert entry["version"] and entry["license"]
    htmx = next(m for m in manifest if m["file"] == "htmx.min.js")
    assert htmx["version"].startswith("2.0."), "htmx is pinned to 2.0.x on purpose"


def test_pages_load_htmx_from_our_static_files(client, staff):
    html = client.get("/login").data.decode()
    assert "/static/vendor/htmx.min.js" in html
    assert "//unpkg" not in html and "cdn" not in html.lower()
    asset = client.get("/static/vendor/htmx.min.js")
    assert asset.status_code == 200
    asset.close()

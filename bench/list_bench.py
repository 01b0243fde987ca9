"""The runtime's list and record pages against a hand-written page (issue 5).

An entity of 15 fields and BENCH_ROWS (default 1,000,000) records, owners spread over 200
users. Through the full Flask stack (routing, sign-in, access policy, template):

- the runtime list page: filter owner = me, sort on an indexed field, 50 rows;
- a hand-written Flask + SQLAlchemy page for the same query and columns, registered on the
  same app in this run;
- the runtime record page of a record with two related lists;

median and p99 over BENCH_REQUESTS (default 500) requests each, and the worker's memory.
"""

from __future__ import annotations

import os
import resource
import time

from sqlalchemy import select, text

from bench.common import app_on, database, run_on_databases
from bench.schema_bench import FIELDS, ROWS, _fill
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service
from crm.security import service as auth
from crm.security.models import User
from tests.support.client import CRMClient

N = int(os.environ.get("BENCH_REQUESTS", "500"))

HAND_TEMPLATE = """<!doctype html><html><head><title>Accounts</title>
<link rel="stylesheet" href="/static/css/app.css"></head><body><main class="page">
<table class="table"><thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr><td><a href="/r/account/{{ r.id }}">{{ r.name }}</a></td><td>{{ r.email or "" }}</td>
<td>{{ r.phone or "" }}</td><td>{{ r.city or "" }}</td><td>{{ r.country or "" }}</td><td>{{ r.revenue }}</td></tr>{% endfor %}
</tbody></table></main></body></html>"""  # noqa: E501 - a page, kept compact


def _stats(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": samples[len(samples) // 2],
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
    }


def _time(client, url: str, n: int, headers: dict | None = None) -> dict:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, headers=headers or {})
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return _stats(samples)


def run(kind: str) -> dict:
    out: dict = {"rows": ROWS}
    with database(kind) as url, app_on(url) as app:
        app.test_client_class = CRMClient
        for i in range(1, 201):  # owners of the generated rows (ids 1..200)
            db.session.add(
                User(email=f"u{i}@example.com", display_name=f"User {i}", password_hash="x")
            )
        db.session.commit()
        service.create_entity("company", "Company")
        service.create_entity("account", "Account", fields=FIELDS, name_field="name")
        lookup = {"key": "account", "type": "lookup", "label": "Account"}
        lookup["options"] = {"target": "account"}
        for key, name in (("contact", "full_name"), ("deal", "title")):
            service.create_entity(
                key, key.title(), fields=[{"key": name, "type": "text", "label": "Name"}, lookup]
            )
        out["load_seconds"] = _fill(kind, ROWS)
        table = specs.current().table("account")
        some = db.session.scalar(select(table.c.id).where(table.c.owner_id == 7).limit(1))
        for key, name in (("contact", "full_name"), ("deal", "title")):
            t = specs.current().table(key)
            db.session.execute(
                t.insert(), [{"account": some, name: f"{key} {i}"} for i in range(5)]
            )
        db.session.commit()
        if kind == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        user = db.session.get(User, 7)
        columns = ["Name", "E-mail", "Phone", "City", "Country", "Revenue"]

        hand_template = app.jinja_env.from_string(HAND_TEMPLATE)  # compiled once, as Flask would

        @app.get("/bench/hand")
        def hand():
            rows = db.session.execute(
                select(table.c.id, table.c.name, table.c.email, table.c.phone, table.c.city,
                       table.c.country, table.c.revenue)
                .where(table.c.owner_id == 7, table.c.deleted_at.is_(None))
                .order_by(table.c.updated_at.desc(), table.c.id.desc())
                .limit(50)
            ).mappings().all()  # fmt: skip
            return hand_template.render(rows=rows, columns=columns)

        client = app.test_client()
        session = auth._open_session(user, ip=None, user_agent="bench")
        db.session.commit()
        with client.session_transaction() as sess:
            sess["_user_id"] = session.token
        runtime_url = "/r/account/?f.owner_id.is_me=&sort=-updated_at&size=50"
        for url in (runtime_url, "/bench/hand", f"/r/account/{some}"):
            client.get(url)  # warm caches and compiled templates
        shown = [
            client.get(u).data.decode().count('href="/r/account/')
            for u in (runtime_url, "/bench/hand")
        ]
        out["rows_shown"] = shown
        assert shown[0] >= shown[1] > 0, shown  # the runtime page links each row (and more)
        rounds = {"runtime": [], "hand": []}
        for _ in range(5):  # interleaved, so both see the same machine state
            rounds["runtime"].append(_time(client, runtime_url, N // 5))
            rounds["hand"].append(_time(client, "/bench/hand", N // 5))
        out["list_runtime"] = {
            "median_ms": sorted(r["median_ms"] for r in rounds["runtime"])[2],
            "p99_ms": max(r["p99_ms"] for r in rounds["runtime"]),
        }
        out["list_hand_written"] = {
            "median_ms": sorted(r["median_ms"] for r in rounds["hand"])[2],
            "p99_ms": max(r["p99_ms"] for r in rounds["hand"]),
        }
        out["ratio_runtime_to_hand"] = (
            out["list_runtime"]["median_ms"] / out["list_hand_written"]["median_ms"]
        )
        out["record_page"] = _time(client, f"/r/account/{some}", N)
        related = f"/r/account/{some}/related/deal/account"
        out["related_list_fragment"] = _time(client, related, N, headers={"HX-Request": "true"})
        out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        db.session.rollback()
    return out


def main() -> None:
    run_on_databases("list", run, ROWS)

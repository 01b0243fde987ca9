"""What labels in every language cost the list page (issue 13).

The list page (full request through the test client: routing, sign-in, access policy,
template), 25 rows, 8 columns, two filter chips (a picklist "is one of" and a number "at
least"), timed for:

- ``zh_translated``: a Chinese reader of an entity whose entity, field and picklist labels
  all have Chinese translations (every label on the page is picked from them);
- ``en_plain``: the same page for an English reader with no translation into English (the
  plain labels: what the page cost before translations existed);
- ``zh_untranslated``: a Chinese reader of a twin entity with the same fields and records
  but no translations (the interface in Chinese, the labels plain): isolates the cost of
  the labels themselves from that of the Chinese interface catalog.

Same database, same run, interleaved in rounds; median and p99 over BENCH_REQUESTS
(default 400) requests each. Reported: ``ratio_zh_vs_en`` (the issue's figure: target
below 1.05) and ``ratio_labels_only`` (zh_translated / zh_untranslated).

BENCH_CLOCK=cpu: CPU time of the benchmark's process instead of wall-clock time (SQLite).
"""

from __future__ import annotations

import os
import random
import time

from sqlalchemy import insert

from bench.common import app_on, database, run_on_databases
from crm.access.models import User
from crm.auth import service as auth
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service as schema
from tests.support.client import CRMClient

N = int(os.environ.get("BENCH_REQUESTS", "400"))
ROWS = int(os.environ.get("BENCH_ROWS", "2000"))
_CLOCK = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter
COLUMNS = ["name", "tier", "country", "city", "employees", "revenue", "since", "active"]
URL = "/r/{key}/?size=25&sort=name&f.tier.in=gold&f.tier.in=silver&f.employees.gte=10"
TIERS = {"gold": ("金牌", "Oro"), "silver": ("银牌", "Plata"), "bronze": ("铜牌", "Bronce")}
LABELS = {
    "name": ("名称", "Nombre"),
    "tier": ("等级", "Nivel"),
    "country": ("国家", "País"),
    "city": ("城市", "Ciudad"),
    "employees": ("员工人数", "Empleados"),
    "revenue": ("收入", "Ingresos"),
    "since": ("客户起始日", "Cliente desde"),
    "active": ("活跃", "Activa"),
}


def _fields(translated: bool) -> list[dict]:
    def tr(key: str) -> dict:
        zh, es = LABELS[key]
        return {"translations": {"label": {"zh_Hans": zh, "es": es}}} if translated else {}

    choices = [
        {
            "key": k,
            "label": k.title(),
            **({"labels": {"zh_Hans": z, "es": e}} if translated else {}),
        }
        for k, (z, e) in TIERS.items()
    ]
    return [
        {"key": "name", "type": "text", "label": "Name", "required": True, **tr("name")},
        {"key": "tier", "type": "picklist", "label": "Tier", "choices": choices, **tr("tier")},
        {"key": "country", "type": "text", "label": "Country", **tr("country")},
        {"key": "city", "type": "text", "label": "City", **tr("city")},
        {"key": "employees", "type": "integer", "label": "Employees", **tr("employees")},
        {"key": "revenue", "type": "currency", "label": "Revenue", **tr("revenue")},
        {"key": "since", "type": "date", "label": "Customer since", **tr("since")},
        {"key": "active", "type": "boolean", "label": "Active", **tr("active")},
    ]


def _setup() -> int:
    """Two entities (translated, twin without), the same records in both, a shared default
    view of the 8 columns, and one reader; returns their id."""
    from datetime import date

    from crm.metadata import list_views as lv
    from tests.factories.people import make_user

    for key, translated in (("account", True), ("twin", False)):
        extra = (
            {"translations": {"singular": {"zh_Hans": "客户"}, "plural": {"zh_Hans": "客户"}}}
            if translated
            else {}
        )
        schema.create_entity(key, key.title(), fields=_fields(translated), **extra)
        lv.save_shared_view(
            key,
            {"name": "Main", "columns": COLUMNS, "sort": [["name", "asc"]], "is_default": True},
            actor_id=None,
        )
    rnd = random.Random(13)
    rows = [
        {
            "name": f"Company {i:05d}",
            "tier": rnd.choice(list(TIERS)),
            "country": rnd.choice(["Spain", "China", "France"]),
            "city": rnd.choice(["Madrid", "上海", "Lyon"]),
            "employees": rnd.randint(1, 5000),
            "revenue": rnd.randint(1000, 10_000_000),
            "since": date(2020, 1, 1 + i % 28),
            "active": bool(i % 2),
        }
        for i in range(ROWS)
    ]
    for key in ("account", "twin"):
        db.session.execute(insert(specs.current().table(key)), rows)
    db.session.commit()
    return make_user("reader@bench.example", roles=("Staff",)).id


def _speak(user_id: int, locale: str) -> None:
    """The reader's language (read from their row at each request, as always)."""
    db.session.get(User, user_id).locale = locale
    db.session.commit()


def _client(app, user_id: int) -> CRMClient:
    client = app.test_client()
    session = auth.open_session(db.session.get(User, user_id), ip=None, user_agent="bench")
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = session.token
    return client


def _sample(client: CRMClient, url: str) -> float:
    start = _CLOCK()
    response = client.get(url)
    elapsed = (_CLOCK() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def _stats(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "n": len(samples),
        "median_ms": round(samples[len(samples) // 2], 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


def run(kind: str) -> dict:
    with database(kind) as url, app_on(url) as app:
        app.config["TESTING"] = True
        # Each request in its own app context and session, as in a real worker (a plain
        # FlaskClient would run them all in this one, sharing ``g``).
        app.test_client_class = CRMClient
        user_id = _setup()
        client = _client(app, user_id)
        # The same person reads each page: in Chinese (the translated entity and its
        # untranslated twin), then in English (no translation into English: plain labels).
        pages = {
            "zh_translated": ("zh_Hans", URL.format(key="account")),
            "zh_untranslated": ("zh_Hans", URL.format(key="twin")),
            "en_plain": ("en", URL.format(key="account")),
        }
        _speak(user_id, "zh_Hans")
        body = client.get(pages["zh_translated"][1]).data.decode()
        assert "等级" in body and "金牌" in body and ">Tier" not in body, "labels not in Chinese"
        assert body.count('class="filter-chip-text"') == 2
        assert body.count("<tr") >= 25
        twin = client.get(pages["zh_untranslated"][1]).data.decode()
        assert ">Tier" in twin and "等级" not in twin
        _speak(user_id, "en")
        plain = client.get(pages["en_plain"][1]).data.decode()
        assert ">Tier" in plain and "等级" not in plain
        samples: dict[str, list[float]] = {k: [] for k in pages}
        rounds = 20
        for r in range(rounds + 1):
            # Which language and which page go first alternates from round to round: the
            # first requests after the reader's row changes are not always the same page's.
            locales = ("zh_Hans", "en") if r % 2 else ("en", "zh_Hans")
            for locale in locales:
                _speak(user_id, locale)
                names = [n for n, (loc, _url) in pages.items() if loc == locale]
                for name in names if r % 4 < 2 else names[::-1]:
                    page_url = pages[name][1]
                    for _ in range(3):  # the first requests after the change: not timed
                        _sample(client, page_url)
                    taken = [_sample(client, page_url) for _ in range(max(1, N // rounds))]
                    if r:  # round 0 warms the caches (compiled specs, forms, catalogs)
                        samples[name].extend(taken)
        out = {k: _stats(v) for k, v in samples.items()}
        out["ratio_zh_vs_en"] = round(
            out["zh_translated"]["median_ms"] / out["en_plain"]["median_ms"], 3
        )
        out["ratio_labels_only"] = round(
            out["zh_translated"]["median_ms"] / out["zh_untranslated"]["median_ms"], 3
        )
        out["clock"] = "cpu" if _CLOCK is time.process_time else "wall"
        return out


def main() -> None:
    run_on_databases("i18n", run, ROWS)


if __name__ == "__main__":
    main()

"""Deterministic, international demo records for the demo company (``make run``).

A few thousand accounts, contacts and deals with the mess real CRMs have: accents, CJK
and right-to-left names, missing values, duplicates-in-spirit, long notes.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta
from typing import Any

from crm import demo_pipelines
from crm.metadata import specs
from crm.records import service as records

PLACES = [
    ("Germany", "Berlin"), ("Germany", "München"), ("Spain", "Sevilla"), ("Spain", "Barcelona"),
    ("China", "上海"), ("China", "深圳"), ("Japan", "大阪"), ("France", "Lyon"),
    ("Brazil", "São Paulo"), ("Poland", "Kraków"), ("Norway", "Tromsø"), ("Mexico", "Mérida"),
    ("United States", "Austin"), ("United Kingdom", "Leeds"), ("Egypt", "القاهرة"),
    ("India", "Bengaluru"), ("Türkiye", "İzmir"), ("Canada", "Québec"), (None, None),
]  # fmt: skip
PREFIXES = {
    "Germany": ["Müller", "Schäfer", "Nordwind", "Bergmann", "Rheinland"],
    "Spain": ["Hermanos Ruiz", "Sol y Mar", "Peña", "Cervantes", "Nuñez"],
    "China": ["北京星辰", "华南", "长江", "东方明珠", "云海"],
    "Japan": ["株式会社さくら", "大和", "東海", "富士"],
    "France": ["Atelier Lumière", "Côte", "Beaulieu", "Rivière"],
    "Brazil": ["Açaí", "Horizonte", "Paulista", "Ipê"],
}
SUFFIXES = {
    "Germany": ["GmbH", "AG", "KG"], "Spain": ["S.L.", "S.A."], "China": ["科技有限公司", "贸易有限公司"],
    "Japan": ["株式会社", "商事"], "France": ["SARL", "SAS"], "Brazil": ["Ltda.", "S.A."],
}  # fmt: skip
GENERIC = [
    "Northwind",
    "Blue Harbor",
    "Summit",
    "Crescent",
    "Evergreen",
    "Pioneer",
    "Atlas",
    "Orbit",
]
GENERIC_SUFFIX = ["Ltd", "Inc.", "LLC", "Group", "Partners", "& Co."]
FIRST = ["Ana", "Lukas", "María José", "Wei", "Yuki", "Chloé", "João", "Zofia", "Ingrid", "Omar",
         "Priya", "Emre", "Siobhán", "Carlos", "Mei", "Hans-Peter", "Fatima", "Noah", "Lea", "Ravi"]  # fmt: skip
LAST = ["García", "Müller", "王", "佐藤", "Dubois", "Silva", "Nowak", "Hansen", "Haddad", "Sharma",
        "Yılmaz", "O'Brien", "Martínez", "Li", "Schmidt", "Kowalski", "Nakamura", "Rossi"]  # fmt: skip
TITLES = ["CEO", "Head of Procurement", "IT Manager", "Buyer", "CFO", "Operations Lead", None]
DEAL_WORDS = [
    "Renewal",
    "Expansion",
    "Pilot",
    "Rollout",
    "Upgrade",
    "Service contract",
    "Migration",
]
SALES_STAGES = ["prospecting", "qualified", "proposal", "negotiation", "won", "lost"]
RENEWAL_STAGES = ["renewal_due", "renewal_quoted", "renewed", "churned"]
TICKET_STAGES = ["new", "diagnosing", "waiting", "solved", "unsolved"]
LOST = ["price", "competitor", "no_budget", "no_decision", "timing"]
TICKET_SUBJECTS = [
    "Cannot log in after the update",
    "Invoice shows the wrong VAT",
    "Export to Excel is slow",
    "请提供中文发票",
    "Error 500 when saving a contact",
    "Cambiar la dirección de facturación",
    "Licence key expired",
    "Sync with the mail server stopped",
    "Drucker wird nicht erkannt",
]
RESOLUTIONS = [
    "Reset the password and enabled two-factor sign-in.",
    "Credit note sent.",
    "Fixed in release 4.2; customer confirmed.",
    "已重新开具发票。",
    "Configuración corregida.",
]
NOTES = [
    None, None, "Prefers e-mail. Budget approved for Q3.",
    "Met at the trade fair in Hannover; interested in the premium tier.\nFollow up after the holidays.",
    "Key account — handle with care.", "Rechnung bitte auf Englisch.", "需要中文合同。",
]  # fmt: skip


def _company(rnd: random.Random, country: str | None) -> str:
    if country in PREFIXES and rnd.random() < 0.8:
        return f"{rnd.choice(PREFIXES[country])} {rnd.choice(SUFFIXES[country])}"
    return f"{rnd.choice(GENERIC)} {rnd.choice(['Logistics', 'Foods', 'Software', 'Health', 'Energy', 'Textiles'])} {rnd.choice(GENERIC_SUFFIX)}"


# Latin letters that Unicode does not decompose into a base letter and a mark.
_UNDECOMPOSED = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"}
)


def _email(rnd: random.Random, first: str, last: str, n: int) -> str | None:
    if rnd.random() < 0.12:
        return None
    # Accents folded as people write addresses ("García" -> "garcia"); names in scripts
    # without a Latin form (佐藤) drop out, and an address of nothing but them is "contact".
    name = f"{first}.{last}".lower().translate(_UNDECOMPOSED)
    folded = unicodedata.normalize("NFKD", name)
    local = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in "."))
    local = ".".join(part for part in local.split(".") if part)
    return f"{local or 'contact'}{n}@example.com"


def load(
    user: Any, *, accounts: int = 1200, seed: int = 2026, owners: list[int] | None = None
) -> dict[str, int]:
    """Create the demo records (all through the record service's bulk path). Accounts go
    to ``owners`` (default: ``user``); contacts and deals to their account's owner."""
    rnd = random.Random(seed)
    owners = owners or [user.id]
    compiled = specs.current()
    account, contact, deal = (compiled.entity(k) for k in ("account", "contact", "deal"))
    today = date(2026, 11, 1)
    rows = []
    for i in range(accounts):
        country, city = rnd.choice(PLACES)
        rows.append(
            {
                "name": _company(rnd, country),
                "industry": rnd.choice([None, "manufacturing", "retail", "software", "health", "finance", "education"]),
                "website": None if rnd.random() < 0.3 else f"https://www.example-{i}.com",
                "phone": None if rnd.random() < 0.2 else f"+{rnd.randint(1, 99)} {rnd.randint(100, 999)} {rnd.randint(1000000, 9999999)}",
                "country": country,
                "city": city,
                "annual_revenue": None if rnd.random() < 0.25 else str(rnd.randint(50, 500_000) * 1000),
                "employees": None if rnd.random() < 0.2 else str(rnd.choice([3, 12, 45, 180, 950, 4200, 18000])),
                "customer_since": None if rnd.random() < 0.4 else (today - timedelta(days=rnd.randint(30, 3000))).isoformat(),
                "notes": rnd.choice(NOTES),
            }
        )  # fmt: skip
    account_owner = [rnd.choice(owners) for _ in rows]
    account_ids = records.bulk_create(user, account, rows, owner_ids=account_owner)
    owner_of = dict(zip(account_ids, account_owner, strict=True))
    contact_rows = []
    for n in range(accounts * 2):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        contact_rows.append(
            {
                "full_name": f"{first} {last}",
                "account": rnd.choice(account_ids) if rnd.random() < 0.9 else None,
                "job_title": rnd.choice(TITLES),
                "email": _email(rnd, first, last, n),
                "phone": None if rnd.random() < 0.5 else f"+{rnd.randint(1, 99)} {rnd.randint(10000000, 99999999)}",
                "newsletter": rnd.random() < 0.4,
            }
        )  # fmt: skip
    contact_owner = [owner_of.get(r["account"], rnd.choice(owners)) for r in contact_rows]
    contact_ids = records.bulk_create(user, contact, contact_rows, owner_ids=contact_owner)
    deal_rows = []
    pipeline_of = []
    for _ in range(int(accounts * 1.5)):
        acc = rnd.choice(account_ids)
        products = rnd.sample(["core", "support", "training"], k=rnd.randint(0, 3))
        if rnd.random() < 0.22:
            pipeline = "renewal"
            stage = rnd.choices(RENEWAL_STAGES, weights=[4, 3, 5, 1])[0]
        else:
            pipeline = "new_business"
            stage = rnd.choices(SALES_STAGES, weights=[5, 4, 3, 2, 3, 2])[0]
        pipeline_of.append(pipeline)
        deal_rows.append(
            {
                "title": f"{rnd.choice(DEAL_WORDS if pipeline == 'new_business' else ['Renewal'])} {rnd.randint(2025, 2027)}",
                "account": acc,
                "contact": rnd.choice(contact_ids) if rnd.random() < 0.7 else None,
                "amount": f"{rnd.randint(1, 400) * 250}.00",
                "pipeline": pipeline,
                "stage": stage,
                "lost_reason": rnd.choice(LOST) if stage in ("lost", "churned") else None,
                "close_date": (today + timedelta(days=rnd.randint(-200, 240))).isoformat(),
                "products": products or None,
            }
        )  # fmt: skip
    deal_owner = [owner_of[r["account"]] for r in deal_rows]
    deal_ids = records.bulk_create(user, deal, deal_rows, owner_ids=deal_owner)
    rows_of = {key: rows for key, *_rest, rows, _default in demo_pipelines.PIPELINES["deal"]}
    demo_pipelines.invent_history(
        deal, rows_of,
        [(rid, r["pipeline"], r["stage"], o, r["lost_reason"])
         for rid, r, o in zip(deal_ids, deal_rows, deal_owner, strict=True)],
        rnd=rnd,
    )  # fmt: skip
    ticket_ids = _tickets(user, compiled.entity("ticket"), rnd, account_ids, contact_ids, owners)
    return {
        "account": len(account_ids),
        "contact": len(contact_ids),
        "deal": len(deal_ids),
        "ticket": len(ticket_ids),
    }


def _tickets(user, ticket, rnd, account_ids, contact_ids, owners, n: int = 240) -> list[int]:
    """Service tickets with a history of a few days to a few weeks each."""
    rows = []
    for _ in range(n):
        stage = rnd.choices(TICKET_STAGES, weights=[3, 3, 2, 8, 1])[0]
        rows.append(
            {
                "subject": rnd.choice(TICKET_SUBJECTS),
                "account": rnd.choice(account_ids),
                "contact": rnd.choice(contact_ids) if rnd.random() < 0.8 else None,
                "priority": None if stage == "new" and rnd.random() < 0.5 else rnd.choice(
                    ["low", "normal", "normal", "high", "urgent"]),
                "description": rnd.choice(NOTES),
                "pipeline": "service",
                "stage": stage,
                "resolution": rnd.choice(RESOLUTIONS) if stage == "solved" else None,
                "lost_reason": rnd.choice(["no_response", "wont_fix", "duplicate"])
                if stage == "unsolved" else None,
            }
        )  # fmt: skip
    owner_ids = [rnd.choice(owners) for _ in rows]
    ids = records.bulk_create(user, ticket, rows, owner_ids=owner_ids)
    rows_of = {"service": demo_pipelines.SERVICE}
    demo_pipelines.invent_history(
        ticket, rows_of,
        [(rid, "service", r["stage"], o, r["lost_reason"])
         for rid, r, o in zip(ids, rows, owner_ids, strict=True)],
        rnd=rnd, max_days=60,
    )  # fmt: skip
    return ids

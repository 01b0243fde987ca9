"""Deterministic, international demo records for the demo company (``make run``), in the
B2B sales starter's entities.

A few hundred accounts and about two thousand contacts, leads, deals and activities with
the mess real CRMs have: accents, CJK and right-to-left names, missing values,
duplicates-in-spirit, long notes. The same records every time (one seeded random
generator); their dates are around the day they are made, so the starter's "this month"
and "today" views show some.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any

from crm import demo_pipelines
from crm.metadata import specs
from crm.records import service as records
from crm.timeutil import utcnow

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
LEAD_STAGES = ["new", "contacted", "qualified", "disqualified"]
LOST = ["price", "competitor", "no_budget", "no_decision", "timing"]
DISQUALIFIED = ["no_need", "no_budget", "unreachable", "competitor", "duplicate"]
SOURCES = ["website", "referral", "event", "campaign", "cold_call", "partner", "other"]
INDUSTRIES = [None, "manufacturing", "retail", "software", "health", "finance", "education",
              "logistics", "public"]  # fmt: skip
BUYING_ROLES = [None, None, "decision_maker", "influencer", "champion", "user", "gatekeeper"]
NEXT_STEPS = [None, "Send the revised quote", "Demo for the IT team", "Call the CFO",
              "Prepare the contract", "Enviar la propuesta", "安排现场演示", "Referenzbesuch planen"]  # fmt: skip
# (activity type, subjects)
ACTIVITIES = {
    "call": ["Discovery call", "Follow-up call", "Llamada de seguimiento", "电话回访",
             "Budget check with the buyer"],
    "meeting": ["On-site demo", "Kick-off meeting", "Quarterly business review", "现场拜访",
                "Reunión con el comité de compras", "Vertragsverhandlung"],
    "email": ["Send the proposal", "Share the case study", "Enviar referencias",
              "发送报价单", "Answer the security questionnaire"],
    "task": ["Prepare the renewal quote", "Update the account plan", "Check the credit limit",
             "准备投标文件", "Preparar la demo"],
}  # fmt: skip
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
    user: Any, *, accounts: int = 250, seed: int = 2026, owners: list[int] | None = None
) -> dict[str, int]:
    """Create the demo records (all through the record service's bulk path) in the B2B
    starter's entities: ``accounts`` accounts (a few of them groups that others belong
    to), twice as many contacts, as many leads, one and a half times as many deals (in
    both deal pipelines) and three times as many activities. Accounts and leads go to
    ``owners`` (default: ``user``); contacts, deals and activities to their account's
    owner. Returns the number of records per entity."""
    rnd = random.Random(seed)
    owners = owners or [user.id]
    compiled = specs.current()
    today = utcnow().date()  # dates around today, so "closing this month" shows deals
    groups = max(1, accounts // 25)
    account_ids: list[int] = []
    account_owner: list[int] = []
    for batch in (groups, accounts - groups):  # the groups first: the others' parents
        rows = [_account(rnd, len(account_ids) + i, today, account_ids) for i in range(batch)]
        batch_owner = [rnd.choice(owners) for _ in rows]
        account_ids += records.bulk_create(
            user, compiled.entity("account"), rows, owner_ids=batch_owner
        )
        account_owner += batch_owner
    owner_of = dict(zip(account_ids, account_owner, strict=True))
    contact_ids, contact_account = _contacts(user, rnd, account_ids, owner_of, owners)
    lead_ids, lead_owner = _leads(user, rnd, accounts, owners)
    deal_ids, deal_account = _deals(user, rnd, today, account_ids, contact_ids, owner_of)
    activities = _activities(
        user, rnd, today,
        accounts=account_ids, owner_of=owner_of, contacts=contact_account,
        deals=deal_account, leads=dict(zip(lead_ids, lead_owner, strict=True)),
        n=accounts * 3,
    )  # fmt: skip
    next_steps = _next_steps(rnd, today, deals=deal_account, owner_of=owner_of)
    return {
        "next_steps": next_steps,
        "account": len(account_ids),
        "contact": len(contact_ids),
        "lead": len(lead_ids),
        "deal": len(deal_ids),
        "activity": activities,
    }


def _account(rnd: random.Random, i: int, today: date, parents: list[int]) -> dict:
    country, city = rnd.choice(PLACES)
    since = None if rnd.random() < 0.4 else today - timedelta(days=rnd.randint(30, 3000))
    kind = "customer" if since else rnd.choice(["prospect", "prospect", "partner", "reseller"])
    if since and rnd.random() < 0.08:
        kind = "former"
    return {
        "name": _company(rnd, country),
        "type": kind,
        "industry": rnd.choice(INDUSTRIES),
        "parent": rnd.choice(parents) if parents and rnd.random() < 0.1 else None,
        "website": None if rnd.random() < 0.3 else f"https://www.example-{i}.com",
        "phone": None if rnd.random() < 0.2 else f"+{rnd.randint(1, 99)} {rnd.randint(100, 999)} {rnd.randint(1000000, 9999999)}",
        "country": country,
        "city": city,
        "annual_revenue": None if rnd.random() < 0.25 else str(rnd.randint(50, 500_000) * 1000),
        "employees": None if rnd.random() < 0.2 else str(rnd.choice([3, 12, 45, 180, 950, 4200, 18000])),
        "customer_since": since.isoformat() if since else None,
        "notes": rnd.choice(NOTES),
    }  # fmt: skip


def _phone(rnd: random.Random, missing: float) -> str | None:
    if rnd.random() < missing:
        return None
    return f"+{rnd.randint(1, 99)} {rnd.randint(10000000, 99999999)}"


def _contacts(user, rnd, account_ids, owner_of, owners) -> tuple[list[int], dict[int, int]]:
    rows = []
    for n in range(len(account_ids) * 2):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        rows.append(
            {
                "full_name": f"{first} {last}",
                "account": rnd.choice(account_ids) if rnd.random() < 0.9 else None,
                "job_title": rnd.choice(TITLES),
                "buying_role": rnd.choice(BUYING_ROLES),
                "email": _email(rnd, first, last, n),
                "phone": _phone(rnd, 0.5),
                "mobile": _phone(rnd, 0.6),
                "newsletter": rnd.random() < 0.4,
            }
        )
    owner_ids = [owner_of.get(r["account"], rnd.choice(owners)) for r in rows]
    ids = records.bulk_create(user, specs.current().entity("contact"), rows, owner_ids=owner_ids)
    return ids, {rid: r["account"] for rid, r in zip(ids, rows, strict=True)}


def _leads(user, rnd, n: int, owners) -> tuple[list[int], list[int]]:
    """Leads in the qualification pipeline, with a history of days to a few months."""
    rows = []
    for i in range(n):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        country, _city = rnd.choice(PLACES)
        stage = rnd.choices(LEAD_STAGES, weights=[5, 4, 3, 2])[0]
        qualified = stage == "qualified"
        rows.append(
            {
                "full_name": f"{first} {last}",
                "company": _company(rnd, country) if qualified or rnd.random() < 0.85 else None,
                "job_title": rnd.choice(TITLES),
                "email": _email(rnd, first, last, 10_000 + i) if not qualified else
                f"lead{i}@example.com",
                "phone": _phone(rnd, 0.3),
                "source": rnd.choice(SOURCES),
                "rating": rnd.choice([None, "hot", "warm", "warm", "cold"]),
                "industry": rnd.choice(INDUSTRIES),
                "country": country,
                "estimated_value": None if rnd.random() < 0.3 else str(rnd.randint(2, 200) * 500),
                "notes": rnd.choice(NOTES),
                "pipeline": "qualification",
                "stage": stage,
                "lost_reason": rnd.choice(DISQUALIFIED) if stage == "disqualified" else None,
            }
        )  # fmt: skip
    owner_ids = [rnd.choice(owners) for _ in rows]
    lead = specs.current().entity("lead")
    ids = records.bulk_create(user, lead, rows, owner_ids=owner_ids)
    demo_pipelines.invent_history(
        lead,
        [(rid, "qualification", r["stage"], o, r["lost_reason"])
         for rid, r, o in zip(ids, rows, owner_ids, strict=True)],
        rnd=rnd, max_days=120,
    )  # fmt: skip
    return ids, owner_ids


def _deals(user, rnd, today, account_ids, contact_ids, owner_of) -> tuple[list[int], dict]:
    """Deals in both pipelines, with a history spread over the last months."""
    rows = []
    for _ in range(int(len(account_ids) * 1.5)):
        acc = rnd.choice(account_ids)
        products = rnd.sample(["core", "support", "training", "consulting"], k=rnd.randint(0, 3))
        if rnd.random() < 0.22:
            pipeline = "renewal"
            stage = rnd.choices(RENEWAL_STAGES, weights=[4, 3, 5, 1])[0]
        else:
            pipeline = "new_business"
            stage = rnd.choices(SALES_STAGES, weights=[5, 4, 3, 2, 3, 2])[0]
        rows.append(
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
                "source": rnd.choice([None, *SOURCES]) if pipeline == "new_business" else None,
                "margin": None if rnd.random() < 0.3 else str(rnd.randint(12, 68)),
                "next_step": None if stage in ("won", "lost", "renewed", "churned") else rnd.choice(NEXT_STEPS),
            }
        )  # fmt: skip
    owner_ids = [owner_of[r["account"]] for r in rows]
    deal = specs.current().entity("deal")
    ids = records.bulk_create(user, deal, rows, owner_ids=owner_ids)
    demo_pipelines.invent_history(
        deal,
        [(rid, r["pipeline"], r["stage"], o, r["lost_reason"])
         for rid, r, o in zip(ids, rows, owner_ids, strict=True)],
        rnd=rnd,
    )  # fmt: skip
    return ids, {rid: r["account"] for rid, r in zip(ids, rows, strict=True)}


def _activities(user, rnd, today, *, accounts, owner_of, contacts, deals, leads, n) -> int:
    """Calls, meetings, e-mails and tasks: the past ones mostly done, the coming ones open;
    each about a deal (with its account), a contact (with theirs) or a lead."""
    rows, owner_ids = [], []
    deal_ids, contact_ids, lead_ids = list(deals), list(contacts), list(leads)
    for _ in range(n):
        kind = rnd.choice(list(ACTIVITIES))
        day = today + timedelta(days=rnd.randint(-90, 30))
        due = datetime.combine(
            day, time(rnd.choice([8, 9, 10, 11, 13, 14, 15, 16]), rnd.choice([0, 30]))
        )
        row: dict[str, Any] = {
            "subject": rnd.choice(ACTIVITIES[kind]),
            "type": kind,
            "due": due.strftime("%Y-%m-%d %H:%M"),
            "done": day < today and rnd.random() < 0.85,
            "priority": rnd.choice([None, "low", "normal", "normal", "high"]),
            "notes": rnd.choice(NOTES),
        }  # fmt: skip
        about = rnd.random()
        if about < 0.45:
            row["deal"] = rnd.choice(deal_ids)
            row["account"] = deals[row["deal"]]
        elif about < 0.8:
            row["contact"] = rnd.choice(contact_ids)
            row["account"] = contacts[row["contact"]]
        else:
            row["lead"] = rnd.choice(lead_ids)
        owner = (
            owner_of.get(row.get("account"))
            or leads.get(row.get("lead"))
            or rnd.choice(list(owner_of.values()))
        )
        rows.append(row)
        owner_ids.append(owner)
    records.bulk_create(user, specs.current().entity("activity"), rows, owner_ids=owner_ids)
    return len(rows)


NEXT_STEPS = [
    "Send the revised proposal", "Call back about the budget", "Book the on-site demo",
    "Confirm the decision date", "发送报价单", "Enviar el contrato firmado",
    "Check references with the buyer",
]  # fmt: skip
LOGGED = {
    "call": ["Discovery call", "Budget call with the buyer", "电话沟通需求"],
    "meeting": ["Demo at their office", "Reunión de cierre"],
    "email": ["Sent the proposal", "Answered the security questionnaire"],
    "visit": ["Site visit", "现场拜访"],
}  # fmt: skip


def _next_steps(rnd: random.Random, today: date, *, deals: dict, owner_of: dict) -> int:
    """Tasks and logged activities (``crm.activities``) on about a fifth of the deals, by
    each deal's owner: a few overdue, some due today, most upcoming, so "My tasks" and the
    record pages' "Next steps" show what a working team's look like. Returns how many
    tasks and activities were added."""
    from crm.access.models import User
    from crm.activities import service as activities
    from crm.extensions import db

    spec = specs.current().entity("deal")
    people: dict[int, Any] = {}
    added = 0
    now = utcnow().replace(microsecond=0)
    for deal_id, account_id in deals.items():
        if rnd.random() > 0.2:
            continue
        owner_id = owner_of.get(account_id)
        owner = people.get(owner_id) or db.session.get(User, owner_id)
        if owner is None:
            continue
        people[owner_id] = owner
        kind = rnd.choice(list(LOGGED))
        activities.log_activity(
            owner, spec, deal_id, kind=kind, subject=rnd.choice(LOGGED[kind]),
            outcome=rnd.choice(["", "Interested", "Needs a second meeting", "有意向"]),
            happened_at=now - timedelta(days=rnd.randint(1, 40), hours=rnd.randint(0, 8)),
        )  # fmt: skip
        due = today + timedelta(days=rnd.choice([-3, -1, 0, 0, 1, 2, 5, 9, 14]))
        activities.add_task(
            owner, spec, deal_id, subject=rnd.choice(NEXT_STEPS), due_date=due,
            due_time=rnd.choice([None, time(9, 30), time(15, 0)]),
            priority=rnd.choice(["normal", "normal", "high", "low"]),
        )  # fmt: skip
        added += 2
    return added

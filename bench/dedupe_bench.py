"""Duplicate rules (issue 18): quality on FEBRL, the live check and duplicate groups at scale.

- ``febrl``: precision and recall of the default person rules on FEBRL dataset3
  (``../shared/realdata/febrl/dataset3.csv``: 5,000 records, ``rec-N-org`` and its
  duplicates ``rec-N-dup-k``; records with the same N are the same person). FEBRL has no
  e-mail and no phone, so the rules measured are the person rules its fields allow:
  any two of a similar name, the same date of birth and the same ID number (its
  ``soc_sec_id``). Measured over pairs, and over the groups a duplicates page shows
  (pairs joined: A like B, B like C). Target ≥ 0.95 precision, ≥ 0.90 recall. SQLite only
  (the figures do not depend on the database).
- ``live``: ``BENCH_DEDUPE_ROWS`` (default 100,000) generated contacts (``tests/dedupe/
  people.py``: names, e-mails, phones in several formats, a third duplicated); the key
  rebuild (time); then the live check a form runs while someone types (every enabled rule
  of the entity through ``match.candidates``, as a user who reads everything) for
  ``BENCH_DEDUPE_CHECKS`` (default 300) typed records, half re-typed existing people and
  half new ones: median and p99 per check (target ≤ 30 ms); and ``find_groups`` over every
  record (time; the process's peak resident memory before and after).

Results in ``bench/results/dedupe.json``. ``BENCH_DATABASES`` as elsewhere.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import resource
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import insert

from bench.common import app_on, database, postgres_available, save
from crm.dedupe import keys, match, rules
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service
from crm.uow import unit_of_work
from tests.dedupe.people import generate, write_phone
from tests.factories import make_user

ROWS = int(os.environ.get("BENCH_DEDUPE_ROWS", "100000"))
CHECKS = int(os.environ.get("BENCH_DEDUPE_CHECKS", "300"))
FEBRL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "febrl" / "dataset3.csv"
if not FEBRL.exists():  # the worktree layout (/work/wt/<name>) or the main one (/work/main)
    FEBRL = Path("/work/shared/realdata/febrl/dataset3.csv")


def _entity(key: str, fields: list[tuple[str, str]]) -> None:
    service.create_entity(
        key,
        key.capitalize(),
        fields=[
            {"key": k, "type": t, "label": k.replace("_", " ").capitalize()} for k, t in fields
        ],
        name_field=fields[0][0],
    )


def _insert(entity_key: str, owner_id: int, rows: list[dict], batch: int = 5000) -> list[int]:
    table = specs.current().table(entity_key)
    ids = []
    for start in range(0, len(rows), batch):
        chunk = [{"owner_id": owner_id, **r} for r in rows[start : start + batch]]
        ids.extend(db.session.execute(insert(table).returning(table.c.id), chunk).scalars())
    db.session.commit()
    return ids


def _save_rules(data: list[dict], entity_key: str) -> float:
    """Save the rules and build their keys (what the ``dedupe.rebuild`` job does; the bench
    app has no worker, so it runs here); returns the time taken."""
    start = time.perf_counter()
    with unit_of_work():
        for d in data:
            rules.save(d, specs.current().entity(entity_key))
            keys.rebuild(rule_key=d["key"])
    return time.perf_counter() - start


def _pr(found: set, truth: set) -> dict:
    hits = len(found & truth)
    return {
        "precision": round(hits / len(found), 4) if found else None,
        "recall": round(hits / len(truth), 4),
        "found_pairs": len(found),
        "true_pairs": len(truth),
    }


def febrl() -> dict:
    """Precision and recall of the default person rules on FEBRL dataset3."""
    people, truth_by = [], defaultdict(list)
    with open(FEBRL, encoding="utf-8") as f:
        reader = csv.reader(f, skipinitialspace=True)
        head = next(reader)
        for rec in reader:
            d = dict(zip(head, rec, strict=True))
            people.append(
                (
                    d["rec_id"].split("-")[1],
                    {
                        "full_name": f"{d['given_name']} {d['surname']}".strip() or None,
                        "birth_date": d["date_of_birth"] or None,
                        "id_number": d["soc_sec_id"] or None,
                    },
                )
            )
    with database("sqlite") as url, app_on(url):
        _entity("person", [("full_name", "text"), ("birth_date", "text"), ("id_number", "text")])
        admin = make_user("bench@example.com", is_admin=True)
        ids = _insert("person", admin.id, [v for _, v in people])
        for record_id, (entity, _) in zip(ids, people, strict=True):
            truth_by[entity].append(record_id)
        truth = {p for g in truth_by.values() for p in itertools.combinations(sorted(g), 2)}
        data = rules.person_rules(
            "person", email=None, phone=None, birth_date="birth_date", id_number="id_number"
        )
        rebuild = _save_rules(data, "person")
        spec = specs.current().entity("person")
        start = time.perf_counter()
        grouping = match.find_groups(spec, rules.enabled_rules("person"), region="US")
        took = time.perf_counter() - start
        pairs = {(a, b) for g in grouping.groups for a, b, _ in g.pairs}
        grouped = {p for g in grouping.groups for p in itertools.combinations(g.record_ids, 2)}
        return {
            "records": len(people),
            "rules": [d["key"] for d in data],
            "pairs": _pr(pairs, truth),
            "groups": _pr(grouped, truth),
            "rebuild_s": round(rebuild, 3),
            "find_groups_s": round(took, 3),
        }


def _typed(rnd: random.Random, existing: list) -> list[dict]:
    """Half re-typed existing people (phone in another format), half new people."""
    out = []
    for p in rnd.sample(existing, CHECKS // 2):
        phone = p.phone
        if phone and rnd.random() < 0.5:
            digits = "".join(c for c in phone if c.isdigit())
            phone = write_phone(rnd, "US", digits[-10:], "1") if len(digits) >= 10 else phone
        out.append({"full_name": p.full_name, "email": p.email, "phone": phone})
    for p in generate(CHECKS - CHECKS // 2, seed=99, dup_share=0.0):
        out.append({"full_name": p.full_name, "email": f"new.{p.email}", "phone": p.phone})
    rnd.shuffle(out)
    return out


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def live(kind: str) -> dict:
    """The live check and the duplicate groups at ``ROWS`` contacts on ``kind``."""
    rnd = random.Random(18)
    people = generate(int(ROWS / 1.4) + 10, seed=18)[:ROWS]
    out: dict = {"records": len(people)}
    with database(kind) as url, app_on(url) as app:
        _entity("contact", [("full_name", "text"), ("email", "email"), ("phone", "phone")])
        admin = make_user("bench@example.com", is_admin=True)
        start = time.perf_counter()
        rows = [{"full_name": p.full_name, "email": p.email, "phone": p.phone} for p in people]
        _insert("contact", admin.id, rows)
        out["fill_s"] = round(time.perf_counter() - start, 2)
        out["rebuild_keys_s"] = round(_save_rules(rules.person_rules("contact"), "contact"), 2)
        spec = specs.current().entity("contact")
        active = rules.enabled_rules("contact")
        region = match.default_region()
        samples, cpu, found = [], [], 0
        for values in _typed(rnd, people):
            t0, c0 = time.perf_counter(), time.process_time()
            with app.test_request_context():  # one request: the specs' version read once
                spec = specs.current().entity("contact")
                for rule in active:
                    found += len(match.candidates(admin, spec, values, rule, region=region).matches)
                db.session.rollback()  # a request ends its transaction
            samples.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        samples.sort()
        cpu.sort()
        # this process's CPU: on SQLite all of a check's work, on PostgreSQL without the
        # server's (a shared machine's load shows in the wall clock, not here)
        out["check_cpu_median_ms"] = round(cpu[len(cpu) // 2] * 1000, 2)
        out["check_cpu_p99_ms"] = round(cpu[int(len(cpu) * 0.99)] * 1000, 2)
        out["check_median_ms"] = round(samples[len(samples) // 2] * 1000, 2)
        out["check_p99_ms"] = round(samples[int(len(samples) * 0.99)] * 1000, 2)
        out["checks"] = len(samples)
        out["matches_found"] = found
        # The form's whole warning (crm.dedupe.entry.warnings: every rule, the names of the
        # matches shown), as the live-check endpoint runs it.
        from crm.dedupe import entry

        warned = []
        for values in _typed(random.Random(19), people):
            t0 = time.perf_counter()
            with app.test_request_context():
                entry.warnings(admin, specs.current().entity("contact"), values)
                db.session.rollback()
            warned.append(time.perf_counter() - t0)
        warned.sort()
        out["warning_median_ms"] = round(warned[len(warned) // 2] * 1000, 2)
        out["warning_p99_ms"] = round(warned[int(len(warned) * 0.99)] * 1000, 2)
        out["rss_before_groups_mb"] = _maxrss_mb()
        start = time.perf_counter()
        grouping = match.find_groups(spec, active, region=region)
        out["find_groups_s"] = round(time.perf_counter() - start, 2)
        out["rss_after_groups_mb"] = _maxrss_mb()
        out["groups"] = len(grouping.groups)
        out["skipped_keys"] = grouping.skipped_keys
    return out


def main() -> None:
    results: dict = {}
    if FEBRL.exists():
        print("--- dedupe: default person rules on FEBRL dataset3 ---", flush=True)
        results["febrl"] = febrl()
        for key, value in results["febrl"].items():
            print(f"{key:>24}: {value}")
    else:
        print(f"FEBRL not found at {FEBRL}: skipped")
    kinds = [k for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k]
    for kind in kinds:
        if kind == "postgresql" and not postgres_available():
            print("PostgreSQL not available: skipped")
            continue
        print(f"--- dedupe: live check and groups on {kind}, {ROWS:,} contacts ---", flush=True)
        results[kind] = live(kind)
        for key, value in results[kind].items():
            print(f"{key:>24}: {value}")
    print(f"written to {save('dedupe', results)}")

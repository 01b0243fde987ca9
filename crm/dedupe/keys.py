"""Keeping the blocking-key table in step with the records.

- ``refresh(spec, ids)``: the keys of some records of ``spec`` under every enabled rule
  that reads them, rewritten (a record in the recycle bin, or gone, keeps none). The record
  service calls it for the records a create, an edit, a delete, a restore or a merge
  touched, in the same unit of work.
- ``rebuild(...)``: every key of a rule, or of an entity, written again in batches; the
  background job ``dedupe.rebuild`` runs it after a rule is saved (``rules.save``) or when
  the phone region changes.

These read the record tables directly (not through the scoped query layer): they maintain
an index for everyone, like a database index does, and return nothing of the records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, insert, select

from crm.dedupe import rules as rules_mod
from crm.dedupe.match import default_region, keys_for, rule_columns
from crm.dedupe.models import DedupeKey
from crm.dedupe.rules import Rule
from crm.extensions import db
from crm.jobs.registry import handler
from crm.metadata import specs
from crm.metadata.spec import EntitySpec
from crm.records.query import table_of

BATCH = 2000
KIND = "dedupe.rebuild"


def _rows_for(rule: Rule, spec: EntitySpec, side: str, rows: Iterable, region: str) -> list:
    out = []
    for row in rows:
        for key in keys_for(rule, row, side=side, region=region):
            out.append(
                {"entity_key": spec.key, "record_id": row["id"], "rule_key": rule.key, "key": key}
            )
    return out


def _readable_rules(spec: EntitySpec, rules: list[Rule]) -> list[tuple[Rule, str]]:
    """(rule, side) pairs whose fields ``spec`` still has (a rule on an archived field is
    skipped: its records carry no keys until the rule is fixed)."""
    out = []
    for rule in rules:
        for side in rule.sides_of(spec.key):
            if all(spec.field(f) is not None for f in rule_columns(rule, side)):
                out.append((rule, side))
    return out


def refresh(spec: EntitySpec, record_ids: Iterable[int], *, region: str | None = None) -> int:
    """Rewrite the keys of ``spec``'s records ``record_ids`` under every enabled rule that
    reads ``spec``, in the caller's transaction; returns the number of keys written."""
    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return 0
    region = region or default_region()
    pairs = _readable_rules(spec, rules_mod.enabled_rules(spec.key, involving=True))
    t = table_of(spec)
    written = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        db.session.execute(
            delete(DedupeKey).where(
                DedupeKey.entity_key == spec.key, DedupeKey.record_id.in_(chunk)
            )
        )
        for rule, side in pairs:
            cols = [t.c.id, *(t.c[f] for f in rule_columns(rule, side))]
            found = db.session.execute(
                select(*cols).where(t.c.id.in_(chunk), t.c.deleted_at.is_(None))
            ).mappings()
            rows = _rows_for(rule, spec, side, found, region)
            if rows:
                db.session.execute(insert(DedupeKey), rows)
                written += len(rows)
    return written


def _rebuild_rule(
    rule: Rule, region: str, report: Callable[[int, str], None] | None, batch: int
) -> int:
    db.session.execute(delete(DedupeKey).where(DedupeKey.rule_key == rule.key))
    written = 0
    entity_keys = [rule.entity_key]
    if rule.compare_entity_key and rule.compare_entity_key != rule.entity_key:
        entity_keys.append(rule.compare_entity_key)
    for entity_key in entity_keys:
        spec = specs.raw().entities.get(entity_key)
        if spec is None:
            continue
        for _rule, side in _readable_rules(spec, [rule]):
            t = table_of(spec)
            cols = [t.c.id, *(t.c[f] for f in rule_columns(rule, side))]
            last = 0
            while True:
                found = list(
                    db.session.execute(
                        select(*cols)
                        .where(t.c.id > last, t.c.deleted_at.is_(None))
                        .order_by(t.c.id)
                        .limit(batch)
                    ).mappings()
                )
                if not found:
                    break
                last = found[-1]["id"]
                rows = _rows_for(rule, spec, side, found, region)
                if rows:
                    db.session.execute(insert(DedupeKey), rows)
                written += len(rows)
                if report is not None:
                    report(len(found), entity_key)
    return written


def rebuild(
    *,
    rule_key: str | None = None,
    entity_key: str | None = None,
    region: str | None = None,
    report: Callable[[int, str], None] | None = None,
    batch: int = BATCH,
) -> int:
    """Write again every key of the rule ``rule_key``, or of every enabled rule reading
    ``entity_key``, in batches of ``batch`` records (``report(records, entity_key)`` after
    each), in the caller's transaction; returns the number of keys written. A disabled or
    deleted rule loses its keys."""
    region = region or default_region()
    if rule_key is not None:
        wanted = [r for r in _all_rules() if r.key == rule_key]
        if not wanted:
            db.session.execute(delete(DedupeKey).where(DedupeKey.rule_key == rule_key))
            return 0
    else:
        wanted = rules_mod.enabled_rules(entity_key or "", involving=True)
    written = 0
    for rule in wanted:
        if rule.enabled:
            written += _rebuild_rule(rule, region, report, batch)
        else:
            db.session.execute(delete(DedupeKey).where(DedupeKey.rule_key == rule.key))
    return written


def _all_rules() -> list[Rule]:
    from crm.dedupe.models import DuplicateRule

    return [rules_mod.from_row(r) for r in db.session.scalars(select(DuplicateRule))]


def _describe(payload: Any, result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"title": _("Updating the duplicate check")}
    if isinstance(result, dict) and "keys" in result:
        out["done"] = _("The duplicate check is up to date.")
    return out


@handler(KIND, describe=_describe)
def run_rebuild(ctx: Any) -> dict[str, Any]:
    """The job: ``rebuild`` for the payload's ``rule`` or ``entity``."""
    done = {"records": 0}

    def report(n: int, entity_key: str) -> None:
        done["records"] += n
        ctx.progress(done["records"], 0, entity_key, unit="row")

    rule_key = ctx.payload.get("rule")
    entity_key = ctx.payload.get("entity")
    written = rebuild(
        rule_key=rule_key if isinstance(rule_key, str) else None,
        entity_key=entity_key if isinstance(entity_key, str) else None,
        report=report,
    )
    return {"keys": written, "records": done["records"]}

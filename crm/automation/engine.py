"""Running rules: the "automation.event" job (changes of records) and the
"automation.batch" job (a scheduled rule's matching records, ``crm.automation.schedule``).

For each change and each rule of its entity, in order: the trigger (from the change's
keys, before and after), then the conditions in SQL (the rule owner's scoped query of the
record with the rule's filters: a rule never acts on a record its owner could not read),
then the actions, in a savepoint of their own: one failing action rolls back that rule's
actions only and fails its run with the error; the other rules still run. Every rule
whose trigger and conditions matched gets a ``RuleRun`` (done or failed, and what each
action did in words). Changes made by the actions carry the next depth; beyond
``MAX_DEPTH`` the rules are not run and a run with status "loop" says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from crm.access.models import User
from crm.automation import actions
from crm.automation import spec as rule_specs
from crm.automation.events import BATCH_KIND, DEPTH, KIND, MAX_DEPTH
from crm.automation.models import DONE, FAILED, LOOP, RuleRun
from crm.automation.spec import RuleSpec
from crm.errors import DomainError
from crm.extensions import db
from crm.jobs import registry
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec
from crm.records import listing
from crm.records import service as records
from crm.records.query import scoped, table_of
from crm.uow import current_unit, unit_of_work

log = logging.getLogger(__name__)
CHUNK = 500


def owner_of(rule: RuleSpec) -> User | None:
    """The rule's owner if they are an active user (a rule runs with their rights)."""
    user = db.session.get(User, rule.owner_id) if rule.owner_id else None
    return user if user is not None and user.is_active else None


def conditions_sql(owner: User, spec: EntitySpec, rule: RuleSpec) -> list:
    """The SQL conditions of the rule's filters, as its owner may use them (list views'
    filters). ``DomainError`` when a condition uses a field the owner may not read (it
    cannot be judged with their rights) or no longer fits its field."""
    table = table_of(spec)
    visible = listing.readable_fields(owner, spec)
    dialect = db.session.get_bind().dialect.name
    conditions = []
    for f in rule.conditions:
        if f.field not in visible:
            raise DomainError(
                _(
                    "A condition uses the field “%(key)s”, which the rule's owner may not read.",
                    key=f.field,
                )
            )
        try:
            conditions.append(
                types.build_filter(
                    visible[f.field],
                    table.c[f.field],
                    f.op,
                    f.value,
                    dialect_name=dialect,
                    user_id=owner.id,
                )
            )
        except ValueError as exc:
            raise DomainError(str(exc)) from None
    return conditions


def matching(owner: User, spec: EntitySpec, rule: RuleSpec, ids: Iterable[int]) -> set[int]:
    """Those of ``ids`` that ``owner`` may read and that meet every condition of the
    rule (``conditions_sql``): one query per ``CHUNK`` ids."""
    table = table_of(spec)
    conditions = conditions_sql(owner, spec, rule)
    wanted = sorted({int(i) for i in ids})
    found: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        query = scoped(owner, spec, "read", columns=[table.c.id]).where(
            table.c.id.in_(chunk), *conditions
        )
        found.update(db.session.scalars(query))
    return found


def _log(rule: RuleSpec, record_id: int | None, status: str, did: list, error: str | None):
    db.session.add(
        RuleRun(
            rule_id=rule.id,
            entity_key=rule.entity_key,
            record_id=record_id,
            status=status,
            did=did,
            error=error,
        )
    )


def _error_text(exc: DomainError) -> str:
    details = [m for ms in (exc.errors or {}).values() for m in ms if m != exc.message]
    return " ".join([exc.message, *details]).strip() or _("The action was refused.")


def perform(
    rule: RuleSpec, owner: User, spec: EntitySpec, record_id: int
) -> tuple[str, list, str | None]:
    """Run the rule's actions on the record in a savepoint; returns ``(status, did,
    error)``. A failing action rolls back every action of this run."""
    did: list[dict[str, str]] = []
    try:
        with unit_of_work():
            row = records.get(owner, spec, record_id)
            ctx = actions.Context(rule, owner, spec, row, did)
            for action in rule.actions():
                kind = action.get("type") if isinstance(action, Mapping) else None
                words = actions.run(ctx, action)
                did.append({"action": str(kind), "words": words})
    except DomainError as exc:
        return FAILED, did, _undone(_error_text(exc), did)
    except Exception:  # one rule's unexpected failure must not stop the others
        log.exception("Automation rule %s failed on %s %s", rule.id, spec.key, record_id)
        return FAILED, did, _undone(_("An action failed unexpectedly."), did)
    return DONE, did, None


def _undone(error: str, did: list) -> str:
    """The error of a failed run, saying that the actions before it did not stay."""
    if not did:
        return error
    return _("%(error)s The actions before it were undone.", error=error)


def run_rule(rule: RuleSpec, spec: EntitySpec, ids: Iterable[int]) -> int:
    """Check the conditions of ``rule`` on the records ``ids`` and run its actions on
    those that meet them, logging a run for each; returns how many runs were logged."""
    owner = owner_of(rule)
    ids = list(dict.fromkeys(int(i) for i in ids))
    if owner is None:
        for rid in ids:
            _log(rule, rid, FAILED, [], _("The rule's owner is not an active user."))
        return len(ids)
    try:
        hits = matching(owner, spec, rule, ids)
    except DomainError as exc:
        for rid in ids:
            _log(rule, rid, FAILED, [], _error_text(exc))
        return len(ids)
    count = 0
    for rid in ids:
        if rid not in hits:
            continue
        status, did, error = perform(rule, owner, spec, rid)
        _log(rule, rid, status, did, error)
        count += 1
    return count


def process(events: list[Mapping[str, Any]], depth: int) -> dict[str, int]:
    """Run every rule on the changes ``events`` (``{entity, id, action, changes}``) at
    ``depth``; returns counts for the job's result."""
    current_unit().info[DEPTH] = depth + 1  # what the actions change is one step deeper
    runs = loops = 0
    by_entity: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        by_entity.setdefault(str(event.get("entity")), []).append(event)
    for entity_key, group in by_entity.items():
        spec = specs.current().entity(entity_key)
        if spec is None:
            continue
        for rule in rule_specs.rules_for(entity_key):
            ids = [
                int(e["id"])
                for e in group
                if rule.trigger.matches(str(e.get("action")), e.get("changes"))
            ]
            if not ids:
                continue
            if depth > MAX_DEPTH:
                for rid in dict.fromkeys(ids):
                    _log(rule, rid, LOOP, [], _(
                        "Stopped: rules changed this record %(n)d times in a row, "
                        "each change setting off the next.", n=depth))  # fmt: skip
                    loops += 1
                continue
            runs += run_rule(rule, spec, ids)
    return {"runs": runs, "loops": loops}


def describe(payload: Mapping[str, Any], result: Any) -> dict[str, Any]:
    """The job page's wording of an automation job."""
    runs = int((result or {}).get("runs") or 0) if isinstance(result, Mapping) else 0
    return {
        "title": _("Automation rules"),
        "done": ngettext("%(num)d rule run logged.", "%(num)d rule runs logged.", runs),
    }


@registry.handler(KIND, describe=describe)
def run_event(ctx: Any) -> dict[str, int]:
    """The job of one unit of work's record changes."""
    payload = ctx.payload or {}
    with specs.pinned():
        return process(list(payload.get("events") or ()), int(payload.get("depth") or 0))


@registry.handler(BATCH_KIND, describe=describe)
def run_batch(ctx: Any) -> dict[str, int]:
    """The job of one batch of a scheduled rule's matching records."""
    payload = ctx.payload or {}
    current_unit().info[DEPTH] = 1
    with specs.pinned():
        rule = rule_specs.rule(int(payload.get("rule") or 0))
        if rule is None or not rule.runnable:
            return {"runs": 0}
        spec = specs.current().entity(rule.entity_key)
        if spec is None:
            return {"runs": 0}
        return {"runs": run_rule(rule, spec, payload.get("ids") or ())}

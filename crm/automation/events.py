"""Changes of records -> one "automation.event" job, through the outbox.

``noticed`` is called by the record service's ``add_history`` for every change it records
(create, update, assign, and the bulk edits and stage moves that go through it). When an
enabled rule of the entity could fire on the change (``Trigger.matches``: in memory, on
the compiled rules), the change is gathered on the current unit of work; just before that
unit commits, ONE job carries every gathered change (a bulk edit of 500 records: one job),
so the change and its job commit together or not at all. No rule: nothing is gathered, no
job, no cost beyond a dict lookup.

The depth of a change (how many rule runs led to it) rides on the unit of work: the job
that runs the rules marks its unit with the next depth, and the changes its actions make
carry it (no global flag). Beyond ``MAX_DEPTH`` the engine stops (``crm.automation.engine``).

Not covered: imports and ``bulk_create`` (``crm.records.many`` writes history rows in one
statement, without this hook), and an administrator's archiving of a stage (its records
are moved by one INSERT ... SELECT in ``crm.pipelines.service``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm.automation import spec as rule_specs
from crm.uow import current_unit, in_unit

KIND = "automation.event"
BATCH_KIND = "automation.batch"
MAX_DEPTH = 3
DEPTH = "automation.depth"  # on a unit's info: the depth of the changes made inside it
_GATHERED = "automation.gathered"  # on a unit's info: its changes waiting for its commit


def depth_now() -> int:
    """The depth of changes made now (0 outside any rule's run)."""
    if not in_unit():
        return 0
    return int(current_unit().lookup(DEPTH, 0))


def noticed(
    entity_key: str, record_id: int, action: str, changes: Mapping[str, Any] | None
) -> None:
    """A record change was recorded in the current unit of work: gather it for the job of
    this unit when a rule of the entity could fire on it. Never raises for a rule's sake."""
    rules = rule_specs.rules_for(entity_key)
    if not rules or not in_unit():
        return
    if not any(r.trigger.matches(action, changes) for r in rules):
        return
    unit = current_unit()
    gathered = unit.info.get(_GATHERED)
    if gathered is None:
        gathered = unit.info[_GATHERED] = []
        depth = int(unit.lookup(DEPTH, 0))
        unit.before_commit(lambda: _flush(gathered, depth))
    gathered.append(
        {
            "entity": entity_key,
            "id": int(record_id),
            "action": action,
            "changes": dict(changes or {}),
        }
    )


def _flush(gathered: list[dict[str, Any]], depth: int) -> None:
    """Enqueue the unit's one job (in the unit, before it commits)."""
    if not gathered:
        return
    from crm.jobs import outbox

    outbox.enqueue(KIND, {"depth": depth, "events": list(gathered)})
    gathered.clear()

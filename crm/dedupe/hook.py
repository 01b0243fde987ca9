"""Records changed -> their blocking keys rewritten, in the same unit of work.

``noticed`` is called by the record service's ``add_history`` for every change it records.
When a duplicate rule reads the entity (known per metadata version, no query), the record
is gathered on the current unit of work, and just before that unit commits its keys are
rewritten once for all the records it changed (``crm.dedupe.keys.refresh``): a change and
its keys commit together, and a bulk edit of 500 records refreshes them in one pass.

``bulk_create`` writes (history written in one statement) are not gathered: an import
keys the records of each batch itself (``crm.imports.run``, with ``keys.refresh`` in the
batch's transaction), and other bulk writes rely on the ``dedupe.rebuild`` job.
"""

from __future__ import annotations

from sqlalchemy import select

from crm.dedupe.models import DuplicateRule
from crm.extensions import db
from crm.metadata import specs
from crm.uow import current_unit, in_unit

_CACHE_KEY = ("dedupe", "keyed entities")
_GATHERED = "dedupe.gathered"  # on a unit's info: entity key -> record ids


def keyed_entities() -> frozenset[str]:
    """The entities whose records carry keys of an enabled rule (their own, or another
    entity's that compares with them), worked out once per metadata version."""
    compiled = specs.raw()
    found = compiled.derived.get(_CACHE_KEY)
    if found is None:
        rows = db.session.execute(
            select(DuplicateRule.entity_key, DuplicateRule.compare_entity_key).where(
                DuplicateRule.enabled.is_(True)
            )
        ).all()
        found = frozenset(k for row in rows for k in row if k)
        compiled.derived[_CACHE_KEY] = found
    return found


def noticed(entity_key: str, record_id: int) -> None:
    """A record of ``entity_key`` changed in the current unit of work: gather it for the
    key refresh at that unit's commit, when a rule reads the entity."""
    if not in_unit() or entity_key not in keyed_entities():
        return
    unit = current_unit()
    gathered = unit.info.get(_GATHERED)
    if gathered is None:
        gathered = unit.info[_GATHERED] = {}
        unit.before_commit(lambda: _refresh(gathered))
    gathered.setdefault(entity_key, set()).add(int(record_id))


def _refresh(gathered: dict[str, set[int]]) -> None:
    from crm.dedupe import keys

    compiled = specs.raw()
    for entity_key, ids in gathered.items():
        spec = compiled.entity(entity_key)
        if spec is not None:
            keys.refresh(spec, ids)


__all__ = ["keyed_entities", "noticed"]

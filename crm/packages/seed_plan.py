"""The seed part of a plan: what applying a package would do to its seed records.

Pure data and the pure merge of one record (``merge``); ``crm.packages.seed`` reads the
installation and builds it. Per seed record, three states of each field in the seed format
(``crm.packages.seed_values``): base (what the package that last applied the record said),
mine (the record now) and theirs (the package). Compared are the fields base or theirs
name (the others are the company's own):

  m == t              -> nothing
  b == m, b != t      -> take theirs (only the package changed it)
  otherwise           -> keep mine (only the company changed it, or both did: records
                         are people's data, so there is no conflict to choose)

A seed record without a record yet is added; one whose record was deleted here (in the
recycle bin, or purged) is not made again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ADD = "add"
UPDATE = "update"
KEEP = "keep"  # only local edits differ from the package: nothing to write
DELETED = "deleted"  # deleted here: not made again
SAME = "same"

WRITES = (ADD, UPDATE)


@dataclass(frozen=True)
class FieldStep:
    """One field of a seed record: an update (``old`` here → ``new`` the package's) or a
    local edit that is kept (``old`` the package's value, ``new`` what the record has)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class SeedStep:
    """One seed record (``entity``, ``key``: its "@key", ``index``: its place in the
    package's list). ``values``: the package's values in the seed format (without
    empties); ``changes`` the fields to write, ``kept`` the local edits kept."""

    entity: str
    key: str
    index: int
    action: str
    record_id: int | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    changes: tuple[FieldStep, ...] = ()
    kept: tuple[FieldStep, ...] = ()

    @property
    def path(self) -> str:
        """The JSON pointer of the record in the package."""
        return f"/seed/{self.entity}/{self.index}"


@dataclass(frozen=True)
class Counts:
    """Seed records of one entity by what applying would do."""

    add: int = 0
    update: int = 0
    kept: int = 0
    deleted: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class SeedPlan:
    """Every seed record's step, in the package's order."""

    steps: tuple[SeedStep, ...] = ()

    @property
    def empty(self) -> bool:
        """True when applying would write no record."""
        return not any(s.action in WRITES for s in self.steps)

    def writes(self) -> list[SeedStep]:
        """The steps that create or change a record."""
        return [s for s in self.steps if s.action in WRITES]

    def by_entity(self) -> list[tuple[str, Counts, list[SeedStep]]]:
        """(entity, counts, the steps worth a line: all but the unchanged ones), by
        entity key."""
        out = []
        for entity in sorted({s.entity for s in self.steps}):
            mine = [s for s in self.steps if s.entity == entity]
            counts = Counts(
                add=sum(s.action == ADD for s in mine),
                update=sum(s.action == UPDATE for s in mine),
                kept=sum(bool(s.kept) and s.action != DELETED for s in mine),
                deleted=sum(s.action == DELETED for s in mine),
                unchanged=sum(s.action == SAME for s in mine),
            )
            out.append((entity, counts, [s for s in mine if s.action != SAME]))
        return out


def merge(
    entity: str,
    key: str,
    index: int,
    theirs: Mapping[str, Any],
    mine: Mapping[str, Any] | None,
    base: Mapping[str, Any] | None,
    record_id: int | None = None,
) -> SeedStep:
    """The step of one seed record. ``base`` None: never applied here (add); ``mine``
    None: applied, and its record deleted here since (not made again). Values are in the
    seed format without empties (a missing field is empty)."""
    if base is None:
        return SeedStep(entity, key, index, ADD, None, dict(theirs))
    if mine is None:
        return SeedStep(entity, key, index, DELETED, record_id, dict(theirs))
    changes, kept = [], []
    for name in sorted(set(base) | set(theirs)):
        b, m, t = base.get(name), mine.get(name), theirs.get(name)
        if m == t:
            continue
        if b == m:
            changes.append(FieldStep(name, m, t))
        else:
            kept.append(FieldStep(name, t, m))
    action = UPDATE if changes else KEEP if kept else SAME
    return SeedStep(
        entity, key, index, action, record_id, dict(theirs), tuple(changes), tuple(kept)
    )

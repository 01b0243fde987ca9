"""Pool events in a record's history and their words on the timeline: a record entered a
pool (returned by hand or by a reclaim rule, and why) or was claimed from one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

ENTER, CLAIM = "pool_enter", "pool_claim"
ACTIONS = (ENTER, CLAIM)
POOL_KEY, NOTE_KEY = "@pool", "@note"  # history keys of the pool and the reason; never fields


def changes(
    before: int | None, after: int | None, pool_id: int, reason: str = "", note: str = ""
) -> dict:
    """The history ``changes`` of a pool event: the owner before and after, the pool and
    the reason (``[before, after]`` pairs, as every history entry holds)."""
    out: dict[str, list] = {"owner_id": [before, after], POOL_KEY: [pool_id, reason or None]}
    if note:
        out[NOTE_KEY] = [None, note]
    return out


def reason_words(reason: str | None) -> str:
    """Why a record entered a pool, in words."""
    if reason == "no_activity":
        return _("no follow-up activity in time")
    if reason == "no_stage_move":
        return _("no stage move in time")
    if reason == "no_won":
        return _("no won deal in time")
    return _("returned by hand")


def words(action: str, stored: Mapping[str, Any] | None) -> str:
    """The timeline's words for a pool event stored as ``stored`` (its ``changes``)."""
    from crm.pools import spec as pool_specs

    stored = stored or {}
    pool_id, reason = (stored.get(POOL_KEY) or [None, None])[:2]
    pool = pool_specs.by_id(pool_id) if isinstance(pool_id, int) else None
    name = pool.label if pool is not None else _("a pool")
    if action == CLAIM:
        return _("claimed this from %(pool)s", pool=name)
    text = _("put this in %(pool)s: %(reason)s", pool=name, reason=reason_words(reason))
    note = (stored.get(NOTE_KEY) or [None, None])[1]
    return f"{text} — {note}" if note else text

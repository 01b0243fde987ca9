"""Designer views: the configuration change log."""

from __future__ import annotations

from crm.designer import bp


@bp.get("/changes")
def changes():
    return "Change log (coming in a moment)"

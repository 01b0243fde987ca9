"""Designer views: list views."""

from __future__ import annotations

from crm.designer import bp


@bp.get("/entities/<key>/views")
def list_views(key: str):
    return "List views (coming in a moment)"

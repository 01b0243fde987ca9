"""The installation's configuration as a plan reads it.

``current_config()`` is what ``crm.packages.export`` writes, without the package header:
entities with their fields, layouts, shared list views and pipelines, and roles with their
grants and field rights. One reader for export and plan, so a company's own export planned
against itself says "nothing would change".
"""

from __future__ import annotations

from typing import Any

from crm.packages.export import configuration


def current_config() -> dict[str, Any]:
    """The installation's entities (fields, layouts, shared list views, pipelines) and
    roles in the package format, defaults left out. Reads only."""
    return configuration()

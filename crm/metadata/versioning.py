"""The metadata version and the change log, shared by every metadata writer.

Callers run inside their own transaction; these functions never commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from crm.extensions import db
from crm.metadata.models import ConfigChange, MetaVersion


def bump_version() -> int:
    """Increment the metadata version (taking its row lock first serialises metadata
    writers) and return the new number."""
    db.session.execute(
        update(MetaVersion).where(MetaVersion.id == 1).values(version=MetaVersion.version + 1)
    )
    return int(db.session.scalar(select(MetaVersion.version).where(MetaVersion.id == 1)))


def log_change(
    *,
    version: int,
    actor_id: int | None,
    entity_key: str,
    action: str,
    field_key: str | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Add one entry to the configuration change log."""
    db.session.add(
        ConfigChange(
            user_id=actor_id,
            version=version,
            entity_key=entity_key,
            field_key=field_key,
            action=action,
            before=before,
            after=after,
        )
    )

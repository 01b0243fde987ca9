"""The metadata version and the change log, shared by every metadata writer.

Writers run inside their own transaction; these functions never commit. ``change_log_page``
reads the log back for the designer's change-log page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from crm.extensions import db
from crm.metadata.models import ConfigChange, MetaVersion

# On the session's ``info`` while its transaction has bumped the metadata version: the
# number is not the database's until the commit (a rollback gives it back, and the next
# change takes it again), so nothing compiled in between may be kept under it
# (``crm.metadata.specs.current``).
BUMPED = "atelier_version_bumped"


def bump_version() -> int:
    """Increment the metadata version (taking its row lock first serialises metadata
    writers) and return the new number."""
    db.session.info[BUMPED] = True
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


def change_log_page(
    entity_key: str | None, page: int, per_page: int
) -> tuple[list[ConfigChange], bool]:
    """Page ``page`` (from 1) of the change log, newest first, ``per_page`` entries: of one
    entity's changes, or of all when ``entity_key`` is None (a purged entity's history is
    kept, so any key may have entries); and whether an older page exists. Reads only."""
    query = select(ConfigChange).order_by(ConfigChange.at.desc(), ConfigChange.id.desc())
    if entity_key is not None:
        query = query.where(ConfigChange.entity_key == entity_key)
    rows = db.session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)).all()
    return list(rows[:per_page]), len(rows) > per_page


def _transaction_ended(session: Session, transaction: Any) -> None:
    # Only the outermost transaction's end: a savepoint released inside a metadata change
    # (a nested writer, such as a package's apply calling the pipeline service) leaves
    # the change going on.
    if transaction.parent is None:
        session.info.pop(BUMPED, None)


event.listen(Session, "after_transaction_end", _transaction_ended)

"""Imports every system-table model so that ``db.metadata`` is complete."""


def import_all() -> None:
    """Register all models on ``db.metadata`` (Alembic and tests call this)."""

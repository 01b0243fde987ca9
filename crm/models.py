"""Imports every system-table model so that ``db.metadata`` is complete."""


def import_all() -> None:
    """Register all models on ``db.metadata`` (Alembic and tests call this)."""
    import crm.metadata.models
    import crm.records.models
    import crm.security.models  # noqa: F401

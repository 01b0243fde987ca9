"""Imports every system-table model so that ``db.metadata`` is complete."""


def import_all() -> None:
    """Register all models on ``db.metadata`` (Alembic and tests call this)."""
    import crm.access.models
    import crm.activities.models
    import crm.analytics.models
    import crm.api.models
    import crm.approvals.models
    import crm.auth.models
    import crm.automation.models
    import crm.dedupe.models
    import crm.golive.models
    import crm.imports.models
    import crm.jobs.models
    import crm.metadata.models
    import crm.notifications.models
    import crm.packages.models
    import crm.pipelines.models
    import crm.pools.models
    import crm.records.models
    import crm.reports.models
    import crm.webhooks.models  # noqa: F401

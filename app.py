"""The application factory. Nothing else happens at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Atelier CRM application.

    ``config`` overrides settings read from the environment (see ``crm.config``). Raises
    ``crm.migrate.DatabaseNotMigrated`` when the database is not at the code's revision,
    with the command that fixes it, unless ``CHECK_MIGRATIONS`` is False.
    """
    from crm import config as settings
    from crm import i18n
    from crm.db import configure_engine
    from crm.extensions import babel, csrf, db, htmx, login_manager
    from crm.migrate import check_up_to_date
    from crm.models import import_all
    from crm.web import uploads

    values = settings.load(config)
    app = Flask(
        __name__,
        instance_path=values["INSTANCE_PATH"],
        template_folder="templates",
        static_folder="static",
    )
    app.config.update(values)

    import_all()
    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    uploads.install(app)  # after htmx-flask, which sets its own request class
    login_manager.init_app(app)
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        timezone_selector=i18n.select_timezone,
        default_translation_directories="crm/translations",
    )
    # {% trans %} blocks: whitespace collapsed, so a template's line breaks never reach
    # the catalog's message ids.
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    with app.app_context():
        configure_engine(
            db.engine, busy_timeout_ms=int(app.config.get("SQLITE_BUSY_TIMEOUT_MS", 5000))
        )
        if app.config.get("CHECK_MIGRATIONS", True):
            try:
                with db.engine.connect() as connection:
                    check_up_to_date(connection, db.engine.url.render_as_string(hide_password=True))
            except Exception:
                db.engine.dispose()
                raise

    from crm import access, api, designer, golive
    from crm.activities import views as activity_views
    from crm.analytics import views as analytics_views
    from crm.analytics import views_adoption as adoption_views
    from crm.approvals import views as approval_views
    from crm.auth.views import bp as auth_bp
    from crm.auth.views import init_login
    from crm.automation import dryrun_views
    from crm.cli import register_cli
    from crm.dedupe import views as dedupe_views
    from crm.imports import views as import_views
    from crm.jobs import queue as job_queue
    from crm.jobs import views as job_views
    from crm.notifications import views as notification_views
    from crm.pipelines import views as pipeline_views
    from crm.pools import views as pool_views
    from crm.records import views as records_views
    from crm.reports import views as report_views
    from crm.web import register_web, templating
    from crm.web.views import bp as web_bp
    from crm.webhooks import register as register_webhooks

    init_login(app)
    register_web(app)
    templating.register(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(web_bp)
    designer.register(app)
    access.register(app)
    records_views.register(app)
    pipeline_views.register(app)
    job_queue.init_app(app)
    job_views.register(app)
    import_views.register(app)
    golive.register(app)
    activity_views.register(app)
    dryrun_views.register(app)
    register_webhooks(app)
    approval_views.register(app)
    notification_views.register(app)
    pool_views.register(app)
    dedupe_views.register(app)
    analytics_views.register(app)
    adoption_views.register(app)
    report_views.register(app)
    api.register(app)
    register_cli(app)
    return app

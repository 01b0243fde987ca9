"""Alembic environment: runs on a connection handed in by crm.migrate, or on a URL."""

from alembic import context
from sqlalchemy import create_engine

config = context.config


def include_name(name, type_, parent_names):
    # Entity tables are created by the schema pipeline at run time, never by Alembic.
    return not (type_ == "table" and name and name.startswith("x_"))


def _target_metadata():
    from crm.extensions import db
    from crm.models import import_all

    import_all()
    return db.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=_target_metadata(),
            include_name=include_name,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from crm.config import database_url

        url = database_url()
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(
            connection=conn,
            target_metadata=_target_metadata(),
            include_name=include_name,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()

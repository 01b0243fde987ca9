"""The access stamp: a value that changes with every change to roles, grants, field rights,
role assignments or departments, so each worker can keep users' rights between requests.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

``meta_version.access_stamp`` is read with the metadata version (one query per request).
Database triggers set it, so no write can forget to: not the access screens, not an
import, not a hand-run SQL statement. The stamp is random rather than a counter: a
transaction that changes rights and rolls back must not leave a worker holding rights
under a value a later, different change would take again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The tables users' rights are read from (``crm.access.policy.load_rights``). Users'
# own columns (department, administrator) are part of the cache key instead, and record
# shares are resolved in SQL on every query, so neither needs the stamp.
TABLES = ("roles", "role_grants", "role_field_rights", "user_roles", "departments")
EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    with op.batch_alter_table("meta_version") as batch:
        batch.add_column(
            sa.Column("access_stamp", sa.BigInteger(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION atelier_access_changed() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE meta_version
                SET access_stamp = floor(random() * 9007199254740991)::bigint
                WHERE id = 1;
                RETURN NULL;
            END $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER atelier_access_{table} "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION atelier_access_changed()"
            )
        return
    for table in TABLES:
        for event in EVENTS:
            op.execute(  # fixed names from the constants above
                f"CREATE TRIGGER atelier_access_{table}_{event} AFTER {event.upper()} ON {table} "  # noqa: S608
                "BEGIN UPDATE meta_version SET access_stamp = random() WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS atelier_access_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS atelier_access_changed()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS atelier_access_{table}_{event}")
    with op.batch_alter_table("meta_version") as batch:
        batch.drop_column("access_stamp")

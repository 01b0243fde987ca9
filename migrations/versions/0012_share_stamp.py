"""The share stamp: a value that changes with every change to record shares, so each
worker can remember which shares reach a user between requests.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

A list under a level that shares widen (own records, own department...) asks whether any
share reaches the user on that entity: without shares the list reads one index in order,
with them it merges two. That answer was one query per request; it is now kept with the
user's rights under ``meta_version.share_stamp``, read with the metadata version (the one
query per request there already was). Triggers set it, as for the access stamp (0007),
random for the same reason.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: on SQLite a batch rebuilds meta_version, and
    # the access-stamp triggers (0007) that name it would break the rename.
    op.add_column(
        "meta_version",
        sa.Column("share_stamp", sa.BigInteger(), nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION atelier_shares_changed() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE meta_version
                SET share_stamp = floor(random() * 9007199254740991)::bigint
                WHERE id = 1;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER atelier_shares_record_shares "
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON record_shares "
            "FOR EACH STATEMENT EXECUTE FUNCTION atelier_shares_changed()"
        )
        return
    for event in EVENTS:
        op.execute(  # fixed names from the constant above
            f"CREATE TRIGGER atelier_shares_record_shares_{event} AFTER {event.upper()} "  # noqa: S608
            "ON record_shares "
            "BEGIN UPDATE meta_version SET share_stamp = random() WHERE id = 1; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS atelier_shares_record_shares ON record_shares")
        op.execute("DROP FUNCTION IF EXISTS atelier_shares_changed()")
    else:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS atelier_shares_record_shares_{event}")
    op.execute("ALTER TABLE meta_version DROP COLUMN share_stamp")  # SQLite 3.35+ too

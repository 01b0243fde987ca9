"""Outgoing webhooks: the delivery log and the allowed private hosts; jobs that wait
(``jobs.run_after``: the sweep dispatches them once that moment has passed).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(500), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey(
                "automation_rules.id", name="fk_webhook_deliveries_rule_id", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("entity_key", sa.String(41), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
    )
    op.create_index(
        "ix_webhook_deliveries_status", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "webhook_allowed_hosts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("host", sa.String(253), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", name="fk_webhook_allowed_hosts_created_by", ondelete="SET NULL"
            ),
            nullable=True,
        ),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("run_after", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("run_after")
    op.drop_table("webhook_allowed_hosts")
    op.drop_index("ix_webhook_deliveries_status", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")

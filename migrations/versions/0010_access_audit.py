"""The access audit log: who changed which access, when, from what to what.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

Roles (grants, field rights, administration flags), role assignments, departments and
placements, users (created, invited, deactivated, reactivated), record shares and owner
changes each write one row in the same transaction as the change
(``crm.access.audit``). Subjects are plain ids, not foreign keys: the log outlives what
it is about.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("role_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("entity_key", sa.String(41), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
    )
    op.create_index("ix_access_audit_at", "access_audit", ["at"])
    op.create_index("ix_access_audit_user", "access_audit", ["user_id", "at"])
    op.create_index("ix_access_audit_role", "access_audit", ["role_id", "at"])
    op.create_index("ix_access_audit_department", "access_audit", ["department_id", "at"])
    op.create_index("ix_access_audit_actor", "access_audit", ["actor_id", "at"])


def downgrade() -> None:
    op.drop_table("access_audit")

"""Record history: the version each change made.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

A bulk edit of a list loaded some time ago sets a value on top of newer saves by others
when none of them touched that value; to tell, the history must say which version each
change made. Entries written before this revision have none: a bulk edit treats them as
"cannot be known" (the record is skipped, as before).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("record_history") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("record_history") as batch:
        batch.drop_column("version")

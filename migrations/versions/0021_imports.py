"""Import runs: the run, its file in 1 MiB chunks, the records it wrote, its bad rows.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_imports_user_id_users", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("jobs.id", name="fk_imports_job_id_jobs", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_imports_user_id", "imports", ["user_id"])
    op.create_index("ix_imports_created_at", "imports", ["created_at"])
    op.create_table(
        "import_chunks",
        sa.Column(
            "import_id",
            sa.Integer(),
            sa.ForeignKey(
                "imports.id", name="fk_import_chunks_import_id_imports", ondelete="CASCADE"
            ),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "import_rows",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "import_id",
            sa.Integer(),
            sa.ForeignKey(
                "imports.id", name="fk_import_rows_import_id_imports", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=True),
    )
    op.create_index("ix_import_rows_import_id", "import_rows", ["import_id"])
    op.create_table(
        "import_problems",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "import_id",
            sa.Integer(),
            sa.ForeignKey(
                "imports.id", name="fk_import_problems_import_id_imports", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
    )
    op.create_index("ix_import_problems_import_id", "import_problems", ["import_id"])


def downgrade() -> None:
    op.drop_index("ix_import_problems_import_id", table_name="import_problems")
    op.drop_table("import_problems")
    op.drop_index("ix_import_rows_import_id", table_name="import_rows")
    op.drop_table("import_rows")
    op.drop_table("import_chunks")
    op.drop_index("ix_imports_created_at", table_name="imports")
    op.drop_index("ix_imports_user_id", table_name="imports")
    op.drop_table("imports")

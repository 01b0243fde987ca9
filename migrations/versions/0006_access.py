"""Organisation and access: departments, roles, grants, field rights, shares, invites.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Seeds the role "Staff" (every action, all records, on every entity) and gives it to every
existing user, so an installation upgraded from before roles keeps working as it did.
"""

from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ALL = 4
ACTIONS = ("create", "read", "edit", "delete", "export", "import", "bulk_edit", "assign")


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_departments"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["departments.id"], name="fk_departments_parent", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["users.id"], name="fk_departments_manager", ondelete="SET NULL"
        ),
        sa.UniqueConstraint("parent_id", "name", name="uq_departments_parent_name"),
    )
    op.create_index("ix_departments_parent_id", "departments", ["parent_id"])
    op.create_index("ix_departments_path", "departments", ["path"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_users_department", "departments", ["department_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_users_department_id", ["department_id"])
    roles = op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("can_configure", sa.Boolean(), nullable=False),
        sa.Column("can_manage_access", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        sa.UniqueConstraint("name", name="uq_roles_name"),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "role_id", name="pk_user_roles"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_roles_user", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name="fk_user_roles_role", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_user_roles_role_id", "user_roles", ["role_id"])
    grants = op.create_table(
        "role_grants",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("role_id", "entity_key", "action", name="pk_role_grants"),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name="fk_role_grants_role", ondelete="CASCADE"
        ),
        sa.CheckConstraint("level BETWEEN 0 AND 4", name="ck_role_grants_level"),
    )
    op.create_table(
        "role_field_rights",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("field_key", sa.String(41), nullable=False),
        sa.Column("access", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("role_id", "entity_key", "field_key", name="pk_role_field_rights"),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name="fk_role_field_rights_role", ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            "access IN ('hidden', 'read', 'edit')", name="ck_role_field_rights_access"
        ),
    )
    op.create_table(
        "record_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_key", sa.String(41), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("access", sa.String(10), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_record_shares"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_record_shares_user", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name="fk_record_shares_department",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_record_shares_created_by", ondelete="SET NULL"
        ),
        sa.CheckConstraint("access IN ('read', 'edit')", name="ck_record_shares_access"),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (department_id IS NULL)", name="ck_record_shares_target"
        ),
    )
    # One share per record and target (NULLs are distinct: the other kind's rows don't clash).
    op.create_index(
        "uq_record_shares_user",
        "record_shares",
        ["entity_key", "record_id", "user_id"],
        unique=True,
    )
    op.create_index(
        "uq_record_shares_department", "record_shares",
        ["entity_key", "record_id", "department_id"], unique=True,
    )  # fmt: skip
    op.create_index("ix_record_shares_user", "record_shares", ["entity_key", "user_id"])
    op.create_index("ix_record_shares_department", "record_shares", ["entity_key", "department_id"])
    op.create_table(
        "user_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_user_invites"),
        sa.UniqueConstraint("token_hash", name="uq_user_invites_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_invites_user", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_user_invites_created_by", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_user_invites_user_id", "user_invites", ["user_id"])
    seed_staff_role(op.get_bind(), roles, grants)


def seed_staff_role(conn, roles=None, grants=None) -> None:
    """The role "Staff": everything on every entity. Also used by the test database reset."""
    from datetime import datetime

    now = datetime.now(UTC).replace(tzinfo=None)
    conn.execute(
        sa.text(
            "INSERT INTO roles (id, name, description, can_configure, can_manage_access,"
            " created_at, updated_at) VALUES (1, 'Staff', :d, :f, :f, :now, :now)"
        ),
        {"d": "Every action on every record. Narrow it, or make roles of your own.",
         "f": False, "now": now},
    )  # fmt: skip
    for action in ACTIONS:
        conn.execute(
            sa.text(
                "INSERT INTO role_grants (role_id, entity_key, action, level)"
                " VALUES (1, '*', :a, :l)"
            ),
            {"a": action, "l": ALL},
        )
    conn.execute(sa.text("INSERT INTO user_roles (user_id, role_id) SELECT id, 1 FROM users"))
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT setval('roles_id_seq', (SELECT max(id) FROM roles))"))


def downgrade() -> None:
    op.drop_table("user_invites")
    op.drop_table("record_shares")
    op.drop_table("role_field_rights")
    op.drop_table("role_grants")
    op.drop_table("user_roles")
    op.drop_table("roles")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_department_id")
        batch.drop_constraint("fk_users_department", type_="foreignkey")
        batch.drop_column("department_id")
    op.drop_index("ix_departments_path", table_name="departments")
    op.drop_index("ix_departments_parent_id", table_name="departments")
    op.drop_table("departments")

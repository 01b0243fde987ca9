"""Stable keys for roles and shared list views (configuration packages name them by key).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-12

``roles.key`` (unique) and ``meta_list_views.key`` (unique per entity; shared views only:
private views are people's own and keep NULL, which a unique index lets repeat). Existing
rows get a key from their name, as ``crm.metadata.keys.suggest_key`` would suggest it
(transliterated, snake_case, not a reserved word, unique), "role_<id>"/"view_<id>" when the
name gives nothing usable. The rule is copied here, not imported, so this migration does
the same thing tomorrow whatever the application's helper becomes.
"""

import re

import sqlalchemy as sa
from alembic import op
from anyascii import anyascii

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _forbidden() -> frozenset[str]:
    from crm.metadata.keys import APP_RESERVED, PYTHON_RESERVED, SPINE, SQL_RESERVED

    return SQL_RESERVED | PYTHON_RESERVED | APP_RESERVED | SPINE


def key_for(name: str, taken: set[str], fallback: str) -> str:
    """A key from ``name``, unique in ``taken`` (which it joins)."""
    forbidden = _forbidden()
    latin = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", anyascii(" ".join((name or "").split())))
    base = re.sub(r"[^a-z0-9]+", "_", latin.lower()).strip("_")[:36]
    if not base or not base[0].isalpha():
        base = fallback
    candidate, n = base, 2
    while (
        candidate in taken
        or candidate in forbidden
        or "__fts" in candidate
        or not KEY_RE.match(candidate)
    ):
        candidate = f"{base}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch rebuild: on SQLite a rebuilt table loses its triggers
    # (roles carry the access stamp's, migration 0007). Nullable for the same reason
    # (SQLite adds no NOT NULL column without a default); the services always set it.
    op.add_column("roles", sa.Column("key", sa.String(41), nullable=True))
    op.add_column("meta_list_views", sa.Column("key", sa.String(41), nullable=True))
    conn = op.get_bind()
    roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name"), sa.column("key"))
    taken: set[str] = set()
    for row in conn.execute(sa.select(roles.c.id, roles.c.name).order_by(roles.c.id)).all():
        key = key_for(row.name, taken, f"role_{row.id}")
        conn.execute(roles.update().where(roles.c.id == row.id).values(key=key))
    views = sa.table(
        "meta_list_views",
        sa.column("id", sa.Integer),
        sa.column("entity_key"),
        sa.column("name"),
        sa.column("owner_id"),
        sa.column("key"),
    )
    shared = conn.execute(
        sa.select(views.c.id, views.c.entity_key, views.c.name)
        .where(views.c.owner_id.is_(None))
        .order_by(views.c.id)
    ).all()
    by_entity: dict[str, set[str]] = {}
    for row in shared:
        key = key_for(row.name, by_entity.setdefault(row.entity_key, set()), f"view_{row.id}")
        conn.execute(views.update().where(views.c.id == row.id).values(key=key))
    op.create_index("uq_roles_key", "roles", ["key"], unique=True)
    op.create_index(
        "uq_meta_list_views_entity_key_key", "meta_list_views", ["entity_key", "key"], unique=True
    )


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later), keeping the tables' triggers.
    op.drop_index("uq_meta_list_views_entity_key_key", table_name="meta_list_views")
    op.drop_index("uq_roles_key", table_name="roles")
    op.drop_column("meta_list_views", "key")
    op.drop_column("roles", "key")

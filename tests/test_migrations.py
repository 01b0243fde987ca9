"""Alembic migrations: up from empty on this run's database, and in step with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from crm import migrate
from crm.extensions import db
from crm.models import import_all


def test_upgrade_from_empty_creates_system_tables(databases, tmp_path):
    url = databases.empty(tmp_path)
    migrate.upgrade(url)
    migrate.upgrade(url)  # idempotent
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"users", "auth_sessions", "login_failures", "app_settings"} <= tables
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        engine.dispose()


def test_models_match_migrations(databases, tmp_path):
    """A model changed without a migration shows up here as a difference."""
    import_all()
    url = databases.empty(tmp_path)
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [
                d
                for d in compare_metadata(ctx, db.metadata)
                if not (d[0] == "remove_table" and d[1].name.startswith("x_"))
            ]
    finally:
        engine.dispose()
    assert diff == []


def _owner_index_columns(url: str, table: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes(table)}
    finally:
        engine.dispose()
    return found[f"ix_{table}__owner_id"]


def test_existing_entity_tables_get_the_owner_and_last_change_index(databases, tmp_path):
    """Migration 0008 rebuilds the owner index of tables made before it (and back)."""
    from alembic import command

    from crm.schema import service as schema
    from tests.conftest import build_app

    url = databases.empty(tmp_path)
    migrate.upgrade(url)
    app = build_app(url, str(tmp_path / "instance"))
    with app.app_context():
        schema.create_entity(
            "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
        )
        db.session.remove()
        db.engine.dispose()
    assert _owner_index_columns(url, "x_deal") == ["owner_id", "updated_at", "id"]

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
    finally:
        engine.dispose()
    assert _owner_index_columns(url, "x_deal") == ["owner_id"]  # as tables were made before
    migrate.upgrade(url)
    assert _owner_index_columns(url, "x_deal") == ["owner_id", "updated_at", "id"]


def test_existing_search_structures_are_rebuilt_for_any_script(databases, tmp_path):
    """Migration 0013 rebuilds the search structures of tables made before it (SQLite's
    trigram table had unprefixed columns and no gram table; PostgreSQL had no gram index),
    indexing the records already there; downgrading puts the old ones back."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from werkzeug.datastructures import MultiDict

    from crm.metadata import list_views, specs
    from crm.records import listing
    from crm.schema import service as schema
    from crm.schema.doctor import reconcile
    from tests.conftest import build_app
    from tests.factories import insert_rows, make_user

    url = databases.empty(tmp_path)
    migrate.upgrade(url)
    app = build_app(url, str(tmp_path / "instance"))
    field = {"type": "text", "label": "Title", "searchable": True}
    with app.app_context():
        schema.create_entity("deal", "Deal", fields=[{"key": "title", **field}])
        insert_rows("deal", {"title": "王伟的订单"}, {"title": "Order 7"})
        db.session.remove()
        db.engine.dispose()
    before = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0013")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, before.down_revision)
        with engine.connect() as conn:
            insp = inspect(conn)
            if conn.dialect.name == "sqlite":
                assert "x_deal__fts_cjk" not in insp.get_table_names()
                columns = [c["name"] for c in insp.get_columns("x_deal__fts")]
                assert columns == ["title"]
            else:
                assert "ix_x_deal__title_cjk" not in {i["name"] for i in insp.get_indexes("x_deal")}
    finally:
        engine.dispose()
    migrate.upgrade(url)
    with app.app_context():
        assert reconcile(db.session.connection(), specs.current()) == []
        db.session.rollback()
        user = make_user("reader@example.com", is_admin=True)
        spec = specs.current().entity("deal")
        view = list_views.default_view("deal", user.id)
        for q, titles in (("王伟", {"王伟的订单"}), ("Order", {"Order 7"})):
            req = listing.parse_request(user, spec, MultiDict({"q": q}), view)
            assert {r["title"] for r in listing.list_page(user, spec, req).rows} == titles
        db.session.remove()
        db.engine.dispose()


def _triggers(conn, table: str) -> set[str]:
    from sqlalchemy import text

    if conn.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
    else:
        sql = (
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgrelid = CAST(:t AS regclass)"
        )
    return set(conn.execute(text(sql), {"t": table}).scalars())


def test_label_translations_migration_keeps_rows_and_triggers(databases, tmp_path):
    """Migration 0014 adds ``translations`` ({} for existing rows) to the five tables with
    admin-typed labels, and back; the access stamp's triggers on roles and departments
    survive both ways (a SQLite table rebuild would drop them)."""
    from alembic import command
    from sqlalchemy import text

    tables = ("meta_entities", "meta_fields", "meta_list_views", "roles", "departments")
    url = databases.empty(tmp_path)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0013")
            before = {t: _triggers(conn, t) for t in ("roles", "departments")}
            conn.execute(
                text(
                    "INSERT INTO departments (name, path, created_at) "
                    "VALUES ('East', '/', CURRENT_TIMESTAMP)"
                )
            )
            command.upgrade(cfg, "0014")
            assert conn.execute(text("SELECT translations FROM departments")).scalar() in (
                {},
                "{}",
            )
            for t in tables:
                assert "translations" in {c["name"] for c in inspect(conn).get_columns(t)}
            assert {t: _triggers(conn, t) for t in before} == before
            command.downgrade(cfg, "0013")
            for t in tables:
                assert "translations" not in {c["name"] for c in inspect(conn).get_columns(t)}
            assert {t: _triggers(conn, t) for t in before} == before
            assert all(before.values())
    finally:
        engine.dispose()


def test_stable_keys_migration_backfills_roles_and_shared_views(databases, tmp_path):
    """Migration 0016 gives roles and shared list views made before it a key from their
    name (unique, valid, "role_<id>" when the name gives none); private views keep none;
    the access stamp's triggers on roles survive; downgrading removes the column."""
    from alembic import command
    from sqlalchemy import text

    from crm.metadata.keys import key_problems

    url = databases.empty(tmp_path)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0015")
            triggers = _triggers(conn, "roles")
            insert_role = text(
                "INSERT INTO roles (name, description, can_configure, can_manage_access, "
                "created_at, updated_at) VALUES (:n, '', false, false, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"
            )
            for name in ("Sales rep", "销售代表", "User", "user!", "42"):
                conn.execute(insert_role, {"n": name})
            conn.execute(
                text(
                    "INSERT INTO users (email, display_name, password_hash, is_active, "
                    "is_admin, created_at, updated_at, password_changed_at) VALUES "
                    "('a@example.com', 'A', 'x', true, false, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            insert_view = text(
                "INSERT INTO meta_list_views (entity_key, name, owner_id, columns, sort, "
                "filters, is_default, position, created_at, updated_at) VALUES (:e, :n, :o, "
                "'[]', '[]', '[]', false, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
            for entity, name, owner in (
                ("deal", "Open deals", None),
                ("deal", "open deals!", None),
                ("account", "Open deals", None),
                ("deal", "Mine", 1),
            ):
                conn.execute(insert_view, {"e": entity, "n": name, "o": owner})
            command.upgrade(cfg, "0016")
            roles = dict(conn.execute(text("SELECT name, key FROM roles")).all())
            five = conn.execute(text("SELECT id FROM roles WHERE name = '42'")).scalar()
            assert roles == {
                "Staff": "staff",  # migration 0006's
                "Sales rep": "sales_rep",
                "销售代表": "xiao_shou_dai_biao",
                "User": "user_2",  # "user" is a reserved word
                "user!": "user_3",
                "42": f"role_{five}",
            }
            assert all(not key_problems(k) for k in roles.values())
            views = conn.execute(
                text("SELECT entity_key, name, key FROM meta_list_views ORDER BY id")
            ).all()
            assert [tuple(v) for v in views] == [
                ("deal", "Open deals", "open_deals"),
                ("deal", "open deals!", "open_deals_2"),
                ("account", "Open deals", "open_deals"),
                ("deal", "Mine", None),
            ]
            assert _triggers(conn, "roles") == triggers and triggers
            command.downgrade(cfg, "0015")
            assert "key" not in {c["name"] for c in inspect(conn).get_columns("roles")}
            assert _triggers(conn, "roles") == triggers
    finally:
        engine.dispose()


def test_jobs_migration_up_and_down(databases, tmp_path):
    """Migration 0018 adds the jobs outbox and the staged package uploads, and back."""
    from alembic import command

    url = databases.empty(tmp_path)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0018")
            tables = set(inspect(conn).get_table_names())
            assert {"jobs", "package_uploads"} <= tables
            columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
            assert {
                "kind",
                "payload",
                "status",
                "attempts",
                "created_by",
                "heartbeat_at",
            } <= columns
            command.downgrade(cfg, "0017")
            tables = set(inspect(conn).get_table_names())
            assert not {"jobs", "package_uploads"} & tables
    finally:
        engine.dispose()


def test_seed_records_migration_up_and_down(databases, tmp_path):
    """Migration 0019 adds ``package_seed_records`` (one row per entity and "@key") and
    takes it away again."""
    from alembic import command

    url = databases.empty(tmp_path)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0019")
            columns = {c["name"] for c in inspect(conn).get_columns("package_seed_records")}
            assert {"entity_key", "seed_key", "record_id", "package_name", "base"} <= columns
            uniques = inspect(conn).get_unique_constraints("package_seed_records")
            assert [u["column_names"] for u in uniques] == [["entity_key", "seed_key"]]
            command.downgrade(cfg, "0018")
            assert "package_seed_records" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_import_mappings_migration_up_and_down(databases, tmp_path):
    """Migration 0020 adds ``import_mappings`` (saved import mappings, one name per entity)
    and takes it away again."""
    from alembic import command

    url = databases.empty(tmp_path)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0020")
            columns = {c["name"] for c in inspect(conn).get_columns("import_mappings")}
            assert {"entity_key", "name", "columns", "mapping", "created_by"} <= columns
            uniques = inspect(conn).get_unique_constraints("import_mappings")
            assert [u["column_names"] for u in uniques] == [["entity_key", "name"]]
            command.downgrade(cfg, "0019")
            assert "import_mappings" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_imports_migration_up_and_down(databases, tmp_path):
    """Migration 0021 adds the import runs, their file chunks, rows and problems, and
    takes them away again."""
    from alembic import command

    url = databases.empty(tmp_path)
    engine = create_engine(url)
    tables = {"imports", "import_chunks", "import_rows", "import_problems"}
    try:
        with engine.begin() as conn:
            cfg = migrate.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0021")
            assert tables <= set(inspect(conn).get_table_names())
            columns = {c["name"] for c in inspect(conn).get_columns("imports")}
            assert {"mode", "match", "last_line", "job_id", "created", "errors"} <= columns
            command.downgrade(cfg, "0020")
            assert not tables & set(inspect(conn).get_table_names())
    finally:
        engine.dispose()

"""``crm rebuild-search``: rebuild quick search's structures from the metadata.

What ``crm doctor`` reports about search (a structure missing, made by an older version,
left over from a field no longer searchable or an entity gone) is repaired here: every
search structure of each entity's table is dropped and built again as the current code
defines it, indexing every existing record; search tables of entities that no longer
exist are dropped. The migration that changed the structures (0013) runs the same repair.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.specs import CompiledSpecs
from crm.metadata.versioning import bump_version
from crm.schema import cjk, search, stats
from crm.uow import unit_of_work


def rebuild_search(entity_key: str | None = None) -> list[str]:
    """Rebuild the search structures of every entity (or of ``entity_key`` alone) in one
    transaction; returns the tables done. ``ValidationFailed`` for an unknown entity.

    The metadata version is bumped first: taking its row lock serialises this with schema
    changes (which take it too), and the workers' recompiling costs nothing here."""
    with unit_of_work(fresh=True, clean=True):
        version = bump_version()
        compiled = specs.compile_all(version)
        if entity_key is not None and entity_key not in compiled.entities:
            raise ValidationFailed(
                f"There is no entity “{entity_key}”.", errors={"entity": ["Unknown entity."]}
            )
        done = rebuild(db.session.connection(), compiled, entity_key)
        stats.refresh_statistics(done)
    return done


def rebuild(connection: Connection, compiled: CompiledSpecs, only: str | None = None) -> list[str]:
    """Rebuild on ``connection`` (no commit): the entity tables done. An out-of-date
    PostgreSQL gram function means every entity's gram indexes are rebuilt, ``only`` or
    not: they were all built with it."""
    tables = set(inspect(connection).get_table_names())
    if connection.dialect.name != "sqlite":
        body = search.function_body(connection)
        if body is not None and body != cjk.pg_function_body():
            only = None
    done = []
    for key in sorted(compiled.entities):
        spec = compiled.entities[key]
        if (only is None or key == only) and spec.table_name in tables:
            search.rebuild(connection, spec)
            done.append(spec.table_name)
    if only is None and connection.dialect.name == "sqlite":
        known = {s.table_name for s in compiled.entities.values()}
        for name in sorted(tables):
            for suffix in ("__fts", "__fts_cjk"):
                if name.endswith(suffix) and name[: -len(suffix)] not in known:
                    search.drop_orphan(connection, name)
    return done

"""Compiled specs cached per metadata version: the runtime's only view of the metadata.

Each request reads the database's metadata version once (one indexed single-row read) and
compares it with this process's compiled version; on a mismatch the specs are compiled
again. That one number is the only invalidation mechanism, which keeps several workers or
servers consistent without any messaging between them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from flask import current_app, g, has_request_context
from sqlalchemy import MetaData, Table, select
from sqlalchemy.orm import selectinload

from crm.errors import NotFound
from crm.extensions import db
from crm.metadata.compile import build_tables, entity_spec
from crm.metadata.models import EntityRow, MetaVersion
from crm.metadata.spec import EntitySpec

EXTENSION = "atelier.specs"


@dataclass(frozen=True)
class CompiledSpecs:
    """Everything compiled for one metadata version."""

    version: int
    entities: Mapping[str, EntitySpec]
    metadata: MetaData
    tables: Mapping[str, Table]
    derived: dict = field(default_factory=dict, compare=False)  # caches keyed by this version

    def entity(self, key: str, *, include_archived: bool = False) -> EntitySpec | None:
        spec = self.entities.get(key)
        if spec is None or (spec.archived and not include_archived):
            return None
        return spec

    def table(self, key: str) -> Table:
        return self.tables[key]

    @property
    def active_entities(self) -> tuple[EntitySpec, ...]:
        return tuple(s for s in self.entities.values() if not s.archived)


class _Cache:
    def __init__(self) -> None:
        self.compiled: CompiledSpecs | None = None
        self.lock = threading.Lock()
        self.compilations = 0


def read_version() -> int:
    """The database's metadata version (the per-request cheap read)."""
    return int(db.session.scalar(select(MetaVersion.version).where(MetaVersion.id == 1)) or 0)


def compile_all(version: int) -> CompiledSpecs:
    """Load every entity and field row and compile them (no caching here)."""
    rows = db.session.scalars(
        select(EntityRow).options(selectinload(EntityRow.fields)).order_by(EntityRow.key)
    ).all()
    specs = {r.key: entity_spec(r) for r in rows}
    metadata, tables = build_tables(specs.values())
    return CompiledSpecs(version, MappingProxyType(specs), metadata, MappingProxyType(tables))


def _cache() -> _Cache:
    return current_app.extensions.setdefault(EXTENSION, _Cache())


def current() -> CompiledSpecs:
    """The compiled specs of the database's current metadata version.

    Within a request the version is read once and the result kept on ``g``.
    """
    if has_request_context() and "atelier_specs" in g:
        return g.atelier_specs
    version = read_version()
    cache = _cache()
    compiled = cache.compiled
    if compiled is None or compiled.version != version:
        with cache.lock:
            compiled = cache.compiled
            if compiled is None or compiled.version != version:
                compiled = compile_all(version)
                cache.compiled = compiled
                cache.compilations += 1
    if has_request_context():
        g.atelier_specs = compiled
    return compiled


def forget_request_specs() -> None:
    """Drop this request's copy after a metadata change in the same request."""
    if has_request_context():
        g.pop("atelier_specs", None)


def entity_or_404(key: str) -> EntitySpec:
    """The active entity ``key``, or ``NotFound``."""
    spec = current().entity(key)
    if spec is None:
        raise NotFound("There is no such kind of record.")
    return spec

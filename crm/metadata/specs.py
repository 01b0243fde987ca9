"""Compiled specs cached per metadata version: the runtime's only view of the metadata.

Each request reads the database's metadata version once (one indexed single-row read) and
compares it with this process's compiled version; on a mismatch the specs are compiled
again. That one number is the only invalidation mechanism, which keeps several workers or
servers consistent without any messaging between them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import MetaData, Table, select

from crm.errors import NotFound
from crm.extensions import db
from crm.metadata import labels, types
from crm.metadata.compile import build_table, entity_spec
from crm.metadata.layouts import LayoutSpec, effective_layout, effective_quick, localize_layout
from crm.metadata.models import EntityRow, FieldRow, LayoutRow, MetaVersion
from crm.metadata.spec import EntitySpec, FieldSpec

EXTENSION = "atelier.specs"


class LazyTables(Mapping):
    """Entity key -> SQLAlchemy ``Table``, built on first use (a request rarely needs more
    than a few, so a recompile after a metadata change stays cheap)."""

    def __init__(self, entities: Mapping[str, EntitySpec]):
        self._entities = entities
        self._tables: dict[str, Table] = {}
        self._lock = threading.Lock()
        self.metadata = MetaData()

    def __getitem__(self, key: str) -> Table:
        table = self._tables.get(key)
        if table is None:
            spec = self._entities[key]
            with self._lock:
                table = self._tables.get(key)
                if table is None:
                    table = build_table(spec, self.metadata)
                    self._tables[key] = table
        return table

    def __iter__(self):
        return iter(self._entities)

    def __len__(self) -> int:
        return len(self._entities)


@dataclass(frozen=True)
class CompiledSpecs:
    """Everything compiled for one metadata version."""

    version: int
    entities: Mapping[str, EntitySpec]
    tables: Mapping[str, Table]
    derived: dict = field(default_factory=dict, compare=False)  # caches keyed by this version
    # (entity key, layout kind) -> stored definition; see crm.metadata.layouts
    layout_rows: Mapping[tuple[str, str], dict] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Company-wide settings read with the metadata (default language and time zone):
    # writers bump the metadata version, so every worker sees a change at its next request
    # at no extra query (``crm.i18n``).
    settings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # entity key -> its pipelines (``crm.pipelines``); the plain labels: a page shows a
    # pipeline's or stage's name through ``crm.i18n.pick`` (stages also reach every list as
    # the localized choices of the ``stage`` field).
    pipelines: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # The language whose labels ``entities`` and ``layout`` give (None: the plain labels),
    # and the plain specs it was made from (``localized``).
    locale: str | None = None
    plain: CompiledSpecs | None = field(default=None, compare=False, repr=False)

    def localized(self, locale: str | None) -> CompiledSpecs:
        """These specs as a reader of ``locale`` sees them: every label an administrator
        typed in that language where it has a translation, else the plain label. Made once
        per version and language (a dict get after that); tables and settings are shared,
        the derived caches (form classes...) are the language's own."""
        base = self.plain or self
        if not locale:
            return base
        cache_key = ("localized", locale)
        found = base.derived.get(cache_key)
        if found is None:
            entities = base.entities
            if labels.has_locale(entities, locale):
                entities = MappingProxyType(
                    {k: labels.localize_entity(e, locale) for k, e in entities.items()}
                )
            found = CompiledSpecs(
                base.version,
                entities,
                base.tables,
                layout_rows=base.layout_rows,
                settings=base.settings,
                pipelines=base.pipelines,
                locale=locale,
                plain=base,
            )
            base.derived[cache_key] = found
        return found

    def entity(self, key: str, *, include_archived: bool = False) -> EntitySpec | None:
        spec = self.entities.get(key)
        if spec is None or (spec.archived and not include_archived):
            return None
        return spec

    def table(self, key: str) -> Table:
        return self.tables[key]

    def layout(self, entity_key: str) -> LayoutSpec:
        """The effective form layout of an entity (computed once per version). KeyError for
        an unknown entity."""
        cache_key = ("layout", entity_key)
        found = self.derived.get(cache_key)
        if found is None:
            definition = self.layout_rows.get((entity_key, "form"))
            found = effective_layout(self.entities[entity_key], definition)
            if self.locale:
                found = localize_layout(found, self.locale)
            self.derived[cache_key] = found
        return found

    def lookups_into(self, entity_key: str) -> tuple[tuple[EntitySpec, FieldSpec], ...]:
        """(entity, lookup field) of every active lookup pointing at ``entity_key``: the
        sources of its related lists (computed once per version)."""
        cache_key = ("lookups_into", entity_key)
        found = self.derived.get(cache_key)
        if found is None:
            found = tuple(
                (other, f)
                for other in self.active_entities
                for f in other.active_fields
                if types.lookup_target(f) == entity_key
            )
            self.derived[cache_key] = found
        return found

    def quick_layout(self, entity_key: str) -> tuple[str, ...]:
        """The fields of an entity's quick create form, in order (computed once per
        version). KeyError for an unknown entity."""
        cache_key = ("quick_layout", entity_key)
        found = self.derived.get(cache_key)
        if found is None:
            definition = self.layout_rows.get((entity_key, "quick"))
            found = effective_quick(self.entities[entity_key], definition)
            self.derived[cache_key] = found
        return found

    @property
    def active_entities(self) -> tuple[EntitySpec, ...]:
        return tuple(s for s in self.entities.values() if not s.archived)


class _Cache:
    def __init__(self) -> None:
        self.compiled: CompiledSpecs | None = None
        self.lock = threading.Lock()
        self.compilations = 0


def read_version() -> int:
    """The database's metadata version."""
    return read_versions()[0]


def read_versions() -> tuple[int, int, int]:
    """The metadata version, the access stamp and the share stamp: the one cheap read per
    request that tells whether this worker's compiled specs, cached rights and the shares
    it remembers are still current."""
    row = db.session.execute(
        select(MetaVersion.version, MetaVersion.access_stamp, MetaVersion.share_stamp).where(
            MetaVersion.id == 1
        )
    ).first()
    return (int(row[0]), int(row[1]), int(row[2])) if row is not None else (0, 0, 0)


def _stamps() -> tuple[int, int]:
    """This request's (access stamp, share stamp), read with the metadata version, else
    read now."""
    if has_request_context() and "atelier_stamps" in g:
        return g.atelier_stamps
    stamps = read_versions()[1:]
    if has_request_context():
        g.atelier_stamps = stamps
    return stamps


def access_stamp() -> int:
    """This request's access stamp (read with the metadata version), else read now."""
    return _stamps()[0]


def share_stamp() -> int:
    """This request's share stamp (read with the metadata version), else read now."""
    return _stamps()[1]


def forget_access_stamp() -> None:
    """After changing rights or shares in this request: read the stamps again when next
    asked (the triggers have moved them, inside this transaction)."""
    if has_request_context():
        g.pop("atelier_stamps", None)


def compile_all(version: int) -> CompiledSpecs:
    """Load every entity, field and layout row (as plain Core rows: no ORM objects to
    build) and compile them. No caching here."""
    entities = db.session.execute(select(EntityRow.__table__).order_by(EntityRow.key)).all()
    by_entity: dict[int, list] = {}
    for f in db.session.execute(select(FieldRow.__table__)).all():
        by_entity.setdefault(f.entity_id, []).append(f)
    specs = {r.key: entity_spec(r, by_entity.get(r.id, ())) for r in entities}
    from crm.pipelines import compile as pipeline_compile

    pipelines = pipeline_compile.load_all()
    frozen = MappingProxyType(pipeline_compile.with_choices(specs, pipelines))
    layouts = db.session.execute(
        select(LayoutRow.entity_key, LayoutRow.kind, LayoutRow.definition)
    ).all()
    layout_rows = MappingProxyType({(r.entity_key, r.kind): r.definition for r in layouts})
    from crm.auth.models import AppSetting
    from crm.i18n import COMPANY_SETTINGS

    settings = MappingProxyType(
        dict(
            db.session.execute(
                select(AppSetting.key, AppSetting.value).where(AppSetting.key.in_(COMPANY_SETTINGS))
            ).all()
        )
    )
    return CompiledSpecs(
        version,
        frozen,
        LazyTables(frozen),
        layout_rows=layout_rows,
        settings=settings,
        pipelines=MappingProxyType(pipelines),
    )


def _cache() -> _Cache:
    return current_app.extensions.setdefault(EXTENSION, _Cache())


def current() -> CompiledSpecs:
    """The compiled specs of the database's current metadata version, with the labels in
    the request's language (``CompiledSpecs.localized``; outside a request: the plain
    labels). What every page reads; writers read ``raw()``.

    Within a request the version is read once and the result kept on ``g``.
    """
    compiled = raw()
    if not has_request_context():
        return compiled
    from crm.i18n import request_locale

    return compiled.localized(request_locale())


def raw() -> CompiledSpecs:
    """The compiled specs with the plain labels (the company's default language) and their
    translations: what the schema service, the designer's edit screens and the language
    selector itself read."""
    from crm.metadata.versioning import BUMPED

    held = db.session.info.get(PINNED)
    if held is not None:
        return held
    if db.session.info.get(BUMPED):
        # Asked for inside a metadata change (e.g. a message's language read during it,
        # or a later step of a package's apply reading what an earlier step wrote): its
        # version may yet roll back and be taken again by another change, so what is
        # compiled now is kept neither by the worker nor by the request, and what the
        # request read before the change began is not what the change sees.
        return compile_all(read_versions()[0])
    if has_request_context() and "atelier_specs" in g:
        return g.atelier_specs
    version, *stamps = read_versions()
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
        g.setdefault("atelier_stamps", tuple(stamps))
    return compiled


PINNED = "atelier_specs_pinned"


@contextmanager
def pinned() -> Iterator[CompiledSpecs]:
    """Inside a metadata change whose metadata writes are done (a package's apply, before
    it writes its seed records): compile once, and let every reader in the block share
    those specs and their tables, instead of compiling anew at each read (one record
    write reads the specs many times, and a query joining two reads' tables would join
    two different ``Table`` objects). Nothing is kept after the block.

    Also a batch of a long job outside any request (an import's): the version is read
    once for the batch, as a request reads it once, instead of at every record write."""
    before = db.session.info.get(PINNED)
    compiled = raw()
    db.session.info[PINNED] = compiled
    try:
        yield compiled
    finally:
        if before is None:
            db.session.info.pop(PINNED, None)
        else:
            db.session.info[PINNED] = before


def forget_request_specs() -> None:
    """Drop this request's copy after a metadata change in the same request."""
    if has_request_context():
        g.pop("atelier_specs", None)


def entity_or_404(key: str) -> EntitySpec:
    """The active entity ``key``, or ``NotFound``."""
    spec = current().entity(key)
    if spec is None:
        raise NotFound(_("There is no such kind of record."))
    return spec

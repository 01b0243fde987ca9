"""The import screens' services: an uploaded file kept as a draft import, read again with
other settings, mapped, checked (preview, dry run) and started; an entity's imports listed.

A draft is an ``Import`` row with status ``draft`` and its file (``crm.imports.store``):
the user may leave the mapping screen and come back. ``start`` checks the mapping
(``crm.imports.mapping.plan``) and the rights, adds the picklist values an administrator
chose to add as new choices (``crm.imports.choices``), then stores the mapping on the
import and queues the ``import.run`` job in one transaction; the run engine applies the
mapping's lookups and value tables (``crm.imports.run.plan_of``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, BinaryIO

from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.access import policy
from crm.access.directory import user_names
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.i18n import known_locale, request_locale
from crm.imports import choices, dryrun, profile, store
from crm.imports import mapping as mapping_service
from crm.imports import run as engine
from crm.imports.mapping import Mapping
from crm.imports.models import BOTH, QUEUED, Import
from crm.imports.owners import OWNER
from crm.imports.read import Settings, Source, open_source
from crm.jobs.outbox import enqueue
from crm.metadata.spec import EntitySpec
from crm.timeutil import utcnow
from crm.uow import unit_of_work

__all__ = [
    "DRAFT", "Preview", "draft", "imports_of", "opened", "preview", "reread", "start",
    "upload",
]  # fmt: skip

DRAFT = "draft"
KIND = "import.run"
LISTED = 50


def _require(user: Any, spec: EntitySpec) -> None:
    if not policy.can(user, "import", spec.key):
        raise Forbidden(_("You may not import %(entity)s.", entity=spec.label_plural))


def _chosen(source: Source, user: dict[str, Any] | None = None) -> dict[str, Any]:
    """How the file is read (what the run engine reads it with), and under "user" what the
    user chose instead of the guesses (the screens read the file again with only those,
    so the other guesses keep their reasons)."""
    return {"user": dict(user or {}), **source.how_read(), "profile": profile.build(source)}


def upload(
    user: Any, spec: EntitySpec, file: BinaryIO, name: str, settings: Settings | None = None
) -> Import:
    """Keep an uploaded file as a draft import of ``spec`` (nothing else is written).
    ``Forbidden`` without the import right; ``UnreadableFile`` when the file cannot be
    read (nothing written then)."""
    _require(user, spec)
    source = open_source(file, name, settings)
    with unit_of_work():
        imp = Import(
            entity_key=spec.key, user_id=user.id, filename=(name or "file")[:255],
            size=source.size, settings=_chosen(source), mapping=[], mode=BOTH, match=[],
            status=DRAFT, created=0, updated=0, skipped=0, errors=0, last_line=0,
            created_at=utcnow(),
        )  # fmt: skip
        db.session.add(imp)
        db.session.flush()
        store.save(imp.id, file)
        import_id = imp.id
    return db.session.get(Import, import_id)


def draft(user: Any, spec: EntitySpec, import_id: int) -> Import:
    """A draft import of ``user`` (an administrator: anyone's); ``NotFound`` otherwise."""
    _require(user, spec)
    imp = db.session.get(Import, import_id) if 0 < import_id < 2**31 else None
    if (
        imp is None
        or imp.entity_key != spec.key
        or imp.status != DRAFT
        or not policy.may_see_job(user, imp.user_id)
    ):
        raise NotFound(_("There is no such import."))
    return imp


def settings_of(imp: Import) -> Settings:
    """How the draft's file is read (the user's choices, else the guesses)."""
    s = (imp.settings or {}).get("user") or {}
    return Settings(
        encoding=s.get("encoding"), delimiter=s.get("delimiter"), quotechar=s.get("quotechar"),
        header_row=s.get("header_row"), sheet=s.get("sheet"),
    )  # fmt: skip


@contextmanager
def opened(imp: Import, settings: Settings | None = None) -> Iterator[Source]:
    """The draft's file opened as a ``Source`` (``UnreadableFile`` when it cannot be)."""
    with store.opened(imp.id) as file:
        yield open_source(file, imp.filename, settings or settings_of(imp))


def reread(user: Any, spec: EntitySpec, import_id: int, settings: Settings) -> Import:
    """Read the draft's file again with ``settings`` and keep them (``UnreadableFile``
    when it cannot be read so: the old settings stay)."""
    imp = draft(user, spec, import_id)
    current = imp.settings or {}
    picked = dict(current.get("user") or {})
    for name in ("encoding", "delimiter", "quotechar", "header_row", "sheet"):
        value = getattr(settings, name)
        if value is not None and (value != current.get(name) or name in picked):
            picked[name] = value
    with opened(imp, Settings(**picked)) as source:
        chosen = _chosen(source, picked)
    with unit_of_work():
        db.session.execute(
            update(Import)
            .where(Import.id == imp.id)
            .values(settings=chosen)
            .execution_options(synchronize_session=False)
        )
    db.session.expire_all()
    return db.session.get(Import, import_id)


@dataclass
class Preview:
    """The first rows as they will be stored (field key -> value, the row's problems, and
    field key -> what to show instead of the value: a linked record or a choice the import
    will create, the owner's name) and the dry run of the whole file. ``owner``: whether
    the owner column is mapped (shown last)."""

    fields: list[Any]
    rows: list[tuple[int, dict[str, Any], list[Any], dict[str, str]]]
    dry: dryrun.DryRun
    owner: bool = False


def preview(user: Any, spec: EntitySpec, imp: Import, mapping: Mapping, first: int = 5) -> Preview:
    """The first ``first`` rows parsed and a dry run of the whole file; writes nothing.
    ``ValidationFailed`` when the mapping needs fixing."""
    with opened(imp) as source:
        mapping = mapping_service.every_other_as_new(
            source, spec, mapping, profile=(imp.settings or {}).get("profile")
        )
        the_plan = mapping_service.plan(user, spec, mapping, source.columns, dry_run=True)
        head = [r for r in islice(source.rows(), first * 2) if r.ok][:first]
        parsed = the_plan.parse_batch([r.values for r in head])
        waiting = the_plan.waiting
        rows = [
            (r.line, p.values, p.problems, _shown(user, mapping, r.values, p.values, w))
            for r, p, w in zip(head, parsed, waiting, strict=True)
        ]
        dry = dryrun.dry_run(user, spec, source, mapping)
    db.session.rollback()
    fields = [spec.field(k) for k in dict.fromkeys(c.field for c in mapping.mapped)]
    owner = any(c.field == OWNER for c in mapping.mapped)
    return Preview([f for f in fields if f is not None], rows, dry, owner)


def _shown(
    user: Any, mapping: Mapping, cells: list, values: dict[str, Any], waiting: dict[str, str]
) -> dict[str, str]:
    """What the preview shows instead of a stored value: a linked record the import will
    create, a value added as a new choice (both marked new), the owner's name."""
    out = {key: _("%(value)s (new)", value=name) for key, name in waiting.items()}
    for c in mapping.mapped:
        if values.get(c.field) == mapping_service.NEW and c.column < len(cells):
            out[c.field] = _("%(value)s (new)", value=str(cells[c.column]).strip())
    if OWNER in values:  # else the owner column is not mapped, or names no one
        owner = values[OWNER] or user.id
        out[OWNER] = user_names([owner]).get(owner, "")
    return out


def start(user: Any, spec: EntitySpec, import_id: int, mapping: Mapping) -> Import:
    """Check ``mapping`` (``ValidationFailed`` with every problem), keep it on the draft
    and queue the job that runs it, in one transaction."""
    imp = draft(user, spec, import_id)
    names = list((imp.settings or {}).get("columns") or [])
    if any(c.otherwise == mapping_service.NEW for c in mapping.mapped):  # else no file read
        with opened(imp) as source:
            mapping = mapping_service.every_other_as_new(
                source, spec, mapping, profile=(imp.settings or {}).get("profile")
            )
    the_plan = mapping_service.plan(user, spec, mapping, names, dry_run=True)
    if mapping_service.new_choices(mapping) and not choices.may_add_choices(user):
        raise ValidationFailed(
            _("Map each unknown value to a choice."), errors={"values": [_("Choose a value.")]}
        )
    mode = mapping.mode
    # create: rows matching a record are skipped (a file imported twice creates nothing)
    match = list(mapping.match_fields)
    engine.check_rights(user, spec, mode, [c.spec.key for c in the_plan.columns], match)
    # new choices first (their own schema change), so every row finds them
    locale = known_locale(getattr(user, "locale", None)) or request_locale()
    mapping = choices.add_new_choices(user, spec, mapping, locale=locale)
    with unit_of_work():
        job = enqueue(KIND, {"import_id": imp.id, "entity": spec.key}, user_id=user.id)
        db.session.execute(
            update(Import)
            .where(Import.id == imp.id, Import.status == DRAFT)
            .values(mapping=mapping.to_json(), mode=mode, match=match, status=QUEUED, job_id=job.id)
            .execution_options(synchronize_session=False)
        )
    db.session.expire_all()
    return db.session.get(Import, import_id)


def imports_of(user: Any, spec: EntitySpec) -> list[tuple[Import, str]]:
    """``spec``'s imports ``user`` may follow (their own; an administrator's: all), newest
    first, drafts left out; each with the name of who ran it."""
    from crm.access.models import User

    _require(user, spec)
    query = (
        select(Import, User.display_name)
        .outerjoin(User, User.id == Import.user_id)
        .where(Import.entity_key == spec.key, Import.status != DRAFT)
        .order_by(Import.created_at.desc(), Import.id.desc())
        .limit(LISTED)
    )
    if not getattr(user, "is_admin", False):
        query = query.where(Import.user_id == user.id)
    return [(imp, name or "") for imp, name in db.session.execute(query)]


def one(user: Any, spec: EntitySpec, import_id: int) -> Import:
    """One of ``spec``'s imports that ``user`` may follow; ``NotFound`` otherwise."""
    _require(user, spec)
    imp = db.session.get(Import, import_id) if 0 < import_id < 2**31 else None
    if imp is None or imp.entity_key != spec.key or not policy.may_see_job(user, imp.user_id):
        raise NotFound(_("There is no such import."))
    return imp

"""Sharing a record, transferring its ownership, and explaining who can see it (issue 6).

- ``shares_of`` / ``share`` / ``unshare``: a record shared with one user, or with one
  department (its members and the members of every department below it), to read or to
  read and edit. Whoever may read the record sees its shares; whoever may edit it may add
  and remove them. Sharing with the same user or department again replaces the access:
  there is never more than one share per target.
- ``transfer``: a new owner for the record (the "assign" right on it), with the optimistic
  lock of the edit form.
- ``access_history``: the record's latest sharing and ownership changes, in words.

Who can see a record, and why, is ``crm.records.who_can_see``.

Each write asks the access policy before writing anything, writes a history row (``share``
with ``{"@share": [before, after]}``, or ``assign`` with ``{"owner_id": [old, new]}`` as
the bulk assign does) and commits; a refused or invalid write changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.orm import aliased

from crm.access import audit, policy
from crm.access import names as access_names
from crm.access.models import Department, RecordShare, User
from crm.binds import assign
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.ids import as_id
from crm.metadata.spec import EntitySpec
from crm.records import service as records
from crm.records.models import RecordHistory
from crm.records.query import table_of
from crm.timeutil import utcnow
from crm.uow import unit_of_work

ACCESS = ("read", "edit")
ACCESS_LABELS = {"read": _l("Read"), "edit": _l("Read and edit")}
# The same, inside sentences ("Shared with Bob (read and edit).").
ACCESS_WORDS = {"read": _l("read"), "edit": _l("read and edit")}
SHARE_KEY = records.SHARE_HISTORY_KEY
OWNER_KEY = "owner_id"


@dataclass(frozen=True)
class Share:
    """One share of a record, as the sharing panel shows it."""

    id: int
    user_id: int | None
    department_id: int | None
    name: str  # the user's display name or the department's path of names
    active: bool  # False for a share with a user who was deactivated since
    access: str
    shared_by: str | None
    shared_at: datetime

    @property
    def kind(self) -> str:
        return "user" if self.user_id is not None else "department"

    @property
    def access_label(self) -> str:
        return str(ACCESS_LABELS[self.access])


@dataclass(frozen=True)
class ShareChange:
    """What ``share`` did: ``before`` is the access the target had (None: not shared)."""

    share_id: int
    name: str
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def access_words(access: str) -> str:
    """ "read" or "read and edit", for sentences (in the request's language)."""
    return str(ACCESS_WORDS[access])


def path_labels(departments: Iterable[Any], locale: str | None = None) -> dict[int, str]:
    """Each department's name after the names above it ("Sales › East"), by id, sorted by
    that label. ``departments``: rows with ``id``, ``name`` and ``path``, all of them, and
    ``translations`` when ``locale`` is given: the names are then a reader's of
    ``locale``; without it they are the plain ones (what stored text keeps)."""
    rows = list(departments)
    names = {
        d.id: access_names.shown(d.name, d.translations, locale) if locale else d.name for d in rows
    }
    out = {}
    for d in rows:
        chain = [int(p) for p in d.path.strip("/").split("/") if p.isdigit()]
        out[d.id] = " › ".join(names.get(i, "?") for i in chain) or names[d.id]
    return dict(sorted(out.items(), key=lambda item: item[1].lower()))


def department_labels(locale: str | None = None) -> dict[int, str]:
    """Every department's path label by id (one query): names are unique only among
    siblings, so the path tells two "East" apart. With ``locale``, in that language (for
    pages); without, the plain names (for stored text: history, audit)."""
    columns = (Department.id, Department.name, Department.path, Department.translations)
    return path_labels(db.session.execute(select(*columns)), locale)


# --- shares -------------------------------------------------------------------------------


def shares_of(spec: EntitySpec, record_id: int, labels: Mapping[int, str]) -> list[Share]:
    """The shares of a record, oldest first, for a caller that has just read it with
    ``records.get`` (so the user may read it); ``labels``: ``department_labels()``."""
    target, creator = aliased(User), aliased(User)
    rows = db.session.execute(
        select(
            RecordShare.id,
            RecordShare.user_id,
            RecordShare.department_id,
            RecordShare.access,
            RecordShare.created_at,
            target.display_name.label("user_name"),
            target.is_active.label("user_active"),
            creator.display_name.label("creator_name"),
        )
        .outerjoin(target, target.id == RecordShare.user_id)
        .outerjoin(creator, creator.id == RecordShare.created_by)
        .where(RecordShare.entity_key == spec.key, RecordShare.record_id == record_id)
        .order_by(RecordShare.created_at, RecordShare.id)
    ).all()
    return [
        Share(
            id=r.id,
            user_id=r.user_id,
            department_id=r.department_id,
            name=(
                r.user_name or _("(former user)")
                if r.user_id is not None
                else labels.get(r.department_id) or _("(removed department)")
            ),
            active=bool(r.user_active) if r.user_id is not None else True,
            access=r.access,
            shared_by=r.creator_name,
            shared_at=r.created_at,
        )
        for r in rows
    ]


def _require_edit(user: Any, spec: EntitySpec, record_id: int, what: str) -> Mapping[str, Any]:
    """The record if ``user`` may edit it: ``NotFound`` when they cannot even read it (it
    does not exist for them), ``Forbidden`` when they can read but not edit it. ``what``:
    "share" or "unshare", what they were doing (for the message)."""
    row = records.get(user, spec, record_id)
    if not policy.can(user, "edit", spec, record_id):
        entity = spec.label_singular
        if what == "unshare":
            message = _(
                "Only people who may edit this %(entity)s can stop sharing it.", entity=entity
            )
        else:
            message = _("Only people who may edit this %(entity)s can share it.", entity=entity)
        raise Forbidden(message)
    return row


def _as_id(value: Any) -> int | None:
    """None for a missing value, -1 for one that is not an id (``crm.ids.as_id``)."""
    if value is None or value == "":
        return None
    number = as_id(value)
    return -1 if number is None else number


def _target(user_id: Any, department_id: Any) -> tuple[str, int, str]:
    """``("user" | "department", id, name)`` of a share's target, or ``ValidationFailed``."""
    uid, did = _as_id(user_id), _as_id(department_id)
    if (uid is None) == (did is None):
        raise ValidationFailed(
            _("Choose one person or one department to share with."),
            errors={"target": [_("Choose one person or one department.")]},
        )
    if uid is not None:
        found = db.session.execute(
            select(User.display_name).where(User.id == uid, User.is_active)
        ).first()
        if found is None:
            raise ValidationFailed(
                _("Choose an active user to share with."),
                errors={"target": [_("Choose an active user.")]},
            )
        return "user", uid, found.display_name
    label = department_labels().get(did)
    if label is None:
        raise ValidationFailed(
            _("Choose an existing department to share with."),
            errors={"target": [_("Choose an existing department.")]},
        )
    return "department", did, label


def _history_side(kind: str, target_id: int, name: str, access: str | None) -> dict | None:
    if access is None:
        return None
    return {f"{kind}_id": target_id, "name": name, "access": access}


def share(
    user: Any,
    spec: EntitySpec,
    record_id: int,
    *,
    user_id: Any = None,
    department_id: Any = None,
    access: str,
) -> ShareChange:
    """Share a record with one active user or one department, to ``access`` ("read" or
    "edit", which includes read). A second share of the same target replaces its access.

    ``NotFound`` if ``user`` cannot read the record, ``Forbidden`` if they cannot edit it,
    ``ValidationFailed`` for an unknown or inactive user, an unknown department, both or
    neither, or another access; nothing is written then."""
    with unit_of_work():
        _require_edit(user, spec, record_id, "share")
        if access not in ACCESS:
            message = _("Choose “Read” or “Read and edit”.")
            raise ValidationFailed(message, errors={"access": [message]})
        kind, target_id, name = _target(user_id, department_id)
        _lock(spec, record_id)
        column = RecordShare.user_id if kind == "user" else RecordShare.department_id
        existing = list(
            db.session.scalars(
                select(RecordShare)
                .where(
                    RecordShare.entity_key == spec.key,
                    RecordShare.record_id == record_id,
                    column == target_id,
                )
                .order_by(RecordShare.id)
            )
        )
        before = existing[0].access if existing else None
        for extra in existing[1:]:  # should two shares ever have raced past the lock
            db.session.delete(extra)
        if before == access:  # the same share again: nothing to change or to record
            return ShareChange(existing[0].id, name, before, access)
        if existing:
            found = existing[0]
            found.access, found.created_by, found.created_at = access, user.id, utcnow()
        else:
            found = RecordShare(
                entity_key=spec.key,
                record_id=record_id,
                user_id=target_id if kind == "user" else None,
                department_id=target_id if kind == "department" else None,
                access=access,
                created_by=user.id,
                created_at=utcnow(),
            )
            db.session.add(found)
        db.session.flush()
        records.add_history(
            spec, record_id, user, "share",
            {SHARE_KEY: [_history_side(kind, target_id, name, before),
                         _history_side(kind, target_id, name, access)]},
        )  # fmt: skip
        _audit_share(user, spec, record_id, kind, target_id, name, before, access)
        share_id = found.id
    return ShareChange(share_id, name, before, access)


def unshare(user: Any, spec: EntitySpec, share_id: int, *, record_id: int | None = None) -> str:
    """Remove a share of a record of ``spec`` (of ``record_id``, when given); returns the
    name of whom it was shared with ("(removed)", stored in English, in the request's
    language when they no longer exist). ``NotFound`` for no such share or a record
    ``user`` cannot read, ``Forbidden`` if they cannot edit the record."""
    with unit_of_work():
        found = db.session.scalar(
            select(RecordShare).where(
                RecordShare.id == share_id, RecordShare.entity_key == spec.key
            )
        )
        if found is None or (record_id is not None and found.record_id != record_id):
            raise NotFound(_("There is no such share; someone may have removed it already."))
        _require_edit(user, spec, found.record_id, "unshare")
        if found.user_id is not None:
            kind, target_id = "user", found.user_id
            name = db.session.scalar(select(User.display_name).where(User.id == target_id))
        else:
            kind, target_id = "department", found.department_id
            name = department_labels().get(target_id)
        name = name or audit.REMOVED
        rid, access = found.record_id, found.access
        _lock(spec, rid)
        db.session.execute(delete(RecordShare).where(RecordShare.id == share_id))
        records.add_history(
            spec, rid, user, "share",
            {SHARE_KEY: [_history_side(kind, target_id, name, access), None]},
        )  # fmt: skip
        _audit_share(user, spec, rid, kind, target_id, name, access, None)
    return _(name) if name == audit.REMOVED else name


def _audit_share(
    user: Any,
    spec: EntitySpec,
    record_id: int,
    kind: str,
    target_id: int,
    name: str,
    before: str | None,
    after: str | None,
) -> None:
    """The access audit log's entry for a share given, changed or ended."""
    words = {None: audit.NOTHING, "read": "Read", "edit": "Read and edit"}
    audit.record(
        user,
        "share",
        "unshared" if after is None else "shared",
        audit.record_subject(
            spec.label_singular, record_id, shared_with=name, department=kind == "department"
        ),
        before={"Access": words[before]},
        after={"Access": words[after]},
        user_id=target_id if kind == "user" else None,
        department_id=target_id if kind == "department" else None,
        entity_key=spec.key,
        record_id=record_id,
    )


def _lock(spec: EntitySpec, record_id: int) -> None:
    """Lock the record's row until commit (PostgreSQL): two shares of the same target at
    once then run one after the other, so the second sees the first and replaces it.
    SQLite allows one writer at a time anyway."""
    table = table_of(spec)
    db.session.execute(select(table.c.id).where(table.c.id == record_id).with_for_update())


# --- ownership ----------------------------------------------------------------------------


def transfer(
    user: Any, spec: EntitySpec, record_id: int, new_owner_id: Any, *, expected_version: Any
) -> int:
    """Make ``new_owner_id`` (an active user) the record's owner; returns the record's
    version after it (unchanged when they own it already).

    ``NotFound`` if ``user`` cannot read the record, ``Forbidden`` without the "assign"
    right on it, ``ValidationFailed`` for anything but an active user, ``Conflict`` when
    the record was saved since ``expected_version`` was read; nothing is written then."""
    with unit_of_work():
        row = records.get(user, spec, record_id)
        if not policy.can(user, "assign", spec, record_id):
            raise Forbidden(
                _("You may not change the owner of this %(entity)s.", entity=spec.label_singular)
            )
        owner = _as_id(new_owner_id)
        active = owner is not None and owner > 0 and db.session.scalar(
            select(User.is_active).where(User.id == owner)
        )  # fmt: skip
        if not active:
            raise ValidationFailed(
                _("Choose an active user as the new owner."),
                errors={"owner_id": [_("Choose an active user.")]},
            )
        seen = _as_id(expected_version)
        if seen is None or seen < 0:
            raise ValidationFailed(
                _("The form does not say which version you saw; reload the page."),
                errors={"version": [_("Reload the page and try again.")]},
            )
        if row["version"] != seen:
            raise _stale(spec, row["version"])
        if row["owner_id"] == owner:
            return row["version"]
        table = table_of(spec)
        result = db.session.execute(
            update(table)
            .where(table.c.id == record_id, table.c.version == seen, table.c.deleted_at.is_(None))
            .values(
                assign(
                    table,
                    owner_id=owner,
                    version=table.c.version + 1,
                    updated_at=utcnow(),
                    updated_by=user.id,
                )
            )
        )
        if result.rowcount != 1:  # someone saved between our read and this write
            raise _stale(spec, None)
        records.add_history(spec, record_id, user, "assign", {OWNER_KEY: [row["owner_id"], owner]})
        names = db.session.execute(
            select(User.id, User.display_name).where(User.id.in_([row["owner_id"] or 0, owner]))
        ).tuples()
        named = dict(names.all())
        audit.record(
            user,
            "owner",
            "transferred",
            audit.record_subject(spec.label_singular, record_id),
            before={"Owner": named.get(row["owner_id"], audit.NOTHING)},
            after={"Owner": named.get(owner, audit.NOTHING)},
            user_id=owner,
            entity_key=spec.key,
            record_id=record_id,
        )
    return seen + 1


def _stale(spec: EntitySpec, now: int | None) -> Conflict:
    entity = spec.label_singular
    if now is None:
        return Conflict(
            _(
                "Someone changed this %(entity)s after you opened it. "
                "Nothing was changed: reload the page and try again.",
                entity=entity,
            )
        )
    return Conflict(
        _(
            "Someone changed this %(entity)s after you opened it (it is at version "
            "%(version)s now). Nothing was changed: reload the page and try again.",
            entity=entity,
            version=now,
        )
    )


# --- the record's recent sharing and ownership changes -------------------------------------


@dataclass(frozen=True)
class AccessEvent:
    """A sharing or ownership change, in words: "shared with Bob (read and edit)"."""

    at: datetime
    by: str
    text: str


def access_history(spec: EntitySpec, record_id: int, *, limit: int = 10) -> list[AccessEvent]:
    """The latest sharing and ownership changes of a record, for a caller that has just
    read it with ``records.get`` (so the user may read it)."""
    rows = list(
        db.session.scalars(
            select(RecordHistory)
            .where(
                RecordHistory.entity_key == spec.key,
                RecordHistory.record_id == record_id,
                RecordHistory.action.in_(("share", "assign")),
            )
            .order_by(RecordHistory.at.desc(), RecordHistory.id.desc())
            .limit(limit)
        )
    )
    ids: set[int] = set()
    for h in rows:
        ids.add(h.user_id)
        if h.action == "assign" and isinstance(h.changes, Mapping):
            ids.update(i for i in h.changes.get(OWNER_KEY) or () if isinstance(i, int))
    found = db.session.execute(
        select(User.id, User.display_name).where(User.id.in_([i for i in ids if i is not None]))
    ).all()
    names = dict(found)
    events = []
    for h in rows:
        text = _event_text(h, names)
        if text:
            events.append(AccessEvent(h.at, names.get(h.user_id) or _("System"), text))
    return events


def _event_text(h: RecordHistory, names: Mapping[int, str]) -> str | None:
    """The change in words, or None for a row this code did not write (never a 500)."""
    try:
        if h.action == "assign":
            old, new = h.changes[OWNER_KEY]
            return _(
                "Owner: %(old)s → %(new)s",
                old=_user_name(old, names),
                new=_user_name(new, names),
            )
        return _share_words(*h.changes[SHARE_KEY])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def describe_share_change(changes: Any) -> str:
    """A timeline entry's share change ((key, before, after), ...) in words."""
    for key, before, after in changes:
        if key == SHARE_KEY:
            try:
                return _share_words(before, after)
            except (AttributeError, KeyError, TypeError, ValueError):
                break
    return _("changed who it is shared with")


def _share_words(before: Any, after: Any) -> str:
    side = after or before
    name = side.get("name") or "?"
    if name == audit.REMOVED:  # stored in English: whom it went to no longer exists
        name = _(audit.REMOVED)
    department = "department_id" in side
    if after is None:
        if department:
            return _("stopped sharing with department %(name)s", name=name)
        return _("stopped sharing with %(name)s", name=name)
    now = access_words(after["access"])
    if before is None:
        if department:
            return _("shared with department %(name)s (%(access)s)", name=name, access=now)
        return _("shared with %(name)s (%(access)s)", name=name, access=now)
    was = access_words(before["access"])
    if department:
        return _(
            "changed sharing with department %(name)s: %(before)s → %(after)s",
            name=name,
            before=was,
            after=now,
        )
    return _(
        "changed sharing with %(name)s: %(before)s → %(after)s", name=name, before=was, after=now
    )


def _user_name(user_id: Any, names: Mapping[int, str]) -> str:
    if user_id is None:
        return "—"
    return names.get(user_id) or _("(former user)")

"""The access audit log: every access change, who made it, when, and what it was before
and after.

Services record an entry with ``record`` inside the unit of work of the change (an
``access_change``, or the record-sharing services' units): the entry commits with the
change and rolls back with it, so a refused change leaves no entry and a kept change
always has one. Values are stored as people read them (names, labels), so the log still
reads right after a role or department is renamed or removed.

Entries are written in English (item names such as "Department", words such as "yes" and
the scope levels' labels) and put into the reader's language when shown (``_entry``):
only the words this module and the access services write are translated, never names
people typed. The subject of a share or owner entry holds no words at all: a JSON object
of the entity's label, the record's number and whom it was shared with
(``record_subject``), put into words for the reader (``subject_words``); entries stored
before that, in English ("Deal #7 with Sales East"), are read back the same way.

Who sees which entries (``visible``): full administrators see every entry. An access
manager who is not a full administrator sees entries about what lies within their reach,
as the access screens already define it: users they may place (their department is one
they may place people in, or they have none), roles whose rights they hold themselves
(``covers`` finds nothing beyond them), departments they may place people in; share and
owner entries by the user or department the record went to. An entry about anything
else (another branch, a full administrator's account) stays hidden from them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, false, func, or_, select

from crm.access import names
from crm.access.models import AccessAuditEntry, Department, Role, User, user_roles
from crm.access.service import require_manager
from crm.extensions import db
from crm.uow import in_unit

PER_PAGE = 50
RECENT = 10


def N_(text: str) -> str:
    """Marks an English word for the catalogs without translating it: entries store
    English, and ``_entry`` translates it for the reader."""
    return text


KINDS = {
    "user": _l("Users"),
    "role": _l("Roles"),
    "department": _l("Departments"),
    "share": _l("Record shares"),
    "owner": _l("Record owners"),
}
ACTIONS = {
    "created": _l("created"),
    "changed": _l("changed"),
    "deleted": _l("deleted"),
    "moved": _l("moved"),
    "invited": _l("new invitation link"),
    "password_reset": _l("password reset link"),
    "deactivated": _l("deactivated"),
    "reactivated": _l("reactivated"),
    "shared": _l("shared"),
    "unshared": _l("stopped sharing"),
    "transferred": _l("owner changed"),
}
NOTHING = "—"
YES, NO = N_("yes"), N_("no")
TOP_LEVEL = N_("(top level)")
SYSTEM = N_("System")
HELD_BY = N_("Held by")
MOVED_TO = "moved to "  # + a role's name: shown as _("moved to %(role)s")
# Items whose values are what people typed (names, e-mail addresses): never translated.
FREE_TEXT = frozenset(
    {
        N_("Name"),
        N_("E-mail"),
        N_("Department"),
        N_("Roles"),
        N_("Description"),
        N_("Manager"),
        N_("Owner"),
    }
)
# Items whose values are words of this code ("yes", a level, an access).
WORDED = frozenset(
    {
        N_("Full administrator"),
        N_("Active"),
        N_("Opens configuration"),
        N_("Manages access"),
        N_("Access"),
    }
)
PARENT = N_("Parent")
# Values record-sharing entries store (``crm.records.sharing``).
SHARE_WORDS = (N_("Read"), N_("Read and edit"))
# Whom a share went to when that user or department no longer exists.
REMOVED = N_("(removed)")
# A share's subject as entries stored it in English before subjects held no words.
_ENGLISH_SHARE_SUBJECT = re.compile(r"(?P<entity>.*) #(?P<record>[0-9]+) with (?P<name>.*)", re.S)
_SUBJECT_LIMIT = 300  # the column's length


def yes_no(value: bool) -> str:
    """ "yes" or "no", as entries store them."""
    return YES if value else NO


def record(
    actor: Any,
    kind: str,
    action: str,
    subject: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    user_id: int | None = None,
    role_id: int | None = None,
    department_id: int | None = None,
    entity_key: str | None = None,
    record_id: int | None = None,
) -> AccessAuditEntry | None:
    """Add one entry in the open unit of work (``RuntimeError`` outside one: an entry
    written apart from its change could survive the change's rollback). Only the items
    that differ between ``before`` and ``after`` are kept; a change that changes nothing
    (``action == "changed"`` with no difference) records nothing and returns None."""
    if not in_unit():
        raise RuntimeError("An audit entry is written in the unit of work of its change.")
    if kind not in KINDS or action not in ACTIONS:
        raise ValueError(f"Unknown audit kind or action: {kind!r} {action!r}")
    before, after = dict(before or {}), dict(after or {})
    if not before:  # something new: its empty settings say nothing
        after = {k: v for k, v in after.items() if v not in (NOTHING, "", None)}
    if before and after:
        keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
        before = {k: before.get(k, NOTHING) for k in keys}
        after = {k: after.get(k, NOTHING) for k in keys}
        if not keys and action == "changed":
            return None
    entry = AccessAuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_name=(getattr(actor, "display_name", None) or SYSTEM)[:120],
        kind=kind,
        action=action,
        subject=subject[:300],
        user_id=user_id,
        role_id=role_id,
        department_id=department_id,
        entity_key=entity_key,
        record_id=record_id,
        before=json.dumps(before, ensure_ascii=False, sort_keys=True),
        after=json.dumps(after, ensure_ascii=False, sort_keys=True),
    )
    db.session.add(entry)
    return entry


def record_subject(
    entity: str, record_id: int, *, shared_with: str | None = None, department: bool = False
) -> str:
    """The subject of a share or owner entry about record ``record_id`` of the entity
    labelled ``entity``, stored in no language: a JSON object (the label and the name as
    people wrote them, the record's number; ``shared_with`` a user's or, with
    ``department``, a department's name). ``subject_words`` says it to a reader. Long
    names are shortened so the object fits the column whole."""
    parts: dict[str, Any] = {"entity": entity[:80], "record": record_id}
    if shared_with is not None:
        parts["with"] = shared_with
        if department:
            parts["department"] = True
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    if len(text) > _SUBJECT_LIMIT and shared_with is not None:
        parts["with"] = shared_with[: max(0, len(shared_with) - (len(text) - _SUBJECT_LIMIT))]
        text = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    return text


def _subject_parts(kind: str, subject: str) -> dict[str, Any] | None:
    if kind not in ("share", "owner"):
        return None
    if subject.startswith("{"):
        try:
            parts = json.loads(subject)
        except ValueError:
            return None
        return parts if isinstance(parts, dict) and "record" in parts else None
    found = _ENGLISH_SHARE_SUBJECT.fullmatch(subject) if kind == "share" else None
    if found is None:
        return None
    return {"entity": found["entity"], "record": found["record"], "with": found["name"]}


def subject_words(kind: str, subject: str) -> str:
    """An entry's subject as the reader reads it: a share's or owner change's record and
    whom it was shared with in their language ("Deal #7（共享给 Sales East）"); any other
    subject (a user's, a role's, a department's name) as stored."""
    parts = _subject_parts(kind, subject)
    if parts is None:
        return subject
    entity, number = str(parts.get("entity", "")), str(parts.get("record", ""))
    name = parts.get("with")
    if name is None:
        # TRANSLATORS: a record in the audit log: an entity's label and the record's number.
        return _("%(entity)s #%(number)s", entity=entity, number=number)
    name = _(REMOVED) if name == REMOVED else str(name)
    if parts.get("department"):
        return _(
            "%(entity)s #%(number)s with department %(name)s",
            entity=entity,
            number=number,
            name=name,
        )
    # TRANSLATORS: a share in the audit log: the record, then whom it was shared with.
    return _("%(entity)s #%(number)s with %(name)s", entity=entity, number=number, name=name)


# --- snapshots: what a subject looks like, as people read it -------------------------------


def user_state(user: User) -> dict[str, str]:
    """A user's access-relevant settings, as they read on the user's page."""
    department = db.session.get(Department, user.department_id) if user.department_id else None
    names = db.session.scalars(
        select(Role.name)
        .join(user_roles, user_roles.c.role_id == Role.id)
        .where(user_roles.c.user_id == user.id)
        .order_by(Role.name)
    ).all()
    return {
        "Name": user.display_name,
        "E-mail": user.email,
        "Department": department.name if department else NOTHING,
        "Roles": ", ".join(names) or NOTHING,
        "Full administrator": yes_no(user.is_admin),
        "Active": yes_no(user.is_active),
    }


def role_state(role: Role) -> dict[str, str]:
    """A role's settings, grants (one item per entity and action: "Deals: Read") and
    field rights ("Deals · amount"), in English."""
    from crm.access import policy
    from crm.access.roles import rights_of
    from crm.access.rules import entity_label

    rules = rights_of(role.id)
    state = {
        "Name": role.name,
        **names.audit_items(role.translations),
        "Description": role.description or NOTHING,
        "Opens configuration": yes_no(role.can_configure),
        "Manages access": yes_no(role.can_manage_access),
    }
    with force_locale("en"):  # the labels are lazy strings: stored in English
        for (entity, action), level in sorted(rules.grants.items()):
            label = f"{entity_label(entity)}: {policy.ACTION_LABELS.get(action, action)}"
            state[label] = str(policy.LEVEL_LABELS.get(level, str(level)))
        for (entity, field_key), access in sorted(rules.fields.items()):
            label = f"{entity_label(entity)} · {field_key}"
            state[label] = str(policy.FIELD_LABELS.get(access, access))
    return state


def department_state(department: Department) -> dict[str, str]:
    """A department's name, parent and manager."""
    parent = db.session.get(Department, department.parent_id) if department.parent_id else None
    manager = db.session.get(User, department.manager_id) if department.manager_id else None
    return {
        "Name": department.name,
        **names.audit_items(department.translations),
        "Parent": parent.name if parent else TOP_LEVEL,
        "Manager": manager.display_name if manager else NOTHING,
    }


# --- reading ---------------------------------------------------------------------------


@dataclass
class Entry:
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    kind: str
    kind_label: str
    action: str
    action_label: str
    subject: str
    changes: list[tuple[str, str, str]]  # (item, before, after)


@dataclass
class AuditPage:
    entries: list[Entry]
    total: int
    page: int
    pages: int


def _reach(actor: Any) -> ColumnElement | None:
    """The condition limiting entries to ``actor``'s reach (None: every entry)."""
    from crm.access import users
    from crm.access.policy import load_role_rights
    from crm.access.rules import covers

    mine = require_manager(actor)
    if mine.is_admin:
        return None
    placeable = users.placeable_departments(actor) or set()
    user_ids = set(
        db.session.scalars(
            select(User.id).where(
                User.is_admin.is_(False),
                or_(User.department_id.is_(None), User.department_id.in_(sorted(placeable))),
            )
        )
    )
    role_ids = {
        r.id for r in load_role_rights(db.session.scalars(select(Role.id))) if not covers(mine, r)
    }
    e = AccessAuditEntry
    conditions = [
        e.user_id.in_(sorted(user_ids)),
        e.role_id.in_(sorted(role_ids)),
        e.department_id.in_(sorted(placeable)),
    ]
    return or_(*conditions) if conditions else false()


def _filtered(
    actor: Any,
    *,
    person_id: int | None = None,
    kind: str = "",
    since: date | None = None,
    until: date | None = None,
    user_id: int | None = None,
    role_id: int | None = None,
):
    e = AccessAuditEntry
    query = select(e)
    reach = _reach(actor)
    if reach is not None:
        query = query.where(reach)
    if person_id is not None:
        query = query.where(or_(e.actor_id == person_id, e.user_id == person_id))
    if kind:
        query = query.where(e.kind == kind)
    if since is not None:
        query = query.where(e.at >= datetime.combine(since, time.min))
    if until is not None:
        query = query.where(e.at < datetime.combine(until + timedelta(days=1), time.min))
    if user_id is not None:
        query = query.where(e.user_id == user_id)
    if role_id is not None:
        query = query.where(e.role_id == role_id)
    return query


class _Reader:
    """Puts the English words of stored entries into the request's language: item names,
    the entity and action of a grant item, and the values this code writes (yes/no, scope
    levels, field accesses). Names people typed pass through unchanged."""

    def __init__(self) -> None:
        from crm.access import policy
        from crm.access.rules import EVERY_OTHER_ENTITY

        with force_locale("en"):
            self.actions = {str(v) for v in policy.ACTION_LABELS.values()}
            self.every_other = str(EVERY_OTHER_ENTITY)
            self.words = {
                YES,
                NO,
                *SHARE_WORDS,
                *(str(v) for v in policy.LEVEL_LABELS.values()),
                *(str(v) for v in policy.FIELD_LABELS.values()),
            }

    def entity(self, label: str) -> str:
        return _(label) if label == self.every_other else label

    def item(self, item: str) -> str:
        if item in FREE_TEXT or item in WORDED or item in (PARENT, HELD_BY):
            return _(item)
        language = names.audit_language(item)
        if language is not None:  # a translation of a role's or department's name
            return _("Name (%(language)s)", language=language)
        head, sep, tail = item.rpartition(": ")
        if sep and tail in self.actions:  # a grant: "Deals: Read"
            return f"{self.entity(head)}: {_(tail)}"
        head, sep, tail = item.partition(" · ")
        if sep:  # a field right: "Deals · amount"
            return f"{self.entity(head)} · {tail}"
        return item

    def value(self, item: str, value: str) -> str:
        if value == NOTHING or item in FREE_TEXT or names.audit_language(item) is not None:
            return value
        if item == PARENT:
            return _(TOP_LEVEL) if value == TOP_LEVEL else value
        if item == HELD_BY:
            if value.startswith(MOVED_TO):
                return _("moved to %(role)s", role=value[len(MOVED_TO) :])
            return value
        return _(value) if value in self.words else value


def _entry(row: AccessAuditEntry, reader: _Reader) -> Entry:
    before, after = json.loads(row.before or "{}"), json.loads(row.after or "{}")
    keys = list(dict.fromkeys([*before, *after]))
    changes = [
        (
            reader.item(k),
            reader.value(k, str(before.get(k, NOTHING))),
            reader.value(k, str(after.get(k, NOTHING))),
        )
        for k in keys
    ]
    actor = row.actor_name
    if row.actor_id is None and actor == SYSTEM:
        actor = _(SYSTEM)
    return Entry(
        row.id,
        row.at,
        row.actor_id,
        actor,
        row.kind,
        str(KINDS.get(row.kind, row.kind)),
        row.action,
        str(ACTIONS.get(row.action, row.action)),
        subject_words(row.kind, row.subject),
        changes,
    )


def page(actor: Any, *, page: int = 1, **filters: Any) -> AuditPage:
    """One page of the entries ``actor`` may see, newest first, filtered by person (who
    made the change or whom it is about), kind and date range (``since``/``until``,
    days included). ``Forbidden`` unless they manage access."""
    query = _filtered(actor, **filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        query.order_by(AccessAuditEntry.at.desc(), AccessAuditEntry.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    reader = _Reader()
    return AuditPage([_entry(r, reader) for r in rows], total, page, pages)


def recent(actor: Any, *, user_id: int | None = None, role_id: int | None = None) -> list[Entry]:
    """The latest entries about one user or one role that ``actor`` may see."""
    query = _filtered(actor, user_id=user_id, role_id=role_id)
    rows = db.session.scalars(
        query.order_by(AccessAuditEntry.at.desc(), AccessAuditEntry.id.desc()).limit(RECENT)
    ).all()
    reader = _Reader()
    return [_entry(r, reader) for r in rows]


def csv_text(actor: Any, **filters: Any) -> str:
    """Every entry ``actor`` may see under ``filters``, as CSV (one line per changed
    item; cells a spreadsheet would run as formulas are neutralised)."""
    from crm.records.export import safe_cell

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("When (UTC)"),
            _("Who"),
            _("Kind"),
            _("Action"),
            _("About"),
            _("Item"),
            _("Before"),
            _("After"),
        ]
    )
    query = _filtered(actor, **filters).order_by(
        AccessAuditEntry.at.desc(), AccessAuditEntry.id.desc()
    )
    reader = _Reader()
    for row in db.session.scalars(query):
        entry = _entry(row, reader)
        head = [
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor_name,
            entry.kind_label,
            entry.action_label,
            entry.subject,
        ]
        for item, before, after in entry.changes or [("", "", "")]:
            writer.writerow([safe_cell(str(c)) for c in [*head, item, before, after]])
    return out.getvalue()

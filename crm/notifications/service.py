"""Sending notifications and reading a user's bell.

``notify`` is what every feature calls (automation rules, task reminders, approvals): it
adds one bell entry per recipient, its text rendered for that recipient (a template's
quoted fields as *they* may read them: ``crm.notifications.message``), and an e-mail in
the outbox for those who chose to get that kind by e-mail. It joins the caller's unit of
work: the change and the notifications it causes commit together, or neither does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import LazyString
from sqlalchemy import func, select, update

from crm.access.models import User
from crm.extensions import db
from crm.i18n import language_of
from crm.metadata.spec import EntitySpec
from crm.notifications import mail, message
from crm.notifications.models import KINDS, EmailChoice, Notification
from crm.timeutil import utcnow
from crm.uow import unit_of_work

# A notification's words: text, a lazy string, or a function giving the text (both read
# in each recipient's language).
Words = str | LazyString | Callable[[], str]

# Kinds that come by e-mail unless the user turned them off (the others only on request).
EMAIL_BY_DEFAULT = frozenset({"approval", "task_reminder"})
PAGE = 30


def wants_email(user_ids: Iterable[int], kind: str) -> set[int]:
    """Those of ``user_ids`` who get notifications of ``kind`` by e-mail."""
    ids = set(user_ids)
    if not ids:
        return set()
    chosen = dict(
        db.session.execute(
            select(EmailChoice.user_id, EmailChoice.email).where(
                EmailChoice.user_id.in_(ids), EmailChoice.kind == kind
            )
        ).all()
    )
    default = kind in EMAIL_BY_DEFAULT
    return {i for i in ids if chosen.get(i, default)}


def notify(
    recipients: Iterable[int],
    *,
    kind: str,
    title: Words,
    body: Words = "",
    spec: EntitySpec | None = None,
    row: Mapping[str, Any] | None = None,
    actor_id: int | None = None,
    literal: bool = False,
    link: str | None = None,
) -> int:
    """Notify each active user of ``recipients`` (ids; repeats count once) about the record
    ``row`` of ``spec`` (or about nothing). With a record, ``title`` and ``body`` are
    message templates rendered per recipient; a recipient who may not read the record at
    all sees none of its fields. ``literal``: they are plain text (words with text people
    typed in them, a task's subject), linked to the record but never read as templates.
    ``link``: where opening it leads instead of the record (a path of this site: "/...").
    ``title`` and ``body`` may be written for each recipient in their language: a lazy
    string (``lazy_gettext``) or a function of no arguments is read in each recipient's
    language (``crm.i18n.language_of``), not the sender's.
    Returns how many were notified.

    Raises ``ValueError`` for an unknown ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}")
    if link is not None and not is_local_path(link):
        raise ValueError(f"A notification's link must be a path of this site: {link!r}")
    ids = {int(i) for i in recipients if i is not None}
    if not ids:
        return 0
    users = db.session.scalars(
        select(User).where(User.id.in_(ids), User.is_active.is_(True)).order_by(User.id)
    ).all()
    by_mail = wants_email((u.id for u in users), kind)
    now = utcnow()
    with unit_of_work():
        for user in users:
            with language_of(user):
                shown_title, shown_body = _words(title), _words(body)
            if spec is not None and row is not None and not literal:
                reader = user if _may_read(user, spec, row["id"]) else None
                shown_title = _render(shown_title, spec, row, reader)
                shown_body = _render(shown_body, spec, row, reader)
            db.session.add(
                Notification(
                    user_id=user.id,
                    kind=kind,
                    entity_key=spec.key if spec is not None and row is not None else None,
                    record_id=int(row["id"]) if spec is not None and row is not None else None,
                    title=shown_title[:200],
                    body=shown_body,
                    actor_id=actor_id,
                    link=link,
                    created_at=now,
                )
            )
            if user.id in by_mail:
                mail.send(user, shown_title[:200], shown_body)
    return len(users)


def _words(words: Words) -> str:
    return str(words() if callable(words) else words)


def is_local_path(link: str) -> bool:
    """Whether ``link`` is a path of this site ("/approvals/7"), not another site's
    address ("//evil.example", "https://...", "/\\evil")."""
    return (
        len(link) <= 300
        and link.startswith("/")
        and not link.startswith(("//", "/\\"))
        and not any(ch.isspace() or ord(ch) < 32 for ch in link)
    )


def _may_read(user: Any, spec: EntitySpec, record_id: int) -> bool:
    from crm.records import service as records

    return bool(db.session.scalar(select(records.readable(user, spec, record_id))))


def _render(text: str, spec: EntitySpec, row: Mapping[str, Any], reader: Any) -> str:
    if not text:
        return ""
    if reader is None:  # not theirs to read: every quoted field hidden
        return message.render(text, spec, {"id": row["id"]}, None)
    return message.render(text, spec, row, reader)


@dataclass(frozen=True)
class Bell:
    """A user's bell: how many are unread, and the newest entries."""

    unread: int
    entries: list[Notification]
    more: bool


def unread_count(user: Any) -> int:
    """How many of ``user``'s notifications are unread."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def bell(user: Any, *, unread_only: bool = False, before: int | None = None) -> Bell:
    """``user``'s newest notifications (``PAGE`` of them, older than the id ``before`` when
    given), newest first. Reads only."""
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before is not None:
        query = query.where(Notification.id < before)
    rows = db.session.scalars(query.order_by(Notification.id.desc()).limit(PAGE + 1)).all()
    return Bell(unread_count(user), list(rows[:PAGE]), len(rows) > PAGE)


def mark_read(user: Any, notification_id: int) -> Notification | None:
    """Mark one of ``user``'s notifications read; returns it, or None when ``user`` has no
    such notification (another user's is not theirs to touch)."""
    with unit_of_work():
        entry = (
            db.session.get(Notification, notification_id) if 1 <= notification_id < 2**31 else None
        )
        if entry is None or entry.user_id != user.id:
            return None
        if entry.read_at is None:
            entry.read_at = utcnow()
    return entry


def mark_all_read(user: Any, now: datetime | None = None) -> int:
    """Mark every unread notification of ``user`` read; returns how many."""
    with unit_of_work():
        result = db.session.execute(
            update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=now or utcnow())
        )
    return int(result.rowcount or 0)


def email_choices(user: Any) -> dict[str, bool]:
    """For each kind of ``KINDS``: whether ``user`` gets it by e-mail (their choice, else
    the kind's default)."""
    chosen = dict(
        db.session.execute(
            select(EmailChoice.kind, EmailChoice.email).where(EmailChoice.user_id == user.id)
        ).all()
    )
    return {kind: bool(chosen.get(kind, kind in EMAIL_BY_DEFAULT)) for kind in KINDS}


def set_email_choices(user: Any, by_email: Iterable[str]) -> None:
    """Store ``user``'s choice for every kind: those named in ``by_email`` come by e-mail,
    the others only in the bell. Unknown names are ignored."""
    wanted = set(by_email)
    with unit_of_work():
        existing = {
            c.kind: c
            for c in db.session.scalars(select(EmailChoice).where(EmailChoice.user_id == user.id))
        }
        for kind in KINDS:
            row = existing.get(kind)
            if row is None:
                db.session.add(EmailChoice(user_id=user.id, kind=kind, email=kind in wanted))
            else:
                row.email = kind in wanted

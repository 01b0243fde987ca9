"""Probes of the bell and the e-mail pages (crm/notifications): every signed-in actor reads,
marks read and opens their own notifications and no one else's (a 404, nothing changed),
and keeps their own e-mail choices; the outbox is for full administrators only. The SMTP
settings are gated by the configure right (``ADMIN_BLUEPRINTS`` in routes.py)."""

from __future__ import annotations

import re

from sqlalchemy import delete, select, update

from crm.extensions import db
from crm.notifications.models import EmailChoice, MailMessage, Notification
from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import Run

TITLE = "authz probe notice"


def _ensure(run: Run) -> dict[str, int]:
    """One notification per actor (linked to one of the world's records), made once."""
    w = run.world
    db.session.rollback()
    found = dict(
        db.session.execute(
            select(Notification.user_id, Notification.id).where(Notification.title == TITLE)
        ).all()
    )
    if not found:
        entity, record_id = next((r.entity, r.id) for r in w.records.values() if r.live)
        for actor in d.ACTORS:
            db.session.add(
                Notification(
                    user_id=w.ids[actor],
                    kind="rule",
                    title=TITLE,
                    body="",
                    entity_key=entity,
                    record_id=record_id,
                )
            )
        if db.session.scalar(select(MailMessage.id)) is None:
            db.session.add(MailMessage(user_id=None, to_address="probe@example.com",
                                       subject="authz probe mail", body="", status="kept",
                                       attempts=0))  # fmt: skip
        db.session.commit()
        return _ensure(run)
    return {w.user_names[uid]: nid for uid, nid in found.items()}


def _unread() -> dict[int, bool]:
    db.session.rollback()
    rows = db.session.execute(
        select(Notification.id, Notification.read_at).where(Notification.title == TITLE)
    ).all()
    db.session.rollback()
    return {nid: read_at is None for nid, read_at in rows}


def _reset() -> None:
    db.session.execute(update(Notification).where(Notification.title == TITLE).values(read_at=None))
    db.session.execute(delete(EmailChoice))
    db.session.commit()


def probe_notifications(run: Run) -> None:
    a = run.actor
    ids = _ensure(run)
    mine = ids[a]
    other = next(nid for actor, nid in ids.items() if actor != a)
    r = run.get("/notifications/")
    if run.read_case("notifications.bell_page", "-", "-", True, r):
        listed = {int(x) for x in re.findall(r'id="notification-(\d+)"', r.data.decode())}
        others = set(ids.values()) - {mine}
        run.case("notifications.bell_page[own only]", "-", "-", True,
                 mine in listed and not (listed & others))  # fmt: skip
    steps = (
        ("notifications.mark_read", lambda n: run.post(f"/notifications/{n}/read", hx=True), 200),
        ("notifications.open_one", lambda n: run.get(f"/notifications/{n}/open"), 303),
    )
    for route, send, ok in steps:
        before = _unread()
        status = send(other).status_code
        untouched = _unread() == before
        run.case(route, "-", "another's", False,
                 False if status == 404 and untouched else None, f"(HTTP {status})")  # fmt: skip
        status = send(mine).status_code
        after = _unread()
        only_mine = all(after[n] == before[n] for n in before if n != mine)
        run.case(route, "-", "own", True,
                 status == ok and not after[mine] and only_mine, f"(HTTP {status})")  # fmt: skip
        _reset()
    before = _unread()
    status = run.post("/notifications/read-all").status_code
    after = _unread()
    others_kept = all(after[n] == before[n] for n in before if n != mine)
    run.case("notifications.mark_all_read", "-", "own", True,
             status == 303 and not after[mine] and others_kept, f"(HTTP {status})")  # fmt: skip
    _reset()
    r = run.get("/account/notifications")
    run.read_case("notifications.email_choices", "-", "-", True, r)
    status = run.post("/account/notifications", {"email": "rule"}).status_code
    db.session.rollback()
    owners = set(db.session.scalars(select(EmailChoice.user_id)))
    run.case("notifications.email_choices[save]", "-", "own", True,
             status == 303 and owners == {run.world.ids[a]}, f"(HTTP {status})")  # fmt: skip
    _reset()


def probe_outbox(run: Run) -> None:
    """The outbox and a message of it: full administrators only (403 for everyone else)."""
    _ensure(run)
    allowed = oracle.is_admin(run.actor)
    run.read_case("mail.outbox", "-", "-", allowed, run.get("/admin/mail/"))
    db.session.rollback()
    message_id = db.session.scalar(select(MailMessage.id).order_by(MailMessage.id))
    db.session.rollback()
    run.read_case("mail.outbox_message", "-", "-", allowed, run.get(f"/admin/mail/{message_id}"))

"""Sales targets: what each person should win per month on one entity's pipelines.

Managers set them for the people in their reach (``crm.analytics.scope.people_in_reach``:
their department, or it and those below, or everyone at "all records"); nobody sets a
target for someone outside it, and a person without a manager's reach sees only their
own. Amounts are range-checked (0 .. ``MAX_TARGET``, two decimals); an empty amount
removes the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select

from crm.access.models import User
from crm.analytics.models import Target
from crm.analytics.scope import people_in_reach
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.ids import as_id
from crm.uow import unit_of_work

MAX_TARGET = Decimal("1000000000000")  # a trillion: more is a typing slip


def visible_people(user: Any, entity_key: str) -> set[int]:
    """The people whose targets ``user`` sees: themselves and the people in their reach."""
    return {user.id} | {p.id for p in people_in_reach(user, entity_key)}


def may_set(user: Any, entity_key: str) -> bool:
    """Whether ``user`` manages anyone on ``entity_key`` (and so may set targets)."""
    return bool(people_in_reach(user, entity_key))


def parse_month(text: str | None) -> date:
    """``YYYY-MM`` as the first day of that month; ``ValidationFailed`` otherwise."""
    raw = (text or "").strip()
    try:
        year, month = (int(p) for p in raw.split("-"))
        if not 1900 <= year <= 2200:
            raise ValueError
        return date(year, month, 1)
    except ValueError:
        message = _("Choose a month as YYYY-MM between 1900 and 2200.")
        raise ValidationFailed(message, errors={"month": [message]}) from None


def parse_amount(text: str) -> Decimal:
    """A target amount: a number from 0 to ``MAX_TARGET`` with at most two decimals."""
    try:
        value = Decimal(text.strip().replace(" ", "").replace(",", ""))
    except InvalidOperation:
        raise ValueError(_("Enter a number.")) from None
    if not value.is_finite():
        raise ValueError(_("Enter a number."))
    if value < 0:
        raise ValueError(_("A target cannot be negative."))
    if value > MAX_TARGET:
        raise ValueError(_("A target can be at most 1,000,000,000,000."))
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(_("Use at most two decimals."))
    return value


def targets_of(entity_key: str, month: date, people: list[int]) -> dict[int, Decimal]:
    """The targets of ``people`` for ``month``, by user id."""
    if not people:
        return {}
    rows = db.session.execute(
        select(Target.user_id, Target.amount).where(
            Target.entity_key == entity_key, Target.month == month, Target.user_id.in_(people)
        )
    ).all()
    return {uid: Decimal(str(amount)) for uid, amount in rows}


def save(actor: Any, entity_key: str, month: date, amounts: Mapping[str, str]) -> int:
    """Set the targets of ``month`` from ``amounts`` (user id text -> amount text; empty
    removes). All or nothing: ``Forbidden`` for a person outside the actor's reach,
    ``ValidationFailed`` (keyed ``target-<id>``) listing every bad amount. Returns how
    many targets were set or removed."""
    reach = {p.id for p in people_in_reach(actor, entity_key)}
    if not reach:
        raise Forbidden(_("Only managers set targets."))
    wanted: dict[int, Decimal | None] = {}
    errors: dict[str, list[str]] = {}
    for raw_id, text in amounts.items():
        uid = as_id(raw_id)
        if uid is None or uid not in reach:
            raise Forbidden(_("You may set targets only for the people you manage."))
        text = (text or "").strip()
        if not text:
            wanted[uid] = None
            continue
        try:
            wanted[uid] = parse_amount(text)
        except ValueError as exc:
            errors[f"target-{uid}"] = [str(exc)]
    if errors:
        raise ValidationFailed(_("Nothing was saved: see the marked amounts."), errors=errors)
    with unit_of_work():
        current = targets_of(entity_key, month, list(wanted))
        changed = 0
        for uid, amount in wanted.items():
            if amount is None:
                if uid in current:
                    db.session.execute(
                        delete(Target).where(
                            Target.entity_key == entity_key,
                            Target.user_id == uid,
                            Target.month == month,
                        )
                    )
                    changed += 1
                continue
            if current.get(uid) == amount:
                continue
            row = db.session.scalar(
                select(Target).where(
                    Target.entity_key == entity_key, Target.user_id == uid, Target.month == month
                )
            )
            if row is None:
                db.session.add(
                    Target(
                        entity_key=entity_key,
                        user_id=uid,
                        month=month,
                        amount=amount,
                        set_by=actor.id,
                    )
                )
            else:
                row.amount, row.set_by = amount, actor.id
            changed += 1
    return changed


def people(user: Any, entity_key: str) -> list[User]:
    """The people ``user`` sets targets for, by name."""
    return people_in_reach(user, entity_key)

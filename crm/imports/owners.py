"""The owner column of an import: the people a file names (``ada@example.com`` or
``Ada Lovelace``) resolved to users, so that each record lands on the right person.

A mapping names the column with ``{"owner": {"column": i, "match_on": "auto"}}``:
``email`` compares the cell with users' e-mail addresses, ``name`` with their names,
``auto`` tries the address first, then the name. Users are read once per run. An empty
cell leaves the importing user as the owner; a text naming no one, or several people,
fails the row (never a silent owner change). Setting owners needs the "assign" right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access.models import User
from crm.extensions import db

MATCH_ON = ("auto", "email", "name")


@dataclass(frozen=True)
class OwnerRule:
    """Which column names the owner (0-based) and what it holds (``MATCH_ON``)."""

    column: int
    match_on: str = "auto"

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "match_on": self.match_on}

    @classmethod
    def from_json(cls, data: Any) -> OwnerRule | None:
        """The rule stored in a mapping, or None when there is none (or it is not one)."""
        if not isinstance(data, dict) or not isinstance(data.get("column"), int):
            return None
        match_on = data.get("match_on") if data.get("match_on") in MATCH_ON else "auto"
        return cls(data["column"], match_on)


def _fold(text: Any) -> str:
    return " ".join(str(text).split()).casefold()


@dataclass
class OwnerResolver:
    """Resolves owner cells for one run: ``resolve(text)`` -> (user id or None, problem)."""

    rule: OwnerRule
    by_email: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, rule: OwnerRule) -> OwnerResolver:
        """Read every user once (id, e-mail, name)."""
        out = cls(rule)
        for user_id, email, name in db.session.execute(
            select(User.id, User.email, User.display_name)
        ):
            out.by_email[(email or "").strip().lower()] = user_id
            out.by_name.setdefault(_fold(name or ""), []).append(user_id)
        return out

    def resolve(self, text: Any) -> tuple[int | None, str | None]:
        """The user ``text`` names (None: the cell is empty), or the row's problem."""
        if text is None or not str(text).strip():
            return None, None
        shown = " ".join(str(text).split())[:80]
        if self.rule.match_on in ("auto", "email"):
            found = self.by_email.get(str(text).strip().lower())
            if found is not None:
                return found, None
            if self.rule.match_on == "email":
                return None, _("No user has the e-mail address “%(value)s”.", value=shown)
        ids = self.by_name.get(_fold(text), [])
        if len(ids) == 1:
            return ids[0], None
        if ids:
            return None, _(
                "%(count)s users are named “%(value)s”: give their e-mail address instead.",
                count=len(ids),
                value=shown,
            )
        return None, _("No user is named “%(value)s”.", value=shown)


__all__ = ["MATCH_ON", "OwnerResolver", "OwnerRule"]

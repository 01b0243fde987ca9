"""The owner column of an import: people named in a file (``Ana García``, ``ana@acme.com``)
resolved to users.

A column mapped to ``OWNER`` gives each created or updated record its owner: the active user whose
e-mail or full name the cell holds, case, accents and spaces ignored (``ANA GARCIA`` is
Ana García). An unknown person, or a name two people share, fails the row with that name;
an empty cell leaves the importing user as the owner. Mapping the column needs the
"assign" right on the entity (``crm.imports.mapping.check``), as giving records to others
does everywhere else. The active users are read once per import (one query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm.access import directory
from crm.imports.lookups import Resolved
from crm.metadata.types.importing import fold

__all__ = ["OWNER", "PREVIOUS_OWNER", "OwnerResolver"]

# The mapping's name for the owner column: never a field key (keys cannot be spine columns).
OWNER = "owner_id"
# An updated record's previous owner, in its import row's ``previous`` (never a field key).
PREVIOUS_OWNER = "@owner"


@dataclass
class OwnerResolver:
    """Resolves an owner column's cells to user ids (see the module's docstring)."""

    by_name: dict[str, list[int]] = field(default_factory=dict)
    loaded: bool = False

    def load(self) -> None:
        """Read the active users once (their e-mails and full names, folded)."""
        if self.loaded:
            return
        for user_id, name, email in directory.active_people():
            for text in {fold(name or ""), fold(email or "")} - {""}:
                ids = self.by_name.setdefault(text, [])
                if user_id not in ids:
                    ids.append(user_id)
        self.loaded = True

    def resolve(self, text: Any) -> Resolved:
        """One cell: a user's id, None (empty: the importing user) or a problem naming
        the person."""
        if text is None or not str(text).strip():
            return Resolved()
        self.load()
        ids = self.by_name.get(fold(str(text)), [])
        shown = " ".join(str(text).split())[:60]
        if len(ids) == 1:
            return Resolved(ids[0])
        if not ids:
            return Resolved(problem=_("No active user is named “%(person)s” or has that "
                                      "e-mail address.", person=shown))  # fmt: skip
        return Resolved(problem=_("%(count)s users are named “%(person)s”: use their e-mail "
                                  "address.", count=len(ids), person=shown))  # fmt: skip

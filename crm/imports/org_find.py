"""Finding departments and roles by the names a file gives (``crm.imports.org``).

Departments by name, or by a path from the top (``Sales/EMEA``, ``Sales > EMEA``) when
names repeat; roles by name, key or a translation of the name. Both read their table once
and keep up with what the import creates.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from crm.access.models import Department, Role
from crm.extensions import db


class DepartmentFinder:
    """Every department, found by name or path (``Sales/EMEA``), kept up to date."""

    def __init__(self) -> None:
        self.all = list(db.session.scalars(select(Department)))

    def add(self, department: Department) -> None:
        self.all.append(department)

    def child(self, parent: Department | None, name: str) -> Department | None:
        """The department named ``name`` (case ignored) right under ``parent``."""
        wanted = parent.id if parent else None
        for d in self.all:
            if d.parent_id == wanted and d.name.casefold() == name.casefold():
                return d
        return None

    def find(self, text: str) -> tuple[Department | None, str | None]:
        """The department ``text`` names (a name, or a path from the top separated by
        "/" or ">"), or None and why (several share the name)."""
        parts = [p.strip() for p in text.replace(">", "/").split("/") if p.strip()]
        if len(parts) > 1:
            node = None
            for part in parts:
                node = self.child(node, part)
                if node is None:
                    return None, None
            return node, None
        named = [d for d in self.all if parts and d.name.casefold() == parts[0].casefold()]
        if len(named) > 1:
            return None, _(
                "%(count)s departments are named “%(name)s”: give its path, such as "
                "“Sales/%(name)s”.", count=len(named), name=text,
            )  # fmt: skip
        return (named[0] if named else None), None


class RoleFinder:
    """Roles found by name, key or a translation of the name."""

    def __init__(self) -> None:
        self.by: dict[str, int] = {}
        for role in db.session.scalars(select(Role)):
            names = [role.name, role.key or "", *role.translations.get("name", {}).values()]
            for n in names:
                if n:
                    self.by.setdefault(n.strip().casefold(), role.id)

    def ids(self, text: str) -> tuple[list[int], str | None]:
        """The ids of the comma-separated role names of ``text``, or why one is unknown."""
        wanted = [p.strip() for p in text.replace(";", ",").replace("|", ",").split(",")]
        out = []
        for name in (w for w in wanted if w):
            found = self.by.get(name.casefold())
            if found is None:
                return [], _("There is no role “%(name)s”.", name=name)
            out.append(found)
        return out, None


__all__ = ["DepartmentFinder", "RoleFinder"]

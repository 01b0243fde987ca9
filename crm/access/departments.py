"""The department tree: create, rename, set the manager, move, delete.

Departments keep a materialized path ("/1/4/9/": the ids from the root down, each followed
by "/"), which the access policy matches with one prefix condition. Moving a department
rewrites the path of it and of everything below it in one UPDATE (a prefix replace).
Only full administrators change the tree; access managers see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import String, func, literal, select
from sqlalchemy import update as sql_update

from crm.access import audit, names
from crm.access.models import Department, User
from crm.access.service import access_change, fail, require_admin, require_manager
from crm.errors import NotFound
from crm.extensions import db
from crm.ids import row_of
from crm.metadata.keys import clean_label

MAX_NAME = 120
MAX_PATH = 1000  # the column's length
CHANGE_TREE = _l("Only full administrators can change the department tree.")


@dataclass
class Node:
    """A department for the tree screen, with its manager, member count and children."""

    department: Department
    manager: User | None
    members: int
    depth: int
    children: list[Node] = field(default_factory=list)


def tree(actor: Any) -> list[Node]:
    """The whole tree, siblings sorted by name (three queries, whatever its size)."""
    require_manager(actor)
    departments = db.session.scalars(select(Department)).all()
    counts = dict(
        db.session.execute(
            select(User.department_id, func.count())
            .where(User.department_id.is_not(None))
            .group_by(User.department_id)
        ).all()
    )
    manager_ids = {d.manager_id for d in departments if d.manager_id}
    managers = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(manager_ids)))}
    nodes = {
        d.id: Node(d, managers.get(d.manager_id), counts.get(d.id, 0), d.depth) for d in departments
    }
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.department.parent_id)
        (parent.children if parent else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=_sort_key)
    return sorted(roots, key=_sort_key)


def _sort_key(node: Node) -> tuple[str, int]:
    return (node.department.name.casefold(), node.department.id)


def flat(nodes: list[Node]) -> list[Node]:
    """The tree in display order (depth first), for select boxes."""
    out: list[Node] = []
    for node in nodes:
        out.append(node)
        out.extend(flat(node.children))
    return out


def get(actor: Any, department_id: int) -> Department:
    """One department, or ``NotFound``."""
    require_manager(actor)
    return _department(department_id)


def _department(department_id: Any) -> Department:
    found = row_of(Department, department_id)
    if found is None:
        raise NotFound(_("There is no such department."))
    return found


def _name_problems(name: str, parent_id: int | None, *, exclude: int | None = None) -> list[str]:
    if not name:
        return [_("Enter a name.")]
    if len(name) > MAX_NAME:
        return [_("Use at most %(num)d characters.", num=MAX_NAME)]
    siblings = db.session.execute(
        select(Department.id, Department.name).where(
            Department.parent_id.is_(None)
            if parent_id is None
            else Department.parent_id == parent_id
        )
    ).all()
    if any(n.casefold() == name.casefold() and i != exclude for i, n in siblings):
        if parent_id is None:
            return [_("A department named “%(name)s” already exists at the top level.", name=name)]
        return [_("A department named “%(name)s” already exists under that department.", name=name)]
    return []


def _manager_problems(manager_id: int | None) -> list[str]:
    if manager_id is None:
        return []
    user = db.session.get(User, manager_id) if isinstance(manager_id, int) else None
    if user is None:
        return [_("There is no such user.")]
    if not user.is_active:
        return [_("%(name)s is deactivated.", name=user.display_name)]
    return []


def _parent(parent_id: int | None, errors: dict[str, list[str]]) -> Department | None:
    if parent_id is None:
        return None
    parent = db.session.get(Department, parent_id) if isinstance(parent_id, int) else None
    if parent is None:
        errors["parent"] = [_("There is no such department.")]
    return parent


@access_change
def create(
    actor: Any,
    *,
    name: str,
    parent_id: int | None = None,
    manager_id: int | None = None,
    translations: Any = None,
) -> Department:
    """Add a department (at the top level without ``parent_id``), with the name's
    ``translations`` (``{"name": {locale: text}}``, ``crm.access.names``) if any.

    Raises ``Forbidden`` for anyone but a full administrator and ``ValidationFailed``
    (with every problem, nothing created) for a bad name, parent or manager."""
    require_admin(actor, CHANGE_TREE)
    name = clean_label(name)
    errors: dict[str, list[str]] = {}
    parent = _parent(parent_id, errors)
    if parent is not None and len(parent.path) + 12 > MAX_PATH:
        errors["parent"] = [_("The tree cannot grow deeper here.")]
    errors["name"] = _name_problems(name, parent_id if parent else None)
    translations, bad = names.check(translations, MAX_NAME)
    errors["name"] += bad
    errors["manager"] = _manager_problems(manager_id)
    if any(errors.values()):
        fail(_("The department was not created."), errors)
    department = Department(
        name=name, translations=translations, parent_id=parent.id if parent else None, path="/"
    )
    department.manager_id = manager_id
    db.session.add(department)
    db.session.flush()  # the id is part of the path
    department.path = f"{parent.path if parent else '/'}{department.id}/"
    audit.record(
        actor,
        "department",
        "created",
        department.name,
        after=audit.department_state(department),
        department_id=department.id,
    )
    return department


@access_change
def update(
    actor: Any,
    department_id: int,
    *,
    name: str,
    manager_id: int | None,
    translations: Any = None,
) -> Department:
    """Rename a department and set (or clear) its manager; ``translations`` (all of the
    name's, ``{"name": {locale: text}}``) replace the stored ones, None keeps them."""
    require_admin(actor, CHANGE_TREE)
    department = _department(department_id)
    name = clean_label(name)
    errors = {
        "name": _name_problems(name, department.parent_id, exclude=department.id),
        "manager": _manager_problems(manager_id),
    }
    if translations is not None:
        translations, bad = names.check(translations, MAX_NAME)
        errors["name"] += bad
    if any(errors.values()):
        fail(_("The department was not changed."), errors)
    before = audit.department_state(department)
    department.name = name
    if translations is not None:
        department.translations = translations
    department.manager_id = manager_id
    audit.record(
        actor,
        "department",
        "changed",
        department.name,
        before=before,
        after=audit.department_state(department),
        department_id=department.id,
    )
    return department


@access_change
def move(actor: Any, department_id: int, parent_id: int | None) -> Department:
    """Put a department (and everything below it) under ``parent_id`` (None: the top).

    Refuses a move under the department itself or one of its descendants. The paths of
    the whole subtree change in one UPDATE statement."""
    require_admin(actor, CHANGE_TREE)
    department = _department(department_id)
    errors: dict[str, list[str]] = {}
    parent = _parent(parent_id, errors)
    old = department.path
    if parent is not None and parent.path.startswith(old):
        errors["parent"] = [_("A department cannot move under itself or a department below it.")]
    if errors:
        fail(_("The department was not moved."), errors)
    new = f"{parent.path if parent else '/'}{department.id}/"
    if new == old:
        return department
    longest = db.session.scalar(
        select(func.max(func.length(Department.path))).where(Department.path.startswith(old))
    )
    if (longest or len(old)) - len(old) + len(new) > MAX_PATH:
        errors["parent"] = [_("The tree would grow too deep there.")]
    errors["name"] = _name_problems(
        department.name, parent.id if parent else None, exclude=department.id
    )
    if any(errors.values()):
        fail(_("The department was not moved."), errors)
    audit.record(
        actor,
        "department",
        "moved",
        department.name,
        before=audit.department_state(department),
        after={
            **audit.department_state(department),
            "Parent": parent.name if parent else audit.TOP_LEVEL,
        },
        department_id=department.id,
    )
    department.parent_id = parent.id if parent else None
    db.session.flush()
    # Paths hold only digits and "/", so the prefix match needs no escaping.
    db.session.execute(
        sql_update(Department)
        .where(Department.path.startswith(old))
        .values(path=literal(new, String) + func.substr(Department.path, len(old) + 1)),
        execution_options={"synchronize_session": False},
    )
    db.session.expire_all()  # Core statements went around the identity map
    return department


@access_change
def delete(actor: Any, department_id: int) -> None:
    """Delete an empty department (no members, no sub-departments)."""
    require_admin(actor, CHANGE_TREE)
    department = _department(department_id)
    members = db.session.scalar(
        select(func.count()).select_from(User).where(User.department_id == department.id)
    )
    children = db.session.scalar(
        select(func.count()).select_from(Department).where(Department.parent_id == department.id)
    )
    problems = []
    if members:
        problems.append(
            ngettext(
                "“%(name)s” still has %(num)d member: move them to another department first.",
                "“%(name)s” still has %(num)d members: move them to another department first.",
                members,
                name=department.display_name,
            )
        )
    if children:
        problems.append(
            ngettext(
                "“%(name)s” has %(num)d sub-department: move or delete them first.",
                "“%(name)s” has %(num)d sub-departments: move or delete them first.",
                children,
                name=department.display_name,
            )
        )
    if problems:
        fail(_("The department was not deleted."), {"department": problems})
    audit.record(
        actor,
        "department",
        "deleted",
        department.name,
        before=audit.department_state(department),
        department_id=department.id,
    )
    db.session.delete(department)

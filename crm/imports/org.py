"""Importing the organisation: departments and users from CSV or XLSX files.

The file is read by the same reader as record imports and kept as an ``imports`` row
(entity key ``@departments`` or ``@users``, which no entity can have), so its counts,
error file and job are those of any import. Rows go through the access services
(``crm.access.departments.create``, ``crm.access.users.create``): their checks, audit
entries and invitations apply, and each row is one savepoint — a bad row leaves nothing
behind and is reported with its line number.

Departments: a name, a parent (its name, or a path ``Sales/EMEA``) and a manager (an
e-mail address; one not yet known is left empty and set when the file is imported again
after the users). A department is known by its place in the tree: importing the file
twice creates nothing; rows may name a parent that comes later in the file. Users: an
e-mail address, a name, a department, roles (by name, comma-separated) and "manager"
(yes/no: the user manages their department). A user is known by e-mail address; new
users get an invitation (``crm.access.invites``), as on the Users screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from crm.access import departments, users
from crm.access.models import Department, User
from crm.access.service import require_admin
from crm.auth.service import normalise_email
from crm.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.imports import store
from crm.imports.matching import norm
from crm.imports.models import DONE, QUEUED, Import, ImportProblem
from crm.imports.org_find import DepartmentFinder, RoleFinder
from crm.imports.read import Settings, open_source
from crm.imports.run import Summary
from crm.jobs import handler
from crm.metadata.types.importing import TRUE_WORDS
from crm.timeutil import utcnow
from crm.uow import unit_of_work

DEPARTMENTS, USERS = "@departments", "@users"
TARGETS = (DEPARTMENTS, USERS)
ONLY_ADMINS = _l("Only full administrators can import departments and users.")
KIND = "import.org"

# The column names each part is read from (compared as ``norm`` compares names).
_WORDS = {
    DEPARTMENTS: {
        "name": "name|department|department name|部门|部门名称|名称|nombre|departamento",
        "parent": "parent|parent department|上级部门|上级|所属部门|departamento superior|padre",
        "manager": "manager|manager email|head|负责人|经理|主管|responsable|gerente|jefe",
    },
    USERS: {
        "email": "email|e-mail|mail|email address|邮箱|电子邮件|邮件|correo|correo electrónico",
        "name": "name|full name|display name|姓名|名字|nombre|nombre completo",
        "department": "department|dept|部门|departamento",
        "roles": "role|roles|角色|rol",
        "manager": "manager|is manager|department manager|部门经理|主管|responsable|gerente",
    },
}
REQUIRED = {DEPARTMENTS: ("name",), USERS: ("email",)}


def columns_of(target: str, names: Sequence[str]) -> dict[str, int]:
    """Part ("name", "parent"...) -> the index of the file's column holding it."""
    found: dict[str, int] = {}
    for part, words in _WORDS[target].items():
        wanted = {norm(w) for w in words.split("|")}
        for i, name in enumerate(names):
            if norm(name) in wanted and i not in found.values():
                found[part] = i
                break
    return found


@dataclass
class OrgSummary(Summary):
    """A ``Summary`` with the invitation links made for new users: (e-mail, token)."""

    invites: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """The counts (never the invitation tokens: a job's result is stored)."""
        return {k: v for k, v in super().as_dict().items() if k != "invites"}


def start(actor: Any, target: str, file: BinaryIO, name: str, *, queue: bool = True) -> Import:
    """Keep the file as an import of ``target`` (``@departments`` / ``@users``) and, with
    ``queue``, add its job. ``Forbidden`` for anyone but a full administrator,
    ``ValidationFailed`` when a needed column is missing, ``UnreadableFile``."""
    require_admin(actor, ONLY_ADMINS)
    if target not in TARGETS:
        raise NotFound(_("There is no such import."))
    source = open_source(file, name)
    found = columns_of(target, source.columns)
    missing = [p for p in REQUIRED[target] if p not in found]
    if missing:
        raise ValidationFailed(
            _("The file has no column for: %(parts)s.", parts=", ".join(missing)),
            errors={"file": [_("Name the columns as the checklist page shows.")]},
        )
    from crm.jobs.outbox import enqueue

    with unit_of_work():
        imp = Import(
            entity_key=target, user_id=actor.id, filename=name[:255], size=source.size,
            settings=source.how_read(),
            mapping={"org": found}, mode="upsert", match=[], status=QUEUED, created=0,
            updated=0, skipped=0, errors=0, last_line=0, created_at=utcnow(),
        )  # fmt: skip
        db.session.add(imp)
        db.session.flush()
        store.save(imp.id, file)
        if queue:
            imp.job_id = enqueue(KIND, {"import_id": imp.id}, user_id=actor.id).id
        import_id = imp.id
    return db.session.get(Import, import_id)


def run(import_id: int, *, dry_run: bool = False) -> OrgSummary:
    """Import the kept file of ``import_id`` in one unit of work (each row a savepoint);
    ``dry_run``: the same checks, nothing kept. The import row gets the counts and the bad
    rows (its error file). Raises ``NotFound``, ``Forbidden`` (not an administrator)."""
    imp = db.session.get(Import, import_id) if 0 < import_id < 2**31 else None
    if imp is None or imp.entity_key not in TARGETS:
        raise NotFound(_("There is no such import."))
    actor = db.session.get(User, imp.user_id) if imp.user_id else None
    if actor is None:
        raise Forbidden(str(ONLY_ADMINS))
    require_admin(actor, ONLY_ADMINS)
    s = imp.settings or {}
    chosen = Settings(
        encoding=s.get("encoding"), delimiter=s.get("delimiter"), quotechar=s.get("quotechar"),
        header_row=s.get("header_row"), sheet=s.get("sheet"),
    )  # fmt: skip
    parts = dict((imp.mapping or {}).get("org") or {})
    work = _Work(actor, imp.entity_key, parts)
    started = imp.started_at or utcnow()
    with unit_of_work() as unit, store.opened(imp.id) as file:
        for row in open_source(file, imp.filename, chosen).rows():
            work.summary.rows += 1
            if not row.ok:
                work.problem(row.line, {"raw": row.raw}, str(row.message))
            else:
                work.rows.append((row.line, ["" if v is None else str(v) for v in row.values]))
        work.go()
        if dry_run:
            unit.discard()
        else:
            if work.problems:
                db.session.execute(
                    ImportProblem.__table__.insert(),
                    [{"import_id": imp.id, **p} for p in work.problems],
                )
            sm = work.summary
            db.session.execute(
                update(Import).where(Import.id == imp.id).values(
                    status=DONE, created=sm.created, updated=sm.updated, skipped=sm.skipped,
                    errors=sm.errors, last_line=max((r[0] for r in work.rows), default=0),
                    started_at=started, finished_at=utcnow(),
                ).execution_options(synchronize_session=False)
            )  # fmt: skip
    return work.summary


class _Work:
    """The rows of one org import and what became of them."""

    def __init__(self, actor: Any, target: str, parts: dict[str, int]) -> None:
        self.actor, self.target, self.parts = actor, target, parts
        self.rows: list[tuple[int, list[str]]] = []
        self.problems: list[dict[str, Any]] = []
        self.summary = OrgSummary()
        self.tree = DepartmentFinder()

    def cell(self, values: list[str], part: str) -> str:
        i = self.parts.get(part)
        return " ".join(values[i].split()) if i is not None and i < len(values) else ""

    def problem(self, line: int, cells: Any, message: str) -> None:
        self.problems.append({"line": line, "cells": cells, "reasons": {"": [message]}})
        self.summary.errors += 1
        if len(self.summary.samples) < 20:
            self.summary.samples.append((line, {"": [message]}))

    def go(self) -> None:
        if self.target == DEPARTMENTS:
            self.departments()
        else:
            self.users()

    def attempt(self, line: int, values: list[str], change, *args: Any, **kwargs: Any) -> Any:
        """Run ``change(*args, **kwargs)`` in a savepoint; a refusal is the row's problem."""
        try:
            with unit_of_work():
                return change(*args, **kwargs)
        except (ValidationFailed, Forbidden, Conflict, NotFound) as exc:
            detail = [m for ms in (exc.errors or {}).values() for m in ms]
            self.problem(line, values, " ".join([exc.message, *detail]))
        except DomainError as exc:
            self.problem(line, values, exc.message)
        return None

    def departments(self) -> None:
        pending = list(self.rows)
        while pending:  # a row may name a parent that a later row creates
            waiting = []
            for line, values in pending:
                parent_text = self.cell(values, "parent")
                parent, problem = self.tree.find(parent_text) if parent_text else (None, None)
                if problem or (parent_text and parent is None):
                    waiting.append((line, values, problem))
                    continue
                self.department(line, values, parent)
            if len(waiting) == len(pending):
                for line, values, problem in waiting:
                    text = self.cell(values, "parent")
                    missing = _("There is no department “%(name)s” to put this under.", name=text)
                    self.problem(line, values, problem or missing)
                return
            pending = [(line, values) for line, values, _p in waiting]

    def department(self, line: int, values: list[str], parent: Department | None) -> None:
        name = self.cell(values, "name")
        email = normalise_email(self.cell(values, "manager"))
        manager = db.session.scalar(select(User.id).where(User.email == email)) if email else None
        existing = self.tree.child(parent, name)
        if existing is not None:
            if manager is not None and existing.manager_id != manager:
                done = self.attempt(
                    line, values, departments.update, self.actor, existing.id,
                    name=existing.name, manager_id=manager,
                )  # fmt: skip
                self.summary.updated += done is not None
            else:
                self.summary.skipped += 1
            return
        made = self.attempt(
            line, values, departments.create, self.actor, name=name,
            parent_id=parent.id if parent else None, manager_id=manager,
        )  # fmt: skip
        if made is not None:
            self.tree.add(made)
            self.summary.created += 1

    def users(self) -> None:
        seen: dict[str, int] = {}
        roles = RoleFinder()
        for line, values in self.rows:
            email = normalise_email(self.cell(values, "email"))
            if email and email in seen:
                self.problem(line, values, _("This e-mail address is also on line %(line)s.",
                                             line=seen[email]))  # fmt: skip
                continue
            seen[email] = line
            if email and db.session.scalar(select(User.id).where(User.email == email)):
                self.summary.skipped += 1  # known by e-mail address: never created twice
                continue
            text = self.cell(values, "department")
            department, problem = self.tree.find(text) if text else (None, None)
            if text and department is None:
                self.problem(line, values, problem or _("There is no department “%(name)s”.",
                                                        name=text))  # fmt: skip
                continue
            role_ids, problem = roles.ids(self.cell(values, "roles"))
            if problem:
                self.problem(line, values, problem)
                continue
            manages = self.cell(values, "manager").casefold() in TRUE_WORDS
            name = self.cell(values, "name") or email.split("@")[0]
            made = self.attempt(line, values, self.user, email, name, department, role_ids, manages)
            if made is not None:
                self.summary.created += 1
                self.summary.invites.append((made[0].email, made[1]))

    def user(self, email, name, department, role_ids, manages) -> tuple[User, str]:
        user, token = users.create(
            self.actor, email=email, display_name=name,
            department_id=department.id if department else None, role_ids=role_ids,
        )  # fmt: skip
        if manages and department is not None:
            departments.update(self.actor, department.id, name=department.name, manager_id=user.id)
        return user, token


@handler(KIND)
def run_job(ctx: Any) -> dict[str, int]:
    """The job: import the kept departments or users file."""
    return run(int(ctx.payload["import_id"])).as_dict()

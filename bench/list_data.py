"""The list benchmark's data (issues 5, 6 and 12), shared with the load test.

An entity of 15 fields and BENCH_ROWS (default 1,000,000) accounts, owners spread over 200
users in a tree of 200 departments; two entities (contacts, deals) with a lookup to it,
BENCH_ROWS / 10 records each. Besides, from data version 2 (issue 12):

- four searchable fields (name, e-mail, city, code: the quick-search index, SQLite FTS5
  trigram or PostgreSQL pg_trgm), the city being a common term (one of 7, ~14 %);
- OWN_REP, a rep whose only role reads their own records (level OWN), with 20 accounts
  shared with them and 20 with their department, the 10 most recent of each so that
  shared records reach the first page;
- a rep whose only role reads their own department's records (level DEPARTMENT,
  ``dept_rep()``), in a new team of DEPT_TEAM record owners moved from departments
  outside MANAGER's subtree, with shares likewise.

The users the earlier cases sign in as (OWNER, MANAGER) see exactly what they saw before.
A kept database (BENCH_KEEP_DB=1) records its data version in ``bench_data_version``; one
made by an older benchmark is upgraded in place by ``setup``.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from bench.schema_bench import FIELDS, ROWS, _fill
from crm.access import policy
from crm.access.models import User
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service

RELATED_ROWS = max(100, ROWS // 10)
OWNER = 7  # the signed-in user, owner of ~1/200 of the accounts
DEPARTMENTS = 200
MANAGER = 1000  # a division manager: reads the records of the division's departments
OWN_REP = 9  # reads only their own accounts (and those shared with them)
DEPT_TEAM = 5  # record owners in the department-scope rep's team (the rep included)
SHARES = 20  # accounts shared with each scoped rep, and as many with their department
SEARCHABLE = ("name", "email", "city", "code")
DATA_VERSION = 2  # bump when the data changes; add the step to ``_upgrade``

# Quick-search terms: a rare one (Company N and Company N0..N9: 11 accounts whatever
# BENCH_ROWS), a common one (a city, ~14 % of the accounts), and short ones that no
# trigram index can answer (one character; two characters matching nothing).
SEARCH_TERMS = {
    "rare": f"Company {ROWS // 20}",
    "common": "Berlin",
    "short1": "7",
    "short2": "zq",
}
RARE_MATCHES = 11


def dept_rep() -> int:
    """The department-scope rep's user id (the one user holding "Own department")."""
    from crm.access.models import Role, user_roles

    found = db.session.scalar(
        select(user_roles.c.user_id)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(Role.name == "Own department")
    )
    if found is None:
        raise RuntimeError("The bench data has no department-scope rep: rebuild it.")
    return found


def _prepared(kind: str) -> bool:
    """True when a kept database already holds this benchmark's data."""
    if "account" not in specs.current().entities:
        return False
    table = specs.current().table("account")
    return (db.session.scalar(select(func.max(table.c.id))) or 0) >= ROWS


def _fill_related(kind: str, key: str, name: str, accounts: int) -> None:
    """RELATED_ROWS records of ``key`` pointing at random accounts."""
    rnd = random.Random(key)
    base = datetime(2021, 1, 1)
    table = specs.current().table(key)
    batch = 20_000
    for start in range(0, RELATED_ROWS, batch):
        db.session.execute(
            table.insert(),
            [
                {
                    "owner_id": rnd.randint(1, 200),
                    "created_at": base + timedelta(minutes=i),
                    "updated_at": base + timedelta(minutes=i),
                    name: f"{key.title()} {i}",
                    "account": rnd.randint(1, accounts),
                }
                for i in range(start, min(RELATED_ROWS, start + batch))
            ],
        )
    db.session.commit()


def _grant_everything() -> None:
    """One role, "Sales", giving every data action on every record of every entity to the
    200 users (the unscoped figure); none of them is an administrator."""
    from crm.access import models

    role = models.Role(name="Sales")
    db.session.add(role)
    db.session.flush()
    db.session.add_all(
        models.RoleGrant(role_id=role.id, entity_key="*", action=a, level=policy.ALL)
        for a in policy.ACTIONS
    )
    db.session.execute(
        models.user_roles.insert(), [{"user_id": i, "role_id": role.id} for i in range(1, 201)]
    )
    db.session.commit()


def _tree_of_departments() -> None:
    """DEPARTMENTS departments (a root, 6 divisions, 5 regions each, teams under them),
    user i in department i, and MANAGER: a user of the first division whose only role reads
    "department and below" (the division, its regions and their teams). Kept databases
    filled before this scenario existed get it here."""
    from crm.access import models

    if db.session.scalar(select(func.count()).select_from(models.Department)):
        return
    parents: list[models.Department | None] = [None]
    made: list[models.Department] = []
    level_sizes = [1, 6, 30]
    for size in [*level_sizes, DEPARTMENTS - sum(level_sizes)]:
        level = []
        for i in range(size):
            parent = parents[i % len(parents)]
            d = models.Department(
                name=f"Department {len(made) + 1}", parent_id=parent and parent.id
            )
            db.session.add(d)
            db.session.flush()  # the id is part of the path
            d.path = f"{parent.path if parent else '/'}{d.id}/"
            level.append(d)
            made.append(d)
        parents = level
    for i, d in enumerate(made, start=1):
        db.session.execute(
            models.User.__table__.update().where(models.User.id == i).values(department_id=d.id)
        )
    role = models.Role(name="Division manager")
    db.session.add(role)
    db.session.flush()
    db.session.add_all(
        models.RoleGrant(role_id=role.id, entity_key="*", action=a, level=policy.SUBTREE)
        for a in policy.ACTIONS
    )
    manager = models.User(
        id=MANAGER, email="manager@example.com", display_name="Division Manager",
        password_hash="x", department_id=made[1].id,
    )  # fmt: skip
    db.session.add(manager)
    db.session.flush()
    db.session.execute(models.user_roles.insert(), [{"user_id": MANAGER, "role_id": role.id}])
    db.session.commit()


def setup(kind: str, out: dict) -> int:
    """Users, the entities and their records (unless a kept database holds them, upgraded
    to DATA_VERSION if older); returns the id of the account whose record page is
    measured."""
    if _prepared(kind):
        out["load_seconds"] = "reused"
    else:
        start = time.perf_counter()
        for i in range(1, 201):  # owners of the generated rows (ids 1..200)
            db.session.add(
                User(email=f"u{i}@example.com", display_name=f"User {i}", password_hash="x")
            )
        db.session.commit()
        _grant_everything()
        service.create_entity("company", "Company")
        service.create_entity("account", "Account", fields=FIELDS, name_field="name")
        lookup = {"key": "account", "type": "lookup", "label": "Account"}
        lookup["options"] = {"target": "account"}
        for key, name in (("contact", "full_name"), ("deal", "title")):
            fields = [{"key": name, "type": "text", "label": "Name"}, lookup]
            service.create_entity(key, key.title(), fields=fields, name_field=name)
        _fill(kind, ROWS)
        for key, name in (("contact", "full_name"), ("deal", "title")):
            _fill_related(kind, key, name, ROWS)
        out["load_seconds"] = time.perf_counter() - start
    _tree_of_departments()
    _upgrade(out)
    table = specs.current().table("account")
    some = db.session.scalar(
        select(table.c.id).where(table.c.owner_id == OWNER).order_by(table.c.id).limit(1)
    )
    for key, name in (("contact", "full_name"), ("deal", "title")):
        t = specs.current().table(key)
        present = db.session.scalar(select(func.count()).select_from(t).where(t.c.account == some))
        if present < 25:  # at least a full related list of 10 and a "See all"
            now = datetime(2026, 1, 1)
            db.session.execute(
                t.insert(),
                [
                    {"account": some, name: f"{key} {i}", "owner_id": OWNER,
                     "created_at": now, "updated_at": now}
                    for i in range(25)
                ],
            )  # fmt: skip
    db.session.commit()
    # Planner statistics, as PostgreSQL's autovacuum keeps them. SQLite has no automatic
    # ANALYZE: without sqlite_stat1 its planner answers the "department and below" list by
    # reading and sorting every record of the subtree (MULTI-INDEX OR) instead of walking
    # the updated_at index, ~100 times slower at 100,000 records.
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return some


def _data_version() -> int:
    """The version of the data in this database (1: made before the marker existed)."""
    # A table of the benchmark's own, outside the app's metadata: the app never reads it.
    db.session.execute(text("CREATE TABLE IF NOT EXISTS bench_data_version (version INTEGER)"))
    found = db.session.scalar(text("SELECT max(version) FROM bench_data_version"))
    db.session.commit()
    return int(found or 1)


def _upgrade(out: dict) -> None:
    """Bring the data to DATA_VERSION, one step per version (fresh data goes through the
    same steps, so an upgraded database holds what a rebuilt one would)."""
    version = _data_version()
    if version >= DATA_VERSION:
        return
    start = time.perf_counter()
    if version < 2:
        _make_searchable()
        _scoped_reps()
    db.session.execute(text("DELETE FROM bench_data_version"))
    db.session.execute(
        text("INSERT INTO bench_data_version (version) VALUES (:v)"), {"v": DATA_VERSION}
    )
    db.session.commit()
    out[f"upgrade_to_v{DATA_VERSION}_seconds"] = round(time.perf_counter() - start, 1)


def _make_searchable() -> None:
    """The quick-search index over SEARCHABLE, built through the schema pipeline (one
    change: SQLite rebuilds its FTS table once)."""
    with service.change() as change:
        for key in SEARCHABLE:
            change.update_field("account", key, searchable=True)


def _scoped_reps() -> None:
    """Two roles ("Own records", "Own department"), OWN_REP and a team for the
    department-scope rep, and the shares that widen both reps' scopes."""
    from crm.access import models

    roles = {}
    for name, level in (("Own records", policy.OWN), ("Own department", policy.DEPARTMENT)):
        role = roles[level] = models.Role(name=name)
        db.session.add(role)
        db.session.flush()
        db.session.add_all(
            models.RoleGrant(role_id=role.id, entity_key="*", action=a, level=level)
            for a in policy.ACTIONS
        )
    team, department_id = _team()
    rep = team[0]
    for user_id, level in ((OWN_REP, policy.OWN), (rep, policy.DEPARTMENT)):
        # Their only role: roles add up, so the "Sales" role would read everything.
        db.session.execute(models.user_roles.delete().where(models.user_roles.c.user_id == user_id))
        db.session.execute(
            models.user_roles.insert(), [{"user_id": user_id, "role_id": roles[level].id}]
        )
    own_department = db.session.get(models.User, OWN_REP).department_id
    table = specs.current().table("account")
    rnd = random.Random(12)
    shares = []
    for owners, targets in (
        ([OWN_REP], [("user_id", OWN_REP), ("department_id", own_department)]),
        (team, [("user_id", rep), ("department_id", department_id)]),
    ):
        others = table.c.owner_id.not_in(owners)
        recent = db.session.scalars(
            select(table.c.id).where(others).order_by(table.c.id.desc()).limit(SHARES)
        ).all()
        tries = rnd.sample(range(1, min(recent)), min(min(recent) - 1, SHARES * 3))
        picked = db.session.scalars(
            select(table.c.id).where(others, table.c.id.in_(tries)).order_by(table.c.id)
        ).all()
        picked = rnd.sample(picked, min(len(picked), SHARES))
        for i, (column, target) in enumerate(targets):
            # Half of each target's shares among the most recent accounts (on the first
            # page), half anywhere; no record shared twice with one target.
            half = SHARES // 2
            ids = recent[i * half : (i + 1) * half] + picked[i * half : (i + 1) * half]
            shares += [
                models.RecordShare(
                    entity_key="account", record_id=record_id, access="read", **{column: target}
                )
                for record_id in ids
            ]
    db.session.add_all(shares)
    db.session.commit()


def _team() -> tuple[list[int], int]:
    """A new department, "Bench team", under a division other than MANAGER's, with
    DEPT_TEAM record owners moved into it from departments outside MANAGER's subtree (so
    the manager's scope is unchanged); returns the team (the rep first) and its id."""
    from crm.access.models import Department

    manager_dept = db.session.get(Department, db.session.get(User, MANAGER).department_id)
    root = db.session.scalar(select(Department).where(Department.parent_id.is_(None)))
    parent = db.session.scalar(
        select(Department)
        .where(Department.parent_id == root.id, Department.id != manager_dept.id)
        .order_by(Department.id)
        .limit(1)
    )
    team_dept = Department(name="Bench team", parent_id=parent.id)
    db.session.add(team_dept)
    db.session.flush()
    team_dept.path = f"{parent.path}{team_dept.id}/"
    candidates = db.session.scalars(
        select(User.id)
        .join(Department, User.department_id == Department.id)
        .where(
            User.id <= 200,
            User.id.not_in([OWNER, OWN_REP]),
            ~Department.path.startswith(manager_dept.path),
        )
        .order_by(User.id.desc())
        .limit(DEPT_TEAM)
    ).all()
    db.session.execute(
        User.__table__.update().where(User.id.in_(candidates)).values(department_id=team_dept.id)
    )
    db.session.flush()
    return list(candidates), team_dept.id

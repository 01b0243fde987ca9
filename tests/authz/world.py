"""The authorization world built in a real database from ``declare.py``: departments, roles,
people, four entities with lookups, a record in every slot (live, and a twin in the recycle
bin), shares, a shared list view showing every field, and one signed-in client per actor.

``World.diff`` reads every stored record row (raw, as the driver returns it), every share
and the number of history rows, notes and list views, and compares them with the snapshot
taken when the world was built; ``World.reset`` puts the snapshot back. A refused write must
leave ``diff`` empty; after an allowed one the matrix checks the change and resets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from crm.access import policy
from crm.access.models import Department, FieldRight, RecordShare, Role, RoleGrant, User
from crm.auth import service as auth
from crm.automation import rules as automation_rules
from crm.extensions import db
from crm.metadata import list_views, specs
from crm.pipelines import service as pipelines
from crm.pipelines.service import StageInput
from crm.records import service as records
from crm.records.query import table_of
from crm.schema import service as schema
from crm.timeutil import utcnow
from tests.authz import declare as d
from tests.authz.oracle import Rec
from tests.factories import make_user
from tests.support.client import CRMClient

TASK_COLUMNS = (
    "id, entity_key, record_id, subject, due_date, due_time, priority, assignee_id, status, "
    "done_at, done_by, created_by, created_at"
)


@dataclass(frozen=True)
class Record:
    """One record of the world: where it sits and what the oracle knows of it."""

    entity: str
    id: int
    slot: tuple[str, str]
    live: bool
    index: int
    rec: Rec
    name: str
    ref: str
    secret: str
    amount: int
    lookups: dict = field(default_factory=dict)  # field key -> parent record id


def _entity_fields(entity: str) -> list[dict]:
    out: list[dict] = []
    for key in d.fields_of(entity):
        label = d.field_label(entity, key)
        if key in d.ENTITIES[entity]["lookups"]:
            target = d.ENTITIES[entity]["lookups"][key]
            out.append(
                {"key": key, "type": "lookup", "label": label, "options": {"target": target}}
            )
        elif key == "amount":
            out.append({"key": key, "type": "integer", "label": label})
        else:
            searchable = key in ("name", "ref", "secret")
            out.append({"key": key, "type": "text", "label": label, "searchable": searchable})
    return out


# Every statement below that interpolates names interpolates only entity keys and table
# names declared in declare.py or this module, and column names read from the entity's
# table; values are always bound parameters.


class World:
    """Built once per test module (see ``conftest.py``)."""

    def __init__(self, app):
        self.app = app
        self.departments: dict[str, Department] = {}
        self.users: dict[str, User] = {}
        self.records: dict[tuple[str, tuple[str, str], bool], Record] = {}
        self.by_id: dict[tuple[str, int], Record] = {}
        self.clients: dict[str, CRMClient] = {}
        self._snapshot: dict[str, Any] = {}
        self._column_cache: dict[str, list[str]] = {}

    # --- building -------------------------------------------------------------------------

    def build(self) -> World:
        for entity in d.ENTITY_ORDER:
            singular, plural = d.LABELS[entity]
            schema.create_entity(
                entity, singular, plural, fields=_entity_fields(entity), name_field="name"
            )
        # One entity with a pipeline, for the board's routes (tests/authz/probes_boards.py).
        pipelines.save_pipeline(
            "deal", "sales", "Sales",
            [StageInput(key="new", name="New", probability=10),
             StageInput(key="won", name="Won", probability=100, category="won")],
            options={"amount_field": "amount", "card_fields": ["amount"]},
        )  # fmt: skip
        for name, parent in d.DEPARTMENTS.items():
            up = self.departments.get(parent) if parent else None
            dept = Department(name=name, parent_id=up.id if up else None, path="/")
            db.session.add(dept)
            db.session.flush()
            dept.path = f"{up.path if up else '/'}{dept.id}/"
            self.departments[name] = dept
        for role_name, role in d.ROLES.items():
            row = Role(
                name=role_name,
                can_configure=bool(role.get("configure")),
                can_manage_access=bool(role.get("manage_access")),
            )
            db.session.add(row)
            db.session.flush()
            for entity, grants in role["grants"].items():
                for action, level in grants.items():
                    db.session.add(
                        RoleGrant(role_id=row.id, entity_key=entity, action=action, level=level)
                    )
            for (entity, key), access in role["fields"].items():
                db.session.add(
                    FieldRight(role_id=row.id, entity_key=entity, field_key=key, access=access)
                )
        db.session.commit()
        for actor, roles in d.ACTORS.items():
            self.users[actor] = make_user(
                f"{actor}@authz.example",
                display_name=f"Actor {actor}",
                roles=roles,
                is_admin=actor in d.ADMINS,
                department=self.departments[d.ACTOR_DEPARTMENT],
            )
        for owner, dept in d.OWNERS.items():
            self.users[owner] = make_user(
                f"{owner}@authz.example",
                display_name=f"Owner {owner}",
                roles=(),
                department=self.departments[dept],
            )
        policy.forget()
        self.ids = {k: u.id for k, u in self.users.items()}
        self.user_names = {v: k for k, v in self.ids.items()}
        self.dept_ids = {k: x.id for k, x in self.departments.items()}
        self._records()
        self._tasks()
        self._views()
        for actor in d.ACTORS:
            self.clients[actor] = self.login(actor)
        self.role_ids = {
            r.name: r.id for r in db.session.scalars(select(Role).where(Role.name.in_(d.ROLES)))
        }
        self._snapshot = self._read()
        self.snapshot_counters = self.counters()
        return self

    def _tasks(self) -> None:
        """One open task per actor on every record (live and binned), assigned to that
        actor: what "My tasks" lists and the task routes act on (``task_id``)."""
        from crm.activities.models import Task

        today, admin = utcnow().date(), self.users["admin"].id
        rows = [
            {"entity_key": r.entity, "record_id": r.id, "subject": f"task {i} of {actor}",
             "due_date": today, "priority": "normal", "assignee_id": self.ids[actor],
             "status": "open", "created_by": admin, "created_at": utcnow()}
            for actor in d.ACTORS
            for i, r in enumerate(self.records.values())
        ]  # fmt: skip
        db.session.execute(Task.__table__.insert(), rows)
        db.session.commit()
        self.tasks = {
            (self.user_names[a], e, rid): tid
            for tid, a, e, rid in db.session.execute(
                select(Task.id, Task.assignee_id, Task.entity_key, Task.record_id)
            )
        }

    def task_id(self, actor: str, entity: str, record_id: int) -> int:
        return self.tasks[(actor, entity, record_id)]

    def _records(self) -> None:
        admin = self.users["admin"]
        for live in (True, False):
            for entity in d.ENTITY_ORDER:
                spec = specs.current().entity(entity)
                rows, owners, meta = [], [], []
                for index, slot in enumerate(d.SLOTS):
                    values = {
                        "name": d.name_value(entity, slot, live),
                        "ref": d.ref_value(entity, index, live),
                        "secret": d.secret_value(entity, index, live),
                        "amount": str(d.amount_value(entity, index, live)),
                        "locked": f"locked {entity} {index}",
                        "memo": f"memo {entity} {index}",
                    }
                    lookups = {}
                    if live:
                        for key, target in d.ENTITIES[entity]["lookups"].items():
                            shift = d.LOOKUP_SHIFT.get((entity, key), 0)
                            parent_slot = d.SLOTS[(index + shift) % len(d.SLOTS)]
                            lookups[key] = self.records[(target, parent_slot, True)].id
                            values[key] = str(lookups[key])
                    rows.append(values)
                    owners.append(self.users[d.slot_owner(slot)].id)
                    meta.append((index, slot, values, lookups))
                ids = records.bulk_create(admin, spec, rows, owner_ids=owners)
                for record_id, (index, slot, values, lookups) in zip(ids, meta, strict=True):
                    r = Record(
                        entity=entity,
                        id=record_id,
                        slot=slot,
                        live=live,
                        index=index,
                        rec=Rec(entity, d.slot_owner(slot), tuple(d.slot_shares(slot))),
                        name=values["name"],
                        ref=values["ref"],
                        secret=values["secret"],
                        amount=int(values["amount"]),
                        lookups=lookups,
                    )
                    self.records[(entity, slot, live)] = r
                    self.by_id[(entity, record_id)] = r
                    shares = list(r.rec.shares)
                    if live:  # every live record is also shared with "spare" (no actor):
                        shares.append(("user", "spare", "read"))  # a share to remove
                    for kind, target, access in shares:
                        db.session.add(
                            RecordShare(
                                entity_key=entity,
                                record_id=record_id,
                                user_id=self.users[target].id if kind == "user" else None,
                                department_id=(
                                    self.departments[target].id if kind == "department" else None
                                ),
                                access=access,
                                created_by=admin.id,
                            )
                        )
                if not live:
                    table = table_of(spec)
                    db.session.execute(
                        table.update().where(table.c.id.in_(ids)).values(deleted_at=utcnow())
                    )
                db.session.commit()

    def _views(self) -> None:
        """A shared default view per entity showing every field (hidden ones must drop)."""
        self.views: dict[str, int] = {}
        self.private_views: dict[str, int] = {}
        for entity in d.ENTITY_ORDER:
            mine = list_views.save_private_view(
                entity,
                {"name": "Boss's own", "columns": ["ref"], "sort": [], "filters": []},
                user_id=self.ids["boss"],
            )
            self.private_views[entity] = mine.id
            view = list_views.save_shared_view(
                entity,
                {
                    "name": "Everything",
                    "columns": [*d.fields_of(entity), "owner_id"],
                    "sort": [["ref", "asc"]],
                    "filters": [],
                    "is_default": True,
                },
                actor_id=None,
            )
            self.views[entity] = view.id
        # An automation rule (off: it never fires while probes write records), so the
        # rule screens have a real one to refuse or show.
        self.rule_id = automation_rules.create_rule(
            {
                "entity_key": "account",
                "key": "authz_probe_rule",
                "name": "Probe rule",
                "enabled": False,
                "trigger": {"type": "created"},
                "actions": [{"type": "notify", "to": ["owner"], "title": "New"}],
            },
            actor_id=None,
        ).id

    def login(self, who: str) -> CRMClient:
        client = self.app.test_client()
        session = auth.open_session(self.users[who], ip="127.0.0.1", user_agent="authz")
        db.session.commit()
        with client.session_transaction() as sess:
            sess["_user_id"] = session.token
            sess["_fresh"] = True
        return client

    # --- looking things up ------------------------------------------------------------------

    def record(self, entity: str, slot: tuple[str, str], live: bool = True) -> Record:
        return self.records[(entity, slot, live)]

    def live(self, entity: str) -> Iterator[Record]:
        return (r for (e, _, live), r in self.records.items() if e == entity and live)

    def binned(self, entity: str) -> Iterator[Record]:
        return (r for (e, _, live), r in self.records.items() if e == entity and not live)

    def children(self, parent: Record, source: str, field_key: str) -> list[Record]:
        return [r for r in self.live(source) if r.lookups.get(field_key) == parent.id]

    # --- the stored state ---------------------------------------------------------------------

    def _columns(self, entity: str) -> list[str]:
        found = self._column_cache.get(entity)
        if found is None:
            found = [c.name for c in table_of(specs.current().entity(entity)).columns]
            self._column_cache[entity] = found
        return found

    def _sql(self, sql: str) -> list[tuple]:
        """Rows of a constant statement, as the driver returns them (no type processing)."""
        return [tuple(r) for r in db.session.connection().exec_driver_sql(sql).fetchall()]

    def _read(self) -> dict[str, Any]:
        db.session.rollback()  # a new transaction: see what the requests committed
        state: dict[str, Any] = {}
        for entity in d.ENTITY_ORDER:
            quoted = ", ".join(f'"{c}"' for c in self._columns(entity))
            state[entity] = {r[0]: r for r in self._sql(f'SELECT {quoted} FROM "x_{entity}"')}  # noqa: S608
        state["shares"] = sorted(
            self._sql(
                "SELECT id, entity_key, record_id, user_id, department_id, access, "
                "created_by, created_at FROM record_shares"
            )
        )
        (counts,) = self._sql(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM record_history), "
            "(SELECT COALESCE(MAX(id), 0) FROM record_notes), "
            "(SELECT COALESCE(MAX(id), 0) FROM meta_list_views)"
        )
        state.update(
            zip(("record_history", "record_notes", "meta_list_views"), counts, strict=True)
        )
        state["tasks"] = {r[0]: r for r in self._sql(f"SELECT {TASK_COLUMNS} FROM tasks")}  # noqa: S608
        (state["activities"],) = self._sql("SELECT COALESCE(MAX(id), 0) FROM activities")[0]
        db.session.rollback()
        return state

    def row(self, entity: str, record_id: int) -> tuple | None:
        """The raw stored row of one record (every column), or None when it is gone."""
        db.session.rollback()
        cols = self._columns(entity)
        quoted = ", ".join(f'"{c}"' for c in cols)
        found = db.session.execute(
            text(f'SELECT {quoted} FROM "x_{entity}" WHERE id = :id'),  # noqa: S608
            {"id": record_id},
        ).first()
        db.session.rollback()
        return tuple(found) if found is not None else None

    def row_dict(self, entity: str, record_id: int) -> dict | None:
        return self.as_dict(entity, self.row(entity, record_id))

    def rows_after(self, entity: str, top: int) -> list[dict]:
        """Rows of records created after id ``top``."""
        db.session.rollback()
        found = [
            dict(r._mapping)
            for r in db.session.execute(
                text(f'SELECT * FROM "x_{entity}" WHERE id > :top'),  # noqa: S608
                {"top": top},
            )
        ]
        db.session.rollback()
        return found

    def as_dict(self, entity: str, raw: tuple | None) -> dict | None:
        return dict(zip(self._columns(entity), raw, strict=True)) if raw is not None else None

    def snapshot_row(self, entity: str, record_id: int) -> tuple | None:
        return self._snapshot[entity].get(record_id)

    def snapshot_value(self, entity: str, record_id: int, column: str):
        return self.as_dict(entity, self.snapshot_row(entity, record_id))[column]

    def snapshot_ids(self, entity: str) -> list[int]:
        return list(self._snapshot[entity])

    def counters(self) -> tuple:
        """History, notes, list views and shares, in one cheap query."""
        db.session.rollback()
        found = db.session.execute(
            text(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM record_history), "
                "(SELECT COALESCE(MAX(id), 0) FROM record_notes), "
                "(SELECT COALESCE(MAX(id), 0) FROM meta_list_views), "
                "(SELECT COUNT(*) FROM record_shares), "
                "(SELECT COALESCE(MAX(id), 0) FROM record_shares), "
                "(SELECT COALESCE(SUM(id * (CASE access WHEN 'edit' THEN 2 ELSE 1 END)), 0) "
                "FROM record_shares), "
                "(SELECT COALESCE(MAX(id), 0) FROM activities), (SELECT COUNT(*) FROM tasks), "
                "(SELECT COALESCE(MAX(id), 0) FROM tasks), "
                "(SELECT COUNT(*) FROM tasks WHERE status = 'done')"
            )
        ).one()
        db.session.rollback()
        return tuple(found)

    def has_share(self, entity: str, record_id: int, user_id: int) -> bool:
        db.session.rollback()
        found = db.session.scalar(
            select(RecordShare.id).where(
                RecordShare.entity_key == entity,
                RecordShare.record_id == record_id,
                RecordShare.user_id == user_id,
            )
        )
        db.session.rollback()
        return found is not None

    def spare_share(self, entity: str, record_id: int) -> int:
        """The id of the record's share with "spare" (as built)."""
        spare = self.ids["spare"]
        return next(
            row[0]
            for row in self._snapshot["shares"]
            if row[1] == entity and row[2] == record_id and row[3] == spare
        )

    def admin_state(self) -> tuple:
        """Users, roles, rights, departments, invitations, the metadata version, webhook
        deliveries and allowed hosts."""
        db.session.rollback()
        queries = (
            "SELECT id, email, is_active, is_admin, department_id, password_hash FROM users",
            "SELECT id, name, description, can_configure, can_manage_access FROM roles",
            "SELECT role_id, entity_key, action, level FROM role_grants",
            "SELECT role_id, entity_key, field_key, access FROM role_field_rights",
            "SELECT user_id, role_id FROM user_roles",
            "SELECT id, name, parent_id, path, manager_id FROM departments",
            "SELECT COUNT(*) FROM user_invites",
            "SELECT version FROM meta_version",
            "SELECT id, status, attempts FROM webhook_deliveries",
            "SELECT id, host FROM webhook_allowed_hosts",
        )
        state = tuple(tuple(sorted(tuple(r) for r in db.session.execute(text(q)))) for q in queries)
        db.session.rollback()
        return state

    def diff(self) -> list[str]:
        """Every difference between the stored state and the snapshot, in words."""
        now, then = self._read(), self._snapshot
        out: list[str] = []
        for entity in d.ENTITY_ORDER:
            cols = self._columns(entity)
            a, b = then[entity], now[entity]
            for rid in sorted(set(a) | set(b)):
                if rid not in b:
                    out.append(f"{entity} #{rid} is gone")
                elif rid not in a:
                    out.append(f"{entity} #{rid} was added")
                elif a[rid] != b[rid]:
                    changed = [
                        f"{c}: {x!r} -> {y!r}"
                        for c, x, y in zip(cols, a[rid], b[rid], strict=True)
                        if x != y
                    ]
                    out.append(f"{entity} #{rid} changed ({'; '.join(changed)})")
        if now["shares"] != then["shares"]:
            out.append("record shares changed")
        for table in ("record_history", "record_notes", "meta_list_views", "activities"):
            if now[table] != then[table]:
                out.append(f"{table} has new rows")
        if now["tasks"] != then["tasks"]:
            out.append("tasks changed")
        return out

    def reset(self) -> None:
        """Put the snapshot back (rows, shares; drop new history, notes and views)."""
        now, then = self._read(), self._snapshot
        for entity in d.ENTITY_ORDER:
            cols = self._columns(entity)
            a, b = then[entity], now[entity]
            names = ", ".join(f'"{c}"' for c in cols)
            params = ", ".join(f":c{i}" for i in range(len(cols)))
            sets = ", ".join(f'"{c}" = :c{i}' for i, c in enumerate(cols) if c != "id")
            for rid in b.keys() - a.keys():
                db.session.execute(text(f'DELETE FROM "x_{entity}" WHERE id = :id'), {"id": rid})  # noqa: S608
            for rid in a.keys() - b.keys():
                db.session.execute(
                    text(f'INSERT INTO "x_{entity}" ({names}) VALUES ({params})'),  # noqa: S608
                    {f"c{i}": v for i, v in enumerate(a[rid])},
                )
            for rid in a.keys() & b.keys():
                if a[rid] != b[rid]:
                    db.session.execute(
                        text(f'UPDATE "x_{entity}" SET {sets} WHERE id = :c0'),  # noqa: S608
                        {f"c{i}": v for i, v in enumerate(a[rid])},
                    )
        if now["shares"] != then["shares"]:
            a = {row[0]: row for row in then["shares"]}
            b = {row[0]: row for row in now["shares"]}
            for share_id in b.keys() - a.keys():
                db.session.execute(text("DELETE FROM record_shares WHERE id = :a"), {"a": share_id})
            for share_id in a.keys() & b.keys():
                if a[share_id] != b[share_id]:
                    db.session.execute(
                        text(
                            "UPDATE record_shares SET access = :f, created_by = :g, "
                            "created_at = :h WHERE id = :a"
                        ),
                        dict(zip("abcdefgh", a[share_id], strict=True)),
                    )
            for share_id in a.keys() - b.keys():
                db.session.execute(
                    text(
                        "INSERT INTO record_shares (id, entity_key, record_id, user_id, "
                        "department_id, access, created_by, created_at) VALUES "
                        "(:a, :b, :c, :d, :e, :f, :g, :h)"
                    ),
                    dict(zip("abcdefgh", a[share_id], strict=True)),
                )
        for table in ("record_history", "record_notes", "meta_list_views", "activities"):
            if now[table] != then[table]:
                db.session.execute(text(f"DELETE FROM {table} WHERE id > :n"), {"n": then[table]})  # noqa: S608
        a, b = then["tasks"], now["tasks"]
        for task_id in b.keys() - a.keys() | {i for i in a.keys() & b.keys() if a[i] != b[i]}:
            db.session.execute(text("DELETE FROM tasks WHERE id = :id"), {"id": task_id})
        names = TASK_COLUMNS.split(", ")
        insert = text(
            f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join(':' + n for n in names)})"  # noqa: S608
        )
        for task_id in a.keys() - b.keys() | {i for i in a.keys() & b.keys() if a[i] != b[i]}:
            db.session.execute(insert, dict(zip(names, a[task_id], strict=True)))
        db.session.commit()

    def user_id(self, who: str) -> int:
        return self.ids[who]

    def dept_id(self, name: str) -> int:
        return self.dept_ids[name]

    @staticmethod
    def spec(entity: str):
        return specs.current().entity(entity)

"""Users' rights kept by a worker between requests: read once, refreshed by any change to
the tables they come from, whoever makes it (another worker, a hand-run statement), and
never poisoned by a change that was rolled back."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert, update

from crm.access import policy
from crm.access.models import Department, FieldRight, Role, RoleGrant, user_roles
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service as schema
from tests.factories import make_user

P = policy


@pytest.fixture
def reader(app):
    schema.create_entity(
        "deal", "Deal", fields=[{"key": "title", "type": "text", "label": "Title"}]
    )
    role = Role(name="Reader", description="")
    db.session.add(role)
    db.session.flush()
    db.session.add(RoleGrant(role_id=role.id, entity_key="*", action="read", level=P.ALL))
    db.session.commit()
    return make_user(roles=("Reader",))


def _statements(client, url: str) -> list[str]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return seen


def test_rights_are_read_once_per_worker_not_once_per_request(app, login_as, reader):
    client = login_as(reader)
    first = _statements(client, "/r/deal/")
    assert any("role_grants" in s for s in first)
    again = _statements(client, "/r/deal/")
    assert not any("role_grants" in s or "user_roles" in s for s in again)
    assert len(again) < len(first)


def test_a_change_made_elsewhere_reaches_the_next_request(app, login_as, reader):
    client = login_as(reader)
    assert client.get("/r/deal/").status_code == 200
    db.session.commit()
    # Another worker (or a statement run by hand) revokes the grant on its own connection.
    with db.engine.begin() as conn:
        conn.execute(update(RoleGrant).values(level=P.NONE))
    assert client.get("/r/deal/").status_code == 403
    with db.engine.begin() as conn:
        conn.execute(update(RoleGrant).values(level=P.ALL))
    assert client.get("/r/deal/").status_code == 200


def test_a_rolled_back_change_leaves_nothing_behind(app, reader):
    def level() -> int:
        with app.app_context(), app.test_request_context("/"):  # a request of its own
            return policy.rights(reader).level("deal", "read")

    assert level() == P.ALL
    with app.app_context(), app.test_request_context("/"):
        db.session.execute(update(RoleGrant).values(level=P.NONE))
        policy.forget()
        assert policy.rights(reader).level("deal", "read") == P.NONE  # seen, then undone
        db.session.rollback()
    assert level() == P.ALL
    # A later, different change must not be mistaken for the one that was rolled back (a
    # counter would give it the same stamp, and the worker the rolled-back rights).
    db.session.execute(update(RoleGrant).values(level=P.OWN))
    db.session.commit()
    assert level() == P.OWN


@pytest.mark.parametrize(
    "change",
    [
        lambda r, u: insert(Role).values(name="Other", description="", can_configure=False,
                                         can_manage_access=False),
        lambda r, u: update(Role).where(Role.id == r).values(can_configure=True),
        lambda r, u: update(RoleGrant).values(level=P.OWN),
        lambda r, u: insert(FieldRight).values(role_id=r, entity_key="deal", field_key="title",
                                               access="read"),
        lambda r, u: user_roles.delete().where(user_roles.c.user_id == u),
        lambda r, u: insert(Department).values(name="East", path="/9/"),
    ],
    ids=["role added", "role changed", "grant", "field right", "role taken away", "department"],
)  # fmt: skip
def test_every_table_rights_come_from_moves_the_stamp(app, reader, change):
    role_id = db.session.scalar(db.select(Role.id).where(Role.name == "Reader"))
    before = specs.read_versions()
    db.session.execute(change(role_id, reader.id))
    db.session.commit()
    after = specs.read_versions()
    assert after[1] != before[1]
    assert after[0] == before[0]  # the metadata version is not touched: no recompiling


def test_record_shares_move_the_share_stamp_not_the_access_stamp(app, reader):
    """Shares are resolved in SQL on every query; sharing a record must not throw away
    every worker's cached rights, only what workers remember of shares (the share
    stamp)."""
    from crm.records import service as records
    from crm.records import sharing

    owner = make_user()
    spec = specs.current().entity("deal")
    rid = records.create(owner, spec, {"title": "Big one"})
    before = specs.read_versions()
    sharing.share(owner, spec, rid, user_id=reader.id, access="read")
    db.session.commit()
    after = specs.read_versions()
    assert after[1] == before[1]
    assert after[2] != before[2]

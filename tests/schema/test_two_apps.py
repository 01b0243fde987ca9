"""Two app instances (two workers, or two servers) on one database stay consistent."""

from __future__ import annotations

import os

from sqlalchemy import insert, select

from app import create_app
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service


def test_field_added_on_one_instance_is_seen_by_the_other_on_its_next_request(
    app, db_url, tmp_path
):
    other = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "INSTANCE_PATH": str(tmp_path / "b"),
            "SECRET_KEY": os.urandom(8).hex(),
        }
    )
    service.create_entity(
        "member", "Member", fields=[{"key": "name", "type": "text", "label": "Name"}]
    )

    with other.test_request_context():
        assert specs.current().entity("member").field("level") is None  # warms other's cache
        compiled_before = other.extensions[specs.EXTENSION].compilations

    service.add_field(
        "member", "level", "picklist", "Level", choices=[{"key": "gold", "label": "Gold"}]
    )
    table = specs.current().table("member")
    db.session.execute(insert(table).values(name="Ana", level="gold"))
    db.session.commit()

    with other.test_request_context():
        spec = specs.current().entity("member")
        assert spec.field("level").label == "Level"
        other_table = specs.current().table("member")
        assert db.session.execute(select(other_table.c.name, other_table.c.level)).all() == [
            ("Ana", "gold")
        ]
        assert other.extensions[specs.EXTENSION].compilations == compiled_before + 1
        db.session.remove()

    # No change, no recompilation: the per-request cost is one version read.
    with other.test_request_context():
        specs.current()
        assert other.extensions[specs.EXTENSION].compilations == compiled_before + 1
        db.session.remove()
    with other.app_context():
        db.engine.dispose()

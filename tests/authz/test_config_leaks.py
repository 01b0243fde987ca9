"""The configuration area is its own right, separate from data rights (issue 6): someone
who may configure but not read a field, or not read a record, must not be shown its values
there either. (A module of its own: it works on the designer, so it gets its own world.)"""

from __future__ import annotations

import pytest

from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.harness import Run

CONFIGURERS = [a for a in d.ACTORS if oracle.may_configure(a) and not oracle.is_admin(a)]


def test_some_role_may_configure_without_seeing_every_field():
    assert CONFIGURERS
    assert any(
        not oracle.can_see_field(a, e, "secret") for a in CONFIGURERS for e in d.ENTITY_ORDER
    )


@pytest.mark.parametrize("actor", CONFIGURERS)
def test_a_type_change_preview_shows_no_value_the_configurer_may_not_read(world, actor):
    """The designer's preview of a type change (text -> whole number) counts the values
    that would not convert and quotes a few: none of them may be a hidden field's value or
    a value of a record the configurer cannot read. Nothing is changed by a preview."""
    run = Run(world, actor)
    before = world.admin_state()
    for entity in d.ENTITY_ORDER:
        for key in ("secret", "ref"):
            r = run.post(
                f"/admin/entities/{entity}/fields/{key}",
                {"label": d.field_label(entity, key), "type": "integer", "searchable": "y"},
            )
            assert r.status_code == 200, (entity, key, r.status_code)
            assert "would not convert" in r.data.decode()
    assert world.admin_state() == before, "a preview changed the configuration"
    assert not run.leaks, f"{actor}:\n  " + "\n  ".join(run.leaks)

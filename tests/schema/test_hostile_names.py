"""Hostile or odd keys and labels: refused with a clear message, or accepted and fully usable.

Never a 500, never a half-applied change. Hypothesis generates 1,000 names per run (keys
and labels for an entity and its field), in ``SHARDS`` independent tests of
``EXAMPLES_PER_SHARD`` examples each so pytest-xdist spreads them over its workers; every
name of ``HOSTILE`` is also tried on its own in each of the four places. The reconcile check
runs after each example and again after each test.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import func, insert, select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import specs, types
from crm.schema import service
from tests.schema.conftest import assert_in_step
from tests.schema.helpers import tables, version

HOSTILE = [
    "a'b",
    'a"b',
    "a;b",
    "a--b",
    "x; DROP TABLE users; --",
    "a\x00b",
    "\x00",
    "\u200f",
    "\u200b",
    "abc\u202eevil",
    "x" * 5000,
    "{{7*7}}",
    "{% raw %}",
    "<script>alert(1)</script>",
    "../",
    "../../etc/passwd",
    "select",
    "SELECT",
    "order",
    "class",
    "id",
    "owner_id",
    "version",
    "Name",
    "NAME",
    "name",
    "名前",
    "客户名称",
    "عميل",
    "🚀🔥",
    "👩‍👩‍👧",
    "\t\n",
    " ",
    "",
    "a" * 41,
    "a" * 42,
    "café",
    "x_y",
    "%_",
    "\\",
]

keys = st.one_of(
    st.sampled_from(HOSTILE),
    st.from_regex(r"[a-z][a-z0-9_]{0,44}", fullmatch=True),
    st.text(max_size=50),
)
labels = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=260))


def _field_value(spec, raw: str) -> str:
    try:
        value = types.get("text").parse(spec, raw)
    except ValueError:
        return "fallback"
    return value or "fallback"


SHARDS = 10
EXAMPLES_PER_SHARD = 100  # 1,000 generated examples per run in all


@pytest.mark.parametrize("shard", range(SHARDS))
def test_hostile_names_are_refused_or_fully_usable(app, shard):
    """One shard of the generated names: each shard is an independent Hypothesis run."""
    run = settings(
        max_examples=EXAMPLES_PER_SHARD,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(given(entity_key=keys, entity_label=labels, field_key=keys, field_label=labels)(check))
    run()


PLACES = ("entity_key", "entity_label", "field_key", "field_label")
SANE = {
    "entity_key": "probe",
    "entity_label": "Probe",
    "field_key": "title",
    "field_label": "Title",
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", HOSTILE, ids=[ascii(n)[1:-1][:24] for n in HOSTILE])
def test_each_hostile_name_in_each_place(app, name, place):
    """Every listed name, as the entity's or the field's key or label (the rest sane)."""
    check(**{**SANE, place: name})


def _event(outcome: str) -> None:
    # Hypothesis tallies outcomes in its statistics; the fixed names run outside it.
    if currently_in_test_context():
        event(outcome)


def check(entity_key: str, entity_label: str, field_key: str, field_label: str) -> None:
    """Create an entity with one text field from these names: either refused with a clear
    message and nothing changed, or accepted and fully usable (then purged again)."""
    tables_before, version_before = tables(), version()
    try:
        service.create_entity(
            entity_key,
            entity_label,
            fields=[{"key": field_key, "type": "text", "label": field_label, "searchable": True}],
        )
    except ValidationFailed as exc:
        assert exc.errors, "a refusal names its problems"
        for messages in exc.errors.values():
            assert all(isinstance(m, str) and m.strip() for m in messages)
        assert tables() == tables_before
        assert version() == version_before
        _event("refused")
        return
    _event("accepted")

    # Accepted: the entity is fully usable.
    compiled = specs.current()
    spec = compiled.entity(entity_key)
    assert spec is not None and spec.field(field_key) is not None
    fspec = spec.field(field_key)
    table = compiled.table(entity_key)
    value = _field_value(fspec, field_label)
    db.session.execute(insert(table).values({field_key: value}))
    db.session.execute(insert(table).values({field_key: "zzz"}))
    db.session.commit()
    # Read, sort, filter.
    rows = db.session.scalars(select(table.c[field_key]).order_by(table.c[field_key])).all()
    assert sorted([value, "zzz"]) == sorted(rows)
    dialect = db.session.get_bind().dialect.name
    cond = types.build_filter(fspec, table.c[field_key], "equals", value, dialect_name=dialect)
    assert db.session.scalar(select(func.count()).select_from(table).where(cond)) == (
        2 if value == "zzz" else 1
    )
    db.session.rollback()
    # Rename the label, archive and restore, then clean up.
    service.update_field(entity_key, field_key, label=f"{field_label[:150]} (renamed)")
    service.update_entity(entity_key, label_plural=f"{entity_label[:150]} ✓")
    assert specs.current().entity(entity_key).name_field == field_key  # first text field
    service.update_entity(entity_key, name_field=None)
    service.archive_field(entity_key, field_key)
    assert specs.current().entity(entity_key).field(field_key) is None
    service.restore_field(entity_key, field_key)
    assert specs.current().entity(entity_key).field(field_key).label.endswith("(renamed)")
    service.archive_entity(entity_key)
    assert specs.current().entity(entity_key) is None
    assert_in_step()
    service.purge_entity(entity_key, confirm_key=entity_key)
    assert tables() == tables_before

"""The automation rules service: every problem at once, nothing written on error, the
version bump and the change log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.access import levels as P
from crm.automation import rules
from crm.automation.models import AutomationRule, RuleRun
from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.models import ConfigChange
from tests.factories import field, make_department, make_role, make_user
from tests.pipelines.factories import make_deal_entity


@pytest.fixture
def deal(app):
    return make_deal_entity()


def good(**over):
    data = {
        "entity_key": "deal",
        "key": "won_notify",
        "name": "Won: tell finance",
        "translations": {"name": {"es": "Ganado: avisar a finanzas"}},
        "trigger": {"type": "stage_entered", "field": "stage", "stage": "won"},
        "conditions": [{"field": "amount", "op": "gt", "value": "1000"}],
        "actions": [
            {"type": "notify", "to": ["owner", "manager"], "title": "Won {{ record.title }}"},
            {"type": "task", "subject": "Onboard {{ record_name }}", "due_in_days": 2},
        ],
    }
    data.update(over)
    return data


def state():
    db.session.rollback()
    return (
        specs.read_version(),
        db.session.scalar(select(func.count()).select_from(ConfigChange)),
        db.session.scalar(select(func.count()).select_from(AutomationRule)),
    )


def refused(data, actor, **kw) -> dict:
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        rules.create_rule(data, actor_id=actor.id, **kw)
    assert state() == before
    return exc.value.errors


def test_create_bumps_the_version_and_logs(deal, admin):
    before = specs.read_version()
    row = rules.create_rule(good(), actor_id=admin.id)
    assert specs.read_version() == before + 1
    assert row.owner_id == admin.id and row.enabled
    assert row.translations == {"name": {"es": "Ganado: avisar a finanzas"}}
    assert row.actions[1] == {
        "type": "task",
        "subject": "Onboard {{ record_name }}",
        "due_in_days": 2,
        "priority": "normal",
        "assignee": "owner",
    }
    log = db.session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc())).first()
    assert (log.action, log.entity_key, log.after["key"]) == ("rule.create", "deal", "won_notify")
    assert log.before is None and log.after["trigger"]["stage"] == "won"


def test_update_enable_disable_reorder_delete(deal, admin):
    a = rules.create_rule(good(), actor_id=admin.id)
    b = rules.create_rule(good(key="followup", trigger={"type": "created"}), actor_id=admin.id)
    v = specs.read_version()
    rules.update_rule(a.id, good(name="Renamed"), actor_id=admin.id)
    assert rules.get_rule(a.id).name == "Renamed" and specs.read_version() == v + 1
    # the same again changes nothing: no bump
    rules.update_rule(a.id, good(name="Renamed"), actor_id=admin.id)
    assert specs.read_version() == v + 1
    rules.set_enabled(a.id, False, actor_id=admin.id)
    assert not rules.get_rule(a.id).enabled
    rules.reorder("deal", [b.id, a.id], actor_id=admin.id)
    assert [r.key for r in rules.all_rules()] == ["followup", "won_notify"]
    with pytest.raises(ValidationFailed):
        rules.reorder("deal", [b.id], actor_id=admin.id)
    db.session.add(RuleRun(rule_id=a.id, entity_key="deal", record_id=1, status="done"))
    db.session.commit()
    rules.delete_rule(a.id, actor_id=admin.id)
    assert db.session.get(AutomationRule, a.id) is None
    assert db.session.scalar(select(func.count()).select_from(RuleRun)) == 0
    actions = db.session.scalars(select(ConfigChange.action).order_by(ConfigChange.id)).all()
    assert actions[-5:] == [
        "rule.create",
        "rule.update",
        "rule.disable",
        "rule.reorder",
        "rule.delete",
    ]
    with pytest.raises(NotFound):
        rules.delete_rule(a.id, actor_id=admin.id)
    with pytest.raises(NotFound):
        rules.get_rule(2**40)


@pytest.mark.parametrize(
    "key",
    ["", "Bad Key", "1abc", "select", "a" * 60, "x;drop table users", "ключ", None, 5],
)
def test_hostile_keys_are_refused(deal, admin, key):
    assert "key" in refused(good(key=key), admin)


def test_a_taken_key_is_refused(deal, admin):
    rules.create_rule(good(), actor_id=admin.id)
    assert "already used" in refused(good(), admin)["key"][0]


def test_every_problem_at_once(deal, admin):
    errors = refused(
        {
            "entity_key": "deal",
            "key": "k",
            "name": "",
            "translations": {"name": {"xx": "?"}},
            "trigger": {"type": "changed", "field": "nope"},
            "conditions": [{"field": "amount", "op": "gt", "value": "lots"}, "junk"],
            "actions": [
                {"type": "set", "values": {"amount": "abc", "created_at": "2020-01-01"}},
                {"type": "assign", "to": {"user": 999999}},
                {"type": "assign", "to": {"role": 999999}, "how": "sideways"},
                {"type": "task", "subject": "", "due_in_days": -1, "priority": "urgent"},
                {"type": "notify", "to": [{"department": 999999}, "nobody"], "title": "{{ x }}"},
                {"type": "email", "to": [], "subject": "{% for x in y %}{% endfor %}", "body": ""},
                {"type": "webhook", "url": "ftp://example.com", "secret": ""},
                {"type": "explode"},
            ],
        },
        admin,
    )
    for where in (
        "name",
        "trigger.field",
        "conditions.0",
        "conditions.1",
        "actions.0.values.amount",
        "actions.0.values.created_at",
        "actions.1.to",
        "actions.2.to",
        "actions.2.how",
        "actions.3.subject",
        "actions.3.due_in_days",
        "actions.3.priority",
        "actions.4.to",
        "actions.4.title",
        "actions.5.to",
        "actions.5.subject",
        "actions.5.body",
        "actions.6.url",
        "actions.6.secret",
        "actions.7",
    ):
        assert where in errors, where


def test_triggers_fit_their_fields(deal, admin):
    date_on_text = {"type": "date", "field": "title", "offset_days": -7, "yearly": True}
    assert "trigger.field" in refused(good(trigger=date_on_text), admin)
    ok = {"type": "date", "field": "close_date", "offset_days": "-7", "yearly": True}
    row = rules.create_rule(good(trigger=ok), actor_id=admin.id)
    assert row.trigger == {"type": "date", "field": "close_date", "offset_days": -7, "yearly": True}
    assert "trigger.stage" in refused(
        good(key="x2", trigger={"type": "stage_left", "field": "stage", "stage": "nope"}), admin
    )
    assert "trigger.field" in refused(
        good(key="x3", trigger={"type": "stage_left", "field": "amount", "stage": "won"}), admin
    )
    held = {"type": "held", "what": "in_stage", "field": "stage", "stage": "proposal", "days": 0}
    assert "trigger.days" in refused(good(key="x4", trigger=held), admin)
    assert "trigger" in refused(good(key="x5", trigger={"type": "never"}), admin)
    changed = {"type": "changed", "field": "amount", "to": "not a number"}
    assert "trigger.to" in refused(good(key="x6", trigger=changed), admin)
    assert "trigger.what" in refused(good(key="x7", trigger={"type": "held", "what": "x"}), admin)


def test_an_entity_without_pipeline_has_no_stage_triggers(app, admin):
    from tests.factories import make_entity, text

    make_entity("member", "Member", [text("name", "Name"), field("birthday", "date", "Birthday")])
    errors = refused(
        good(
            entity_key="member",
            conditions=[],
            actions=[{"type": "notify", "to": ["owner"], "title": "Hi"}],
        ),
        admin,
    )
    assert list(errors) == ["trigger.field"]
    assert "entity_key" in refused(good(entity_key="nosuch"), admin)


def test_limits(deal, admin):
    many = [{"type": "notify", "to": ["owner"], "title": "x"}] * 21
    assert "actions" in refused(good(actions=many), admin)
    conds = [{"field": "amount", "op": "gt", "value": "1"}] * 21
    assert "conditions" in refused(good(conditions=conds), admin)
    assert "actions" in refused(good(actions=[]), admin)


def test_webhook_secret_kept_when_left_blank(deal, admin):
    hook = {"type": "webhook", "url": "https://hooks.example.com/x", "secret": "s3cret"}
    row = rules.create_rule(good(actions=[hook]), actor_id=admin.id)
    rules.update_rule(row.id, good(actions=[{**hook, "secret": ""}]), actor_id=admin.id)
    assert rules.get_rule(row.id).actions[0]["secret"] == "s3cret"
    log = db.session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc())).first()
    assert "s3cret" not in str(log.after)


def test_recipients_that_exist_are_kept(deal, admin):
    dept = make_department("Finance")
    role = make_role("Finance team")
    user = make_user("fin@example.com")
    to = [{"department": dept.id}, {"role": role.id}, {"user": str(user.id)}, "owner"]
    row = rules.create_rule(
        good(
            actions=[
                {"type": "email", "to": to, "subject": "s", "body": "b"},
                {"type": "assign", "to": {"department": dept.id}, "how": "round_robin"},
            ]
        ),
        actor_id=admin.id,
    )
    assert row.actions[0]["to"][2] == {"user": user.id}
    inactive = make_user("gone@example.com", is_active=False)
    errors = refused(
        good(key="k2", actions=[{"type": "assign", "to": {"user": inactive.id}}]), admin
    )
    assert "actions.0.to" in errors


def test_hidden_fields_refused_for_a_configurer_who_cannot_see_them(deal, admin):
    make_role(
        "Configurer",
        {("*", a): P.ALL for a in ("read", "edit", "create")},
        {("deal", "amount"): "hidden"},
        can_configure=True,
    )
    conf = make_user("conf@example.com", roles=("Configurer",))
    errors = refused(
        good(
            conditions=[{"field": "amount", "op": "gt", "value": "1"}],
            actions=[
                {"type": "notify", "to": ["owner"], "title": "Amount {{ record.amount }}"},
                {"type": "set", "values": {"amount": "10"}},
            ],
        ),
        conf,
    )
    assert {"conditions.0", "actions.0.title", "actions.1.values.amount"} <= set(errors)
    # the same rule is fine for an administrator
    rules.create_rule(good(), actor_id=admin.id)


def test_people_without_configure_right_are_refused(deal, staff):
    before = state()
    with pytest.raises(Forbidden):
        rules.create_rule(good(), actor_id=staff.id)
    assert state() == before


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/hook", "https://10.0.0.7/x", "http://[::1]/", "http://169.254.169.254/"],
)
def test_a_webhook_to_a_private_address_is_refused_unless_the_host_is_allowed(deal, admin, url):
    from urllib.parse import urlsplit

    from crm.webhooks import admin as webhooks_admin

    hook = {"type": "webhook", "url": url, "secret": "s3cret"}
    errors = refused(good(actions=[hook]), admin)
    assert "private or local address" in " ".join(errors["actions.0.url"])
    webhooks_admin.add_host(admin, urlsplit(url).hostname)
    assert rules.create_rule(good(actions=[hook]), actor_id=admin.id).id

"""The automation rules screens of the configuration area, through their real routes
(CSRF on): create by form posts (and the htmx partials), the list, the toggle, delete with
confirmation, the run log, and who may see them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.automation import rules
from crm.automation.models import AutomationRule, RuleRun
from crm.extensions import db
from tests.factories import make_department
from tests.pipelines.factories import make_deal_entity

BASE = "/admin/automation"


@pytest.fixture
def deal(app):
    return make_deal_entity()


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


def post_form(**over) -> dict:
    data = {
        "entity_key": "deal",
        "key": "won_notify",
        "name": "Won: tell finance",
        "tr_name.es": "Ganado: avisar",
        "enabled": "y",
        "trigger_type": "stage_entered",
        "trigger_stage": "won",
        "filters-0-field": "amount",
        "filters-0-op": "gt",
        "filters-0-value": "1000",
        "actions-0-type": "notify",
        "actions-0-to": ["owner", "manager"],
        "actions-0-title": "Won {{ record.title }}",
        "actions-0-body": "",
        "actions-1-type": "task",
        "actions-1-subject": "Onboard {{ record_name }}",
        "actions-1-due_in_days": "2",
        "actions-1-priority": "high",
        "actions-1-assignee": "owner",
        "save": "1",
    }
    data.update(over)
    return data


def count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AutomationRule))


def test_create_by_form_then_list_toggle_and_delete(deal, admin_client):
    r = admin_client.get(f"{BASE}/rules/new")
    assert r.status_code == 200 and 'name="entity_key"' in r.text
    r = admin_client.get(f"{BASE}/rules/new?entity_key=deal")
    assert r.status_code == 200 and 'name="trigger_type"' in r.text
    r = admin_client.submit(f"{BASE}/rules/new", post_form())
    assert r.status_code == 303, r.text
    row = rules.rule_by_key("won_notify")
    assert row.trigger == {"type": "stage_entered", "field": "stage", "stage": "won"}
    assert row.conditions == [{"field": "amount", "op": "gt", "value": "1000.00"}]
    assert row.actions[0]["to"] == ["owner", "manager"]
    assert row.actions[1]["priority"] == "high"
    assert row.translations == {"name": {"es": "Ganado: avisar"}}

    page = admin_client.get(f"{BASE}/").text
    assert "Won: tell finance" in page and "Enters the stage Won" in page
    assert f"/admin/automation/rules/{row.id}/try" in page and "Never" in page

    edit = admin_client.get(f"{BASE}/rules/{row.id}/edit")
    assert edit.status_code == 200 and "Onboard {{ record_name }}" in edit.text

    assert admin_client.submit(f"{BASE}/rules/{row.id}/enabled").status_code == 303
    db.session.rollback()
    assert not rules.get_rule(row.id).enabled

    confirm = admin_client.get(f"{BASE}/rules/{row.id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert count() == 1
    assert admin_client.submit(f"{BASE}/rules/{row.id}/delete").status_code == 303
    assert count() == 0
    log = admin_client.get("/admin/changes").text
    for words in (
        "Added automation rule",
        "Turned an automation rule off",
        "Deleted automation rule",
    ):
        assert words in log


def test_refused_form_shows_problems_by_their_inputs_and_saves_nothing(deal, admin_client):
    r = admin_client.submit(
        f"{BASE}/rules/new",
        post_form(
            key="Bad Key",
            **{
                "filters-0-value": "lots",
                "actions-1-subject": "{{ record.nope }}",
                "actions-2-type": "webhook",
                "actions-2-url": "javascript:alert(1)",
            },
        ),
    )
    assert r.status_code == 400
    assert "Nothing was saved." in r.text
    assert "lowercase" in r.text  # the key
    assert "not a field of this entity" in r.text  # the task's subject
    assert "http://" in r.text  # the webhook
    assert count() == 0


def test_plain_form_editing_buttons(deal, admin_client):
    r = admin_client.submit(f"{BASE}/rules/new", post_form(save="", add_action="webhook"))
    assert r.status_code == 200 and 'name="actions-2-type" value="webhook"' in r.text
    r = admin_client.submit(f"{BASE}/rules/new", post_form(save="", remove_action="0"))
    assert 'name="actions-0-type"' not in r.text and 'name="actions-1-type"' in r.text
    r = admin_client.submit(f"{BASE}/rules/new", post_form(save="", add_filter="1"))
    assert 'name="filters-1-field"' in r.text
    r = admin_client.submit(
        f"{BASE}/rules/new", post_form(save="", refresh="1", trigger_type="date")
    )
    assert 'name="trigger_offset_days"' in r.text and "Close date" in r.text
    assert count() == 0


def test_htmx_partials(deal, admin_client):
    r = admin_client.hx_get(f"{BASE}/rules/trigger?entity_key=deal&trigger_type=held")
    assert r.status_code == 200 and "<html" not in r.text and "HX-Request" in r.headers["Vary"]
    assert 'name="trigger_days"' in r.text and 'name="trigger_stage"' in r.text
    r = admin_client.hx_get(
        f"{BASE}/rules/action-row?entity_key=deal&add_action=assign&actions-0-type=notify"
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert 'name="actions-1-type" value="assign"' in r.text
    assert (
        admin_client.hx_get(f"{BASE}/rules/action-row?entity_key=deal&add_action=x").status_code
        == 400
    )
    assert admin_client.hx_get(f"{BASE}/rules/trigger?entity_key=nosuch").status_code == 404
    # without htmx: back to the editor
    assert admin_client.get(f"{BASE}/rules/trigger?entity_key=deal").status_code == 303


def test_assign_and_webhook_secret_through_the_form(deal, admin_client):
    dept = make_department("Sales team")
    form = post_form(
        **{
            "actions-2-type": "assign",
            "actions-2-to": f"department:{dept.id}",
            "actions-2-how": "least_loaded",
            "actions-3-type": "webhook",
            "actions-3-url": "https://hooks.example.com/in",
            "actions-3-secret": "topsecret",
        }
    )
    assert admin_client.submit(f"{BASE}/rules/new", form).status_code == 303
    row = rules.rule_by_key("won_notify")
    assert row.actions[2] == {
        "type": "assign",
        "to": {"department": dept.id},
        "how": "least_loaded",
    }
    edit = admin_client.get(f"{BASE}/rules/{row.id}/edit").text
    assert "topsecret" not in edit
    form["actions-3-secret"] = ""
    form["name"] = "Renamed"
    assert admin_client.submit(f"{BASE}/rules/{row.id}/edit", form).status_code == 303
    db.session.rollback()
    assert rules.get_rule(row.id).actions[3]["secret"] == "topsecret"
    assert rules.get_rule(row.id).name == "Renamed"


def test_run_log_newest_first_and_paged(deal, admin, admin_client):
    row = rules.create_rule(
        {
            "entity_key": "deal",
            "key": "r1",
            "name": "R1",
            "trigger": {"type": "created"},
            "actions": [{"type": "notify", "to": ["owner"], "title": "x"}],
        },
        actor_id=admin.id,
    )
    for n in range(55):
        status = "failed" if n == 54 else "done"
        db.session.add(
            RuleRun(rule_id=row.id, entity_key="deal", record_id=n + 1, status=status,
                    did=[{"action": "notify", "words": f"told #{n + 1}"}],
                    error="boom" if n == 54 else None)
        )  # fmt: skip
    db.session.commit()
    first = admin_client.get(f"{BASE}/rules/{row.id}/runs").text
    assert first.index("told #55") < first.index("told #54") and "boom" in first
    assert "/r/deal/55" in first and "page=2" in first
    second = admin_client.get(f"{BASE}/rules/{row.id}/runs?page=2").text
    assert "told #5<" in second and "told #55" not in second
    for bad in ("0", "-1", "abc", "99999999999"):
        assert admin_client.get(f"{BASE}/rules/{row.id}/runs?page={bad}").status_code == 400
    assert admin_client.get(f"{BASE}/rules/999999/runs").status_code == 404
    assert admin_client.get(f"{BASE}/rules/99999999999999999999/runs").status_code == 404
    listing = admin_client.get(f"{BASE}/").text
    assert "Failed" in listing


def test_people_without_the_configure_right_get_403(deal, admin, staff, login_as):
    row = rules.create_rule(
        {
            "entity_key": "deal",
            "key": "r1",
            "name": "R1",
            "trigger": {"type": "created"},
            "actions": [{"type": "notify", "to": ["owner"], "title": "x"}],
        },
        actor_id=admin.id,
    )
    c = login_as(staff)
    for url in (
        f"{BASE}/",
        f"{BASE}/rules/new",
        f"{BASE}/rules/{row.id}/edit",
        f"{BASE}/rules/{row.id}/runs",
    ):
        assert c.get(url).status_code == 403, url
    for url in (
        f"{BASE}/rules/{row.id}/enabled",
        f"{BASE}/rules/{row.id}/delete",
        f"{BASE}/rules/new",
    ):
        assert c.submit(url, post_form()).status_code == 403, url
    db.session.rollback()
    assert rules.get_rule(row.id).enabled and count() == 1


def test_change_log_keeps_hidden_condition_values_hidden(deal, admin, login_as):
    from crm.access import levels as P
    from tests.automation.test_rules_service import good
    from tests.factories import make_role, make_user

    row = rules.create_rule(good(), actor_id=admin.id)
    rules.update_rule(
        row.id, good(conditions=[{"field": "amount", "op": "gt", "value": "98765"}]),
        actor_id=admin.id,
    )  # fmt: skip
    make_role(
        "Configurer",
        {("*", a): P.ALL for a in ("read", "edit", "create")},
        {("deal", "amount"): "hidden"},
        can_configure=True,
    )
    conf = make_user("conf@example.com", roles=("Configurer",))
    assert "98,765" in login_as(admin).get("/admin/changes").text
    text = login_as(conf).get("/admin/changes").text
    assert "Changed automation rule" in text
    assert "98,765" not in text and "98765" not in text


def test_rules_move_up_and_down(deal, admin, admin_client):
    from tests.automation.test_rules_service import good

    a = rules.create_rule(good(key="first_rule"), actor_id=admin.id)
    b = rules.create_rule(good(key="second_rule"), actor_id=admin.id)
    assert admin_client.submit(f"{BASE}/rules/{b.id}/move", {"direction": "up"}).status_code == 303
    assert [r.key for r in rules.all_rules()] == ["second_rule", "first_rule"]
    # at the top already: nothing happens
    assert admin_client.submit(f"{BASE}/rules/{b.id}/move", {"direction": "up"}).status_code == 303
    assert [r.key for r in rules.all_rules()] == ["second_rule", "first_rule"]
    assert admin_client.submit(f"{BASE}/rules/{a.id}/move", {"direction": "x"}).status_code == 400
    assert admin_client.submit(f"{BASE}/rules/999999/move", {"direction": "up"}).status_code == 404

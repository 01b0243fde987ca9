"""Rules set off by changes: each trigger, conditions in SQL with the owner's rights, each
action, the run log, one failing action rolling back only its own rule, one job per save
or bulk edit and none without a rule."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm.activities.models import Task
from crm.automation.events import KIND
from crm.extensions import db
from crm.jobs.models import Job
from crm.metadata import specs
from crm.notifications.models import MailMessage, Notification
from crm.records import bulk
from crm.timeutil import utcnow
from tests.automation.conftest import deal, edit, row
from tests.automation.factory import make_rule, runs

NOTE = {"type": "set", "values": {"note": "touched"}}


def jobs(kind: str = KIND) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Job).where(Job.kind == kind))


def test_created_runs_the_rule_once_and_logs_what_it_did(people):
    rule = make_rule(people["admin"], {"type": "created"}, [NOTE])
    rid = deal(people["ann"])
    assert row(rid)["note"] == "touched"
    (run,) = runs(rule)
    assert run.status == "done" and run.record_id == rid
    assert run.did == [{"action": "set", "words": "set Note to “touched”"}]
    edit(people["ann"], rid, title="Renamed")  # an update is not a creation
    assert len(runs(rule)) == 1


def test_updated_fires_on_an_update_not_on_a_creation(people):
    rule = make_rule(people["admin"], {"type": "updated"}, [{"type": "set", "values": {
        "amount": "5"}}])  # fmt: skip
    rid = deal(people["ann"])
    assert runs(rule) == []
    edit(people["ann"], rid, title="Other")
    assert row(rid)["amount"] == 5
    # its own save is an update too: it runs once more, changes nothing, and stops there
    first, second = runs(rule)
    assert first.did[0]["words"] == "set Amount to “5”"
    assert second.did[0]["words"].startswith("set nothing")


def test_changed_to_a_value_fires_only_for_that_value(people):
    rule = make_rule(people["admin"], {"type": "changed", "field": "status", "to": "won"}, [NOTE])
    any_change = make_rule(people["admin"], {"type": "changed", "field": "amount"}, [
        {"type": "set", "values": {"margin": "1"}}])  # fmt: skip
    rid = deal(people["ann"], status="open", amount="3")
    assert runs() == []  # a creation is not a change
    edit(people["ann"], rid, status="lost")
    assert runs(rule) == []
    edit(people["ann"], rid, status="won")
    assert row(rid)["note"] == "touched" and len(runs(rule)) == 1
    edit(people["ann"], rid, amount="4")
    assert row(rid)["margin"] == 1 and len(runs(any_change)) == 1


def test_stage_entered_and_left(people):
    entered = make_rule(people["admin"], {"type": "stage_entered", "field": "stage",
                                          "stage": "won"}, [NOTE])  # fmt: skip
    left = make_rule(people["admin"], {"type": "stage_left", "field": "stage",
                                       "stage": "won"}, [{"type": "set", "values": {
                                           "status": "reopened"}}])  # fmt: skip
    rid = deal(people["ann"])
    edit(people["ann"], rid, stage="proposal")
    assert runs() == []
    edit(people["ann"], rid, stage="won")
    assert len(runs(entered)) == 1 and runs(left) == []
    edit(people["ann"], rid, stage="new")
    assert len(runs(left)) == 1 and row(rid)["status"] == "reopened"


def test_conditions_are_list_filters_evaluated_in_sql(people):
    rule = make_rule(
        people["admin"], {"type": "created"}, [NOTE],
        conditions=[{"field": "amount", "op": "gt", "value": "100"}],
    )  # fmt: skip
    small = deal(people["ann"], amount="50")
    big = deal(people["ann"], amount="500")
    assert row(small)["note"] is None and row(big)["note"] == "touched"
    assert [r.record_id for r in runs(rule)] == [big]


def test_a_rule_never_acts_on_a_record_its_owner_cannot_read(people):
    # Olga reads only her own deals: her rule does nothing to Ann's
    rule = make_rule(people["own"], {"type": "created"}, [NOTE])
    theirs = deal(people["ann"])
    mine = deal(people["own"])
    assert row(theirs)["note"] is None
    assert row(mine)["note"] == "touched"
    assert [r.record_id for r in runs(rule)] == [mine]


def test_a_condition_on_a_field_hidden_from_the_owner_fails_clearly(people):
    rule = make_rule(
        people["own"], {"type": "created"}, [NOTE],
        conditions=[{"field": "margin", "op": "gt", "value": "1"}],
    )  # fmt: skip
    rid = deal(people["own"])
    (run,) = runs(rule)
    assert run.status == "failed" and "margin" in run.error
    assert row(rid)["note"] is None


def test_set_fields_go_through_the_owners_edit_rights(people):
    # Olga may not edit the margin (hidden from her): her rule cannot set it
    rule = make_rule(people["own"], {"type": "created"}, [
        {"type": "set", "values": {"margin": "9"}}])  # fmt: skip
    rid = deal(people["own"])
    (run,) = runs(rule)
    assert run.status == "failed"
    assert row(rid)["margin"] is None


def test_one_failing_action_rolls_back_its_rule_only(people):
    broken = make_rule(people["admin"], {"type": "created"}, [
        NOTE, {"type": "set", "values": {"amount": "not a number"}}])  # fmt: skip
    fine = make_rule(people["admin"], {"type": "created"}, [
        {"type": "set", "values": {"status": "checked"}}])  # fmt: skip
    rid = deal(people["ann"])
    stored = row(rid)
    assert stored["note"] is None  # the broken rule's first action was rolled back
    assert stored["status"] == "checked"
    (bad,) = runs(broken)
    assert bad.status == "failed" and "undone" in bad.error
    assert bad.did == [{"action": "set", "words": "set Note to “touched”"}]
    assert runs(fine)[0].status == "done"


def test_the_webhook_action_sends_the_record_as_the_rules_owner_reads_it(people, receiver):
    import json

    from crm.webhooks import admin as webhooks_admin
    from crm.webhooks.signing import verify

    webhooks_admin.add_host(people["admin"], "127.0.0.1")
    # owned by someone who may not read margins: the call carries none
    rule = make_rule(people["own"], {"type": "created"}, [
        {"type": "webhook", "url": receiver.url, "secret": "s3cret"}])  # fmt: skip
    rid = deal(people["own"], amount=100)
    (run,) = runs(rule)
    assert run.status == "done" and "queued a call" in run.did[0]["words"]
    (got,) = receiver.requests
    body = json.loads(got["body"])
    from crm.automation.models import AutomationRule

    key = db.session.get(AutomationRule, rule).key
    assert body["rule"] == key and body["entity"] == "deal"
    assert body["record"]["id"] == rid and body["record"]["amount"] == 100
    assert "margin" not in body["record"]
    h = got["headers"]
    assert h["X-Atelier-Event"] == f"rule.{key}"
    assert verify("s3cret", h["X-Atelier-Timestamp"], got["body"], h["X-Atelier-Signature"])


def test_a_webhook_to_a_private_address_is_refused_and_logged(people):
    rule = make_rule(people["admin"], {"type": "created"}, [
        {"type": "webhook", "url": "http://10.1.2.3/hook", "secret": "s"}])  # fmt: skip
    deal(people["ann"])
    (run,) = runs(rule)
    assert run.status == "done" and "did not call" in run.did[0]["words"]
    assert "private" in run.did[0]["words"]


def test_assign_to_a_user_and_round_robin_and_least_loaded(people):
    to_bob = make_rule(people["admin"], {"type": "changed", "field": "status", "to": "bob"}, [
        {"type": "assign", "to": {"user": people["bob"].id}}])  # fmt: skip
    rid = deal(people["ann"], status="new")
    edit(people["ann"], rid, status="bob")
    assert row(rid)["owner_id"] == people["bob"].id
    assert runs(to_bob)[0].did[0]["words"] == "assigned to Bob"

    robin = make_rule(
        people["admin"],
        {"type": "created"},
        [{"type": "assign", "to": {"department": people["sales"].id}, "how": "round_robin"}],
    )
    owners = [row(deal(people["admin"]))["owner_id"] for _ in range(4)]
    sales = sorted([people["boss"].id, people["ann"].id, people["bob"].id])
    assert owners == [sales[0], sales[1], sales[2], sales[0]]
    db.session.rollback()
    from crm.automation.models import AutomationRule

    db.session.get(AutomationRule, robin).enabled = False
    from crm.metadata.versioning import bump_version

    bump_version()
    db.session.commit()
    role_id = people["ann"].roles[0].id
    least = make_rule(people["admin"], {"type": "created"}, [
        {"type": "assign", "to": {"role": role_id}, "how": "least_loaded"}])  # fmt: skip
    counts = {
        u: db.session.scalar(
            select(func.count()).select_from(specs.current().table("deal")).where(
                specs.current().table("deal").c.owner_id == u)
        )
        for u in (people["ann"].id, people["bob"].id)
    }  # fmt: skip
    fewest = min(counts, key=lambda u: (counts[u], u))
    assert row(deal(people["admin"]))["owner_id"] == fewest
    assert runs(least)[0].status == "done"


def test_task_notify_and_email_actions(people):
    rule = make_rule(people["admin"], {"type": "created"}, [
        {"type": "task", "subject": "Call about {{ record.title }}", "due_in_days": 2,
         "priority": "high", "assignee": "owner"},
        {"type": "notify", "to": ["owner", "manager"], "title": "{{ record_name }} is new",
         "body": "Margin {{ record.margin }}"},
        {"type": "email", "to": [{"user": people["own"].id}],
         "subject": "About {{ record.title }}", "body": "Margin {{ record.margin }}"},
    ])  # fmt: skip
    rid = deal(people["ann"], margin="42")
    (run,) = runs(rule)
    assert run.status == "done", run.error
    (task,) = db.session.scalars(select(Task)).all()
    assert task.subject == "Call about Big deal" and task.assignee_id == people["ann"].id
    assert task.priority == "high" and task.record_id == rid
    assert task.due_date >= (utcnow() + timedelta(days=1)).date()
    # the task the rule gave Ann is announced to her as any task someone else gives her
    (given,) = db.session.scalars(select(Notification).where(Notification.kind == "task_assigned"))
    assert given.user_id == people["ann"].id
    bells = db.session.scalars(
        select(Notification).where(Notification.kind == "rule").order_by(Notification.user_id)
    ).all()
    assert {n.user_id for n in bells} == {people["ann"].id, people["boss"].id}
    assert all(n.title == "Big deal is new" for n in bells)
    (mail,) = db.session.scalars(select(MailMessage)).all()
    # Olga may not read Ann's deal: her e-mail quotes none of its fields
    assert mail.to_address == "own@example.com" and "Big deal" not in mail.subject
    assert "42" not in mail.body
    assert [d["action"] for d in run.did] == ["task", "notify", "email"]


def test_no_rule_no_job_and_a_save_gives_one_job(people):
    rid = deal(people["ann"])
    edit(people["ann"], rid, title="x")
    assert jobs() == 0
    make_rule(people["admin"], {"type": "changed", "field": "status", "to": "won"}, [NOTE])
    edit(people["ann"], rid, title="y")  # no rule could fire on a title change
    assert jobs() == 0
    edit(people["ann"], rid, status="won", title="z")
    assert jobs() == 1


def test_a_bulk_edit_is_one_job_for_all_its_records(people):
    rule = make_rule(people["admin"], {"type": "changed", "field": "status", "to": "won"}, [NOTE])
    ids = [deal(people["ann"], title=f"D{i}") for i in range(5)]
    spec = specs.current().entity("deal")
    picks = {i: row(i)["version"] for i in ids}
    result = bulk.bulk_edit(people["ann"], spec, picks, "status", "won")
    assert len(result.done) == 5
    assert jobs() == 1
    assert sorted(r.record_id for r in runs(rule)) == sorted(ids)
    assert all(row(i)["note"] == "touched" for i in ids)


def test_disabled_rules_do_nothing(people):
    rule = make_rule(people["admin"], {"type": "created"}, [NOTE], enabled=False)
    rid = deal(people["ann"])
    assert row(rid)["note"] is None and runs(rule) == [] and jobs() == 0


def test_territories_are_rules_with_conditions_assigning_within_a_team(people):
    """Territory assignment: one rule per territory, its condition on the record's region,
    each handing new records round-robin within that territory's team."""
    from crm.access.models import User
    from tests.factories import make_department, make_user

    east = make_department("East team")
    eva = make_user("eva@example.com", display_name="Eva", roles=("Seller",), department=east)
    eli = make_user("eli@example.com", display_name="Eli", roles=("Seller",), department=east)
    for region, team in (("east", east.id), ("west", people["sales"].id)):
        make_rule(
            people["admin"], {"type": "created"},
            [{"type": "assign", "to": {"department": team}, "how": "round_robin"}],
            conditions=[{"field": "status", "op": "equals", "value": region}],
        )  # fmt: skip
    east_owners = {row(deal(people["admin"], status="east"))["owner_id"] for _ in range(2)}
    assert east_owners == {eva.id, eli.id}
    west = row(deal(people["admin"], status="west"))["owner_id"]
    assert db.session.get(User, west).department_id == people["sales"].id
    nowhere = row(deal(people["admin"], status="north"))["owner_id"]
    assert nowhere == people["admin"].id  # no territory: the record stays its creator's

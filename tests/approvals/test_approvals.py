"""Approvals: a rule holds a stage move or an amount above a threshold until its approvers
approve; the record shows it waits, approvers are notified and decide with a comment, the
outcome is on the timeline; who may see and decide; hostile input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, select, update

from crm.access.models import Role
from crm.approvals import rules
from crm.approvals import service as approvals
from crm.approvals.models import ApprovalDecision, ApprovalRequest
from crm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.notifications.models import Notification
from crm.pipelines import moves
from crm.records import service as records
from crm.records.query import table_of
from tests.factories import make_department, make_record, make_role, make_user, stored
from tests.pipelines.factories import make_deal_entity


@pytest.fixture
def world(app):
    """A deal entity with the "sales" pipeline; Sam (staff) in Sales, managed by Mia;
    Fay in finance; Otto another staff member; Nell who may not read deals at all."""
    make_deal_entity()
    sales = make_department("Sales")
    mia = make_user("mia@example.com", display_name="Mia Manager", department=sales)
    sales.manager_id = mia.id
    db.session.commit()
    make_role("Outsider", {})
    people = {
        "sam": make_user("sam@example.com", display_name="Sam Staff", department=sales),
        "mia": mia,
        "fay": make_user("fay@example.com", display_name="Fay Finance"),
        "otto": make_user("otto@example.com", display_name="Otto Other"),
        "nell": make_user("nell@example.com", display_name="Nell", roles=("Outsider",)),
    }
    return people


def deal():
    return specs.current().entity("deal")


def new_deal(user, amount="100", stage="new"):
    return make_record(user, "deal", {"title": "Big deal", "amount": amount, "stage": stage})


def rule(steps, trigger=None, conditions=(), key="hold_proposal"):
    admin = make_user(is_admin=True)
    data = rules.RuleInput(
        entity_key="deal", name="Proposal needs a yes", key=key,
        trigger=trigger or {"type": "stage", "stage": "proposal"},
        steps=list(steps), conditions=list(conditions),
    )  # fmt: skip
    return rules.save(admin, data)


def save(user, rid, values):
    row = stored("deal", rid)
    return records.merge_update(user, deal(), rid, None, values, expected_version=row["version"])


def pending(rid) -> ApprovalRequest:
    db.session.rollback()
    return db.session.scalars(select(ApprovalRequest).where(ApprovalRequest.record_id == rid)).one()


def notes(user, kind):
    db.session.rollback()
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        )
    )


def test_stage_entry_held_then_approved(world, login_as):
    sam, mia = world["sam"], world["mia"]
    rule(["manager"])
    rid = new_deal(sam)
    saved = save(sam, rid, {"stage": "proposal", "title": "Bigger deal"})
    assert saved.held == ("stage",) and saved.written == ("title",)
    row = stored("deal", rid)
    assert (row["stage"], row["title"]) == ("new", "Bigger deal")  # the rest is saved
    req = pending(rid)
    assert (req.status, req.step, req.changes, req.before) == (
        "pending", 1, {"stage": "proposal"}, {"stage": "new"},
    )  # fmt: skip
    [note] = notes(mia, "approval")
    assert "Bigger deal" in note.title
    page = login_as(sam).get(f"/r/deal/{rid}").get_data(as_text=True)
    assert "Waiting for approval (step 1 of 1: Manager (Mia Manager))" in page
    client = login_as(mia)
    shown = client.get(f"/approvals/{req.id}").get_data(as_text=True)
    assert "Proposal" in shown and "New" in shown and "Approve" in shown
    r = client.submit(f"/approvals/{req.id}/approve", {"comment": "Go ahead"})
    assert r.status_code == 303
    assert stored("deal", rid)["stage"] == "proposal"
    assert pending(rid).status == "approved"
    [outcome] = notes(sam, "approval_outcome")
    assert outcome.title.startswith("Approved")
    page = login_as(sam).get(f"/r/deal/{rid}").get_data(as_text=True)
    assert "Waiting for approval" not in page
    assert "approved “Proposal needs a yes” (step 1)" in page and "Go ahead" in page
    kinds = [e.kind for e in records.timeline(sam, deal(), rid)]
    assert "stage" in kinds and kinds.count("approval") == 2


def test_rejected_changes_nothing(world, login_as):
    sam, mia = world["sam"], world["mia"]
    rule(["manager"])
    rid = new_deal(sam)
    save(sam, rid, {"stage": "proposal"})
    req = pending(rid)
    r = login_as(mia).submit(f"/approvals/{req.id}/reject", {"comment": "Too early"})
    assert r.status_code == 303
    assert stored("deal", rid)["stage"] == "new"
    assert pending(rid).status == "rejected"
    [outcome] = notes(sam, "approval_outcome")
    assert outcome.title.startswith("Rejected") and "Too early" in outcome.body
    save(sam, rid, {"stage": "qualified"})  # no longer held: the field is free again
    assert stored("deal", rid)["stage"] == "qualified"


def test_amount_above_threshold_held_below_not(world):
    sam = world["sam"]
    rule([{"user": world["fay"].id}], {"type": "above", "field": "amount", "threshold": "10000"})
    rid = new_deal(sam)
    assert save(sam, rid, {"amount": "9000"}).held == ()
    assert stored("deal", rid)["amount"] == Decimal("9000")
    assert save(sam, rid, {"amount": "10000"}).held == ()  # not above
    assert save(sam, rid, {"amount": "25000"}).held == ("amount",)
    assert stored("deal", rid)["amount"] == Decimal("10000")
    req = pending(rid)
    assert req.changes == {"amount": "25000"} or Decimal(req.changes["amount"]) == 25000
    approvals.decide(world["fay"], req.id, "approve")
    assert stored("deal", rid)["amount"] == Decimal("25000")


def test_threshold_needs_a_numeric_field(world):
    admin = make_user(is_admin=True)
    data = rules.RuleInput(
        entity_key="deal", name="x", key="bad_rule", steps=["manager"], conditions=[],
        trigger={"type": "above", "field": "title", "threshold": "5"},
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        rules.save(admin, data)
    assert "trigger" in exc.value.errors


def test_conditions_limit_the_rule(world):
    sam = world["sam"]
    rule(["manager"], conditions=[{"field": "amount", "op": "gt", "value": "500"}])
    small, large = new_deal(sam, "100"), new_deal(sam, "1000")
    assert save(sam, small, {"stage": "proposal"}).held == ()
    assert save(sam, large, {"stage": "proposal"}).held == ("stage",)


def test_two_steps(world, login_as):
    sam, mia, fay = world["sam"], world["mia"], world["fay"]
    rule(["manager", {"user": fay.id}])
    rid = new_deal(sam)
    save(sam, rid, {"stage": "proposal"})
    req = pending(rid)
    assert notes(fay, "approval") == []
    with pytest.raises(Forbidden):  # not Fay's turn yet
        approvals.decide(fay, req.id, "approve")
    approvals.decide(mia, req.id, "approve", "fine by me")
    req = pending(rid)
    assert (req.status, req.step) == ("pending", 2)
    assert stored("deal", rid)["stage"] == "new"
    assert len(notes(fay, "approval")) == 1
    page = login_as(sam).get(f"/r/deal/{rid}").get_data(as_text=True)
    assert "Waiting for approval (step 2 of 2: Fay Finance)" in page
    with pytest.raises(Forbidden):  # Mia's step is over
        approvals.decide(mia, req.id, "approve")
    approvals.decide(fay, req.id, "approve")
    assert stored("deal", rid)["stage"] == "proposal"
    assert pending(rid).status == "approved"
    steps = db.session.scalars(select(ApprovalDecision.step).order_by(ApprovalDecision.id)).all()
    assert steps == [1, 2]


def test_approver_without_read_rights_sees_no_values_and_decides(world, login_as):
    sam, nell = world["sam"], world["nell"]
    role_id = db.session.scalar(select(Role.id).where(Role.name == "Outsider"))
    rule([{"role": role_id}], {"type": "above", "field": "amount", "threshold": "1000"})
    rid = new_deal(sam)
    save(sam, rid, {"amount": "987654"})
    req = pending(rid)
    [note] = notes(nell, "approval")
    assert "Big deal" not in note.title and "987654" not in note.body
    client = login_as(nell)
    assert client.get(f"/r/deal/{rid}").status_code in (403, 404)
    # the bell's link leads to the request, which she may open, not to the record
    opened = client.get(f"/notifications/{note.id}/open")
    assert opened.status_code in (302, 303)
    assert opened.headers["Location"].endswith(f"/approvals/{req.id}")
    page = client.get(f"/approvals/{req.id}").get_data(as_text=True)
    assert "987" not in page and "Big deal" not in page and "100" not in page
    assert "You cannot read this record" in page and "Approve" in page
    assert client.submit(f"/approvals/{req.id}/approve").status_code == 303
    assert stored("deal", rid)["amount"] == Decimal("987654")


def test_others_cannot_see_or_decide(world, login_as):
    sam, otto = world["sam"], world["otto"]
    rule(["manager"])
    rid = new_deal(sam)
    save(sam, rid, {"stage": "proposal"})
    req = pending(rid)
    client = login_as(otto)
    assert client.get(f"/approvals/{req.id}").status_code == 404
    assert client.submit(f"/approvals/{req.id}/approve").status_code == 404
    assert client.submit(f"/approvals/{req.id}/reject").status_code == 404
    assert f"/approvals/{req.id}" not in client.get("/approvals/").get_data(as_text=True)
    # the one who asked sees it but may not decide it
    mine = login_as(sam)
    assert mine.get(f"/approvals/{req.id}").status_code == 200
    assert mine.submit(f"/approvals/{req.id}/approve").status_code == 403
    assert pending(rid).status == "pending" and stored("deal", rid)["stage"] == "new"
    # without the CSRF token nothing is decided
    assert login_as(world["mia"]).post(f"/approvals/{req.id}/approve").status_code == 400
    assert pending(rid).status == "pending"


def test_admin_decides_and_inbox_lists(world, login_as):
    sam = world["sam"]
    rule(["manager"])
    rid = new_deal(sam)
    save(sam, rid, {"stage": "proposal"})
    req = pending(rid)
    inbox = login_as(world["mia"]).get("/approvals/").get_data(as_text=True)
    assert f"/approvals/{req.id}" in inbox
    mine = login_as(sam).get("/approvals/").get_data(as_text=True)
    assert f"/approvals/{req.id}" in mine and "Waiting for approval" in mine
    boss = make_user(is_admin=True)
    approvals.decide(boss, req.id, "approve")
    assert stored("deal", rid)["stage"] == "proposal"


def test_pending_blocks_another_change_of_the_field(world):
    sam, otto = world["sam"], world["otto"]
    rule(["manager"])
    rid = new_deal(sam)
    save(sam, rid, {"stage": "proposal"})
    with pytest.raises(ValidationFailed) as exc:
        save(otto, rid, {"stage": "qualified"})
    assert (
        list(exc.value.errors) == ["stage"] and "waits for approval" in exc.value.errors["stage"][0]
    )
    save(otto, rid, {"title": "Renamed"})  # other fields stay free
    assert stored("deal", rid)["title"] == "Renamed"


def test_board_move_is_held(world, login_as):
    sam = world["sam"]
    rule(["manager"])
    rid = new_deal(sam)
    row = stored("deal", rid)
    saved = moves.move(sam, deal(), rid, "proposal", version=row["version"], from_stage="new")
    assert saved.held == ("stage",) and stored("deal", rid)["stage"] == "new"
    rid2 = new_deal(sam)
    r = login_as(sam).submit(
        f"/r/deal/{rid2}/move",
        {"stage": "proposal", "version": stored("deal", rid2)["version"], "from": "new"},
    )
    assert r.status_code in (200, 303)
    assert stored("deal", rid2)["stage"] == "new" and pending(rid2).status == "pending"


def test_record_edit_form_says_sent_for_approval(world, login_as):
    sam = world["sam"]
    rule(["manager"])
    rid = new_deal(sam)
    client = login_as(sam)
    r = client.submit(f"/r/deal/{rid}/stage", {"stage": "proposal", "version": "1"})
    assert r.status_code == 303
    page = client.get(f"/r/deal/{rid}").get_data(as_text=True)
    assert "Sent for approval" in page and "Waiting for approval" in page
    assert stored("deal", rid)["stage"] == "new"


def test_conflict_when_the_record_changed_meanwhile(world):
    sam, mia = world["sam"], world["mia"]
    rule(["manager"])
    rid = new_deal(sam)
    save(sam, rid, {"stage": "proposal"})
    req = pending(rid)
    table = table_of(deal())
    db.session.execute(update(table).where(table.c.id == rid).values(stage="qualified"))
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        approvals.decide(mia, req.id, "approve")
    assert "still pending" in exc.value.message
    assert pending(rid).status == "pending" and stored("deal", rid)["stage"] == "qualified"
    with pytest.raises(ValidationFailed):
        approvals.decide(mia, req.id, "maybe")
    with pytest.raises(ValidationFailed):
        approvals.decide(mia, req.id, "reject", "x" * 5000)
    approvals.decide(mia, req.id, "reject")
    with pytest.raises(Conflict):
        approvals.decide(mia, req.id, "approve")


@pytest.mark.parametrize(
    "url", ["/approvals/0", "/approvals/-1", "/approvals/abc", f"/approvals/{2**40}",
            f"/approvals/{2**31}", "/approvals/99999"],
)  # fmt: skip
def test_hostile_request_ids(world, login_as, url):
    client = login_as(world["mia"])
    assert client.get(url).status_code == 404
    assert client.submit(url + "/approve").status_code == 404
    with pytest.raises(NotFound):
        approvals.get_request(world["mia"], 2**40)


def test_admin_screens(world, login_as):
    admin = make_user(is_admin=True)
    client = login_as(admin)
    assert client.get("/admin/approvals/").status_code == 200
    assert "Entity" in client.get("/admin/approvals/new").get_data(as_text=True)
    form = client.get("/admin/approvals/new?entity=deal").get_data(as_text=True)
    assert "Proposal" in form and "Amount" in form
    bad = client.submit("/admin/approvals/new?entity=deal", {"name": "", "key": "1x"})
    assert bad.status_code == 400 and "not saved" in bad.get_data(as_text=True)
    ok = client.submit(
        "/admin/approvals/new?entity=deal",
        {"name": "Discounts", "key": "discounts", "trigger_type": "above", "field": "amount",
         "threshold": "5000", "step_1": "manager", "step_2": f"user:{world['fay'].id}",
         "cond_field_1": "title", "cond_op_1": "contains", "cond_value_1": "deal",
         "enabled": "y"},
    )  # fmt: skip
    assert ok.status_code == 303
    saved = db.session.scalars(select(rules.ApprovalRule)).one()
    assert saved.steps == ["manager", {"user": world["fay"].id}] and saved.enabled
    assert saved.trigger == {"type": "above", "field": "amount", "threshold": "5000.00"}
    page = client.get("/admin/approvals/").get_data(as_text=True)
    assert "Discounts" in page and "Amount above 5000.00" in page
    assert client.get(f"/admin/approvals/{saved.id}/edit").status_code == 200
    assert client.submit(f"/admin/approvals/{saved.id}/disable").status_code == 303
    db.session.rollback()
    assert db.session.get(rules.ApprovalRule, saved.id).enabled is False
    rid = new_deal(world["sam"])
    assert save(world["sam"], rid, {"amount": "9000"}).held == ()  # off: nothing held
    assert client.submit(f"/admin/approvals/{saved.id}/enable").status_code == 303
    assert client.get(f"/admin/approvals/{2**40}/edit").status_code == 404
    assert client.submit("/admin/approvals/99999/delete").status_code == 404
    assert client.submit(f"/admin/approvals/{saved.id}/delete").status_code == 303
    db.session.rollback()
    assert db.session.scalars(select(rules.ApprovalRule)).all() == []
    staff = login_as(world["sam"])
    assert staff.get("/admin/approvals/").status_code == 403
    assert staff.submit("/admin/approvals/new?entity=deal", {"name": "x"}).status_code == 403


def test_htmx_board_move_and_inline_edit_say_sent_for_approval(world, login_as):
    sam = world["sam"]
    rule(["manager"])
    rule([{"user": world["fay"].id}], {"type": "above", "field": "amount", "threshold": "1000"},
         key="big_amounts")  # fmt: skip
    client = login_as(sam)
    rid = new_deal(sam)
    r = client.hx_post(
        f"/r/deal/{rid}/move",
        {"stage": "proposal", "version": stored("deal", rid)["version"], "from": "new"},
    )
    assert r.status_code == 200 and "Sent for approval" in r.get_data(as_text=True)
    assert stored("deal", rid)["stage"] == "new"
    r = client.hx_post(
        f"/r/deal/{rid}/field/amount",
        {"amount": "5000", "version": stored("deal", rid)["version"], "seen": ""},
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "Sent for approval" in body and 'hx-swap-oob="true"' in body
    assert stored("deal", rid)["amount"] == Decimal("100")
    r = client.hx_post(
        f"/r/deal/{rid}/field/amount",
        {"amount": "7000", "version": stored("deal", rid)["version"], "seen": ""},
    )
    assert r.status_code == 400 and "waits for approval" in r.get_data(as_text=True)


def test_owner_without_a_manager_leaves_it_to_administrators(world):
    boss = make_user(is_admin=True, display_name="Boss")
    lone = make_user("lone@example.com")  # in no department
    rule(["manager"])
    rid = new_deal(lone)
    save(lone, rid, {"stage": "proposal"})
    req = pending(rid)
    assert req.steps == [{"manager": None}]
    assert len(notes(boss, "approval")) == 1
    approvals.decide(boss, req.id, "approve")
    assert stored("deal", rid)["stage"] == "proposal"


def test_a_deleted_rule_leaves_its_requests_decidable(world):
    sam, mia = world["sam"], world["mia"]
    rule_id = rule(["manager"])
    rid = new_deal(sam)
    save(sam, rid, {"stage": "proposal"})
    rules.delete(make_user(is_admin=True), rule_id)
    req = pending(rid)
    assert req.rule_id is None and req.status == "pending"
    approvals.decide(mia, req.id, "approve")
    assert stored("deal", rid)["stage"] == "proposal"


def test_bulk_edit_is_no_way_around_a_rule(world):
    from crm.records import bulk

    sam = world["sam"]
    rule(["manager"])
    one, two = new_deal(sam), new_deal(sam)
    picks = {one: stored("deal", one)["version"], two: stored("deal", two)["version"]}
    with pytest.raises(ValidationFailed) as exc:
        bulk.bulk_edit(sam, deal(), picks, "stage", "proposal")
    assert "record by record" in exc.value.errors["stage"][0]
    assert stored("deal", one)["stage"] == stored("deal", two)["stage"] == "new"
    save(sam, one, {"stage": "proposal"})  # now pending on one
    picks = {one: stored("deal", one)["version"], two: stored("deal", two)["version"]}
    with pytest.raises(ValidationFailed) as exc:
        bulk.bulk_edit(sam, deal(), picks, "stage", "qualified")
    assert "waits for approval" in exc.value.errors["stage"][0]
    bulk.bulk_edit(sam, deal(), {two: stored("deal", two)["version"]}, "stage", "qualified")
    assert stored("deal", two)["stage"] == "qualified"


@pytest.mark.parametrize(
    "form",
    [
        {"trigger_type": "above", "field": "amount", "threshold": "1e999999"},
        {"trigger_type": "above", "field": "amount", "threshold": "NaN"},
        {"trigger_type": "above", "field": "nosuch", "threshold": "5"},
        {"trigger_type": "stage", "stage": "nosuch"},
        {"trigger_type": "evil", "step_1": "role:abc"},
        {"trigger_type": "stage", "stage": "won", "step_1": f"user:{2**40}"},
        {"trigger_type": "stage", "stage": "won", "step_1": "user:-1", "step_2": "x:y"},
        {"trigger_type": "stage", "stage": "won", "step_1": "manager",
         "cond_field_1": "amount", "cond_op_1": "drop table", "cond_value_1": "1"},
        {"trigger_type": "stage", "stage": "won", "step_1": "manager",
         "cond_field_1": "nosuch", "cond_op_1": "eq", "cond_value_1": "\x00"},
    ],
)  # fmt: skip
def test_hostile_rule_forms(world, login_as, form):
    client = login_as(make_user(is_admin=True))
    r = client.submit(
        "/admin/approvals/new?entity=deal", {"name": "Hostile", "key": "hostile", **form}
    )
    assert r.status_code == 400 and "not saved" in r.get_data(as_text=True)
    assert db.session.scalars(select(rules.ApprovalRule)).all() == []


def test_approval_rules_are_configuration_changes_in_the_change_log(world, login_as):
    from crm.metadata.models import ConfigChange, MetaVersion

    def version():
        db.session.rollback()
        return db.session.scalar(select(MetaVersion.version))

    before = version()
    rule_id = rule(["manager"])
    assert version() == before + 1
    admin = make_user("boss2@example.com", is_admin=True)
    rules.set_enabled(admin, rule_id, False)
    rules.set_enabled(admin, rule_id, False)  # no change: no entry
    rules.delete(admin, rule_id)
    db.session.rollback()
    entries = db.session.scalars(
        select(ConfigChange).where(ConfigChange.action.like("approval_rule.%"))
        .order_by(ConfigChange.id)
    ).all()  # fmt: skip
    assert [e.action for e in entries] == [
        "approval_rule.create", "approval_rule.disable", "approval_rule.delete",
    ]  # fmt: skip
    assert entries[0].after["steps"] == ["manager"] and entries[-1].before["key"] == "hold_proposal"
    page = login_as(admin).get("/admin/changes").get_data(as_text=True)
    assert "Added approval rule" in page and "Deleted approval rule" in page


def test_each_person_is_told_in_their_own_language(world, login_as):
    """The approver reads Chinese, the requester Spanish, the one who decides works in
    English: each notification is in its recipient's language, not its sender's."""
    sam, mia = world["sam"], world["mia"]
    mia.locale, sam.locale = "zh_Hans", "es"
    db.session.commit()
    rule(["manager"])
    rid = new_deal(sam)
    login_as(sam)  # the change is made in a request of Sam's (Spanish)
    save(sam, rid, {"stage": "proposal"})
    [note] = notes(mia, "approval")
    assert note.title.startswith("待审批：") and "Big deal" in note.title
    assert "审批" in note.body or "批准" in note.body
    req = pending(rid)
    mia.locale = "en"
    db.session.commit()
    r = login_as(mia).submit(f"/approvals/{req.id}/approve", {"comment": "OK"})
    assert r.status_code == 303
    [outcome] = notes(sam, "approval_outcome")
    assert outcome.title.startswith("Aprobado: ")
    assert "se aprobó" in outcome.body and outcome.body.endswith("OK")


def _statements_naming(table: str, action) -> list[str]:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if table in statement:
            seen.append(statement)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def test_saves_read_the_rules_once_per_configuration_version(world):
    """The enabled rules are read once per metadata version, not at every save; a rule
    saved or switched off moves the version, so the next save sees the change."""
    sam = world["sam"]
    rid = new_deal(sam)
    save(sam, rid, {"title": "Warm-up"})  # the rules of this version are read here
    assert _statements_naming("approval_rules", lambda: save(sam, rid, {"title": "Again"})) == []
    rule(["manager"])
    save(sam, rid, {"stage": "proposal"})
    assert pending(rid).status == "pending"  # the new rule holds at once

"""Trying a rule on a record: what it would do, in words, and nothing done; the page,
for those with the configure right, on records they may read."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.access import policy as P
from crm.activities.models import Task
from crm.automation import dryrun
from crm.automation.models import RuleRun
from crm.errors import NotFound
from crm.extensions import db
from crm.jobs.models import Job
from crm.notifications.models import Notification
from tests.automation.conftest import deal, row
from tests.automation.factory import make_rule
from tests.factories import make_role, make_user

ACTIONS = [
    {"type": "set", "values": {"note": "tried"}},
    {"type": "task", "subject": "Follow {{ record.title }}", "due_in_days": 1},
    {"type": "notify", "to": ["owner"], "title": "{{ record_name }}"},
]


def counts() -> tuple:
    db.session.rollback()
    return tuple(
        db.session.scalar(select(func.count()).select_from(m))
        for m in (Task, Notification, Job, RuleRun)
    )


def test_a_dry_run_says_what_it_would_do_and_does_nothing(people):
    rule = make_rule(people["admin"], {"type": "changed", "field": "status", "to": "won"},
                     ACTIONS)  # fmt: skip
    rid = deal(people["ann"])
    before = counts()
    trial = dryrun.dry_run(people["admin"], rule, rid)
    assert trial.applies and trial.status == "done"
    assert [d["words"] for d in trial.did] == [
        "set Note to “tried”",
        trial.did[1]["words"],
        "notified Ann",
    ]
    assert trial.did[1]["words"].startswith("created the task “Follow Big deal” for Ann")
    # the due day as people write it ("due Dec 8, 2030"), not as a machine does
    assert re.search(r", due [A-Z][a-z]{2} \d{1,2}, \d{4}$", trial.did[1]["words"])
    assert counts() == before and row(rid)["note"] is None


def test_a_dry_run_tells_when_the_conditions_do_not_hold(people):
    rule = make_rule(people["admin"], {"type": "created"}, ACTIONS,
                     conditions=[{"field": "amount", "op": "gt", "value": "10"}])  # fmt: skip
    rid = deal(people["ann"], amount="1")
    trial = dryrun.dry_run(people["admin"], rule, rid)
    assert not trial.applies and "conditions" in trial.reason
    failing = make_rule(
        people["admin"],
        {"type": "created"},
        [{"type": "set", "values": {"note": "x"}}, {"type": "set", "values": {"amount": "z"}}],
    )
    trial = dryrun.dry_run(people["admin"], failing, rid)
    assert trial.status == "failed" and trial.error and row(rid)["note"] != "x"


def test_the_trier_must_read_the_record(people):
    make_role("Configurer", {"read": P.OWN}, can_configure=True)
    conf = make_user("conf@example.com", roles=("Configurer",))
    rule = make_rule(people["admin"], {"type": "created"}, ACTIONS, enabled=False)
    rid = deal(people["ann"])
    with pytest.raises(NotFound):
        dryrun.dry_run(conf, rule, rid)
    with pytest.raises(NotFound):
        dryrun.dry_run(people["admin"], 2**31, rid)


def test_the_page_finds_and_tries_for_administrators_only(people, login_as):
    rule = make_rule(people["admin"], {"type": "created"}, ACTIONS, enabled=False,
                     name="Welcome")  # fmt: skip
    rid = deal(people["ann"], title="Needle deal")
    admin = login_as(people["admin"])
    url = f"/admin/automation/rules/{rule}/try"
    page = admin.get(url + "?q=Needle")
    assert page.status_code == 200 and "Needle deal" in page.data.decode()
    r = admin.submit(url, {"record_id": str(rid)})
    assert r.status_code == 200 and "set Note to “tried”" in r.data.decode()
    r = admin.hx_post(url, {"record_id": str(rid)})
    assert r.status_code == 200 and "<html" not in r.data.decode()
    for bad in ("", "abc", "-3", "99999999999999999999999"):
        assert admin.submit(url, {"record_id": bad}).status_code in (400, 404)
    assert admin.get("/admin/automation/rules/999999/try").status_code == 404
    assert row(rid)["note"] is None
    staff = login_as(people["ann"])
    assert staff.get(url).status_code == 403
    assert staff.submit(url, {"record_id": str(rid)}).status_code == 403

"""Probes of tasks and logged activities (crm/activities): adding a task and logging an
activity on the record in each position, completing, reopening and deleting the actor's own
task there (all need the edit right on the record), and "My tasks" (the actor's tasks on the
live records they may read, and no others)."""

from __future__ import annotations

import re

from tests.authz import oracle
from tests.authz.harness import Run
from tests.authz.probes_lists import positions


def probe_task_add(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        before = run.counters()
        form = {"subject": f"task by {a}", "due_date": "2030-01-31", "assignee_id": w.ids[a]}
        r = run.post(f"/r/{entity}/{rec.id}/tasks", form, hx=True)
        run.write_case(
            "activities.task_add", rec, position, oracle.may(a, "edit", rec.rec), r,
            lambda row, b=before: run.counters()[7] > b[7], ok_status=(200,),
        )  # fmt: skip


def probe_activity_log(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        before = run.counters()
        form = {"kind": "call", "subject": f"call by {a}", "outcome": "ok"}
        r = run.post(f"/r/{entity}/{rec.id}/activities", form)
        run.write_case(
            "activities.activity_log", rec, position, oracle.may(a, "edit", rec.rec), r,
            lambda row, b=before: run.counters()[6] > b[6],
        )  # fmt: skip


def probe_task_state(run: Run, entity: str) -> None:
    """Change, done, then reopen, then delete the actor's own task on the record."""
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        may = oracle.may(a, "edit", rec.rec)
        task = w.task_id(a, entity, rec.id)
        done, count = w.snapshot_counters[9], w.snapshot_counters[7]
        # A reopen finds the task open again (the world is reset after an allowed write):
        # here only who is refused is checked; tests/activities checks what a reopen does.
        steps = (
            ("activities.task_done", "done", lambda n=done: run.counters()[9] > n),
            ("activities.task_reopen", "reopen", lambda: True),
            ("activities.task_delete", "delete", lambda n=count: run.counters()[7] < n),
        )
        form = {"subject": f"changed by {a}", "due_date": "2030-02-28"}
        r = run.post(f"/tasks/{task}/edit", form, hx=True)
        run.write_case("activities.task_edit", rec, position, may, r, lambda row: True,
                       ok_status=(200,))  # fmt: skip
        for route, action, effect in steps:
            r = run.post(f"/tasks/{task}/{action}", hx=True)
            run.write_case(
                route, rec, position, may, r, lambda row, e=effect: e(), ok_status=(200,)
            )


TASK_LINK = re.compile(r'<li class="task[^"]*" id="task-(\d+)">')


def probe_my_tasks(run: Run) -> None:
    """The actor's open tasks on the live records they may read; none on others."""
    a, w = run.actor, run.world
    r = run.get("/tasks/")
    if not run.read_case("activities.my_tasks", "-", "-", True, r):
        return
    body = r.data.decode()
    listed = {int(x) for x in TASK_LINK.findall(body)}
    for (actor, entity, record_id), task in w.tasks.items():
        if actor != a:
            assert task not in listed, f"{a} sees the task of {actor}"
            continue
        rec = w.by_id[(entity, record_id)]
        expected = rec.live and oracle.may(a, "read", rec.rec)
        run.case("activities.my_tasks[row]", entity, "task", expected, task in listed)
        if task in listed:
            done = f'action="/tasks/{task}/done"' in body
            may_edit = oracle.may(a, "edit", rec.rec)
            run.case("activities.my_tasks[done button]", entity, "task", may_edit, done)

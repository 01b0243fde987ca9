"""Running imports (issue 16): batches through the record service, resumption after
kills, upsert, rights, undo, the error file."""

from __future__ import annotations

import io
import random

import pytest
from sqlalchemy import func, select

from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.imports import run as engine
from crm.imports import service
from crm.imports.models import Import, ImportProblem, ImportRow
from crm.imports.values import ColumnMap
from crm.jobs.models import Job
from crm.records import service as records
from crm.records.query import table_of
from tests.factories import make_role, make_user
from tests.records.runtime_model import build_model, entity, make


@pytest.fixture
def model(app):
    return build_model()


def csv_file(header: list[str], rows: list[list[str]]) -> io.BytesIO:
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    return io.BytesIO(text.encode())


def accounts_file(n: int, start: int = 0, bad_every: int = 0) -> io.BytesIO:
    rows = []
    for i in range(start, start + n):
        employees = "lots" if bad_every and i % bad_every == 0 else str(i)
        rows.append([f"Acme {i}", f"C{i:05d}", "Tech", employees, "yes"])
    return csv_file(["Name", "Code", "Industry", "Employees", "Active"], rows)


def mapping(keys: list[str]) -> list[ColumnMap]:
    spec = entity("account")
    return [ColumnMap(i, spec.field(k)) for i, k in enumerate(keys)]


ALL = ["name", "code", "industry", "employees", "active"]


def start(user, file, *, keys=ALL, mode="create", match=(), queue=False) -> int:
    imp = service.create(
        user, entity("account"), file, "accounts.csv", mapping(keys), mode=mode, match=match,
        queue=queue,
    )  # fmt: skip
    return imp.id


def count(key: str = "account") -> int:
    table = table_of(entity(key))
    n = db.session.scalar(
        select(func.count()).select_from(table).where(table.c.deleted_at.is_(None))
    )
    db.session.rollback()
    return n


def stored_import(import_id: int) -> Import:
    db.session.expire_all()
    return db.session.get(Import, import_id)


def test_an_import_creates_records_through_the_record_service(staff, model):
    import_id = start(staff, accounts_file(1200, bad_every=100))
    summary = engine.run(import_id, batch=500)
    assert (summary.created, summary.errors, summary.rows) == (1188, 12, 1200)
    assert count() == 1188
    imp = stored_import(import_id)
    assert (imp.status, imp.created, imp.errors, imp.last_line) == ("done", 1188, 12, 1201)
    assert db.session.scalar(select(func.count()).select_from(ImportRow)) == 1188
    row = records.get(staff, entity("account"), 1)
    assert row["industry"] == "tech" and row["active"] is True and row["employees"] == 1
    problem = db.session.scalars(select(ImportProblem).order_by(ImportProblem.line)).first()
    assert problem.line == 2 and "employees" in problem.reasons


def test_twenty_kills_at_random_batches_lose_and_double_nothing(staff, model):
    import_id = start(staff, accounts_file(3000, bad_every=97))
    rng = random.Random(16)
    kills = 0

    class Killed(Exception):
        pass

    def hook(n: int) -> None:
        if kills < 20 and rng.random() < 0.5:
            raise Killed(n)

    while True:
        try:
            engine.run(import_id, batch=100, hook=hook)
            break
        except Killed:
            kills += 1
            db.session.rollback()
    assert kills == 20
    bad = len([i for i in range(3000) if i % 97 == 0])
    imp = stored_import(import_id)
    assert (imp.created, imp.errors, imp.status) == (3000 - bad, bad, "done")
    assert count() == 3000 - bad
    lines = db.session.scalars(select(ImportRow.line)).all()
    assert len(lines) == len(set(lines)) == 3000 - bad
    problems = db.session.scalars(select(ImportProblem.line)).all()
    assert len(problems) == len(set(problems)) == bad


def test_a_file_imported_twice_creates_nothing_the_second_time(staff, model):
    for mode in ("upsert", "create"):
        first = start(staff, accounts_file(50), mode=mode, match=("code",))
        engine.run(first)
    assert count() == 50
    again = start(staff, accounts_file(50), mode="upsert", match=("code",))
    summary = engine.run(again)
    assert (summary.created, summary.updated, summary.skipped) == (0, 0, 50)
    assert count() == 50


def test_upsert_updates_matches_and_creates_the_rest(staff, model):
    existing = make(staff, "account", name="Old", code="C00001", employees=7)
    import_id = start(staff, accounts_file(3), mode="upsert", match=("code",))
    summary = engine.run(import_id)
    assert (summary.created, summary.updated) == (2, 1)
    row = records.get(staff, entity("account"), existing)
    assert row["name"] == "Acme 1" and row["employees"] == 1 and row["version"] == 2


def test_a_file_repeating_customers_creates_each_once(staff, model):
    # an order export: one line per order, the customer repeated, interleaved with others
    # (A, B, A, B, C, A): each customer is created once and the repeats update it
    names = ["Ann", "Bob", "Ann", "Bob", "Cid", "Ann"]
    rows = [[n, f"K-{n}", "Tech", str(i), "yes"] for i, n in enumerate(names)]
    file = csv_file(["Name", "Code", "Industry", "Employees", "Active"], rows)
    for dry_run in (True, False):
        file.seek(0)
        summary = engine.run(start(staff, file, mode="upsert", match=("code",)), dry_run=dry_run)
        assert (summary.created, summary.updated, summary.errors) == (3, 3, 0)
    assert count() == 3
    table = table_of(entity("account"))
    ann = db.session.execute(select(table).where(table.c.code == "K-Ann")).mappings().one()
    assert ann["employees"] == 5  # the last line's value


def test_update_only_skips_rows_without_a_match(staff, model):
    make(staff, "account", name="Old", code="C00002")
    summary = engine.run(start(staff, accounts_file(4), mode="update", match=("code",)))
    assert (summary.created, summary.updated, summary.skipped) == (0, 1, 3)


def test_a_match_the_user_may_not_edit_is_an_error_not_a_skip(app, model):
    owner = make_user("owner@example.com")
    role = make_role("Own only", {"create": 4, "read": 1, "edit": 1, "import": 4})
    rep = make_user("rep@example.com", roles=(role.name,))
    make(owner, "account", name="Theirs", code="C00000")
    summary = engine.run(start(rep, accounts_file(2), mode="upsert", match=("code",)))
    assert (summary.created, summary.errors) == (1, 1)
    problem = db.session.scalars(select(ImportProblem)).one()
    assert "may not edit" in problem.reasons["code"][0]


def test_without_the_import_right_nothing_is_written(app, model):
    role = make_role("No import", {"create": 4, "read": 4, "edit": 4})
    rep = make_user("rep@example.com", roles=(role.name,))
    with pytest.raises(Forbidden):
        start(rep, accounts_file(2))
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def test_a_mapping_naming_a_read_only_field_is_refused(app, model):
    role = make_role(
        "Read-only code", {"create": 4, "read": 4, "edit": 4, "import": 4},
        {("account", "code"): "read"},
    )  # fmt: skip
    rep = make_user("rep@example.com", roles=(role.name,))
    with pytest.raises(ValidationFailed) as caught:
        start(rep, accounts_file(2))
    assert "code" in caught.value.errors
    assert count() == 0


def test_undo_removes_created_and_restores_updated_unless_changed_since(staff, model):
    a = make(staff, "account", name="A", code="C00000", employees=1)
    b = make(staff, "account", name="B", code="C00001", employees=2)
    import_id = start(staff, accounts_file(3), mode="upsert", match=("code",))
    engine.run(import_id)
    assert count() == 3
    records.update_record(staff, entity("account"), b, {"employees": "99"}, expected_version=2)
    done = service.undo(staff, entity("account"), import_id)
    assert (done.removed, done.restored, [r for r, _l in done.kept]) == (1, 1, [b])
    assert count() == 2
    assert records.get(staff, entity("account"), a)["name"] == "A"
    assert records.get(staff, entity("account"), b)["employees"] == 99
    assert stored_import(import_id).status == "undone"


def test_the_error_file_has_the_columns_an_error_column_and_escaped_formulas(staff, model):
    file = csv_file(
        ["Name", "Code", "Industry", "Employees", "Active"],
        [["=HYPERLINK(1)", "C1", "Tech", "many", "yes"], ["Ok", "C2", "Tech", "3", "yes"],
         ["Broken", "C3"]],
    )  # fmt: skip
    import_id = start(staff, file)
    engine.run(import_id)
    out = io.StringIO()
    assert service.write_errors(import_id, out, spec=entity("account")) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "Name,Code,Industry,Employees,Active,Error"
    assert lines[1].startswith("'=HYPERLINK(1),C1,Tech,many,yes,Employees: ")
    assert lines[2].startswith("Broken,C3")


def test_a_dry_run_writes_nothing(staff, model):
    import_id = start(staff, accounts_file(20, bad_every=7))
    summary = engine.run(import_id, dry_run=True)
    assert (summary.created, summary.errors) == (17, 3)
    assert count() == 0
    assert stored_import(import_id).status == "queued"


def test_the_job_runs_the_import_and_reports_progress(staff, model):
    import_id = start(staff, accounts_file(30), queue=True)
    imp = stored_import(import_id)
    job = db.session.get(Job, imp.job_id)
    assert job.status == "done" and job.result["created"] == 30
    assert count() == 30


def test_rows_the_record_service_refuses_are_errors_and_the_rest_is_created(staff, model):
    make(staff, "account", name="Taken", code="C00001")
    file = csv_file(
        ["Name", "Code", "Employees"],
        [["", "C9", "1"], ["Dup", "C00001", "2"], ["Fine", "C7", "3"], ["Twice", "C7", "4"]],
    )
    summary = engine.run(start(staff, file, keys=["name", "code", "employees"]))
    assert (summary.created, summary.errors) == (1, 3)
    reasons = {p.line: p.reasons for p in db.session.scalars(select(ImportProblem))}
    assert set(reasons) == {2, 3, 5}
    assert "name" in reasons[2] and "code" in reasons[3] and "code" in reasons[5]


def test_a_killed_import_is_finished_by_its_job_without_doubling(staff, model):
    import_id = start(staff, accounts_file(1000))

    def kill(n: int) -> None:
        if n == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.run(import_id, batch=100, hook=kill)
    assert count() == 300
    from crm.jobs.outbox import enqueue
    from crm.uow import unit_of_work

    with unit_of_work():
        enqueue(service.KIND, {"import_id": import_id}, user_id=staff.id)
    assert count() == 1000
    imp = stored_import(import_id)
    assert (imp.created, imp.status) == (1000, "done")
    assert db.session.scalar(select(func.count()).select_from(ImportRow)) == 1000


def test_a_superseded_attempt_commits_no_batch(staff, model):
    from crm.jobs.models import RUNNING
    from crm.jobs.runner import JobContext, Superseded
    from crm.timeutil import utcnow
    from crm.uow import unit_of_work

    import_id = start(staff, accounts_file(300))
    job = Job(kind=service.KIND, payload={}, status=RUNNING, attempts=2, created_at=utcnow())
    db.session.add(job)
    db.session.commit()
    ctx = JobContext(job.id, service.KIND, {}, staff.id, attempt=1)
    with pytest.raises(Superseded), unit_of_work():
        engine.run(import_id, batch=100, job=ctx)
    assert count() == 0
    assert stored_import(import_id).last_line == 0


def test_only_the_importer_or_an_administrator_may_undo(staff, admin, model):
    from crm.errors import NotFound

    import_id = start(staff, accounts_file(2))
    engine.run(import_id)
    other = make_user("other@example.com")
    with pytest.raises(NotFound):
        service.undo(other, entity("account"), import_id)
    assert service.undo(admin, entity("account"), import_id).removed == 2
    assert count() == 0


def test_progress_comes_after_the_first_batch_and_the_total_once_counted(staff, model):
    import_id = start(staff, accounts_file(1000))
    seen: list[tuple[int, int, str]] = []
    engine.run(
        import_id, batch=100, report=lambda done, total, words: seen.append((done, total, words))
    )
    assert [(d, t) for d, t, _w in seen[:3]] == [(0, 0), (100, 0), (200, 1000)]
    assert "counting" in seen[1][2]
    assert (seen[-1][0], seen[-1][1]) == (1000, 1000)
    assert "1,000 of 1,000 rows" in seen[-1][2]
    assert count() == 1000

"""The duplicates page (groups found by the background job, only records the reader may
read, paginated) and the merge page (side by side, the optimistic lock, clear refusals)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.dedupe import rules, scan
from crm.dedupe.models import DuplicateScan, RecordMerge
from crm.extensions import db
from crm.jobs.models import DONE, Job
from crm.metadata import specs
from crm.records import service as records
from tests.dedupe.conftest import save_rules
from tests.factories import make_record, make_share, stored


@pytest.fixture
def people(crm):
    mia, olga = crm["mia"], crm["olga"]
    ids = {
        "ann": make_record(mia, "contact", {"full_name": "Ann Lee", "email": "ann@acme.com"}),
        "ann2": make_record(mia, "contact", {"full_name": "Ann Lee", "email": "ANN@acme.com"}),
        "bo": make_record(olga, "contact", {"full_name": "Bo Chen", "email": "bo@x.org"}),
        "bo2": make_record(mia, "contact", {"full_name": "Bo Chen", "email": "bo@x.org"}),
        "cy": make_record(olga, "contact", {"full_name": "Cy Diaz", "email": "cy@x.org"}),
        "cy2": make_record(olga, "contact", {"full_name": "Cy Diaz", "email": "cy@x.org"}),
    }
    save_rules(*rules.person_rules("contact"))
    return ids


def _find(client, key="contact"):
    return client.submit(f"/r/{key}/duplicates/find")


def test_find_again_runs_the_job_and_the_page_shows_its_groups(crm, people, login_as):
    client = login_as(crm["mia"])
    page = client.get("/r/contact/duplicates")
    assert page.status_code == 200
    assert "Not searched yet" in page.text
    assert _find(client).status_code == 303
    job = db.session.scalars(select(Job).where(Job.kind == scan.KIND)).one()
    assert job.status == DONE and job.result["groups"] == 3
    page = client.get("/r/contact/duplicates")
    assert page.text.count("data-group") == 3
    assert "Found on" in page.text and "100% alike" in page.text
    job_page = client.get(f"/admin/jobs/{job.id}")
    assert "3 groups of likely duplicates found." in job_page.text
    assert "/r/contact/duplicates" in job_page.text


def test_the_page_shows_only_groups_of_records_the_reader_may_read(crm, people, login_as):
    _find(login_as(crm["mia"]))
    olga = login_as(crm["olga"])
    text = olga.get("/r/contact/duplicates").text
    assert text.count("data-group") == 1  # only Cy's pair is all hers
    assert "Cy Diaz" in text and "Ann Lee" not in text and "Bo Chen" not in text
    make_share(crm["mia"], "contact", people["bo2"], to_user=crm["olga"])
    text = olga.get("/r/contact/duplicates").text
    assert text.count("data-group") == 2 and "Bo Chen" in text


def test_a_running_search_polls_and_the_page_is_paginated(crm, people, login_as, monkeypatch):
    client = login_as(crm["mia"])
    _find(client)
    monkeypatch.setattr(scan, "PAGE", 2)
    first = client.get("/r/contact/duplicates")
    assert first.text.count("data-group") == 2 and "Page 1 of 2" in first.text
    second = client.get("/r/contact/duplicates?page=2")
    assert second.text.count("data-group") == 1
    assert client.get("/r/contact/duplicates?page=99").status_code == 200  # the last page
    for bad in ("0", "-1", "x", str(2**40)):
        assert client.get(f"/r/contact/duplicates?page={bad}").status_code == 400
    # a search asked but not run yet: the page says so and polls itself
    row = db.session.scalars(select(DuplicateScan)).one()
    job = Job(kind=scan.KIND, payload={"entity": "contact"}, status="queued")
    db.session.add(job)
    db.session.flush()
    row.job_id = job.id
    db.session.commit()
    page = client.get("/r/contact/duplicates")
    assert "Looking for duplicates" in page.text and 'hx-trigger="every 2s"' in page.text
    fragment = client.get("/r/contact/duplicates", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.headers.get("Vary") and "HX-Request" in fragment.headers["Vary"]


def test_the_page_and_find_again_need_the_edit_right(crm, people, login_as, app):
    from tests.factories import make_role, make_user

    make_role("Reader", {"read": 4})
    reader = make_user(display_name="Rae Reader", roles=("Reader",))
    client = login_as(reader)
    assert client.get("/r/contact/duplicates").status_code == 403
    assert _find(client).status_code == 403
    assert (
        db.session.scalar(select(func.count()).select_from(Job).where(Job.kind == scan.KIND)) == 0
    )
    assert "Duplicates" not in client.get("/r/contact/").text
    assert "/r/contact/duplicates" in login_as(crm["mia"]).get("/r/contact/").text


def _merge_form(page_text: str) -> dict:
    form: dict = {"ids": re.findall(r'name="ids" value="(\d+)"', page_text)}
    for name, value in re.findall(r'name="(version_\d+)" value="(\d+)"', page_text):
        form[name] = value
    for name, value in re.findall(r'name="(pick_\w+|master)" value="(\d+)" checked', page_text):
        form[name] = value
    return form


def test_merge_page_side_by_side_and_merge_with_a_value_of_the_loser(crm, people, login_as):
    client = login_as(crm["mia"])
    a, b = people["ann"], people["bo2"]
    page = client.get(f"/r/contact/merge?ids={a}&ids={b}")
    assert page.status_code == 200
    assert "Ann Lee" in page.text and "Bo Chen" in page.text
    form = _merge_form(page.text)
    assert form["master"] == str(a) and form["pick_full_name"] == str(a)
    form["pick_email"] = str(b)
    answer = client.submit("/r/contact/merge", form)
    assert answer.status_code == 303 and answer.location.endswith(f"/r/contact/{a}")
    assert stored("contact", a)["email"] == "bo@x.org"
    assert stored("contact", b)["deleted_at"] is not None
    record = client.get(f"/r/contact/{a}").text
    assert "merged with Bo Chen" in record
    dup = client.get("/r/contact/duplicates").text
    assert "Undo merge" in dup
    merge_id = db.session.scalar(select(RecordMerge.id))
    undo = client.submit(f"/r/contact/merges/{merge_id}/undo")
    assert undo.status_code == 303
    assert stored("contact", b)["deleted_at"] is None
    assert stored("contact", a)["email"] == "ann@acme.com"


def test_merge_post_refusals_are_clear_and_change_nothing(crm, people, login_as):
    client = login_as(crm["mia"])
    a, b = people["ann"], people["ann2"]
    form = _merge_form(client.get(f"/r/contact/merge?ids={a}&ids={b}").text)
    records.update_record(crm["mia"], specs.current().entity("contact"), b,
                          {"full_name": "Ann B. Lee"}, expected_version=1)  # fmt: skip
    stale = client.submit("/r/contact/merge", form)
    assert stale.status_code == 409 and "changed after you opened" in stale.text
    assert f'name="version_{b}" value="2"' in stale.text  # the page shows them again
    bad = dict(form, pick_email="12345")
    bad[f"version_{b}"] = "2"
    answer = client.submit("/r/contact/merge", bad)
    assert answer.status_code == 422 and "Choose the value of one of the records." in answer.text
    assert client.submit("/r/contact/merge", dict(form, master="x")).status_code in (400, 422)
    assert client.get(f"/r/contact/merge?ids={a}&ids={a}").status_code == 400
    assert client.get(f"/r/contact/merge?ids={a}").status_code == 400
    assert client.get(f"/r/contact/merge?ids={a}&ids=abc").status_code == 400
    assert client.get(f"/r/contact/merge?ids={a}&ids={2**40}").status_code == 404
    assert client.submit("/r/contact/merges/99999/undo").status_code == 404
    assert client.submit(f"/r/contact/merges/{2**40}/undo").status_code == 404
    forged = dict(form, pick_version=str(b))
    forged[f"version_{b}"] = "2"
    assert client.submit("/r/contact/merge", forged).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(RecordMerge)) == 0
    assert stored("contact", b)["deleted_at"] is None

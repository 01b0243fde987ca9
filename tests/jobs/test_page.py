"""The job page: its creator or an administrator sees it; others get a 404; anonymous
visitors are sent to sign in. Finished jobs stop htmx polling (status 286)."""

from __future__ import annotations

from tests.factories import make_user
from tests.jobs.test_runner import add_job


def test_only_the_creator_or_an_administrator_sees_a_job(app, login_as, admin, staff, failing):
    from crm.jobs import runner

    job_id = add_job("test.refuse", user=staff.id)
    runner.run(job_id)
    url = f"/admin/jobs/{job_id}"
    mine = login_as(staff).get(url)
    assert mine.status_code == 200
    html = mine.get_data(as_text=True)
    assert "Refused." in html and "X is wrong." in html and "Nothing was changed." in html
    assert login_as(admin).get(url).status_code == 200
    other = login_as(make_user("other@example.com"))
    assert other.get(url).status_code == 404
    assert other.get("/admin/jobs/999999").status_code == 404
    anonymous = app.test_client().get(url)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]


def test_a_finished_job_stops_the_polling(app, login_as, admin, echo):
    from crm.jobs import runner

    job_id = add_job("test.echo", user=admin.id)
    client = login_as(admin)
    waiting = client.get(f"/admin/jobs/{job_id}", headers={"HX-Request": "true"})
    assert waiting.status_code == 200 and "<html" not in waiting.get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in waiting.get_data(as_text=True)
    assert "Waiting for a worker" in waiting.get_data(as_text=True)
    runner.run(job_id)
    done = client.get(f"/admin/jobs/{job_id}", headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx: swap, then stop polling
    body = done.get_data(as_text=True)
    assert "<html" not in body and "hx-trigger" not in body and "Done." in body
    assert "HX-Request" in done.headers["Vary"]
    page = client.get(f"/admin/jobs/{job_id}")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)

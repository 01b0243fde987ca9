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


def test_the_jobs_list_shows_ones_own_jobs_and_an_administrator_every_job(
    app, login_as, admin, staff, echo, failing
):
    from crm.jobs import runner

    mine = add_job("test.refuse", user=staff.id)
    runner.run(mine)
    theirs = add_job("test.echo", user=admin.id)
    waiting = add_job("test.echo", user=staff.id)
    page = login_as(staff).get("/admin/jobs/").get_data(as_text=True)
    assert f'data-job="{mine}"' in page and f'data-job="{waiting}"' in page
    assert f'data-job="{theirs}"' not in page
    assert "Failed" in page and "Waiting" in page
    failed = login_as(staff).get("/admin/jobs/?status=failed").get_data(as_text=True)
    assert f'data-job="{mine}"' in failed and f'data-job="{waiting}"' not in failed
    every = login_as(admin).get("/admin/jobs/").get_data(as_text=True)
    assert all(f'data-job="{j}"' in every for j in (mine, theirs, waiting))
    client = login_as(staff)
    assert client.get("/admin/jobs/?status=nope").status_code == 400
    assert client.get(f"/admin/jobs/?before={2**40}").status_code == 400
    assert app.test_client().get("/admin/jobs/").status_code in (302, 303)


def test_the_jobs_list_pages_by_fifty(app, login_as, admin, echo):
    ids = [add_job("test.echo", user=admin.id) for _ in range(51)]
    client = login_as(admin)
    first = client.get("/admin/jobs/").get_data(as_text=True)
    assert f'data-job="{ids[-1]}"' in first and f'data-job="{ids[0]}"' not in first
    assert f"before={ids[1]}" in first
    older = client.get(f"/admin/jobs/?before={ids[1]}").get_data(as_text=True)
    assert f'data-job="{ids[0]}"' in older and "Older jobs" not in older

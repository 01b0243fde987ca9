"""The package import screen: upload -> plan page -> apply (a job, run at once in tests:
the queue is in immediate mode) -> job page, through the real routes (CSRF on, the
designer's configure gate)."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from crm.extensions import db
from crm.jobs.models import Job
from crm.metadata import specs
from crm.packages import staging
from crm.packages.models import PackageUpload
from crm.schema import service
from tests.factories import insert_rows
from tests.packages.test_apply import install, package, state

PLAN, APPLY = "/admin/packages/plan", "/admin/packages/apply"
CONFLICT = "/entities/deal/fields/amount/label"


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


def upload(client, data, filename="pkg.json", *, csrf=True):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    form = {"package": FileStorage(io.BytesIO(body), filename=filename)}
    if csrf:
        form["csrf_token"] = client.csrf_token()
    # Encoded in memory: the client would spool a big body to a file it never closes.
    boundary, payload = encode_multipart(form)
    return client.post(PLAN, data=payload, content_type=f"multipart/form-data; boundary={boundary}")


def hidden(html: str) -> dict:
    """The apply form's hidden inputs."""
    return {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("token", "content_hash", "plan")
    }


def staged_files(app) -> list[str]:
    """The tokens of the staged uploads (in the database, not files: the name is history)."""
    tokens = sorted(db.session.scalars(select(PackageUpload.token)))
    db.session.rollback()
    return tokens


def job_url(r) -> str:
    """The job page an apply redirected to."""
    assert r.status_code == 303, r.get_data(as_text=True)
    location = r.headers["Location"]
    assert re.search(r"/admin/jobs/\d+$", location), location
    return location


def conflicting_update():
    """The package installed, the amount's label changed here, and a v2 changing it too."""
    install()
    service.update_field("deal", "amount", label="Mine")
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Theirs"
    return v2


def test_the_packages_page_offers_the_upload(admin_client):
    html = admin_client.get("/admin/packages").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and f'action="{PLAN}"' in html
    assert 'type="file"' in html and 'name="csrf_token"' in html


def test_an_invalid_package_lists_every_problem_with_its_pointer(app, admin_client):
    bad = package()
    bad["entities"]["deal"]["fields"]["account"]["options"]["target"] = "nosuch"
    bad["entities"]["deal"]["fields"]["title"]["type"] = "hologram"
    before = state()
    r = upload(admin_client, bad)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "This package cannot be used" in html
    assert "/entities/deal/fields/account/options/target" in html
    assert "/entities/deal/fields/title/type" in html
    assert 'action="/admin/packages/apply"' not in html
    assert state() == before and staged_files(app) == []


@pytest.mark.parametrize(
    "body, words",
    [
        (b"{not json", "/"),
        (b"!!python/object:os.system {}", "/"),
        (b"x" * (10 * 1024 * 1024 + 1), "10 MB"),
    ],
    ids=["syntax", "yaml-tag", "too-big"],
)
def test_unreadable_files_are_refused_with_a_message(app, admin_client, body, words):
    r = upload(admin_client, body, "pkg.yaml")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "This package cannot be used" in html and words in html
    assert staged_files(app) == [] and specs.raw().entity("deal") is None


def test_no_file_chosen_says_so(admin_client):
    r = admin_client.submit(PLAN, {}, content_type="multipart/form-data")
    assert r.status_code == 400
    assert "Choose a package file to upload." in r.get_data(as_text=True)


def test_a_valid_package_is_planned_then_applied(app, admin_client):
    r = upload(admin_client, package())
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Plan: “b2b-sales” 1.0.0" in html
    assert 'id="pkg-entity-deal"' in html and 'id="pkg-entity-account"' in html
    assert "Added" in html and "fields/amount" in html
    assert specs.raw().entity("deal") is None  # planning changed nothing
    assert len(staged_files(app)) == 1

    form = hidden(html)
    r = admin_client.submit(APPLY, form)
    url = job_url(r)
    deal = specs.raw().entity("deal")
    assert deal is not None and deal.field("kind") is not None
    assert staged_files(app) == []  # discarded with the apply, in its transaction
    page = admin_client.get(url).get_data(as_text=True)
    assert "Applying the package “b2b-sales” 1.0.0" in page
    assert "Applied the package “b2b-sales” 1.0.0." in page
    assert 'href="/admin/"' in page and "Open the configuration" in page
    assert "hx-trigger" not in page  # finished: nothing polls
    home = admin_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/entities/deal"' in home  # in the designer's navigation

    # The same form again: the upload is gone, nothing happens twice.
    r = admin_client.submit(APPLY, form, follow_redirects=True)
    assert "That upload is no longer kept" in r.get_data(as_text=True)


def test_a_yaml_package_is_read_as_yaml(admin_client):
    r = upload(admin_client, yaml.safe_dump(package()).encode(), "starter.yml")
    assert r.status_code == 200 and 'id="pkg-entity-deal"' in r.get_data(as_text=True)
    r = admin_client.submit(APPLY, hidden(r.get_data(as_text=True)))
    job_url(r)
    assert specs.raw().entity("deal") is not None


def test_the_installations_own_package_plans_as_nothing_to_change(admin_client):
    install()
    html = upload(admin_client, package()).get_data(as_text=True)
    assert "Nothing would change" in html


def test_a_conflict_needs_a_choice(app, admin_client):
    v2 = conflicting_update()
    html = upload(admin_client, v2).get_data(as_text=True)
    assert f'name="choice:{CONFLICT}" value="mine"' in html
    assert f'name="choice:{CONFLICT}" value="theirs"' in html
    assert "Keep mine" in html and "Take theirs" in html
    form = hidden(html)

    before = state()
    r = admin_client.submit(APPLY, form)
    assert r.status_code == 400
    assert "Both sides changed this: choose keep mine or take theirs." in r.get_data(as_text=True)
    assert state() == before
    assert db.session.scalar(select(Job.id)) is None  # refused in the request: no job

    r = admin_client.submit(APPLY, {**form, f"choice:{CONFLICT}": "theirs"})
    job_url(r)
    assert specs.raw().entity("deal").field("amount").label == "Theirs"


def test_keep_mine_keeps_the_local_label(admin_client):
    v2 = conflicting_update()
    form = hidden(upload(admin_client, v2).get_data(as_text=True))
    r = admin_client.submit(APPLY, {**form, f"choice:{CONFLICT}": "mine"})
    job_url(r)
    assert specs.raw().entity("deal").field("amount").label == "Mine"


def test_destructive_steps_need_the_checkbox(admin_client):
    install()
    insert_rows("deal", {"title": "A", "code": "1"}, {"title": "B", "code": "2"})
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["code"]["unique"] = True
    html = upload(admin_client, v2).get_data(as_text=True)
    assert "Destructive" in html and 'name="allow_destructive"' in html
    assert "The field becomes unique" in html
    form = hidden(html)
    before = state()
    r = admin_client.submit(APPLY, form)
    assert r.status_code == 400 and "This step is destructive" in r.get_data(as_text=True)
    assert state() == before
    r = admin_client.submit(APPLY, {**form, "allow_destructive": "1"})
    job_url(r)
    assert specs.raw().entity("deal").field("code").unique


def test_a_plan_that_changed_since_it_was_read_is_refused(admin_client):
    install()
    v2 = package("2")
    v2["entities"]["deal"]["label_plural"] = "Opportunities"
    form = hidden(upload(admin_client, v2).get_data(as_text=True))
    service.update_field("deal", "amount", label="Changed meanwhile")
    before = state()
    r = admin_client.submit(APPLY, form)
    assert r.status_code == 409
    assert "The configuration changed since the plan was made" in r.get_data(as_text=True)
    assert state() == before
    assert specs.raw().entity("deal").label_plural == "Deals"


def test_the_client_cannot_swap_the_package_or_the_plan(app, admin_client):
    form = hidden(upload(admin_client, package()).get_data(as_text=True))
    before = state()
    r = admin_client.submit(APPLY, {**form, "content_hash": "0" * 64}, follow_redirects=True)
    assert "The package does not match the one planned" in r.get_data(as_text=True)
    r = admin_client.submit(APPLY, {**form, "plan": "0" * 64})
    assert r.status_code == 409
    for token in ("../../secret_key", "", "x" * 32):
        r = admin_client.submit(APPLY, {**form, "token": token}, follow_redirects=True)
        assert "That upload is no longer kept" in r.get_data(as_text=True)
    assert state() == before


def test_csrf_is_required(app, admin_client):
    r = upload(admin_client, package(), csrf=False)
    assert r.status_code == 400 and staged_files(app) == []
    form = hidden(upload(admin_client, package()).get_data(as_text=True))
    before = state()
    r = admin_client.post(APPLY, data=form)  # no token
    assert r.status_code == 400
    assert state() == before and specs.raw().entity("deal") is None


def test_someone_without_the_configure_right_is_refused(app, login_as, staff, admin_client):
    denied = login_as(staff)
    r = upload(denied, package())
    assert r.status_code == 403 and staged_files(app) == []
    form = hidden(upload(admin_client, package()).get_data(as_text=True))
    before = state()
    r = denied.submit(APPLY, form)
    assert r.status_code == 403
    assert state() == before and specs.raw().entity("deal") is None


def test_stale_uploads_are_swept(app, admin_client):
    form = hidden(upload(admin_client, package()).get_data(as_text=True))
    (token,) = staged_files(app)
    row = db.session.scalar(select(PackageUpload).where(PackageUpload.token == token))
    row.created_at -= timedelta(seconds=staging.MAX_AGE + 5)
    db.session.commit()
    r = admin_client.submit(APPLY, form, follow_redirects=True)  # expired: not applied
    assert "That upload is no longer kept" in r.get_data(as_text=True)
    upload(admin_client, package())
    assert token not in staged_files(app) and len(staged_files(app)) == 1


def test_another_users_upload_is_not_found(app, login_as, admin_client):
    """A staged upload is its uploader's: another administrator's token is a 404, and
    nothing is applied or queued."""
    from tests.factories import make_user

    form = hidden(upload(admin_client, package()).get_data(as_text=True))
    other = login_as(make_user("other-admin@example.com", is_admin=True))
    before = state()
    r = other.submit(APPLY, form)
    assert r.status_code == 404
    assert state() == before and specs.raw().entity("deal") is None
    assert db.session.scalar(select(Job.id)) is None
    assert len(staged_files(app)) == 1  # still the uploader's to apply
    job_url(admin_client.submit(APPLY, form))
    assert specs.raw().entity("deal") is not None

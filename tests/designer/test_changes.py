"""The configuration change log: entries in words, the entity filter, pages, access."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from crm.extensions import db
from crm.metadata import list_views as lv
from crm.metadata.models import ConfigChange
from crm.schema import service
from crm.timeutil import utcnow


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


@pytest.fixture
def account(app, admin):
    return service.create_entity(
        "account",
        "Account",
        "Accounts",
        fields=[
            {"key": "name", "type": "text", "label": "Name"},
            {
                "key": "stage",
                "type": "picklist",
                "label": "Stage",
                "choices": [{"key": "new", "label": "New"}, {"key": "won", "label": "Won"}],
            },
        ],
        actor_id=admin.id,
    )


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


def text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


class TestEntries:
    def test_schema_changes_appear_in_words(self, admin_client, admin, account):
        service.update_field(
            "account", "name", label="Company name", required=True, actor_id=admin.id
        )
        service.update_field(
            "account",
            "stage",
            actor_id=admin.id,
            choices=[
                {"key": "new", "label": "Fresh"},
                {"key": "won", "label": "Won"},
                {"key": "lost", "label": "Lost"},
            ],
        )
        service.archive_field("account", "stage", actor_id=admin.id)
        service.update_entity("account", label_plural="Clients", actor_id=admin.id)

        r = admin_client.get("/admin/changes")
        assert r.status_code == 200
        entries = [text(row) for row in rows(r.text)]
        assert len(entries) == 7
        assert all("Ada Admin" in e for e in entries)
        newest, archived, choices, renamed, *created = entries
        assert "Changed entity" in newest and "plural label: Accounts → Clients" in newest
        assert "Archived field" in archived and "Stage stage" in archived
        assert "Changed field" in choices
        assert "choices added: Lost" in choices and "choice renamed: New → Fresh" in choices
        assert "Changed field" in renamed
        assert "label: Name → Company name" in renamed and "required: no → yes" in renamed
        assert "position" not in renamed and "help text" not in renamed  # unchanged keys
        assert "Added field" in created[0] and "type: Picklist" in created[0]
        assert "Added field" in created[1] and "type: Text" in created[1]
        assert "Created entity" in created[2]
        # when, in the user's language and time zone (English, UTC here)
        assert re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d\W[AP]M", entries[0])

    def test_system_changes_say_system(self, admin_client, app):
        service.create_entity("thing", "Thing")
        (entry,) = rows(admin_client.get("/admin/changes").text)
        assert '<span class="ch-system">system</span>' in entry

    def test_a_deleted_users_changes_still_show(self, admin_client, app):
        db.session.add(
            ConfigChange(user_id=424242, version=1, entity_key="ghost", action="create_entity")
        )
        db.session.commit()
        (entry,) = rows(admin_client.get("/admin/changes").text)
        assert "user #424242" in entry and "<code>ghost</code>" in entry

    def test_list_view_changes_are_logged_in_words(self, admin_client, admin, account):
        saved = lv.save_shared_view(
            "account",
            {
                "name": "Won deals",
                "columns": ["name"],
                "filters": [{"field": "stage", "op": "in", "value": ["won"]}],
            },
            actor_id=admin.id,
        )
        lv.save_shared_view(
            "account",
            {"name": "Won deals", "columns": ["name", "stage"], "filters": []},
            actor_id=admin.id,
            view_id=saved.id,
        )
        lv.delete_shared_view(saved.id, actor_id=admin.id)
        deleted, changed, added, *_ = [
            text(r) for r in rows(admin_client.get("/admin/changes").text)
        ]
        assert "Deleted list view" in deleted and "name: Won deals" in deleted
        assert "Added list view" in added and "columns: Name" in added
        assert "Changed list view" in changed
        assert "columns: Name → Name, Stage" in changed
        assert "filters: Stage is one of Won → —" in changed

    def test_unknown_actions_and_odd_values_do_not_break_the_page(self, admin_client, app):
        db.session.add(
            ConfigChange(
                user_id=None,
                version=1,
                entity_key="x",
                action="frobnicate_widget",
                before={"a": [1, 2], "b": {"c": None}, "d": "x" * 500},
                after={"a": [1, 2, 3], "b": {"c": True}, "d": "y"},
            )
        )
        db.session.commit()
        (entry,) = [text(r) for r in rows(admin_client.get("/admin/changes").text)]
        assert "Frobnicate widget" in entry
        assert "a: 1, 2 → 1, 2, 3" in entry and "b: c — → c yes" in entry
        assert "…" in entry


class TestFilterAndPages:
    def test_entity_filter(self, admin_client, account):
        service.create_entity("lead", "Lead", "Leads")
        html = admin_client.get("/admin/changes?entity=lead").text
        entries = rows(html)
        assert len(entries) == 1 and ">Leads</a>" in entries[0]
        assert 'aria-current="page">History</a>' in html  # the entity tabs
        assert '<option value="lead" selected>' in html
        all_entries = rows(admin_client.get("/admin/changes").text)
        assert len(all_entries) == 4
        assert 'aria-current="page">History</a>' not in admin_client.get("/admin/changes").text

    def test_entity_filter_with_htmx_is_a_fragment(self, admin_client, account):
        r = admin_client.hx_get("/admin/changes?entity=account")
        assert r.status_code == 200
        assert "<html" not in r.text and "HX-Request" in r.headers["Vary"]
        assert r.text.lstrip().startswith('<div id="changes-main">')
        assert len(rows(r.text)) == 3
        assert 'hx-push-url="true"' in r.text
        # a history restore wants the whole page
        r = admin_client.get(
            "/admin/changes?entity=account",
            headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
        )
        assert "<html" in r.text

    @pytest.mark.parametrize("key", ["nope", "<script>alert(1)</script>", "x" * 500, "{{7*7}}"])
    def test_unknown_entity_is_an_empty_result_with_a_message(self, admin_client, account, key):
        r = admin_client.get("/admin/changes", query_string={"entity": key})
        assert r.status_code == 200
        assert rows(r.text) == []
        assert "There is no entity with the key" in r.text
        assert "<script>alert(1)</script>" not in r.text
        for attr in re.findall(r'hx-[a-z]+="([^"]*)"', r.text):
            assert "script" not in attr and "7*7" not in attr and "%7B" not in attr

    def test_a_purged_entitys_history_is_still_shown(self, admin_client, admin, account):
        service.archive_entity("account", actor_id=admin.id)
        service.purge_entity("account", confirm_key="account", actor_id=admin.id)
        html = admin_client.get("/admin/changes?entity=account").text
        assert "no longer exists" in html
        assert "Purged entity" in rows(html)[0]

    def test_pages_of_fifty_newest_first(self, admin_client, app):
        start = utcnow() - timedelta(days=1)
        for n in range(120):
            db.session.add(
                ConfigChange(
                    at=start + timedelta(minutes=n),
                    user_id=None,
                    version=n,
                    entity_key="thing",
                    field_key=f"f{n}",
                    action="add_field",
                )
            )
        db.session.commit()

        def keys(url: str) -> list[int]:
            html = admin_client.get(url).text
            return [int(k) for k in re.findall(r"<code>f(\d+)</code>", html)]

        first = keys("/admin/changes")
        assert first == list(range(119, 69, -1))
        assert keys("/admin/changes?page=2") == list(range(69, 19, -1))
        assert keys("/admin/changes?page=3") == list(range(19, -1, -1))
        html = admin_client.get("/admin/changes?page=2").text
        assert 'rel="prev" href="/admin/changes?page=1"' in html
        assert 'rel="next" href="/admin/changes?page=3"' in html
        assert 'rel="next"' not in admin_client.get("/admin/changes?page=3").text
        assert 'rel="prev"' not in admin_client.get("/admin/changes").text
        assert keys("/admin/changes?entity=thing&page=2") == list(range(69, 19, -1))
        more = admin_client.get("/admin/changes?page=9").text
        assert "No more changes" in more and rows(more) == []

    @pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "", "99999999999999999999"])
    def test_odd_page_numbers_never_fail(self, admin_client, account, page):
        r = admin_client.get(f"/admin/changes?page={page}")
        assert r.status_code == 200


class TestAccess:
    def test_staff_gets_403(self, login_as, staff, account):
        client = login_as(staff)
        assert client.get("/admin/changes").status_code == 403
        assert client.get("/admin/changes?entity=account").status_code == 403
        assert client.hx_get("/admin/changes").status_code == 403

    def test_signed_out_is_sent_to_login(self, client, app):
        r = client.get("/admin/changes")
        assert r.status_code == 302 and "/login" in r.headers["Location"]

    def test_sidebar_link_is_current(self, admin_client, app):
        html = admin_client.get("/admin/changes").text
        assert 'href="/admin/changes" aria-current="page">Change log</a>' in html


def test_filter_values_on_fields_hidden_from_the_reader_are_hidden(login_as, admin, account):
    """A configurer who may not read Stage sees that a view filters on it, not by what."""
    from crm.access import policy as P
    from tests.factories import make_role, make_user

    make_role("Designer", {("*", "read"): P.ALL}, {("account", "stage"): P.HIDDEN})
    db.session.commit()
    from crm.access.models import Role

    db.session.scalar(db.select(Role).where(Role.name == "Designer")).can_configure = True
    db.session.commit()
    designer = make_user("designer@example.com", roles=("Designer",))
    saved = lv.save_shared_view(
        "account",
        {
            "name": "Secret",
            "columns": ["name"],
            "filters": [
                {"field": "stage", "op": "in", "value": ["won"]},
                {"field": "name", "op": "contains", "value": "Acme"},
            ],
        },
        actor_id=admin.id,
    )
    lv.save_shared_view(
        "account",
        {"name": "Secret", "columns": ["name"], "filters": []},
        actor_id=admin.id,
        view_id=saved.id,
    )
    page = login_as(designer).get("/admin/changes")
    assert page.status_code == 200
    seen = " ".join(text(r) for r in rows(page.text))
    assert "Stage: (hidden)" in seen and "Won" not in seen
    assert "Name contains “Acme”" in seen  # a field they may read keeps its value
    shown = " ".join(text(r) for r in rows(login_as(admin).get("/admin/changes").text))
    assert "Stage is one of Won" in shown and "(hidden)" not in shown

"""Designer screens for entities and fields, driven as an administrator would."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.metadata import specs
from crm.metadata.models import ConfigChange, EntityRow, FieldRow
from crm.schema import service
from tests.factories import insert_rows
from tests.schema.helpers import columns, snapshot, tables


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


@pytest.fixture
def member(app):
    return service.create_entity(
        "member",
        "Member",
        fields=[
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "points", "type": "integer", "label": "Points"},
        ],
    )


class TestAccess:
    PAGES = [
        "/admin/",
        "/admin/entities/new",
        "/admin/entities/member",
        "/admin/entities/member/edit",
        "/admin/entities/member/fields/new",
        "/admin/entities/member/fields/new?type=picklist",
        "/admin/entities/member/fields/name",
    ]

    @pytest.mark.parametrize("url", PAGES)
    def test_staff_gets_403(self, login_as, staff, member, url):
        assert login_as(staff).get(url).status_code == 403

    @pytest.mark.parametrize("url", PAGES)
    def test_admin_gets_the_page(self, admin_client, member, url):
        assert admin_client.get(url).status_code == 200

    @pytest.mark.parametrize(
        ("url", "data"),
        [
            ("/admin/entities/new", {"label_singular": "Lead", "key": "lead"}),
            ("/admin/entities/member/edit", {"label_singular": "Hacked"}),
            ("/admin/entities/member/archive", {}),
            (
                "/admin/entities/member/fields/new?type=text",
                {"type": "text", "label": "X", "key": "x"},
            ),
            ("/admin/entities/member/fields/name", {"type": "text", "label": "Hacked"}),
            ("/admin/entities/member/fields/name/archive", {}),
        ],
    )
    def test_staff_writes_are_refused_and_change_nothing(self, login_as, staff, member, url, data):
        before = snapshot()
        assert login_as(staff).submit(url, data).status_code == 403
        assert snapshot() == before

    def test_signed_out_is_sent_to_login(self, client, member):
        r = client.get("/admin/")
        assert r.status_code == 302 and "/login" in r.headers["Location"]


class TestEntities:
    def test_home_lists_entities_with_counts(self, admin_client, member):
        insert_rows("member", {"name": "Ana"}, {"name": "Bo"})
        html = admin_client.get("/admin/").data.decode()
        assert "Members" in html and "<code>member</code>" in html
        assert '<td class="num">2</td>' in html  # fields
        assert '<td class="num">2</td>' in html  # records

    def test_create_with_a_chinese_label_suggests_a_latin_key(self, admin_client):
        r = admin_client.submit(
            "/admin/entities/new",
            {"label_singular": "会员", "label_plural": "会员们", "color": "teal"},
        )
        assert r.status_code == 303
        assert r.headers["Location"] == "/admin/entities/hui_yuan"
        spec = specs.current().entity("hui_yuan")
        assert spec.label_singular == "会员" and spec.color == "teal"
        assert "x_hui_yuan" in tables()

    def test_inline_key_check_is_a_fragment(self, admin_client, member):
        r = admin_client.hx_post("/admin/entities/new/check", {"label_singular": "Member"})
        html = r.data.decode()
        assert r.status_code == 200 and "<html" not in html
        assert "HX-Request" in r.headers["Vary"]
        assert 'value="member_2"' in html  # member is taken
        r = admin_client.hx_post(
            "/admin/entities/new/check", {"label_singular": "X", "key": "select", "key_edited": "1"}
        )
        assert "reserved word" in r.data.decode()
        r = admin_client.hx_post(
            "/admin/entities/new/check", {"label_singular": "X", "key": "member", "key_edited": "1"}
        )
        assert "already exists" in r.data.decode()

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"label_singular": "Lead", "key": "Lead", "key_edited": "1"}, "must be lowercase"),
            ({"label_singular": "Lead", "key": "order", "key_edited": "1"}, "reserved word"),
            ({"label_singular": "Lead", "key": "member", "key_edited": "1"}, "already exists"),
            ({"label_singular": "Lead", "key": "x; drop", "key_edited": "1"}, "only lowercase"),
            ({"label_singular": "", "key": "lead"}, "This field is required"),
            ({"label_singular": "Lead", "color": "#ff0000"}, "Not a valid choice"),
        ],
    )
    def test_bad_input_is_shown_by_the_field_and_nothing_is_created(
        self, admin_client, member, data, message
    ):
        before = snapshot()
        r = admin_client.submit("/admin/entities/new", data)
        assert r.status_code == 400
        assert message in r.data.decode()
        assert snapshot() == before

    def test_hostile_labels_are_shown_as_text(self, admin_client):
        label = "<script>alert(1)</script>{{7*7}}"
        r = admin_client.submit("/admin/entities/new", {"label_singular": label, "key": "evil"})
        assert r.status_code == 303
        html = admin_client.get("/admin/entities/evil").data.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;{{7*7}}" in html
        assert "49" not in html.split("{{7*7}}")[0][-5:]

    def test_edit_labels_and_naming_field(self, admin_client, member):
        r = admin_client.submit(
            "/admin/entities/member/edit",
            {"label_singular": "Miembro", "label_plural": "Miembros", "name_field": "name"},
        )
        assert r.status_code == 303
        spec = specs.current().entity("member")
        assert (spec.label_plural, spec.name_field) == ("Miembros", "name")

    def test_archive_restore_and_purge(self, admin_client, member):
        insert_rows("member", {"name": "Ana"})
        assert admin_client.submit("/admin/entities/member/archive").status_code == 303
        assert specs.current().entity("member") is None
        assert "x_member" in tables()
        assert admin_client.submit("/admin/entities/member/restore").status_code == 303
        assert specs.current().entity("member") is not None
        admin_client.submit("/admin/entities/member/archive")
        wrong = admin_client.submit("/admin/entities/member/purge", {"confirm_key": "Member"})
        assert wrong.status_code == 303 and "x_member" in tables()
        page = admin_client.get("/admin/entities/member").data.decode()
        assert "Type the entity key" in page
        from crm.metadata import layouts, list_views
        from crm.metadata.models import LayoutRow, ListViewRow

        admin_client.submit("/admin/entities/member/restore")
        layouts.save_layout("member", "quick", {"fields": ["name"]}, actor_id=None)
        list_views.save_shared_view("member", {"name": "All", "columns": ["name"]}, actor_id=None)
        admin_client.submit("/admin/entities/member/archive")
        admin_client.submit("/admin/entities/member/purge", {"confirm_key": "member"})
        assert "x_member" not in tables()
        leftovers = [
            db.session.scalar(select(func.count()).select_from(m).where(m.entity_key == "member"))
            for m in (LayoutRow, ListViewRow)
        ]
        assert leftovers == [0, 0]

    def test_unknown_entity_is_404(self, admin_client):
        assert admin_client.get("/admin/entities/nothing").status_code == 404
        assert admin_client.get("/admin/entities/../etc").status_code == 404


class TestFields:
    def test_type_chooser_lists_every_type(self, admin_client, member):
        html = admin_client.get("/admin/entities/member/fields/new").data.decode()
        for label in (
            "Text",
            "Long text",
            "Yes/No",
            "Picklist",
            "Lookup",
            "Auto-number",
            "Currency",
        ):
            assert label in html, label

    def test_add_a_picklist_with_values_in_order(self, admin_client, member):
        r = admin_client.submit(
            "/admin/entities/member/fields/new?type=picklist",
            {
                "type": "picklist",
                "label": "Level 等级",
                "choice_key": ["", "", ""],
                "choice_label": ["Gold", "Silver", "黄金 Plus"],
                "choice_color": ["amber", "gray", "violet"],
                "choice_state": ["active", "active", "active"],
            },
        )
        assert r.status_code == 303, r.data.decode()[-3000:]
        field = specs.current().entity("member").field("level_deng_ji")
        assert field.label == "Level 等级"
        assert [(c.key, c.label, c.color) for c in field.choices] == [
            ("gold", "Gold", "amber"),
            ("silver", "Silver", "gray"),
            ("huang_jin_plus", "黄金 Plus", "violet"),
        ]
        assert "level_deng_ji" in columns("x_member")

    def test_reorder_rename_recolour_and_archive_values(self, admin_client, member):
        service.add_field(
            "member",
            "level",
            "picklist",
            "Level",
            choices=[{"key": "gold", "label": "Gold"}, {"key": "silver", "label": "Silver"}],
        )
        schema_before = snapshot()[0]
        r = admin_client.submit(
            "/admin/entities/member/fields/level",
            {
                "type": "picklist",
                "label": "Level",
                "choice_key": ["silver", "gold", ""],
                "choice_label": ["Argent", "Gold", "Bronze"],
                "choice_color": ["gray", "amber", "brown"],
                "choice_state": ["active", "archived", "active"],
            },
        )
        assert r.status_code == 303
        field = specs.current().entity("member").field("level")
        assert [c.key for c in field.choices] == ["silver", "gold", "bronze"]
        assert field.choice("silver").label == "Argent"
        assert [c.key for c in field.active_choices] == ["silver", "bronze"]
        assert snapshot()[0] == schema_before  # no table change

    def test_add_lookup_and_currency_fields(self, admin_client, member):
        service.create_entity("club", "Club")
        r = admin_client.submit(
            "/admin/entities/member/fields/new?type=lookup",
            {"type": "lookup", "label": "Club", "target": "club", "on_delete": "clear"},
        )
        assert r.status_code == 303
        r = admin_client.submit(
            "/admin/entities/member/fields/new?type=currency",
            {"type": "currency", "label": "Fee", "decimal_places": "2", "currency": "jpy"},
        )
        assert r.status_code == 303
        spec = specs.current().entity("member")
        assert spec.field("club").option("target") == "club"
        assert spec.field("fee").option("currency") == "JPY"

    def test_field_errors_are_shown_and_nothing_changes(self, admin_client, member):
        before = snapshot()
        r = admin_client.submit(
            "/admin/entities/member/fields/new?type=text",
            {"type": "text", "label": "Name again", "key": "name", "key_edited": "1"},
        )
        assert r.status_code == 400 and "already used" in r.data.decode()
        r = admin_client.submit(
            "/admin/entities/member/fields/new?type=currency",
            {"type": "currency", "label": "Fee", "currency": "EURO"},
        )
        assert r.status_code == 400
        r = admin_client.submit(
            "/admin/entities/member/fields/new?type=integer",
            {"type": "integer", "label": "Age", "default": "twelve"},
        )
        assert r.status_code == 400 and "whole number" in r.data.decode()
        assert snapshot() == before

    def test_type_change_previews_then_needs_confirmation(self, admin_client, member):
        insert_rows("member", {"name": "A", "points": 5}, {"name": "B", "points": 7})
        form = {"type": "decimal", "label": "Points", "decimal_places": "2"}
        r = admin_client.submit("/admin/entities/member/fields/points", form)
        assert r.status_code == 200
        html = r.data.decode()
        assert "Change the type to Decimal" in html and "All 2 stored values convert" in html
        assert specs.current().entity("member").field("points").type == "integer"
        r = admin_client.submit(
            "/admin/entities/member/fields/points", {**form, "confirm_type": "decimal"}
        )
        assert r.status_code == 303
        assert specs.current().entity("member").field("points").type == "decimal"

    def test_type_change_with_bad_values_shows_the_count(self, admin_client, member):
        insert_rows("member", {"name": "12"}, {"name": "Ana"}, {"name": "Bo"})
        r = admin_client.submit(
            "/admin/entities/member/fields/name", {"type": "integer", "label": "Name"}
        )
        assert "2 of 3 values would not convert" in r.data.decode()
        assert "Change type and save" not in r.data.decode()
        assert specs.current().entity("member").field("name").type == "text"

    def test_type_outside_the_safe_table_is_not_offered_or_accepted(self, admin_client, member):
        html = admin_client.get("/admin/entities/member/fields/points").data.decode()
        assert 'value="date"' not in html
        before = snapshot()
        r = admin_client.submit(
            "/admin/entities/member/fields/points",
            {"type": "date", "label": "Points", "confirm_type": "date"},
        )
        assert r.status_code == 400  # a refused form comes back with its errors
        assert snapshot() == before

    def test_archive_restore_purge_field(self, admin_client, member):
        insert_rows("member", {"name": "Ana", "points": 3})
        assert (
            admin_client.submit("/admin/entities/member/fields/points/archive").status_code == 303
        )
        assert specs.current().entity("member").field("points") is None
        admin_client.submit("/admin/entities/member/fields/points/restore")
        assert specs.current().entity("member").field("points") is not None
        admin_client.submit("/admin/entities/member/fields/points/archive")
        admin_client.submit("/admin/entities/member/fields/points/purge", {"confirm_key": "nope"})
        assert "points" in columns("x_member")
        admin_client.submit("/admin/entities/member/fields/points/purge", {"confirm_key": "points"})
        assert "points" not in columns("x_member")

    def test_inline_field_key_check(self, admin_client, member):
        r = admin_client.hx_post("/admin/entities/member/fields/check", {"label": "Name"})
        assert 'value="name_2"' in r.data.decode()
        assert "<html" not in r.data.decode()

    def test_every_change_is_logged_with_the_admin(self, admin_client, admin, member):
        admin_client.submit(
            "/admin/entities/member/fields/new?type=email", {"type": "email", "label": "E-mail"}
        )
        entry = db.session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc())).first()
        assert (entry.action, entry.field_key, entry.user_id) == ("add_field", "e_mail", admin.id)

    def test_nothing_half_created_on_refusal(self, admin_client, member):
        counts = lambda: (  # noqa: E731
            db.session.scalar(select(func.count()).select_from(EntityRow)),
            db.session.scalar(select(func.count()).select_from(FieldRow)),
        )
        before = counts()
        admin_client.submit(
            "/admin/entities/member/fields/new?type=lookup",
            {"type": "lookup", "label": "X", "target": "nothing"},
        )
        assert counts() == before

"""List views: the service's rules, and the designer screens that publish shared views."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.errors import Forbidden, NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import list_views as lv
from crm.metadata import specs
from crm.metadata.models import ConfigChange, ListViewRow
from crm.schema import service
from tests.factories import make_user

HOSTILE = ["<script>alert(1)</script>", "{{7*7}}"]


@pytest.fixture
def account(app):
    return service.create_entity(
        "account",
        "Account",
        fields=[
            {"key": "name", "type": "text", "label": "Name"},
            {
                "key": "stage",
                "type": "picklist",
                "label": "Stage",
                "choices": [
                    {"key": "new", "label": "New"},
                    {"key": "won", "label": "Won"},
                    {"key": "lost", "label": "Lost"},
                ],
            },
            {"key": "amount", "type": "currency", "label": "Amount"},
            {"key": "notes", "type": "long_text", "label": "Notes"},
            {
                "key": "tags",
                "type": "multi_picklist",
                "label": "Tags",
                "choices": [{"key": "vip", "label": "VIP"}, {"key": "eu", "label": "EU"}],
            },
            {"key": "closes", "type": "date", "label": "Closes"},
            {"key": "active", "type": "boolean", "label": "Active"},
            {"key": "website", "type": "url", "label": "Website"},
        ],
        name_field="name",
    )


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


def view_data(**overrides) -> dict:
    data = {
        "name": "Open deals",
        "columns": ["name", "stage", "amount"],
        "sort": [["amount", "desc"]],
        "filters": [{"field": "stage", "op": "in", "value": ["won", "lost"]}],
        "is_default": False,
    }
    return {**data, **overrides}


def count_views() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ListViewRow))


def count_changes(action: str | None = None) -> int:
    db.session.rollback()
    query = select(func.count()).select_from(ConfigChange)
    if action:
        query = query.where(ConfigChange.action == action)
    return db.session.scalar(query)


def version() -> int:
    db.session.rollback()
    return specs.read_version()


def errors_of(data: dict, *, actor_id=None, view_id=None) -> dict[str, list[str]]:
    before = count_views(), version(), count_changes()
    with pytest.raises(ValidationFailed) as info:
        lv.save_shared_view("account", data, actor_id=actor_id, view_id=view_id)
    assert (count_views(), version(), count_changes()) == before, "something was saved"
    return info.value.errors


# --- the service ------------------------------------------------------------------------------


class TestReading:
    def test_built_in_view_shows_the_naming_field_and_five_more(self, account, admin):
        view = lv.default_view("account", admin.id)
        assert view.id is None and view.shared and view.is_default
        assert view.columns == ("name", "stage", "amount", "notes", "tags", "closes")
        assert view.sort == (("updated_at", "desc"),)
        assert view.filters == ()

    def test_built_in_view_without_fields(self, app):
        service.create_entity("thing", "Thing")
        assert lv.default_view("thing", None).columns == ("created_at", "updated_at")

    def test_unknown_entity_is_not_found(self, app):
        with pytest.raises(NotFound):
            lv.list_views("nope", None)
        with pytest.raises(NotFound):
            lv.default_view("nope", None)

    def test_saved_view_reads_back_normalised(self, account, admin):
        saved = lv.save_shared_view(
            "account",
            view_data(
                name="  Big   deals ",
                sort=[["amount", "desc"], {"field": "name", "dir": "asc"}],
                filters=[
                    {"field": "stage", "op": "in", "value": "won, lost"},
                    {"field": "amount", "op": "between", "value": ["1 000", ""]},
                    {"field": "created_at", "op": "relative", "value": "last_7_days"},
                    {"field": "created_at", "op": "after", "value": "2025-03-01"},
                    {"field": "owner_id", "op": "is_me", "value": "ignored"},
                    {"field": "website", "op": "contains", "value": "example"},
                    {"field": "tags", "op": "contains", "value": "vip"},
                    {"field": "active", "op": "is_true"},
                ],
            ),
            actor_id=admin.id,
        )
        view = lv.get_view(saved.id, None)
        assert view == saved
        assert view.name == "Big deals" and view.shared and view.owner_id is None
        assert view.sort == (("amount", "desc"), ("name", "asc"))
        assert view.filters == (
            lv.FilterSpec("stage", "in", ("won", "lost")),
            lv.FilterSpec("amount", "between", ("1000.00", "")),
            lv.FilterSpec("created_at", "relative", "last_7_days"),
            lv.FilterSpec("created_at", "after", "2025-03-01"),
            lv.FilterSpec("owner_id", "is_me", None),
            lv.FilterSpec("website", "contains", "example"),
            lv.FilterSpec("tags", "contains", "vip"),
            lv.FilterSpec("active", "is_true", None),
        )
        assert view.to_data()["filters"][0] == {
            "field": "stage",
            "op": "in",
            "value": ["won", "lost"],
        }

    def test_stored_filters_work_with_build_filter(self, account, admin):
        from crm.metadata import types

        saved = lv.save_shared_view(
            "account",
            view_data(
                filters=[
                    {"field": "stage", "op": "in", "value": ["won"]},
                    {"field": "amount", "op": "between", "value": ["10", "20"]},
                    {"field": "created_at", "op": "relative", "value": "this_month"},
                    {"field": "owner_id", "op": "is_me"},
                ]
            ),
            actor_id=admin.id,
        )
        table = specs.current().table("account")
        entity = specs.current().entity("account")
        dialect = db.session.get_bind().dialect.name
        for f in saved.filters:
            field = lv.field_for(entity, f.field)
            cond = types.build_filter(
                field, table.c[f.field], f.op, f.value, dialect_name=dialect, user_id=admin.id
            )
            db.session.execute(select(func.count()).select_from(table).where(cond))

    def test_archived_fields_silently_drop_out(self, account, admin):
        saved = lv.save_shared_view(
            "account",
            view_data(
                columns=["name", "stage", "amount"],
                sort=[["stage", "asc"], ["amount", "desc"]],
                filters=[
                    {"field": "stage", "op": "in", "value": ["won"]},
                    {"field": "amount", "op": "gt", "value": "5"},
                ],
            ),
            actor_id=admin.id,
        )
        service.archive_field("account", "stage", actor_id=admin.id)
        view = lv.get_view(saved.id, admin.id)
        assert view.columns == ("name", "amount")
        assert view.sort == (("amount", "desc"),)
        assert view.filters == (lv.FilterSpec("amount", "gt", "5.00"),)
        assert [v.columns for v in lv.list_views("account", admin.id)] == [("name", "amount")]
        service.restore_field("account", "stage", actor_id=admin.id)
        assert lv.get_view(saved.id, admin.id).columns == ("name", "stage", "amount")

    def test_archived_choice_keeps_a_stored_filter(self, account, admin):
        saved = lv.save_shared_view("account", view_data(), actor_id=admin.id)
        service.update_field(
            "account",
            "stage",
            actor_id=admin.id,
            choices=[
                {"key": "new", "label": "New"},
                {"key": "won", "label": "Won"},
                {"key": "lost", "label": "Lost", "archived": True},
            ],
        )
        view = lv.get_view(saved.id, None)
        assert view.filters == (lv.FilterSpec("stage", "in", ("won", "lost")),)
        # ... but a new view cannot pick it
        errors = errors_of(view_data(name="Other"), actor_id=admin.id)
        assert errors == {"filters.0": ["Stage: “lost” is not one of the choices."]}

    def test_a_view_whose_columns_all_went_falls_back_to_the_built_in_columns(self, account):
        saved = lv.save_shared_view("account", view_data(columns=["stage"]), actor_id=None)
        service.archive_field("account", "stage")
        assert lv.get_view(saved.id, None).columns == lv.builtin_columns(
            specs.current().entity("account")
        )

    def test_describe(self, account):
        entity = specs.current().entity("account")
        f = lv.FilterSpec
        assert lv.describe_filter(entity, f("stage", "in", ("won", "lost"))) == (
            "Stage is one of Won, Lost"
        )
        assert lv.describe_filter(entity, f("amount", "between", ("10.00", ""))) == (
            "Amount is at least €10.00"
        )
        assert lv.describe_filter(entity, f("closes", "between", ("", "2025-01-31"))) == (
            "Closes is on or before Jan 31, 2025"
        )
        assert lv.describe_filter(entity, f("created_at", "relative", "last_7_days")) == (
            "Created: Last 7 days"
        )
        assert lv.describe_filter(entity, f("owner_id", "eq", "7"), {7: "Ada"}) == "Owner is Ada"
        assert lv.describe_filter(entity, f("website", "contains", "x")) == "Website contains “x”"
        assert lv.describe_filter(entity, f("active", "is_true")) == "Active is yes"
        assert lv.describe_sort(entity, (("updated_at", "desc"), ("name", "asc"))) == (
            "Last changed (newest first), Name (A to Z)"
        )


class TestRules:
    def test_every_problem_is_reported_at_once_and_nothing_is_saved(self, account, admin):
        errors = errors_of(
            {
                "name": "   ",
                "columns": ["nope", "name", "name"],
                "sort": [["notes", "asc"], ["stage", "sideways"], ["tags", "desc"]],
                "filters": [
                    {"field": "stage", "op": "contains", "value": "x"},
                    {"field": "amount", "op": "gt", "value": "lots"},
                    {"field": "closes", "op": "between", "value": ["2025-02-01", "2025-01-01"]},
                    {"field": "closes", "op": "relative", "value": "someday"},
                    {"field": "zzz", "op": "eq", "value": "1"},
                    {"field": "stage", "op": "in", "value": []},
                    {"field": "", "op": ""},
                ],
            },
            actor_id=admin.id,
        )
        assert errors == {
            "name": ["Enter a name for the view."],
            "columns": ["There is no field “nope” to show.", "“Name” is chosen twice."],
            "sort": [
                "“Notes” cannot be used for sorting (long text field).",
                "“Stage”: choose ascending or descending.",
                "“Tags” cannot be used for sorting (multi-select picklist field).",
            ],
            "filters.0": ["Stage: “contains” is not a condition for this field."],
            "filters.1": ["Amount: Enter a number, such as 1234.50."],
            "filters.2": ["Closes: The first value must not be after the second."],
            "filters.3": ["Closes: Choose a period."],
            "filters.4": ["There is no field “zzz” to filter by."],
            "filters.5": ["Stage: Choose at least one value."],
            "filters.6": ["Choose a field to filter by."],
        }

    @pytest.mark.parametrize(
        ("overrides", "where", "message"),
        [
            ({"name": "x" * 101}, "name", "The name is too long: use at most 100 characters."),
            ({"columns": []}, "columns", "Choose at least one column."),
            ({"columns": "name"}, "columns", "Choose at least one column."),
            (
                {"columns": ["name"] + [f"c{i}" for i in range(30)]},
                "columns",
                "Show at most 30 columns.",
            ),
            (
                {"sort": [["name", "asc"], ["amount", "asc"], ["stage", "asc"], ["closes", "asc"]]},
                "sort",
                "Sort by at most 3 fields.",
            ),
            (
                {"sort": [["name", "asc"], ["name", "desc"]]},
                "sort",
                "“Name” is already used for sorting.",
            ),
            (
                {"filters": [{"field": "closes", "op": "eq", "value": "31/01/2025"}]},
                "filters.0",
                # 31/01/2025 is no day in English (month 31): said, with the form to use
                "Closes: 31/01/2025 is not a date. Enter a date such as 12/31/2026 "
                "(or 2026-12-31).",
            ),
            (
                {"filters": [{"field": "stage", "op": "in", "value": ["won", "nope"]}]},
                "filters.0",
                "Stage: “nope” is not one of the choices.",
            ),
            (
                {"filters": [{"field": "amount", "op": "between", "value": ["", " "]}]},
                "filters.0",
                "Amount: Enter at least one of the two values.",
            ),
            (
                {"filters": [{"field": "amount", "op": "between", "value": "5"}]},
                "filters.0",
                "Amount: Enter two values: from and to.",
            ),
            (
                {"filters": [{"field": "name", "op": "equals", "value": ["a", "b"]}]},
                "filters.0",
                "Name: Enter one value.",
            ),
            (
                {"filters": [{"field": "name", "op": "contains", "value": ""}]},
                "filters.0",
                "Name: Enter a value.",
            ),
            (
                {"filters": [{"field": "owner_id", "op": "not_empty"}]},
                "filters.0",
                "Owner: “not_empty” is not a condition for this field.",
            ),
            (
                {"filters": [{"field": "owner_id", "op": "eq", "value": "abc"}]},
                "filters.0",
                "Owner: Choose a user.",
            ),
            (
                {"filters": [{"field": "active", "op": "eq", "value": "yes"}]},
                "filters.0",
                "Active: “eq” is not a condition for this field.",
            ),
            (
                {"filters": [{"field": "name", "op": "contains", "value": "a\nb"}]},
                "filters.0",
                "Name: Use a single line (no line breaks).",
            ),
            ({"filters": ["stage=won"]}, "filters.0", "This filter cannot be read."),
            ({"filters": "stage"}, "filters", "The filters cannot be read."),
            (
                {"filters": [{"field": "name", "op": "not_empty"}] * 21},
                "filters",
                "Use at most 20 filters.",
            ),
        ],
    )
    def test_rule(self, account, overrides, where, message):
        errors = errors_of(view_data(**overrides))
        assert message in errors.get(where, []), errors

    def test_names_are_unique_per_owner_ignoring_case(self, account, staff):
        lv.save_shared_view("account", view_data(), actor_id=None)
        assert errors_of(view_data(name="OPEN DEALS")) == {
            "name": ["There is already a view called “OPEN DEALS”."]
        }
        # a private view may share a shared view's name
        lv.save_private_view("account", view_data(), user_id=staff.id)

    def test_a_spine_field_can_be_shown_sorted_and_filtered(self, account):
        saved = lv.save_shared_view(
            "account",
            view_data(
                columns=["name", "created_at", "updated_at", "owner_id"],
                sort=[["created_at", "asc"]],
                filters=[{"field": "updated_at", "op": "before", "value": "2025-01-01 10:30"}],
            ),
            actor_id=None,
        )
        assert saved.columns == ("name", "created_at", "updated_at", "owner_id")
        # a moment is kept as UTC, marked "Z": whoever reads the view reads the same instant
        assert saved.filters == (lv.FilterSpec("updated_at", "before", "2025-01-01T10:30Z"),)

    def test_operators(self, account):
        entity = specs.current().entity("account")
        assert lv.operators_for(lv.field_for(entity, "owner_id")) == ("eq", "in", "is_me", "empty")
        assert lv.operators_for(lv.field_for(entity, "created_at")) == (
            "eq", "before", "after", "between", "relative", "empty", "not_empty",
        )  # fmt: skip
        assert lv.field_for(entity, "notes") is not None
        assert not lv.can_sort(lv.field_for(entity, "notes"))
        assert lv.field_for(entity, "deleted_at") is None
        assert lv.field_for(entity, "version") is None


class TestDefaultsAndOwners:
    def test_one_default_per_owner(self, account, admin, staff):
        a = lv.save_shared_view("account", view_data(name="A", is_default=True), actor_id=None)
        b = lv.save_shared_view("account", view_data(name="B", is_default=True), actor_id=None)
        assert [v.is_default for v in lv.list_views("account", None)] == [False, True]
        lv.set_default_shared_view(a.id, actor_id=admin.id)
        assert [v.is_default for v in lv.list_views("account", None)] == [True, False]
        assert lv.default_view("account", staff.id).id == a.id

        mine = lv.save_private_view(
            "account", view_data(name="Mine", is_default=True), user_id=staff.id
        )
        assert lv.default_view("account", staff.id).id == mine.id
        assert lv.default_view("account", admin.id).id == a.id  # another user's is not theirs
        # the user's default does not touch the shared one
        assert lv.get_view(a.id, None).is_default
        second = lv.save_private_view(
            "account", view_data(name="Mine 2", is_default=True), user_id=staff.id
        )
        assert not lv.get_view(mine.id, staff.id).is_default
        assert lv.default_view("account", staff.id).id == second.id
        lv.save_shared_view(
            "account", view_data(name="B", is_default=False), actor_id=None, view_id=b.id
        )
        assert lv.get_view(a.id, None).is_default

    def test_shared_views_come_first_then_the_users_own(self, account, admin, staff):
        lv.save_private_view("account", view_data(name="Mine"), user_id=staff.id)
        lv.save_shared_view("account", view_data(name="Z shared"), actor_id=None)
        lv.save_shared_view("account", view_data(name="A shared"), actor_id=None)
        names = [v.name for v in lv.list_views("account", staff.id)]
        assert names == ["Z shared", "A shared", "Mine"]
        assert [v.name for v in lv.list_views("account", admin.id)] == ["Z shared", "A shared"]

    def test_private_views_are_isolated(self, account, admin, staff):
        other = make_user("other@example.com")
        before = version(), count_changes()
        mine = lv.save_private_view("account", view_data(name="Mine"), user_id=staff.id)
        assert not mine.shared and mine.owner_id == staff.id
        assert (version(), count_changes()) == before  # user data: no bump, no log
        with pytest.raises(NotFound):
            lv.get_view(mine.id, other.id)
        with pytest.raises(NotFound):
            lv.get_view(mine.id, None)
        with pytest.raises(NotFound):
            lv.save_private_view(
                "account", view_data(name="Taken"), user_id=other.id, view_id=mine.id
            )
        with pytest.raises(NotFound):
            lv.delete_private_view(mine.id, user_id=other.id)
        with pytest.raises(NotFound):  # a private view is not a shared one
            lv.delete_shared_view(mine.id, actor_id=admin.id)
        assert lv.get_view(mine.id, staff.id).name == "Mine"

        changed = lv.save_private_view(
            "account", view_data(name="Mine, renamed"), user_id=staff.id, view_id=mine.id
        )
        assert changed.id == mine.id and changed.name == "Mine, renamed"
        lv.delete_private_view(mine.id, user_id=staff.id)
        assert count_views() == 0
        assert (version(), count_changes()) == before

    def test_people_cannot_change_shared_views(self, account, staff):
        shared = lv.save_shared_view("account", view_data(), actor_id=None)
        with pytest.raises(Forbidden):
            lv.save_private_view(
                "account", view_data(name="X"), user_id=staff.id, view_id=shared.id
            )
        with pytest.raises(Forbidden):
            lv.delete_private_view(shared.id, user_id=staff.id)
        before = count_views(), version()
        with pytest.raises(Forbidden):
            lv.save_shared_view("account", view_data(name="Mine"), actor_id=staff.id)
        with pytest.raises(Forbidden):
            lv.delete_shared_view(shared.id, actor_id=staff.id)
        with pytest.raises(Forbidden):
            lv.set_default_shared_view(shared.id, actor_id=staff.id)
        assert (count_views(), version()) == before

    def test_private_views_need_an_active_entity(self, account, staff):
        service.archive_entity("account")
        with pytest.raises(NotFound):
            lv.save_private_view("account", view_data(), user_id=staff.id)

    def test_shared_changes_bump_the_version_and_are_logged(self, account, admin):
        v0, c0 = version(), count_changes()
        saved = lv.save_shared_view("account", view_data(), actor_id=admin.id)
        assert (version(), count_changes("save_list_view")) == (v0 + 1, 1)
        lv.save_shared_view("account", view_data(name="Deals"), actor_id=admin.id, view_id=saved.id)
        lv.set_default_shared_view(saved.id, actor_id=admin.id)
        lv.set_default_shared_view(saved.id, actor_id=admin.id)  # already: nothing happens
        lv.delete_shared_view(saved.id, actor_id=admin.id)
        assert version() == v0 + 4
        assert count_changes() == c0 + 4
        entries = db.session.scalars(
            select(ConfigChange)
            .where(ConfigChange.entity_key == "account")
            .order_by(ConfigChange.id.desc())
            .limit(4)
        ).all()
        assert [e.action for e in entries] == [
            "delete_list_view", "default_list_view", "save_list_view", "save_list_view",
        ]  # fmt: skip
        assert {e.user_id for e in entries} == {admin.id}
        created, renamed = entries[3], entries[2]
        assert created.before is None and created.after["name"] == "Open deals"
        assert renamed.before["name"] == "Open deals" and renamed.after["name"] == "Deals"
        assert entries[0].before["name"] == "Deals" and entries[0].after is None

    def test_editing_a_view_of_another_entity_is_not_found(self, account):
        service.create_entity(
            "lead", "Lead", fields=[{"key": "name", "type": "text", "label": "Name"}]
        )
        lead_view = lv.save_shared_view(
            "lead", view_data(columns=["name"], sort=[], filters=[]), actor_id=None
        )
        with pytest.raises(NotFound):
            lv.save_shared_view("account", view_data(), actor_id=None, view_id=lead_view.id)


# --- the designer screens ---------------------------------------------------------------------


def form_post(**overrides) -> dict:
    data = {
        "name": "Open deals",
        "show": ["name", "stage", "amount"],
        "order": ["name", "stage", "amount"],
        "sort-0-field": "amount",
        "sort-0-dir": "desc",
        "sort-1-field": "",
        "sort-1-dir": "asc",
        "filters-0-field": "stage",
        "filters-0-op": "in",
        "filters-0-value": ["won", "lost"],
        "save": "1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def shown_order(html: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="order" value="([a-z_]+)">', html)


class TestAccess:
    def pages(self, view_id: int) -> list[str]:
        return [
            "/admin/entities/account/views",
            "/admin/entities/account/views/new",
            f"/admin/entities/account/views/{view_id}/edit",
        ]

    def test_admin_gets_every_page(self, admin_client, account):
        shared = lv.save_shared_view("account", view_data(), actor_id=None)
        for url in self.pages(shared.id):
            r = admin_client.get(url)
            assert r.status_code == 200, url
            assert "<html" in r.text

    def test_staff_gets_403_and_changes_nothing(self, login_as, staff, account):
        shared = lv.save_shared_view("account", view_data(), actor_id=None)
        client = login_as(staff)
        for url in [*self.pages(shared.id), "/admin/entities/account/views/filter-row"]:
            assert client.get(url).status_code == 403, url
            assert client.hx_get(url).status_code == 403, url
        before = count_views(), version(), count_changes()
        posts = [
            ("/admin/entities/account/views/new", form_post(name="Mine")),
            (f"/admin/entities/account/views/{shared.id}/edit", form_post(name="Hacked")),
            (f"/admin/entities/account/views/{shared.id}/default", {}),
            (f"/admin/entities/account/views/{shared.id}/delete", {}),
        ]
        for url, data in posts:
            assert client.submit(url, data).status_code == 403, url
        assert (count_views(), version(), count_changes()) == before
        assert lv.get_view(shared.id, None).name == "Open deals"

    def test_posts_without_csrf_are_refused(self, admin_client, account):
        shared = lv.save_shared_view("account", view_data(), actor_id=None)
        before = count_views(), version()
        for url in [
            "/admin/entities/account/views/new",
            f"/admin/entities/account/views/{shared.id}/default",
            f"/admin/entities/account/views/{shared.id}/delete",
        ]:
            assert admin_client.post(url, data=form_post(name="X")).status_code == 400, url
        assert (count_views(), version()) == before

    def test_unknown_entity_and_view_are_404(self, admin_client, account, staff):
        private = lv.save_private_view("account", view_data(), user_id=staff.id)
        assert admin_client.get("/admin/entities/nope/views").status_code == 404
        assert admin_client.get("/admin/entities/account/views/999/edit").status_code == 404
        # a private view is not a shared one, even for an administrator
        assert (
            admin_client.get(f"/admin/entities/account/views/{private.id}/edit").status_code == 404
        )
        r = admin_client.submit(f"/admin/entities/account/views/{private.id}/delete")
        assert r.status_code == 404
        assert count_views() == 1


class TestListPage:
    def test_lists_shared_views_in_words(self, admin_client, account, staff):
        lv.save_shared_view(
            "account",
            view_data(
                is_default=True,
                filters=[
                    {"field": "stage", "op": "in", "value": ["won", "lost"]},
                    {"field": "owner_id", "op": "eq", "value": str(staff.id)},
                ],
            ),
            actor_id=None,
        )
        lv.save_private_view("account", view_data(name="Private one"), user_id=staff.id)
        html = admin_client.get("/admin/entities/account/views").text
        assert "Open deals" in html and "Private one" not in html
        assert "Stage is one of Won, Lost" in html
        assert "Owner is Sam Staff" in html
        assert "Amount (largest first)" in html
        assert '<li class="chip">Stage</li>' in html
        assert 'class="tag tag-brand">default<' in html
        assert 'aria-current="page">List views</a>' in html

    def test_empty_state_names_the_built_in_view(self, admin_client, account):
        html = admin_client.get("/admin/entities/account/views").text
        assert "No shared views yet" in html
        assert (
            "Name, Stage, Amount, Notes, Tags, Closes, sorted by Last changed (newest first)"
            in html
        )

    def test_make_default_and_delete_without_javascript(self, admin_client, account):
        a = lv.save_shared_view("account", view_data(name="A", is_default=True), actor_id=None)
        b = lv.save_shared_view("account", view_data(name="B"), actor_id=None)
        r = admin_client.submit(f"/admin/entities/account/views/{b.id}/default")
        assert r.status_code == 303 and r.headers["Location"].endswith(
            "/admin/entities/account/views"
        )
        assert lv.get_view(b.id, None).is_default and not lv.get_view(a.id, None).is_default
        r = admin_client.submit(f"/admin/entities/account/views/{a.id}/delete")
        assert r.status_code == 303
        assert [v.name for v in lv.list_views("account", None)] == ["B"]
        assert "Deleted the view “A”." in admin_client.get(r.headers["Location"]).text

    def test_make_default_and_delete_with_htmx(self, admin_client, account):
        a = lv.save_shared_view("account", view_data(name="A", is_default=True), actor_id=None)
        b = lv.save_shared_view("account", view_data(name="B"), actor_id=None)
        r = admin_client.hx_post(f"/admin/entities/account/views/{b.id}/default")
        assert r.status_code == 200 and "HX-Request" in r.headers["Vary"]
        assert "<html" not in r.text and r.text.lstrip().startswith('<div id="lv-views">')
        assert lv.get_view(b.id, None).is_default
        r = admin_client.hx_post(f"/admin/entities/account/views/{a.id}/delete")
        assert r.status_code == 200 and "<html" not in r.text and "HX-Request" in r.headers["Vary"]
        assert ">A</a>" not in r.text and ">B</a>" in r.text
        r = admin_client.hx_get("/admin/entities/account/views")
        assert "<html" not in r.text and "HX-Request" in r.headers["Vary"]


class TestEditor:
    def test_new_view_starts_from_the_built_in_columns(self, admin_client, account):
        html = admin_client.get("/admin/entities/account/views/new").text
        assert shown_order(html) == ["name", "stage", "amount", "notes", "tags", "closes"]
        assert 'name="show" value="owner_id"' in html and 'name="show" value="created_at"' in html
        assert (
            '<option value="notes"' not in html.split('id="sort-0-field"')[1].split("</select>")[0]
        )
        assert "list-view-editor.js" in html and "Sortable.min.js" in html
        assert "<script>" not in html and " style=" not in html

    def test_create_a_view(self, admin_client, account):
        r = admin_client.submit("/admin/entities/account/views/new", form_post(is_default="y"))
        assert r.status_code == 303, r.text
        (view,) = lv.list_views("account", None)
        assert view.name == "Open deals" and view.is_default
        assert view.columns == ("name", "stage", "amount")
        assert view.sort == (("amount", "desc"),)
        assert view.filters == (lv.FilterSpec("stage", "in", ("won", "lost")),)
        assert "Saved the view “Open deals”." in admin_client.get(r.headers["Location"]).text

    def test_columns_follow_the_order_list_then_newly_ticked_fields(self, admin_client, account):
        data = form_post(
            show=["name", "stage", "amount", "closes"], order=["amount", "name", "stage"]
        )
        assert admin_client.submit("/admin/entities/account/views/new", data).status_code == 303
        (view,) = lv.list_views("account", None)
        assert view.columns == ("amount", "name", "stage", "closes")

    def test_edit_a_view(self, admin_client, account):
        shared = lv.save_shared_view("account", view_data(), actor_id=None)
        url = f"/admin/entities/account/views/{shared.id}/edit"
        html = admin_client.get(url).text
        assert shown_order(html) == ["name", "stage", "amount"]
        assert 'value="won" checked' in html and 'value="new" checked' not in html
        r = admin_client.submit(url, form_post(name="Renamed", show=["name"], order=["name"]))
        assert r.status_code == 303
        view = lv.get_view(shared.id, None)
        assert view.name == "Renamed" and view.columns == ("name",)

    def test_errors_are_shown_next_to_their_inputs_and_nothing_is_saved(
        self, admin_client, account
    ):
        before = count_views(), version()
        data = form_post(
            name="",
            show=[],
            order=[],
            **{
                "sort-0-field": "notes",
                "filters-0-field": "amount",
                "filters-0-op": "gt",
                "filters-0-value": "lots",
                "filters-3-field": "closes",
                "filters-3-op": "eq",
                "filters-3-value": "tomorrow",
            },
        )
        r = admin_client.submit("/admin/entities/account/views/new", data)
        assert r.status_code == 400
        html = r.text
        assert "Nothing was saved." in html
        assert 'id="name-errors"><li>Enter a name for the view.</li>' in html
        assert "Choose at least one column." in html
        assert "“Notes” cannot be used for sorting (long text field)." in html
        row0 = html.split('id="lv-filter-0"')[1].split('id="lv-filter-3"')[0]
        assert "Amount: Enter a number, such as 1234.50." in row0
        row3 = html.split('id="lv-filter-3"')[1]
        assert "Closes: Enter a date such as 12/31/2026 (or 2026-12-31)." in row3
        assert 'value="lots"' in row0  # what was typed is kept
        assert (count_views(), version()) == before

    def test_reorder_without_javascript(self, admin_client, account):
        url = "/admin/entities/account/views/new"
        r = admin_client.submit(url, form_post(save=None, move="up:amount"))
        assert r.status_code == 200
        assert shown_order(r.text) == ["name", "amount", "stage"]
        r = admin_client.submit(url, form_post(save=None, move="down:name"))
        assert shown_order(r.text) == ["stage", "name", "amount"]
        r = admin_client.submit(url, form_post(save=None, move="remove:stage"))
        assert shown_order(r.text) == ["name", "amount"]
        r = admin_client.submit(url, form_post(save=None, move="up:name"))  # already first
        assert shown_order(r.text) == ["name", "stage", "amount"]
        r = admin_client.submit(
            url, form_post(save=None, refresh="1", show=["name", "stage", "amount", "closes"])
        )
        assert shown_order(r.text) == ["name", "stage", "amount", "closes"]
        assert count_views() == 0

    def test_add_and_remove_filters_without_javascript(self, admin_client, account):
        url = "/admin/entities/account/views/new"
        r = admin_client.submit(url, form_post(save=None, add_filter="1"))
        assert r.status_code == 200
        assert 'id="lv-filter-0"' in r.text and 'id="lv-filter-1"' in r.text
        r = admin_client.submit(url, form_post(save=None, remove_filter="0"))
        assert 'id="lv-filter-0"' not in r.text
        # an emptied row is simply left out when saving
        r = admin_client.submit(url, form_post(**{"filters-0-field": "", "filters-0-op": ""}))
        assert r.status_code == 303
        assert lv.list_views("account", None)[0].filters == ()

    def test_changing_the_field_without_javascript_refreshes_the_conditions(
        self, admin_client, account
    ):
        data = form_post(save=None, refresh="1", **{"filters-0-field": "amount"})
        html = admin_client.submit("/admin/entities/account/views/new", data).text
        row = html.split('id="lv-filter-0"')[1]
        assert '<option value="gt" >is more than</option>' in row
        assert 'value="eq" selected' in row  # "in" does not apply: the first condition

    def test_hostile_names_are_escaped(self, admin_client, account):
        service.update_entity("account", label_plural=HOSTILE[0], actor_id=None)
        service.update_field("account", "name", label=HOSTILE[1], actor_id=None)
        views = [
            lv.save_shared_view(
                "account",
                view_data(
                    name=name,
                    filters=[
                        {
                            "field": "website",
                            "op": "contains",
                            "value": "<img src=x onerror=alert(1)>",
                        }
                    ],
                ),
                actor_id=None,
            )
            for name in HOSTILE
        ]
        pages = [
            admin_client.get("/admin/entities/account/views").text,
            admin_client.get(f"/admin/entities/account/views/{views[0].id}/edit").text,
            admin_client.get(f"/admin/entities/account/views/{views[1].id}/edit").text,
            admin_client.hx_get(
                "/admin/entities/account/views/filter-row?index=0&filters-0-field=name"
            ).text,
        ]
        for html in pages:
            assert "<script>alert(1)</script>" not in html
            assert "<img src=x" not in html
            assert ">49<" not in html and "“49”" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
        assert "{{7*7}}" in pages[0] and "{{7*7}}" in pages[2] and "{{7*7}}" in pages[3]
        assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0]
        for html in pages:  # never user text inside hx-* attributes
            for attr in re.findall(r'hx-[a-z]+="([^"]*)"', html):
                assert "script" not in attr and "7*7" not in attr and "&lt;" not in attr


class TestFilterRowFragment:
    URL = "/admin/entities/account/views/filter-row"

    def test_new_row_takes_the_next_index(self, admin_client, account):
        r = admin_client.hx_get(self.URL + "?filters-0-field=stage&filters-4-field=name")
        assert r.status_code == 200
        assert "<html" not in r.text and "HX-Request" in r.headers["Vary"]
        assert 'id="lv-filter-5"' in r.text and 'name="filters-5-field"' in r.text
        assert (
            r.text.count("<option")
            == len(lv.available_fields(specs.current().entity("account"))) + 2
        )
        first = admin_client.hx_get(self.URL)
        assert 'id="lv-filter-0"' in first.text

    def test_the_conditions_follow_the_field(self, admin_client, account):
        r = admin_client.hx_get(self.URL + "?index=2&filters-2-field=stage&filters-2-op=gt")
        assert "<html" not in r.text and "HX-Request" in r.headers["Vary"]
        ops = re.findall(
            r'<option value="([a-z_]+)"[^>]*>',
            r.text.split('name="filters-2-op"')[1].split("</select>")[0],
        )
        assert ops == ["in", "not_in", "empty", "not_empty"]
        assert 'name="filters-2-value" value="won"' in r.text  # one checkbox per choice
        r = admin_client.hx_get(self.URL + "?index=2&filters-2-field=amount&filters-2-op=between")
        assert 'name="filters-2-value2"' in r.text
        r = admin_client.hx_get(
            self.URL + "?index=2&filters-2-field=created_at&filters-2-op=relative"
        )
        assert '<option value="last_7_days" >Last 7 days</option>' in r.text
        r = admin_client.hx_get(self.URL + "?index=2&filters-2-field=owner_id&filters-2-op=eq")
        assert "Ada Admin" in r.text
        r = admin_client.hx_get(self.URL + "?index=2&filters-2-field=active&filters-2-op=empty")
        assert "No value needed" in r.text

    def test_bad_index_is_400_and_plain_requests_go_to_the_editor(self, admin_client, account):
        assert admin_client.hx_get(self.URL + "?index=abc").status_code == 400
        assert admin_client.hx_get(self.URL + "?index=99999").status_code == 400
        r = admin_client.get(self.URL)
        assert r.status_code == 303 and r.headers["Location"].endswith("/views/new")
        assert "HX-Request" in r.headers["Vary"]

""" "Save this view" on the list page: a private view of the list as the user sees it."""

from __future__ import annotations

import pytest

from crm.metadata import list_views
from tests.records.runtime_model import build_model, make


@pytest.fixture
def model(app):
    return build_model()


@pytest.fixture
def c(login_as, staff):
    return login_as(staff)


def test_list_page_has_the_save_view_panel_with_the_current_arguments(c, model):
    html = c.get("/r/account/?f.industry.in=tech&sort=-name&q=ac").data.decode()
    assert 'action="/r/account/views"' in html and 'id="save-view-name"' in html
    assert '<input type="hidden" name="f.industry.in" value="tech">' in html
    assert '<input type="hidden" name="sort" value="-name">' in html
    assert "the search text is not saved" in html


def test_saving_keeps_filters_sort_and_columns_and_lists_it_as_mine(c, staff, model):
    make(staff, "account", name="Tech One", industry="tech")
    make(staff, "account", name="Shop", industry="retail")
    r = c.hx_post(
        "/r/account/views",
        {"name": "My tech", "f.industry.in": "tech", "sort": "-name", "is_default": "y"},
    )
    assert r.status_code == 204
    view_id = int(r.headers["HX-Redirect"].split("view=")[1])
    saved = list_views.get_view(view_id, staff.id)
    assert saved.owner_id == staff.id and not saved.shared and saved.is_default
    assert saved.sort == (("name", "desc"),)
    assert [f.to_data() for f in saved.filters] == [
        {"field": "industry", "op": "in", "value": ["tech"]}
    ]
    assert saved.columns == list_views.builtin_view(model.entity("account")).columns
    page = c.get(r.headers["HX-Redirect"]).data.decode()
    assert f'<option value="{view_id}" selected>My tech (mine)</option>' in page
    assert "Tech One" in page and "Shop" not in page
    # Being the default, it opens first.
    assert "Tech One" in c.get("/r/account/").data.decode()
    assert "Shop" not in c.get("/r/account/").data.decode()


def test_saving_on_top_of_a_view_keeps_its_filters(c, staff, admin, model):
    base = list_views.save_shared_view(
        "account",
        {"name": "Tech", "columns": ["name", "employees"], "filters": [
            {"field": "industry", "op": "in", "value": ["tech"]}]},
        actor_id=admin.id,
    )  # fmt: skip
    r = c.hx_post(
        "/r/account/views", {"name": "Big tech", "view": str(base.id), "f.employees.gt": "100"}
    )
    assert r.status_code == 204
    saved = list_views.get_view(int(r.headers["HX-Redirect"].split("view=")[1]), staff.id)
    assert saved.columns == ("name", "employees")
    assert {f.field for f in saved.filters} == {"industry", "employees"}
    # Another user does not see it.
    assert all(v.name != "Big tech" for v in list_views.list_views("account", admin.id))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Enter a name for the view."),
        ({"name": "x" * 101}, "The name is too long"),
        ({"name": "Mine", "f.nothing.eq": "1"}, "There is no field “nothing” to filter by."),
        ({"name": "Mine", "sort": "nothing"}, "cannot be sorted by"),
    ],
)
def test_bad_input_is_shown_in_the_panel_and_nothing_is_saved(c, staff, model, data, message):
    r = c.hx_post("/r/account/views", data)
    body = r.data.decode()
    assert r.status_code == 400 and message in body and 'id="save-view-form"' in body
    assert "<html" not in body
    assert list_views.list_views("account", staff.id) == []


def test_a_taken_name_is_refused_and_markup_is_escaped(c, staff, model):
    assert c.hx_post("/r/account/views", {"name": "<b>Mine</b>"}).status_code == 204
    again = c.hx_post("/r/account/views", {"name": "<b>Mine</b>"})
    body = again.data.decode()
    assert again.status_code == 400 and "already a view called" in body
    assert "&lt;b&gt;Mine&lt;/b&gt;" in body and "<b>Mine</b>" not in body
    page = c.get("/r/account/").data.decode()
    assert "&lt;b&gt;Mine&lt;/b&gt; (mine)" in page and "<b>Mine</b>" not in page


def test_another_users_view_cannot_be_the_base(c, staff, admin, model):
    theirs = list_views.save_private_view(
        "account", {"name": "Theirs", "columns": ["name"]}, user_id=admin.id
    )
    r = c.hx_post("/r/account/views", {"name": "Copy", "view": str(theirs.id)})
    assert r.status_code == 404
    assert list_views.list_views("account", staff.id) == [
        v for v in list_views.list_views("account", staff.id) if v.shared
    ]


def test_plain_post_redirects_and_csrf_is_required(c, staff, model):
    r = c.submit("/r/account/views", {"name": "Plain"})
    assert r.status_code == 303 and "view=" in r.headers["Location"]
    refused = c.post("/r/account/views", data={"name": "No token"})
    assert refused.status_code == 400
    assert [v.name for v in list_views.list_views("account", staff.id)] == ["Plain"]

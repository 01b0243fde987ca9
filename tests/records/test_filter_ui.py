"""The list page's filter builder (crm/records/views/filters.py): "Add filter", the condition
and value inputs per field type, applying a filter through the URL it produces, the chips'
remove links, and refusals (unknown or hidden field, bad condition or value)."""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from crm.access import policy
from crm.access.models import FieldRight
from crm.extensions import db
from crm.metadata import list_views as lv
from crm.metadata import specs
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import make_role, make_user


@pytest.fixture
def model(app, staff):
    schema.create_entity(
        "account",
        "Account",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True, "searchable": True},
            {"key": "industry", "type": "picklist", "label": "Industry",
             "choices": [{"key": "retail", "label": "Retail", "color": "pink"},
                         {"key": "tech", "label": "Tech", "color": "indigo"},
                         {"key": "rnd", "label": "<i>R&D</i>", "color": "teal"}]},
            {"key": "employees", "type": "integer", "label": "Employees"},
            {"key": "revenue", "type": "currency", "label": "Revenue",
             "options": {"currency": "EUR"}},
            {"key": "founded", "type": "date", "label": "Founded"},
            {"key": "active", "type": "boolean", "label": "Active"},
            {"key": "tags", "type": "multi_picklist", "label": "Tags",
             "choices": [{"key": "vip", "label": "VIP", "color": "amber"},
                         {"key": "press", "label": "Press"}]},
            {"key": "secret", "type": "text", "label": "Secret"},
            {"key": "partner", "type": "lookup", "label": "Partner",
             "options": {"target": "account"}},
            {"key": "manager", "type": "user", "label": "Manager"},
        ],
        name_field="name",
    )  # fmt: skip
    spec = specs.current().entity("account")
    ids = {}
    for name, industry, employees, active, founded in [
        ("Acme", "retail", "120", "yes", date.today().isoformat()),
        ("Globex", "tech", "4300", "no", "2001-05-04"),
        ("Initech", "tech", "870", "yes", "1999-01-01"),
        ("Umbrella", "rnd", "55", "no", None),
    ]:
        values = {"name": name, "industry": industry, "employees": employees, "active": active}
        if founded:
            values["founded"] = founded
        ids[name] = records.create(staff, spec, values)
    records.create(staff, spec, {"name": "Hooli", "partner": str(ids["Acme"])})
    return ids


@pytest.fixture
def client(login_as, staff):
    return login_as(staff)


def html_of(response) -> str:
    return response.data.decode()


def names_in(html: str) -> list[str]:
    """The record names in the list's rows."""
    return re.findall(r'<a class="[^"]*" href="/r/account/\d+">([^<]*)</a>', html)


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def options(html: str, name: str) -> list[str]:
    """The visible labels of select ``name``'s options."""
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select, f"no select {name}"
    return [unescape(t).strip() for t in re.findall(r"<option[^>]*>([^<]*)</option>", select[0])]


# --- "Add filter" and the builder -------------------------------------------------------------


def test_list_offers_add_filter_with_the_current_state(client, model):
    html = html_of(client.get("/r/account/?q=ac&sort=name&f.active.is_true="))
    link = re.search(r'<a class="btn btn-sm filter-add" href="([^"]+)"', html)
    assert link, "no Add filter link"
    url = unescape(link[1])
    assert urlsplit(url).path == "/r/account/filters/new"
    assert query_of(url) == [("q", "ac"), ("sort", "name"), ("f.active.is_true", "")]
    assert 'id="filter-panel"' in html


def test_builder_page_without_javascript(client, staff, model):
    response = client.get("/r/account/filters/new?q=ac&sort=-name&f.active.is_true=")
    html = html_of(response)
    assert response.status_code == 200 and "<html" in html and "Add a filter" in html
    assert 'action="/r/account/filters/apply"' in html
    for name, value in [("q", "ac"), ("sort", "-name"), ("f.active.is_true", "")]:
        assert f'<input type="hidden" name="{name}" value="{value}">' in html
    fields = options(html, "field")
    assert fields[0] == "Filter by…"
    assert fields[1:] == [
        "Name", "Industry", "Employees", "Revenue", "Founded", "Active", "Tags", "Secret",
        "Partner", "Manager", "Created", "Last changed", "Owner",
    ]  # fmt: skip
    assert "Choose a field, then a condition." in html
    # "Update" (no JavaScript) shows the conditions of the chosen field; a condition
    # that the new field does not offer gives way to its first one.
    page = html_of(client.get("/r/account/filters/new?field=employees&op=contains&refresh=1"))
    assert options(page, "op")[:3] == ["is", "is not", "is more than"]
    assert 'type="text" name="value"' in page and 'inputmode="numeric"' in page
    # The fragment for htmx is the form alone.
    frag = client.hx_get("/r/account/filters/new?q=ac")
    assert frag.status_code == 200 and "<html" not in html_of(frag)
    assert html_of(frag).lstrip().startswith('<form class="filter-builder"')
    assert "HX-Request" in frag.headers["Vary"]


@pytest.mark.parametrize(
    ("query", "ops", "expect"),
    [
        ("field=name", ["contains", "is", "is not", "starts with", "is empty", "is not empty"],
         ['type="text" name="value"']),
        ("field=industry", ["is one of", "is not one of", "is empty", "is not empty"],
         ['type="checkbox" name="value" value="retail"', 'class="chip c-pink">Retail<',
          'class="chip c-indigo">Tech<', "&lt;i&gt;R&amp;D&lt;/i&gt;"]),
        ("field=employees",
         ["is", "is not", "is more than", "is at least", "is less than", "is at most",
          "is between", "is empty", "is not empty"],
         # numbers are typed as the user's language writes them: text inputs (a number
         # input would drop "1.234,50" typed in a browser set to another language)
         ['type="text" name="value"', 'inputmode="numeric"']),
        ("field=employees&op=between", None,
         ['type="text" name="value" id="filter-value" aria-label="From"',
          'type="text" name="value2" id="filter-value2" aria-label="To"',
          'inputmode="decimal"']),
        ("field=revenue&op=gte", None,
         ['type="text" name="value"', 'inputmode="decimal"', ">EUR<"]),
        ("field=founded",
         ["is on", "is before", "is after", "is between", "is in the period", "is empty",
          "is not empty"],
         ['type="date" name="value"']),
        ("field=founded&op=between", None,
         ['type="date" name="value" id="filter-value"', 'type="date" name="value2"']),
        ("field=founded&op=relative", None,
         ['<select name="value" id="filter-value" aria-label="Period">',
          '<option value="this_month" >This month</option>',
          '<option value="last_7_days" >Last 7 days</option>']),
        ("field=created_at&op=after", None, ['type="date" name="value"']),
        ("field=active", ["is yes", "is no", "is empty"], []),
        ("field=tags", ["includes", "includes any of", "is empty", "is not empty"],
         ['type="radio" name="value" value="vip"', 'class="chip c-amber">VIP<']),
        ("field=tags&op=contains_any", None, ['type="checkbox" name="value" value="press"']),
        ("field=owner_id", ["is", "is one of", "is me", "is empty"],
         ['<select name="value" id="filter-value" aria-label="Owner">',
          ">Sam Staff (me)</option>"]),
        ("field=owner_id&op=in", None, ['type="checkbox" name="value"', "Sam Staff (me)"]),
        ("field=manager", ["is", "is one of", "is me", "is empty", "is not empty"], []),
        ("field=partner", ["is", "is one of", "is empty", "is not empty"],
         ['hx-get="/r/account/lookup"', 'type="hidden" name="value"', "data-lookup-text",
          'placeholder="Search Accounts…"']),
        ("field=partner&op=in", None, ["data-filter-lookup-many", "data-filter-picked"]),
    ],
)  # fmt: skip
def test_inputs_fit_the_field_type(client, model, query, ops, expect):
    response = client.hx_get(f"/r/account/filter-input?{query}")
    html = html_of(response)
    assert response.status_code == 200, html
    assert "<html" not in html
    if ops is not None:
        assert options(html, "op") == ops
    for piece in expect:
        assert piece in html, piece


def test_no_value_conditions_and_blank_field(client, model):
    no_value = (
        "field=owner_id&op=is_me",
        "field=name&op=empty",
        "field=active",
        "field=active&op=is_false",
    )
    for query in no_value:
        html = html_of(client.hx_get(f"/r/account/filter-input?{query}"))
        assert 'name="value"' not in html, query
    blank = client.hx_get("/r/account/filter-input?field=")
    assert blank.status_code == 200
    assert "Choose a field, then a condition." in html_of(blank)
    # Opened without htmx, the fragment's URL leads to the builder page with that choice.
    plain = client.get("/r/account/filter-input?field=name&op=equals")
    assert plain.status_code == 303
    assert plain.headers["Location"] == "/r/account/filters/new?field=name&op=equals"


# --- applying -------------------------------------------------------------------------------


def apply(client, pairs, *, htmx=False):
    url = "/r/account/filters/apply"
    if htmx:
        return client.hx_get(url, query_string=pairs)
    return client.get(url, query_string=pairs)


@pytest.mark.parametrize(
    ("pairs", "expect_args", "names"),
    [
        ([("field", "name"), ("op", "contains"), ("value", " glob ")],
         [("f.name.contains", "glob")], ["Globex"]),
        ([("field", "industry"), ("op", "in"), ("value", "retail"), ("value", "rnd")],
         [("f.industry.in", "retail"), ("f.industry.in", "rnd")], ["Acme", "Umbrella"]),
        ([("field", "employees"), ("op", "between"), ("value", "100"), ("value2", "1000")],
         [("f.employees.between", "100"), ("f.employees.between", "1000")],
         ["Acme", "Initech"]),
        ([("field", "employees"), ("op", "between"), ("value", ""), ("value2", "100")],
         [("f.employees.between", ""), ("f.employees.between", "100")], ["Umbrella"]),
        ([("field", "employees"), ("op", "gt"), ("value", "1000")],
         [("f.employees.gt", "1000")], ["Globex"]),
        ([("field", "founded"), ("op", "relative"), ("value", "this_month")],
         [("f.founded.relative", "this_month")], ["Acme"]),
        ([("field", "founded"), ("op", "before"), ("value", "2000-01-01")],
         [("f.founded.before", "2000-01-01")], ["Initech"]),
        ([("field", "founded"), ("op", "empty")], [("f.founded.empty", "")],
         ["Hooli", "Umbrella"]),
        ([("field", "active"), ("op", "is_true"), ("value", "ignored")],
         [("f.active.is_true", "")], ["Acme", "Initech"]),
        ([("field", "created_at"), ("op", "relative"), ("value", "today")],
         [("f.created_at.relative", "today")], ["Acme", "Globex", "Hooli", "Initech", "Umbrella"]),
    ],
)  # fmt: skip
def test_apply_goes_to_the_filtered_list(client, model, pairs, expect_args, names):
    response = apply(client, pairs)
    assert response.status_code == 303, html_of(response)
    location = response.headers["Location"]
    assert urlsplit(location).path == "/r/account/"
    assert query_of(location) == expect_args
    listed = html_of(client.get(location + "&sort=name"))
    assert names_in(listed) == names


def test_apply_keeps_search_sort_view_and_other_filters(client, staff, model):
    view = lv.save_private_view(
        "account",
        {"name": "Big", "columns": ["name", "employees"], "filters": [
            {"field": "employees", "op": "gte", "value": "100"}]},
        user_id=staff.id,
    )  # fmt: skip
    state = [
        ("q", "e"), ("sort", "-name"), ("view", str(view.id)), ("after", "stale-cursor"),
        ("f.name.contains", "old"), ("f.active.is_true", ""),
    ]  # fmt: skip
    pairs = [*state, ("field", "name"), ("op", "contains"), ("value", "c")]
    location = apply(client, pairs).headers["Location"]
    # The page cursor goes; the same filter is replaced, not doubled; the rest is kept.
    assert query_of(location) == [
        ("q", "e"), ("sort", "-name"), ("view", str(view.id)), ("f.active.is_true", ""),
        ("f.name.contains", "c"),
    ]  # fmt: skip
    html = html_of(client.get(location))
    assert names_in(html) == ["Initech", "Acme"]  # view: >= 100; "e" and "c"; active
    # htmx: the list URL comes back as HX-Location: fetched into #results and pushed.
    hx = apply(client, pairs, htmx=True)
    assert hx.status_code == 204
    spec = json.loads(hx.headers["HX-Location"])
    assert spec == {"path": location, "target": "#results", "select": "#results",
                    "swap": "outerHTML"}  # fmt: skip


def test_owner_is_me_and_user_values(client, staff, model):
    other = make_user(display_name="Olga Other")
    spec = specs.current().entity("account")
    records.create(other, spec, {"name": "Theirs"})
    db.session.commit()
    location = apply(client, [("field", "owner_id"), ("op", "is_me")]).headers["Location"]
    assert query_of(location) == [("f.owner_id.is_me", "")]
    html = html_of(client.get(location))
    assert "Theirs" not in names_in(html) and "Acme" in names_in(html)
    assert "Owner is me" in html
    location = apply(client, [("field", "owner_id"), ("op", "eq"), ("value", str(other.id))])
    html = html_of(client.get(location.headers["Location"]))
    assert names_in(html) == ["Theirs"]
    assert "Owner is Olga Other" in html  # the chip names the user


def test_lookup_filter_and_its_chip(client, model):
    acme = model["Acme"]
    location = apply(client, [("field", "partner"), ("op", "eq"), ("value", str(acme))])
    html = html_of(client.get(location.headers["Location"]))
    assert names_in(html) == ["Hooli"]
    assert "Partner is Acme" in html
    # "is one of" several records, with a chip naming them.
    pairs = [("field", "partner"), ("op", "in"), ("value", str(acme)), ("value", "999999")]
    html = html_of(client.get(apply(client, pairs).headers["Location"]))
    assert names_in(html) == ["Hooli"]
    assert "Partner is one of Acme, #999999" in html
    # The builder shows the records already chosen.
    frag = html_of(client.hx_get(f"/r/account/filter-input?field=partner&op=in&value={acme}"))
    assert f'name="value" value="{acme}" checked' in frag and ">Acme</span>" in frag


def test_bad_values_come_back_with_a_message(client, model):
    pairs = [("q", "x"), ("field", "employees"), ("op", "eq"), ("value", "<b>lots</b>")]
    response = apply(client, pairs)
    html = html_of(response)
    assert response.status_code == 400
    assert "<html" in html and "Employees: Enter a whole number." in html
    assert 'value="&lt;b&gt;lots&lt;/b&gt;"' in html and "<b>lots" not in html
    assert '<input type="hidden" name="q" value="x">' in html
    hx = apply(client, pairs, htmx=True)
    assert hx.status_code == 400 and "<html" not in html_of(hx)
    assert html_of(hx).lstrip().startswith('<form class="filter-builder"')
    assert "Employees: Enter a whole number." in html_of(hx)
    for pairs, message in [
        ([("field", "")], "Choose a field to filter by."),
        ([("field", "employees"), ("op", "between")], "Enter at least one of the two values."),
        ([("field", "industry"), ("op", "in")], "Choose at least one value."),
        ([("field", "industry"), ("op", "in"), ("value", "nope")], "is not one of the choices"),
        ([("field", "founded"), ("op", "eq"), ("value", "2024-02-30")], "is not a date"),
        ([("field", "founded"), ("op", "relative"), ("value", "someday")], "Choose a period."),
        ([("field", "employees"), ("op", "between"), ("value", "9"), ("value2", "1")],
         "The first value must not be after the second."),
    ]:  # fmt: skip
        response = apply(client, pairs)
        assert response.status_code == 400, pairs
        assert message in unescape(html_of(response)), (pairs, html_of(response)[-2000:])


@pytest.mark.parametrize(
    "url",
    [
        "/r/account/filter-input?field=nope",
        "/r/account/filter-input?field=name&op=between",
        "/r/account/filter-input?field=name&op=%3Cscript%3E",
        "/r/account/filters/new?field=nope",
        "/r/account/filters/apply?field=nope&op=eq&value=1",
        "/r/account/filters/apply?field=employees&op=contains&value=1",
        "/r/account/filter-input?field=%3Cb%3Ex%3C%2Fb%3E",
    ],
)
def test_unknown_field_or_condition_is_a_400(client, model, url):
    for response in (client.get(url), client.hx_get(url)):
        html = html_of(response)
        assert response.status_code == 400, url
        assert "<script>" not in html and "<b>x" not in html
        assert "is not a condition for this field" in html or "There is no field" in html


def test_hidden_field_is_neither_offered_nor_accepted(app, login_as, model):
    clerk_role = make_role("Clerk", {"read": policy.ALL, "edit": policy.ALL})
    db.session.add(
        FieldRight(role_id=clerk_role.id, entity_key="account", field_key="secret", access="hidden")
    )
    db.session.commit()
    policy.forget()
    clerk = login_as(make_user(roles=("Clerk",)))
    builder = html_of(clerk.hx_get("/r/account/filters/new"))
    assert "Secret" not in options(builder, "field") and "Name" in options(builder, "field")
    for url in (
        "/r/account/filter-input?field=secret",
        "/r/account/filters/new?field=secret",
        "/r/account/filters/apply?field=secret&op=contains&value=x",
    ):
        response = clerk.hx_get(url)
        assert response.status_code == 400, url
        # The same words as for a field that does not exist: nothing is revealed.
        assert "There is no field “secret” to filter Accounts by." in html_of(response)
    assert clerk.get("/r/account/?f.secret.contains=x").status_code == 400


# --- chips, remove links, the rest of the page ------------------------------------------------


def chip_links(html: str) -> dict[str, str]:
    """Chip text -> its remove link."""
    found = re.findall(
        r'<span class="filter-chip-text">([^<]*)</span><a class="filter-chip-x" href="([^"]+)"',
        html,
    )
    return {unescape(t): unescape(u) for t, u in found}


def test_each_chip_removes_only_its_filter(client, staff, model):
    url = (
        "/r/account/?q=e&sort=name&f.industry.in=tech&f.industry.in=rnd"
        "&f.employees.gte=100&f.name.contains=%3Cscript%3E"
    )
    html = html_of(client.get(url))
    links = chip_links(html)
    assert set(links) == {
        "Industry is one of Tech, <i>R&D</i>",
        "Employees is at least 100",
        "Name contains “<script>”",
    }
    assert "&lt;script&gt;" in html and "<script>”" not in html  # escaped everywhere
    assert "&lt;i&gt;R&amp;D&lt;/i&gt;" in html
    assert query_of(links["Employees is at least 100"]) == [
        ("q", "e"), ("sort", "name"), ("f.industry.in", "tech"), ("f.industry.in", "rnd"),
        ("f.name.contains", "<script>"),
    ]  # fmt: skip
    after = html_of(client.get(links["Name contains “<script>”"]))
    assert names_in(after) == ["Globex", "Initech"]
    assert set(chip_links(after)) == {
        "Industry is one of Tech, <i>R&D</i>",
        "Employees is at least 100",
    }
    # The remove links and "Clear filters" swap the results with htmx and push the URL.
    assert (
        'hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true"' in html
    )
    clear = re.search(r'<a class="filter-clear small" href="([^"]+)"', html)
    assert query_of(unescape(clear[1])) == [("q", "e"), ("sort", "name")]


def test_view_filters_have_no_remove_link(client, staff, model):
    view = lv.save_private_view(
        "account",
        {"name": "Tech", "columns": ["name"], "filters": [
            {"field": "industry", "op": "in", "value": ["tech"]}]},
        user_id=staff.id,
    )  # fmt: skip
    html = html_of(client.get(f"/r/account/?view={view.id}&f.active.is_true="))
    assert 'title="A filter of this view"' in html and "Industry is one of Tech" in html
    assert set(chip_links(html)) == {"Active is yes"}
    assert query_of(chip_links(html)["Active is yes"]) == [("view", str(view.id))]
    assert names_in(html) == ["Initech"]
    plain = html_of(client.get(f"/r/account/?view={view.id}"))
    assert "filter-clear" not in plain  # nothing of the user's own to clear


def test_sort_links_keep_the_filters(client, model):
    html = html_of(client.get("/r/account/?q=e&f.industry.in=tech&sort=name"))
    link = re.search(r'<a class="sort-link" href="([^"]+)">Name', html)
    assert query_of(unescape(link[1])) == [("q", "e"), ("f.industry.in", "tech"), ("sort", "-name")]


def test_htmx_answer_refreshes_the_search_form_and_save_view_copies(client, model):
    url = "/r/account/?f.industry.in=tech&sort=name"
    frag = html_of(client.hx_get(url, headers={"HX-Target": "results"}))
    oob = re.search(r'<div hx-swap-oob="innerHTML:#list-state">(.*?)</div>', frag, re.S)
    assert oob and re.findall(r'name="([^"]+)" value="([^"]*)"', oob[1]) == [
        ("f.industry.in", "tech"),
        ("sort", "name"),
    ]
    assert 'hx-swap-oob="innerHTML:.save-view .popover-panel"' in frag
    assert '<div class="filter-bar" id="filter-bar" hx-swap-oob="true">' in frag
    # Only the chips: a builder opened while the answer was on its way stays open.
    assert 'id="filter-panel"' not in frag and 'id="list-filters"' not in frag
    assert "Industry is one of Tech" in frag
    assert 'id="save-view-form"' in frag
    # The full page carries its copies in place, and nothing out of band.
    page = html_of(client.get(url))
    assert "hx-swap-oob" not in page
    state = '<span id="list-state" class="list-state"><input type="hidden" name="f.industry.in"'
    assert state in page
    # "Show more" rows are not the results: nothing out of band there.
    rows = html_of(client.hx_get(url + "&size=1", headers={"HX-Target": "rows"}))
    assert "hx-swap-oob" not in rows


def test_changing_the_condition_keeps_the_value(client, model):
    more = html_of(client.hx_get("/r/account/filter-input?field=employees&op=gte&value=42"))
    assert 'name="value" id="filter-value" aria-label="Filter value" value="42"' in more
    span = "/r/account/filter-input?field=employees&op=between&value=42&value2=%3Cx%3E"
    html = html_of(client.hx_get(span))
    assert 'aria-label="From" value="42"' in html and 'aria-label="To" value="&lt;x&gt;"' in html
    # A person is chosen on purpose: the list starts with no one picked.
    person = html_of(client.hx_get("/r/account/filter-input?field=owner_id&op=eq"))
    assert options(person, "value")[:2] == ["Choose a person…", "Sam Staff (me)"]

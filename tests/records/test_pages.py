"""Runtime pages: lists, record pages, forms, notes, conflicts, the recycle bin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.records.query import table_of
from crm.schema import service as schema


@pytest.fixture
def model(app):
    schema.create_entity(
        "account",
        "Account",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True, "searchable": True},
            {"key": "industry", "type": "picklist", "label": "Industry",
             "choices": [{"key": "retail", "label": "Retail", "color": "pink"},
                         {"key": "tech", "label": "Tech", "color": "indigo"}]},
            {"key": "employees", "type": "integer", "label": "Employees"},
            {"key": "active", "type": "boolean", "label": "Active"},
        ],
        name_field="name",
    )  # fmt: skip
    schema.create_entity(
        "deal",
        "Deal",
        fields=[
            {"key": "title", "type": "text", "label": "Title", "required": True},
            {"key": "account", "type": "lookup", "label": "Account",
             "options": {"target": "account"}},
            {"key": "products", "type": "multi_picklist", "label": "Products",
             "choices": [{"key": "core", "label": "Core"}, {"key": "support", "label": "Support"}]},
        ],
        name_field="title",
    )  # fmt: skip
    return specs.current()


@pytest.fixture
def user_client(login_as, staff):
    return login_as(staff)


def make_account(staff, **values):
    return records.create(staff, specs.current().entity("account"), {"name": "Acme", **values})


def stored(key, record_id):
    db.session.rollback()
    t = table_of(specs.current().entity(key))
    return db.session.execute(select(t).where(t.c.id == record_id)).mappings().first()


def test_nav_lists_entities(user_client, model):
    html = user_client.get("/").data.decode()
    assert 'href="/r/account/"' in html and 'href="/r/deal/"' in html


def test_list_page_search_sort_and_fragment(user_client, staff, model):
    for name in ("Acme", "Globex", "北京科技"):
        make_account(staff, name=name, industry="tech")
    page = user_client.get("/r/account/?sort=name")
    html = page.data.decode()
    assert page.status_code == 200
    assert html.index("Acme") < html.index("Globex") < html.index("北京科技")
    frag = user_client.hx_get("/r/account/?q=glob", headers={"HX-Target": "results"})
    body = frag.data.decode()
    assert "<html" not in body and "Globex" in body and "Acme" not in body
    assert "HX-Request" in frag.headers["Vary"]
    count = user_client.hx_get("/r/account/count?q=e")
    assert count.data.decode().strip().startswith("2")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("sort=nothing", 400),  # input that cannot be understood: 400
        ("f.nothing.eq=1", 400),
        ("f.employees.gt=abc", 400),
        ("after=%%%", 400),
        ("view=99999", 404),  # a list view that does not exist: 404
    ],
)
def test_bad_list_input_is_a_clear_4xx(user_client, model, query, status):
    r = user_client.get(f"/r/account/?{query}")
    assert r.status_code == status
    assert "Traceback" not in r.data.decode()


def test_show_more_pages_through(user_client, staff, model):
    for i in range(7):
        make_account(staff, name=f"Account {i}")
    first = user_client.get("/r/account/?sort=name&size=3").data.decode()
    assert "Show more" in first
    after = first.split("after=")[1].split('"')[0].split("&")[0]
    more = user_client.hx_get(
        f"/r/account/?sort=name&size=3&after={after}", headers={"HX-Target": "more-row"}
    )
    body = more.data.decode()
    assert "Account 3" in body and "Account 0" not in body and "<thead" not in body
    # The block depends on which element asked: caches must keep the answers apart.
    assert {"HX-Request", "HX-Target"} <= {v.strip() for v in more.headers["Vary"].split(",")}


def test_create_through_the_form(user_client, model):
    r = user_client.submit(
        "/r/account/new",
        {"name": "Café <b>Crème</b>", "industry": "retail", "employees": "12", "active": "y"},
    )
    assert r.status_code == 303
    rid = int(r.headers["Location"].rsplit("/", 1)[1])
    row = stored("account", rid)
    assert (row["name"], row["industry"], row["employees"], row["active"]) == (
        "Café <b>Crème</b>",
        "retail",
        12,
        True,
    )
    page = user_client.get(r.headers["Location"]).data.decode()
    assert "Café &lt;b&gt;Crème&lt;/b&gt;" in page and "<b>Crème</b>" not in page


def test_form_errors_are_shown_by_the_field_and_nothing_is_saved(user_client, model):
    r = user_client.submit("/r/account/new", {"name": "", "employees": "12.5", "industry": "nope"})
    html = r.data.decode()
    assert r.status_code == 400
    assert "This field is required." in html and "whole number" in html
    assert stored("account", 1) is None


def test_tampered_fields_are_refused(user_client, staff, model):
    r = user_client.submit(
        "/r/account/new", {"name": "X", "owner_id": "999", "version": "7", "id": "5"}
    )
    # Not form fields: ignored by the form, never written.
    assert r.status_code == 303
    row = stored("account", int(r.headers["Location"].rsplit("/", 1)[1]))
    assert row["owner_id"] == staff.id and row["version"] == 1 and row["id"] != 5


def test_lookup_must_exist_and_multi_select_saves(user_client, staff, model):
    acc = make_account(staff)
    bad = user_client.submit("/r/deal/new", {"title": "D", "account": "999"})
    assert bad.status_code == 400 and "Choose an existing Account" in bad.data.decode()
    ok = user_client.submit(
        "/r/deal/new", {"title": "D", "account": str(acc), "products": ["support", "core"]}
    )
    assert ok.status_code == 303
    row = stored("deal", 1)
    assert row["account"] == acc and row["products"] == ["core", "support"]


def test_record_page_related_list_and_timeline(user_client, staff, model):
    acc = make_account(staff, industry="tech")
    records.create(staff, specs.current().entity("deal"), {"title": "Renewal 2027", "account": acc})
    page = user_client.get(f"/r/account/{acc}").data.decode()
    assert "Acme" in page and "Tech" in page and "/related/deal/account" in page
    related = user_client.hx_get(f"/r/account/{acc}/related/deal/account")
    assert "Renewal 2027" in related.data.decode() and "<html" not in related.data.decode()
    note = user_client.hx_post(
        f"/r/account/{acc}/notes", {"body": "<script>alert(1)</script> call back"}
    )
    assert note.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; call back" in note.data.decode()
    empty = user_client.hx_post(f"/r/account/{acc}/notes", {"body": "  "})
    assert empty.status_code == 400 and "Write something first." in empty.data.decode()


def test_edit_and_history(user_client, staff, model):
    acc = make_account(staff, employees="5")
    r = user_client.submit(
        f"/r/account/{acc}/edit", {"version": "1", "name": "Acme AG", "employees": "6"}
    )
    assert r.status_code == 303
    page = user_client.get(f"/r/account/{acc}").data.decode()
    assert "Acme AG" in page and "Employees:" in page


def test_conflict_page_keeps_both_versions(app, login_as, staff, admin, model):
    acc = make_account(staff, employees="5")
    a, b = login_as(staff), login_as(admin)
    assert (
        a.submit(
            f"/r/account/{acc}/edit", {"version": "1", "name": "Acme", "employees": "7"}
        ).status_code
        == 303
    )
    r = b.submit(f"/r/account/{acc}/edit", {"version": "1", "name": "Acme", "employees": "9"})
    html = r.data.decode()
    assert r.status_code == 409
    assert "was changed while you edited it" in html and ">7<" in html and ">9<" in html
    assert stored("account", acc)["employees"] == 7
    again = b.submit(f"/r/account/{acc}/edit", {"version": "2", "name": "Acme", "employees": "9"})
    assert again.status_code == 303 and stored("account", acc)["employees"] == 9


def test_delete_to_bin_restore_and_purge(login_as, staff, admin, model):
    acc = make_account(staff)
    c = login_as(staff)
    assert c.submit(f"/r/account/{acc}/delete").status_code == 303
    assert c.get(f"/r/account/{acc}").status_code == 404
    assert "Acme" in c.get("/r/account/bin").data.decode()
    assert c.submit(f"/r/account/{acc}/purge").status_code == 403
    c.submit(f"/r/account/{acc}/restore")
    assert c.get(f"/r/account/{acc}").status_code == 200
    c.submit(f"/r/account/{acc}/delete")
    assert login_as(admin).submit(f"/r/account/{acc}/purge").status_code == 303
    assert stored("account", acc) is None


def test_pages_need_sign_in_and_unknown_entities_are_404(client, user_client, model):
    assert client.get("/r/account/").status_code == 302
    assert user_client.get("/r/nothing/").status_code == 404
    assert user_client.get("/r/account/12345").status_code == 404


def test_lookup_autocomplete_is_scoped_and_escaped(user_client, staff, model):
    make_account(staff, name="<i>Acme</i> Corp")
    make_account(staff, name="Globex")
    gone = make_account(staff, name="Acme Deleted")
    records.delete(staff, specs.current().entity("account"), gone)
    r = user_client.hx_get("/r/account/lookup?q=acme&field=account")
    html = r.data.decode()
    assert r.status_code == 200 and "<html" not in html
    assert "&lt;i&gt;Acme&lt;/i&gt; Corp" in html
    assert "Globex" not in html and "Deleted" not in html


def test_new_form_starts_with_defaults_and_edit_shows_lookup_names(user_client, staff, model):
    schema.update_field("account", "industry", default="tech")
    html = user_client.get("/r/account/new").data.decode()
    assert '<option selected value="tech">' in html or 'value="tech" selected' in html
    acc = make_account(staff, name="Initech")
    deal = records.create(staff, specs.current().entity("deal"), {"title": "D", "account": acc})
    edit = user_client.get(f"/r/deal/{deal}/edit").data.decode()
    assert 'value="Initech"' in edit and f'value="{acc}"' in edit


def test_fragment_urls_opened_directly_never_fail(user_client, staff, model):
    acc = make_account(staff)
    r = user_client.get(f"/r/account/{acc}/related/deal/account")
    assert r.status_code == 303 and r.headers["Location"].endswith(
        f"/r/account/{acc}#related-deal-account"
    )
    assert user_client.get("/r/account/count").status_code == 200


def test_htmx_error_answers_are_swapped_in(user_client, model):
    """htmx 2 leaves 4xx/5xx answers unswapped unless told; our fragments explain errors."""
    html = user_client.get("/r/account/").data.decode()
    assert '{"code": "[45]..", "swap": true, "error": true}' in html


def test_timeline_shows_names_and_labels_not_raw_values(user_client, staff, model):
    first, second = make_account(staff, name="Initech"), make_account(staff, name="Umbrella")
    deal = records.create(staff, specs.current().entity("deal"), {"title": "D", "account": first})
    records.update_record(
        staff, specs.current().entity("deal"), deal, {"account": second}, expected_version=1
    )
    acc = make_account(staff, name="Acme", industry="retail", employees="1200")
    records.update_record(
        staff, specs.current().entity("account"), acc, {"industry": "tech", "employees": "1300"},
        expected_version=1,
    )  # fmt: skip
    deal_page = user_client.get(f"/r/deal/{deal}").data.decode()
    assert "<del>Initech</del> → <ins>Umbrella</ins>" in deal_page
    page = user_client.get(f"/r/account/{acc}").data.decode()
    assert "<del>Retail</del> → <ins>Tech</ins>" in page
    assert "<del>1,200</del> → <ins>1,300</ins>" in page

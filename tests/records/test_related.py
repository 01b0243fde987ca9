"""Related lists on a record page: the records whose lookup points at the record, in the
columns of the entity's shared default view, only under a record the user may read."""

from __future__ import annotations

import pytest

from crm.access import policy as P
from crm.metadata import list_views, specs
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import make_role, make_user


@pytest.fixture
def model(app):
    schema.create_entity(
        "company",
        "Company",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "parent", "type": "lookup", "label": "Parent company",
             "options": {"target": "company"}},
        ],
        name_field="name",
    )  # fmt: skip
    schema.create_entity(
        "deal",
        "Deal",
        fields=[
            {"key": "title", "type": "text", "label": "Title", "required": True},
            {"key": "company", "type": "lookup", "label": "Company",
             "options": {"target": "company"}},
            {"key": "stage", "type": "picklist", "label": "Stage",
             "choices": [{"key": "open", "label": "Open", "color": "green"},
                         {"key": "won", "label": "Won", "color": "indigo"}]},
            {"key": "amount", "type": "currency", "label": "Amount"},
        ],
        name_field="title",
    )  # fmt: skip
    return specs.current()


def company(user, name: str, parent: int | None = None) -> int:
    return records.create(user, specs.current().entity("company"), {"name": name, "parent": parent})


def deal(user, title: str, company_id: int, stage: str = "open") -> int:
    spec = specs.current().entity("deal")
    return records.create(user, spec, {"title": title, "company": company_id, "stage": stage})


def related(client, key: str, record_id: int, source: str, field: str):
    return client.hx_get(f"/r/{key}/{record_id}/related/{source}/{field}")


def test_a_lookup_to_its_own_entity_lists_the_children_of_that_record(
    login_as, staff, model
):  # fmt: skip
    """Parent and children live in one table: the list must not confuse the record it
    hangs off with the rows it lists."""
    group = company(staff, "Group")
    company(staff, "Subsidiary A", parent=group)
    company(staff, "Subsidiary B", parent=group)
    alone = company(staff, "Standalone")
    client = login_as(staff)
    body = related(client, "company", group, "company", "parent").data.decode()
    assert "Subsidiary A" in body and "Subsidiary B" in body and "Standalone" not in body
    assert "None yet" in related(client, "company", alone, "company", "parent").data.decode()


def test_a_record_in_the_bin_has_no_related_list(login_as, staff, model):
    acme = company(staff, "Acme")
    deal(staff, "Renewal", acme)
    records.delete(staff, specs.current().entity("company"), acme)
    r = related(login_as(staff), "company", acme, "deal", "company")
    assert r.status_code == 404 and "Renewal" not in r.data.decode()


def test_deals_under_a_company_one_may_not_read_are_not_shown(login_as, staff, model):
    """Deals readable by everyone, companies only one's own: the list under someone
    else's company is refused, not shown empty or full."""
    make_role("Deal desk", {"read": P.ALL}, entity="deal")
    make_role("Own companies", {"read": P.OWN}, entity="company")
    clerk = make_user(roles=("Deal desk", "Own companies"))
    theirs = company(staff, "Theirs")
    deal(staff, "Their big deal", theirs)
    r = related(login_as(clerk), "company", theirs, "deal", "company")
    assert r.status_code == 404 and "Their big deal" not in r.data.decode()


def test_columns_come_from_the_shared_default_view_and_its_filters_do_not_apply(
    login_as, staff, admin, model
):  # fmt: skip
    list_views.save_shared_view(
        "deal",
        {"name": "Open deals", "columns": ["title", "stage", "amount"], "is_default": True,
         "filters": [{"field": "stage", "op": "in", "value": ["open"]}]},
        actor_id=admin.id,
    )  # fmt: skip
    # One person's own default view does not change what everyone's related lists show.
    list_views.save_private_view(
        "deal", {"name": "Mine", "columns": ["title"], "is_default": True}, user_id=staff.id
    )
    acme = company(staff, "Acme")
    deal(staff, "Open one", acme, stage="open")
    deal(staff, "Won one", acme, stage="won")
    body = related(login_as(staff), "company", acme, "deal", "company").data.decode()
    assert "Open one" in body and "Won one" in body  # the view's filter is not applied
    assert "<th>Stage</th>" in body and "<th>Amount</th>" in body
    assert "<th>Company</th>" not in body  # the lookup it hangs by is not repeated
    assert '<span class="chip c-indigo">Won</span>' in body


def test_names_with_markup_are_text(login_as, staff, model):
    acme = company(staff, "Acme")
    deal(staff, '<img src=x onerror="alert(1)">', acme)
    body = related(login_as(staff), "company", acme, "deal", "company").data.decode()
    assert "<img" not in body and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in body


def test_more_than_a_page_offers_see_all(login_as, staff, model):
    acme = company(staff, "Acme")
    for i in range(12):
        deal(staff, f"Deal {i:02d}", acme)
    body = related(login_as(staff), "company", acme, "deal", "company").data.decode()
    assert body.count("<tr>") == 11  # the header and 10 rows
    assert f"/r/deal/?f.company.eq={acme}" in body

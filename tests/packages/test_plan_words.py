"""The plan page speaks the implementer's language: items by their labels, rights and field
rights one line per right that differs, field keys as field labels, yes/no; the JSON pointer
stays beside each item for the command line's --take-theirs/--keep-mine."""

from __future__ import annotations

import re

import pytest

from crm.packages.apply import apply, plan_package
from tests.packages.test_apply_roles import package, v2
from tests.packages.test_screen import upload


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


def _text(response) -> str:
    html = response.get_data(as_text=True)
    body = re.sub(r"<[^>]+>", " ", html[html.find("<main") :])
    return re.sub(r"\s+", " ", body)


def _rows(response) -> list[str]:
    html = response.get_data(as_text=True)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip()
            for r in re.findall(r'<tr class="pkg-step.*?</tr>', html, re.S)]  # fmt: skip


def test_role_rights_are_one_line_per_right_that_changes(admin, admin_client):
    apply(plan_package(package()), actor_id=admin.id)
    text = _text(upload(admin_client, v2()))
    assert "Role “Sales rep” · Rights" in text
    # Deals: read from the department to everything; create from nothing to everything.
    assert "Deals · Read: Own department → All records" in text
    assert "Deals · Create: None → All records" in text
    # Rights that do not change are not listed.
    assert "Edit:" not in text
    assert "Role “Sales rep” · Field rights" in text
    assert "Deals › Amount: Read-only → Editable" in text
    assert "Deals › Code: Hidden → Read-only" in text
    assert "Role “Sales rep” · Can configure the CRM" in text
    assert '{"deal"' not in text and "&#34;" not in text  # no JSON for the implementer


def test_list_views_and_fields_are_named_by_their_labels(admin, admin_client):
    apply(plan_package(package()), actor_id=admin.id)
    rows = _rows(upload(admin_client, v2()))
    columns = next(r for r in rows if "· Columns" in r)
    assert "List view “Open deals” · Columns" in columns
    assert "Title, Amount → Title, Kind, Amount" in columns
    assert "list_views/open_deals/columns" in columns  # the pointer stays, for scripts
    added = next(r for r in rows if r.startswith("Added"))
    assert "List view “Renewals”" in added and "columns: Title" in added


def test_an_added_entity_reads_as_its_label_and_size(admin_client):
    rows = _rows(upload(admin_client, package()))
    entity = next(r for r in rows if "Entity “Deals”" in r)
    assert entity.startswith("Added") and "/entities/deal" not in entity
    field = next(r for r in rows if "Field “Amount”" in r)
    assert "Currency" in field


def test_the_plan_is_in_the_readers_language(admin, admin_client):
    from crm import i18n

    apply(plan_package(package()), actor_id=admin.id)
    i18n.set_company_defaults(locale="es", timezone=None)
    text = _text(upload(admin_client, v2()))
    # The view by the package's Spanish name; rights in the product's Spanish words.
    assert "Vista de lista «Oportunidades abiertas»" in text
    assert "Open deals → Open opportunities" in text  # stored values stay as they are


def test_an_empty_plan_offers_to_record_the_version_once(admin, admin_client):
    """A configuration built by hand that already is the package: nothing to apply, but the
    implementer may record the version (so the next one merges); once recorded, the page
    says so and offers no button at all."""
    from crm.packages import provenance
    from crm.packages.export import export_package
    from tests.packages.test_screen import hidden, job_url

    apply(plan_package(package()), actor_id=admin.id)
    own = export_package(name="acme", version="7")  # never applied under that name
    page = upload(admin_client, own)
    html = page.get_data(as_text=True)
    assert "Nothing would change" in html
    assert 'id="package-record"' in html and ">Apply<" not in html
    assert not provenance.unchanged(own)
    form = {"csrf_token": admin_client.csrf_token(), **hidden(html)}
    admin_client.get(job_url(admin_client.post("/admin/packages/apply", data=form)))
    assert provenance.unchanged(own)

    again = upload(admin_client, own).get_data(as_text=True)
    assert "already recorded as applied here" in again
    assert (
        'id="package-record"' not in again
        and 'type="submit"' not in again.split('id="package-apply"')[1]
    )

"""Roles: validation against the metadata and the policy's constants, compact storage,
field rights, deletion, and the role editor's pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.access import policy as P
from crm.access import roles
from crm.access.models import Role
from crm.errors import ValidationFailed
from crm.extensions import db
from tests.access.conftest import fields_of, grants_of, matrix_post, role_ids, snapshot

ENTITIES = ["account", "deal"]


@pytest.mark.parametrize(
    ("grants", "fields", "message"),
    [
        ({("nope", "read"): P.ALL}, None, "There is no entity with the key “nope”."),
        ({("deal", "fly"): P.ALL}, None, "There is no action “fly”."),
        ({("deal", "read"): 7}, None, "“7” is not a scope level."),
        ({("deal", "read"): "4"}, None, "“4” is not a scope level."),
        ({("deal", "read"): True}, None, "“True” is not a scope level."),
        ({("deal", "create"): P.OWN}, None, "Create is either allowed or not"),
        ({("*", "import"): P.SUBTREE}, None, "Import is either allowed or not"),
        ({"deal": P.ALL}, None, "must name an entity and an action"),
        (None, {("nope", "title"): "read"}, "There is no entity with the key “nope”."),
        (None, {("deal", "nope"): "read"}, "Deals has no field with the key “nope”."),
        (None, {("deal", "title"): "write"}, "is not a field access"),
        (None, {("*", "title"): "read"}, "There is no entity with the key “*”."),
    ],
)
def test_unknown_keys_actions_and_levels_are_refused_and_nothing_changes(
    org, grants, fields, message
):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        roles.update(org.admin, org.rep.id, grants=grants, fields=fields)
    assert any(message in m for ms in exc.value.errors.values() for m in ms), exc.value.errors
    assert snapshot() == before
    with pytest.raises(ValidationFailed):
        roles.create(org.admin, name="Other", grants=grants, fields=fields)
    assert snapshot() == before


def test_archived_entities_are_not_accepted(org):
    from crm.schema import service as schema

    schema.archive_entity("account")
    with pytest.raises(ValidationFailed):
        roles.update(org.admin, org.rep.id, grants={("account", "read"): P.ALL})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a name."),
        ("  ", "Enter a name."),
        ("x" * 81, "at most 80"),
        (" rep ", "already exists"),
    ],
)
def test_role_names(org, name, message):
    with pytest.raises(ValidationFailed) as exc:
        roles.create(org.admin, name=name)
    assert message in exc.value.errors["name"][0]


def test_grants_are_stored_compactly(org):
    r = roles.create(
        org.admin,
        name="Compact",
        grants={
            ("*", "read"): P.OWN,
            ("*", "edit"): P.NONE,
            ("deal", "read"): P.OWN,  # same as "*": no row
            ("deal", "edit"): P.OWN,  # differs: a row
            ("account", "read"): P.NONE,  # differs: a row saying "none"
        },
    )
    assert grants_of(r.id) == {
        ("*", "read"): P.OWN,
        ("deal", "edit"): P.OWN,
        ("account", "read"): P.NONE,
    }
    rules = roles.rights_of(r.id)
    assert rules.level("deal", "read") == P.OWN and rules.level("account", "read") == P.NONE
    assert rules.level("lead", "read") == P.OWN  # an entity made later follows "*"


def test_saving_one_entity_keeps_the_others(org):
    roles.update(org.admin, org.rep.id, grants={("deal", "delete"): P.OWN, ("deal", "read"): P.OWN})
    assert grants_of(org.rep.id) == {
        ("*", "read"): P.OWN,
        ("*", "edit"): P.OWN,
        ("deal", "delete"): P.OWN,
    }


def test_field_rights_store_only_what_is_not_editable(org):
    roles.update(
        org.admin,
        org.rep.id,
        fields={
            ("deal", "title"): "edit",
            ("deal", "amount"): "hidden",
            ("deal", "margin"): "read",
        },
    )
    assert fields_of(org.rep.id) == {("deal", "amount"): "hidden", ("deal", "margin"): "read"}
    roles.update(org.admin, org.rep.id, fields={("account", "name"): "read"})  # another entity
    assert fields_of(org.rep.id)[("deal", "amount")] == "hidden"


def test_a_change_is_seen_by_the_policy_in_the_same_request(org):
    assert P.can(org.rep_east, "delete", "deal") is False
    roles.update(org.admin, org.rep.id, grants={("*", "delete"): P.OWN})
    assert P.can(org.rep_east, "delete", "deal") is True  # forget() ran


def test_delete_a_role_held_by_users_moves_them(org):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        roles.delete_role(org.admin, org.rep.id)
    assert "1 user holds this role" in exc.value.errors["move_to"][0]
    with pytest.raises(ValidationFailed):
        roles.delete_role(org.admin, org.rep.id, move_to=org.rep.id)
    assert snapshot() == before
    assert roles.delete_role(org.admin, org.rep.id, move_to=org.spare.id) == 1
    assert role_ids(org.rep_east.id) == {org.spare.id}
    assert db.session.get(Role, org.rep.id) is None
    assert grants_of(org.rep.id) == {} and fields_of(org.rep.id) == {}


# --- pages ---------------------------------------------------------------------------------


def test_the_role_list_counts_users(org, login_as):
    html = login_as(org.admin).get("/admin/access/roles").data.decode()
    row = html.split(">Rep</a>")[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in row


def test_the_matrix_shows_every_entity_and_levels(org, login_as):
    html = login_as(org.admin).get(f"/admin/access/roles/{org.rep.id}").data.decode()
    assert "Every other entity" in html and ">Deals<" in html.replace("\n", "")
    create = html.split('name="g-deal-create"')[1].split("</select>")[0]
    assert create.count("<option") == 2  # create is allowed or not
    read = html.split('name="g-deal-read"')[1].split("</select>")[0]
    assert read.count("<option") == 5
    assert 'value="1" title="Own records" selected' in read  # "*" gives deals "own"
    cell = html.split('name="g-deal-read"')[1].split(">")[0]
    assert 'data-level="1"' in cell  # the colour of the level


def test_saving_the_matrix_is_one_post(org, login_as):
    levels = {("*", "read"): P.ALL, ("deal", "read"): P.DEPARTMENT, ("*", "export"): P.OWN}
    r = login_as(org.admin).submit(
        f"/admin/access/roles/{org.rep.id}/grants", matrix_post(ENTITIES, levels)
    )
    assert r.status_code == 303
    assert grants_of(org.rep.id) == {
        ("*", "read"): P.ALL,
        ("deal", "read"): P.DEPARTMENT,
        ("*", "export"): P.OWN,
    }


@pytest.mark.parametrize(
    "tamper",
    [{"g-deal-read": "9"}, {"g-deal-create": "2"}, {"g-deal-read": "all"}, {"g-deal-read": ""}],
)
def test_a_tampered_cell_is_refused_by_the_cell_and_nothing_changes(org, login_as, tamper):
    client = login_as(org.admin)
    before = snapshot()
    r = client.submit(
        f"/admin/access/roles/{org.rep.id}/grants", {**matrix_post(ENTITIES), **tamper}
    )
    assert r.status_code == 400
    html = r.data.decode()
    assert "nothing was saved" in html and 'aria-invalid="true"' in html
    assert snapshot() == before


def test_a_missing_cell_is_refused(org, login_as):
    client = login_as(org.admin)
    data = matrix_post(ENTITIES)
    del data["g-deal-read"]
    before = snapshot()
    assert client.submit(f"/admin/access/roles/{org.rep.id}/grants", data).status_code == 400
    assert snapshot() == before


def test_field_rights_tab_saves_and_shows_hidden_fields(org, login_as):
    client = login_as(org.admin)
    r = client.submit(
        f"/admin/access/roles/{org.rep.id}/fields/deal",
        {"f-title": "read", "f-amount": "edit", "f-margin": "hidden"},
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("?tab=deal")
    assert fields_of(org.rep.id) == {("deal", "title"): "read", ("deal", "margin"): "hidden"}
    html = client.get(f"/admin/access/roles/{org.rep.id}?tab=deal").data.decode()
    assert 'name="f-title" value="read" checked' in html
    r = client.submit(f"/admin/access/roles/{org.rep.id}/fields/deal", {"f-title": "secret"})
    assert r.status_code == 400 and "Not a valid choice" in r.data.decode()


def test_a_role_without_read_is_told_so_on_the_field_tab(org, login_as):
    html = (
        login_as(org.admin).get(f"/admin/access/roles/{org.configurer.id}?tab=deal").data.decode()
    )
    assert "cannot read Deals at all" in html


def test_new_role_page_creates_with_settings_and_matrix(org, login_as):
    data = {"name": "Finance <desk>", "description": "Reads <b>all</b>", "can_configure": "y"}
    data.update(matrix_post(ENTITIES, {("*", "read"): P.ALL, ("deal", "export"): P.ALL}))
    r = login_as(org.admin).submit("/admin/access/roles/new", data)
    assert r.status_code == 303
    created = db.session.scalar(select(Role).where(Role.name == "Finance <desk>"))
    assert created.can_configure and not created.can_manage_access
    assert grants_of(created.id) == {("*", "read"): P.ALL, ("deal", "export"): P.ALL}
    html = login_as(org.admin).get("/admin/access/roles").data.decode()
    assert "Finance &lt;desk&gt;" in html and "Reads &lt;b&gt;all&lt;/b&gt;" in html


def test_settings_errors_are_shown_by_the_field(org, login_as):
    r = login_as(org.admin).submit(f"/admin/access/roles/{org.rep.id}/settings", {"name": "wide"})
    assert r.status_code == 400 and "A role named “wide” already exists." in r.data.decode()


def test_deleting_through_the_page(org, login_as):
    client = login_as(org.admin)
    r = client.submit(f"/admin/access/roles/{org.rep.id}/delete", {})
    assert r.status_code == 400 and "choose the role they get instead" in r.data.decode()
    r = client.submit(f"/admin/access/roles/{org.rep.id}/delete", {"move_to": "99999"})
    assert r.status_code == 400
    r = client.submit(f"/admin/access/roles/{org.rep.id}/delete", {"move_to": str(org.spare.id)})
    assert r.status_code == 303
    assert role_ids(org.rep_east.id) == {org.spare.id}


def test_the_matrix_offers_the_import_right(org, login_as):
    """Imports exist: the matrix has an Import column, and a grant of it is saved."""
    assert P.ACTION_AVAILABLE["import"] is True and "import" in P.AVAILABLE_ACTIONS
    client = login_as(org.admin)
    for url in ("/admin/access/roles/new", f"/admin/access/roles/{org.rep.id}"):
        html = client.get(url).data.decode()
        assert "g-*-read" in html and "g-*-import" in html
    r = client.submit(
        f"/admin/access/roles/{org.rep.id}/grants",
        matrix_post(["account", "deal"], {("*", "read"): P.ALL, ("*", "import"): P.ALL}),
    )
    assert r.status_code == 303
    grants = grants_of(org.rep.id)
    assert grants[("*", "read")] == P.ALL and grants[("*", "import")] == P.ALL

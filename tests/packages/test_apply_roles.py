"""Applying packages with roles and shared list views: through the access layer and the
list-view service, re-appliable, merge-aware, atomic."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from crm.access import policy as P
from crm.access import roles
from crm.access.models import Role
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import list_views, specs
from crm.packages.apply import apply, plan_package
from crm.packages.current import current_config
from crm.packages.plan import THEIRS
from tests.factories import make_user
from tests.packages.test_apply import package as base_package
from tests.packages.test_apply import state as schema_state
from tests.schema.conftest import assert_in_step


def package(version: str = "1.0.0") -> dict:
    pkg = base_package(version)
    pkg["entities"]["deal"]["list_views"] = {
        "open_deals": {
            "name": "Open deals",
            "translations": {"name": {"es": "Oportunidades abiertas"}},
            "columns": ["title", "amount"],
            "sort": {"field": "amount", "dir": "desc"},  # one sort item, as the format allows
            "filters": [{"field": "kind", "op": "in", "value": ["new"]}],
            "default": True,
        }
    }
    pkg["roles"] = {
        "sales_rep": {
            "name": "Sales rep",
            "translations": {"name": {"zh_Hans": "销售代表"}},
            "description": "Sells.",
            "grants": {
                "*": {"read": "own", "edit": "own"},
                "deal": {"read": "department", "delete": "none"},
            },
            "field_rights": {"deal": {"amount": "read", "code": "hidden", "title": "edit"}},
        }
    }
    return pkg


def v2() -> dict:
    pkg = package("2.0.0")
    rep = pkg["roles"]["sales_rep"]
    rep["grants"]["deal"] = {"read": "all", "create": "all"}
    rep["field_rights"] = {"deal": {"code": "read"}}
    rep["can_configure"] = True
    view = pkg["entities"]["deal"]["list_views"]["open_deals"]
    view["name"] = "Open opportunities"
    view["columns"] = ["title", "kind", "amount"]
    pkg["entities"]["deal"]["list_views"]["renewals"] = {
        "name": "Renewals",
        "columns": ["title"],
        "filters": [{"field": "kind", "op": "in", "value": ["renewal"]}],
    }
    return pkg


@pytest.fixture
def admin(app):
    return make_user("admin@example.com", is_admin=True)


def install(pkg, actor, **kw):
    return apply(plan_package(pkg), actor_id=actor.id, **kw)


def role(key: str) -> Role | None:
    return db.session.scalar(select(Role).where(Role.key == key))


def view(key: str):
    return next((v for v in list_views.list_views("deal", None) if v.key == key), None)


def state() -> tuple:
    """What an apply writes, roles and shared views (as export reads them) included."""
    config = json.dumps(current_config(), sort_keys=True)
    db.session.rollback()
    return schema_state(), config


def test_a_role_with_grants_and_field_rights_and_a_shared_view_are_applied(admin):
    assert install(package(), admin).changed
    rep = role("sales_rep")
    assert rep is not None and rep.name == "Sales rep" and rep.description == "Sells."
    assert rep.translations == {"name": {"zh_Hans": "销售代表"}}
    rights = roles.rights_of(rep.id)
    assert dict(rights.grants) == {
        ("*", "read"): P.OWN,
        ("*", "edit"): P.OWN,
        ("deal", "read"): P.DEPARTMENT,
    }
    assert dict(rights.fields) == {("deal", "amount"): "read", ("deal", "code"): "hidden"}
    # A user holding the role reads deals of their department, not all of them.
    seller = make_user("seller@example.com", roles=("Sales rep",))
    assert P.rights(seller).level("deal", "read") == P.DEPARTMENT
    assert P.rights(seller).level("deal", "delete") == P.NONE
    shared = view("open_deals")
    assert shared is not None and shared.shared and shared.is_default
    assert shared.plain_name == "Open deals"
    assert shared.columns == ("title", "amount")
    assert shared.sort == (("amount", "desc"),)
    assert [f.to_data()["value"] for f in shared.filters] == [["new"]]
    # Re-applying the same package: nothing would change, nothing changes.
    again = plan_package(package())
    assert again.empty, [c.path for c in again.changes + again.conflicts]
    version = specs.read_version()
    assert install(package(), admin).changed is False
    assert specs.read_version() == version
    assert_in_step()


def test_a_changed_grant_field_right_flag_and_view_are_applied(admin):
    install(package(), admin)
    p = plan_package(v2())
    paths = {c.path for c in p.changes}
    assert "/roles/sales_rep/grants" in paths and "/roles/sales_rep/field_rights" in paths
    assert "/entities/deal/list_views/open_deals/name" in paths
    assert "/entities/deal/list_views/renewals" in paths
    apply(p, actor_id=admin.id)
    rep = role("sales_rep")
    rights = roles.rights_of(rep.id)
    assert dict(rights.grants) == {
        ("*", "read"): P.OWN,
        ("*", "edit"): P.OWN,
        ("deal", "read"): P.ALL,
        ("deal", "create"): P.ALL,
    }
    # amount goes back to editable (the package no longer says read), code becomes read.
    assert dict(rights.fields) == {("deal", "code"): "read"}
    assert rep.can_configure
    changed = view("open_deals")
    assert changed.plain_name == "Open opportunities"
    assert changed.columns == ("title", "kind", "amount")
    assert view("renewals") is not None and not view("renewals").is_default
    assert plan_package(v2()).empty


def test_roles_and_views_the_package_drops_are_left_in_place(admin):
    install(package(), admin)
    make_user("seller@example.com", roles=("Sales rep",))
    smaller = package("3.0.0")
    del smaller["roles"]
    del smaller["entities"]["deal"]["list_views"]
    p = plan_package(smaller)
    assert not [c for c in p.changes if c.kind in ("role", "list_view")]
    apply(p, actor_id=admin.id)
    assert role("sales_rep") is not None and view("open_deals") is not None


def test_a_role_name_changed_here_and_in_the_package_is_a_conflict(admin):
    install(package(), admin)
    roles.update(admin, role("sales_rep").id, name="Sellers")
    newer = package("1.1.0")
    newer["roles"]["sales_rep"]["name"] = "Account executive"
    newer["roles"]["sales_rep"]["description"] = "Sells more."
    p = plan_package(newer)
    assert [c.path for c in p.conflicts] == ["/roles/sales_rep/name"]
    with pytest.raises(ValidationFailed) as refused:
        apply(p, actor_id=admin.id)
    assert "/roles/sales_rep/name" in refused.value.errors
    assert role("sales_rep").name == "Sellers"
    db.session.rollback()
    # Keeping mine keeps the local name and takes the package's other change.
    apply(p, choices={"/roles/sales_rep/name": "mine"}, actor_id=admin.id)
    rep = role("sales_rep")
    assert (rep.name, rep.description) == ("Sellers", "Sells more.")
    newest = package("1.2.0")
    newest["roles"]["sales_rep"]["name"] = "Closer"
    newest["roles"]["sales_rep"]["description"] = "Sells more."
    p = plan_package(newest)
    assert [c.path for c in p.conflicts] == ["/roles/sales_rep/name"]
    apply(p, choices={"/roles/sales_rep/name": THEIRS}, actor_id=admin.id)
    assert role("sales_rep").name == "Closer"


def test_roles_are_applied_by_a_user_who_holds_the_rights(admin):
    before = state()
    # Without a user, nothing: the access layer needs someone to check.
    with pytest.raises(ValidationFailed) as refused:
        apply(plan_package(package()))
    assert "/roles" in refused.value.errors
    assert state() == before
    # An access manager who reads only their own deals cannot hand out department reads.
    roles.create(
        admin,
        name="Configurators",
        can_configure=True,
        can_manage_access=True,
        grants={("*", "read"): P.OWN, ("*", "edit"): P.OWN},
    )
    manager = make_user("manager@example.com", roles=("Configurators",))
    before = state()
    with pytest.raises(ValidationFailed) as refused:
        install(package(), manager)
    assert "/roles/sales_rep" in refused.value.errors
    assert state() == before
    assert role("sales_rep") is None and specs.raw().entity("deal") is None
    assert_in_step()


def test_a_role_the_service_refuses_leaves_everything_as_before(admin):
    install(package(), admin)
    bad = v2()
    bad["roles"]["sales_rep"]["field_rights"] = {"deal": {"nothing_here": "read"}}
    bad["entities"]["deal"]["label_plural"] = "Opportunities"
    before = state()
    with pytest.raises(ValidationFailed) as refused:
        install(bad, admin)
    assert any(k.startswith("/roles/sales_rep") for k in refused.value.errors)
    assert state() == before
    assert_in_step()


class Injected(RuntimeError):
    pass


@pytest.mark.parametrize(
    "step", ["package_after_list_views", "package_after_roles", "package_at_commit"]
)
@pytest.mark.parametrize("onto", ["empty", "installed"])
def test_a_failure_after_views_or_roles_leaves_everything_as_before(app, admin, step, onto):
    if onto == "installed":
        install(package(), admin)
    pkg = v2() if onto == "installed" else package()
    p = plan_package(pkg)
    before = state()

    def explode(at: str) -> None:
        if at == step:
            raise Injected(at)

    app.config["SCHEMA_CHECKPOINT"] = explode
    with pytest.raises(Injected):
        apply(p, actor_id=admin.id)
    assert state() == before
    assert_in_step()
    # Positive control: without the fault the same plan goes through.
    app.config["SCHEMA_CHECKPOINT"] = None
    apply(copy.deepcopy(p), actor_id=admin.id)
    assert state() != before
    assert plan_package(pkg).empty

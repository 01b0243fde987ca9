"""The department tree: path maths, moves in one statement, scopes that follow a move,
and the screens' validation."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from crm.access import departments, policy
from crm.access.models import Department
from crm.errors import Forbidden, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.records import service as records
from crm.records.query import scoped, table_of
from crm.schema import service as schema
from tests.access.conftest import snapshot
from tests.factories import make_role, make_user


def paths() -> dict[str, str]:
    db.session.rollback()
    return {d.name: d.path for d in db.session.scalars(select(Department))}


@pytest.fixture
def admin(app):
    return make_user("root@example.com", is_admin=True, roles=())


@pytest.fixture
def tree(admin):
    """Company > Sales > East > City, Company > Finance, and a second root, Lab."""
    company = departments.create(admin, name="Company")
    sales = departments.create(admin, name="Sales", parent_id=company.id)
    east = departments.create(admin, name="East", parent_id=sales.id)
    city = departments.create(admin, name="City", parent_id=east.id)
    finance = departments.create(admin, name="Finance", parent_id=company.id)
    lab = departments.create(admin, name="Lab")
    return {d.name: d.id for d in (company, sales, east, city, finance, lab)}


def test_paths_are_the_ids_from_the_root_down(tree):
    t = tree
    assert paths() == {
        "Company": f"/{t['Company']}/",
        "Sales": f"/{t['Company']}/{t['Sales']}/",
        "East": f"/{t['Company']}/{t['Sales']}/{t['East']}/",
        "City": f"/{t['Company']}/{t['Sales']}/{t['East']}/{t['City']}/",
        "Finance": f"/{t['Company']}/{t['Finance']}/",
        "Lab": f"/{t['Lab']}/",
    }


def test_a_move_rewrites_the_subtree_in_one_update(admin, tree):
    t = tree
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE DEPARTMENTS SET PATH"):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        departments.move(admin, t["East"], t["Finance"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    p = paths()
    assert p["East"] == f"/{t['Company']}/{t['Finance']}/{t['East']}/"
    assert p["City"] == f"/{t['Company']}/{t['Finance']}/{t['East']}/{t['City']}/"
    assert p["Sales"] == f"/{t['Company']}/{t['Sales']}/"  # the old parent is untouched
    assert db.session.get(Department, t["East"]).parent_id == t["Finance"]


def test_a_move_to_the_top_and_into_another_root(admin, tree):
    t = tree
    departments.move(admin, t["Sales"], None)
    assert paths()["City"] == f"/{t['Sales']}/{t['East']}/{t['City']}/"
    departments.move(admin, t["Sales"], t["Lab"])
    p = paths()
    assert p["Sales"] == f"/{t['Lab']}/{t['Sales']}/"
    assert p["City"] == f"/{t['Lab']}/{t['Sales']}/{t['East']}/{t['City']}/"
    assert (
        p["Company"] == f"/{t['Company']}/" and p["Finance"] == f"/{t['Company']}/{t['Finance']}/"
    )


@pytest.mark.parametrize("target", ["Sales", "East", "City"])
def test_a_department_cannot_move_under_itself_or_below(admin, tree, target):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        departments.move(admin, tree["Sales"], tree[target])
    assert "cannot move under itself" in exc.value.errors["parent"][0]
    assert snapshot() == before


def test_names_are_unique_among_siblings_only(admin, tree):
    with pytest.raises(ValidationFailed) as exc:
        departments.create(admin, name="  east ", parent_id=tree["Sales"])
    assert "already exists under that department" in exc.value.errors["name"][0]
    with pytest.raises(ValidationFailed):
        departments.create(admin, name="LAB")  # roots too
    departments.create(admin, name="East", parent_id=tree["Finance"])  # another parent: fine
    with pytest.raises(ValidationFailed) as exc:  # moving into a clash is refused too
        departments.move(admin, tree["East"], tree["Finance"])
    assert "already exists" in exc.value.errors["name"][0]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Enter a name."), ("\x00\x07 ", "Enter a name."), ("x" * 121, "at most 120")],
)
def test_bad_names_are_refused(admin, tree, name, message):
    with pytest.raises(ValidationFailed) as exc:
        departments.create(admin, name=name, parent_id=tree["Sales"])
    assert message in exc.value.errors["name"][0]


def test_labels_are_cleaned(admin):
    d = departments.create(admin, name="  Ventes\u0007   Europe  ")
    assert d.name == "Ventes Europe"


def test_delete_only_an_empty_department(admin, tree):
    make_user(department=db.session.get(Department, tree["City"]))
    with pytest.raises(ValidationFailed) as exc:
        departments.delete(admin, tree["East"])
    assert exc.value.errors["department"] == [
        "“East” has 1 sub-department: move or delete them first."
    ]
    with pytest.raises(ValidationFailed) as exc:
        departments.delete(admin, tree["City"])
    assert "still has 1 member" in exc.value.errors["department"][0]
    departments.delete(admin, tree["Lab"])
    assert "Lab" not in paths()


def test_managers_must_exist_and_be_active(admin, tree):
    gone = make_user(is_active=False)
    with pytest.raises(ValidationFailed) as exc:
        departments.update(admin, tree["Sales"], name="Sales", manager_id=gone.id)
    assert "deactivated" in exc.value.errors["manager"][0]
    with pytest.raises(ValidationFailed):
        departments.update(admin, tree["Sales"], name="Sales", manager_id=99999)
    boss = make_user(display_name="Bo Boss")
    departments.update(admin, tree["Sales"], name="Sales & Co", manager_id=boss.id)
    d = db.session.get(Department, tree["Sales"])
    assert (d.name, d.manager_id) == ("Sales & Co", boss.id)


def test_only_full_administrators_change_the_tree(tree):
    r = make_role("Access", {}, can_manage_access=True)
    mgr = make_user(roles=(r.name,))
    with pytest.raises(Forbidden):
        departments.create(mgr, name="X")
    with pytest.raises(Forbidden):
        departments.move(mgr, tree["East"], None)
    assert departments.tree(mgr)  # but they see it


# --- the scope "department and below" follows a move -------------------------------------


@pytest.fixture
def deals(admin, tree):
    schema.create_entity("deal", "Deal", fields=[{"key": "title", "type": "text", "label": "T"}])
    make_role("Manager", {("deal", "read"): policy.SUBTREE})
    make_role("Rep", {("deal", "read"): policy.OWN})
    at = {k: db.session.get(Department, v) for k, v in tree.items()}
    people = {
        "mgr_sales": make_user(roles=("Manager",), department=at["Sales"]),
        "mgr_finance": make_user(roles=("Manager",), department=at["Finance"]),
        "sales": make_user(roles=("Rep",), department=at["Sales"]),
        "east": make_user(roles=("Rep",), department=at["East"]),
        "city": make_user(roles=("Rep",), department=at["City"]),
        "finance": make_user(roles=("Rep",), department=at["Finance"]),
        "lab": make_user(roles=("Rep",), department=at["Lab"]),
    }
    spec = specs.current().entity("deal")
    owners = ["sales", "east", "city", "finance", "lab"]
    ids = records.bulk_create(
        admin, spec, [{"title": o} for o in owners], owner_ids=[people[o].id for o in owners]
    )
    return {"people": people, "ids": dict(zip(owners, ids, strict=True)), "spec": spec}


def seen(deals, who: str) -> set[str]:
    policy.forget()
    spec = deals["spec"]
    table = table_of(spec)
    got = set(db.session.scalars(scoped(deals["people"][who], spec, columns=[table.c.id])))
    return {owner for owner, i in deals["ids"].items() if i in got}


def test_department_and_below_follows_a_move(admin, tree, deals):
    assert seen(deals, "mgr_sales") == {"sales", "east", "city"}
    assert seen(deals, "mgr_finance") == {"finance"}
    departments.move(admin, tree["East"], tree["Finance"])
    assert seen(deals, "mgr_sales") == {"sales"}
    assert seen(deals, "mgr_finance") == {"finance", "east", "city"}
    departments.move(admin, tree["Finance"], tree["Lab"])  # a whole branch to another root
    assert seen(deals, "mgr_finance") == {"finance", "east", "city"}
    assert seen(deals, "mgr_sales") == {"sales"}


# --- the screens -------------------------------------------------------------------------


def test_the_tree_page_shows_managers_counts_and_nesting(admin, tree, login_as):
    boss = make_user(
        display_name="Bo <b>Boss</b>", department=db.session.get(Department, tree["Sales"])
    )
    departments.update(admin, tree["Sales"], name="Sales", manager_id=boss.id)
    html = login_as(admin).get("/admin/access/departments").data.decode()
    assert "managed by Bo &lt;b&gt;Boss&lt;/b&gt;" in html
    assert "1 member" in html
    assert html.index(">Company<") < html.index(">Sales<") < html.index(">East<")
    assert html.index(">Finance<") < html.index(">Sales<")  # siblings by name
    assert "Add below" in html


def test_access_managers_see_the_tree_without_forms(tree, login_as):
    r = make_role("Access", {}, can_manage_access=True)
    html = login_as(make_user(roles=(r.name,))).get("/admin/access/departments").data.decode()
    assert "Only full administrators change it." in html
    assert "Add below" not in html and "Add a department" not in html
    page = login_as(make_user(roles=(r.name,))).get(f"/admin/access/departments/{tree['Sales']}")
    assert page.status_code == 200 and "Move" not in page.data.decode()


def test_moving_under_a_descendant_through_the_page_is_refused(admin, tree, login_as):
    client = login_as(admin)
    before = snapshot()
    r = client.submit(
        f"/admin/access/departments/{tree['Sales']}/move", {"parent": str(tree["City"])}
    )
    # The page never offers it (it is not a valid choice there); a crafted post is refused.
    assert r.status_code == 400
    assert snapshot() == before


def test_the_move_form_offers_no_place_under_the_department_itself(admin, tree, login_as):
    html = login_as(admin).get(f"/admin/access/departments/{tree['Sales']}").data.decode()
    move = html.split('name="parent"')[1].split("</select>")[0]
    assert f'value="{tree["Finance"]}"' in move and f'value="{tree["Lab"]}"' in move
    assert f'value="{tree["East"]}"' not in move and f'value="{tree["City"]}"' not in move


def test_errors_are_shown_by_the_field(admin, tree, login_as):
    client = login_as(admin)
    r = client.submit(
        "/admin/access/departments/new",
        {"name": "Sales", "parent": str(tree["Company"]), "manager": ""},
    )
    assert r.status_code == 400
    assert "already exists under that department" in r.data.decode()
    r = client.submit(
        "/admin/access/departments/new", {"name": "X", "parent": "12345", "manager": ""}
    )
    assert r.status_code == 400 and "Not a valid choice" in r.data.decode()
    r = client.submit(f"/admin/access/departments/{tree['East']}/delete", {})
    assert r.status_code == 400 and "sub-department" in r.data.decode()
    r = client.submit(
        "/admin/access/departments/new", {"name": "<script>x</script>", "parent": "", "manager": ""}
    )
    assert r.status_code == 303
    html = client.get("/admin/access/departments").data.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html

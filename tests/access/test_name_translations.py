"""Role and department names in every language: the forms' Translations control, the
services' checks, the access audit, and every page naming a role or department in the
reader's language (the plain name when it has no translation into it)."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from crm.access import departments, roles
from crm.access.models import AccessAuditEntry, Department, Role
from crm.errors import ValidationFailed
from crm.extensions import db
from tests.access.conftest import matrix_post, snapshot
from tests.factories import make_user

ROLES = "/admin/access/roles"
DEPARTMENTS = "/admin/access/departments"


def page(response) -> str:
    return html.unescape(response.data.decode())


def name_errors(body: str) -> str:
    """The error list printed under the name input (empty when there is none)."""
    found = re.search(r'<ul class="errors" id="name-errors">(.*?)</ul>', body, re.S)
    return found.group(1) if found else ""


def audit_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AccessAuditEntry))


def reader(org, locale: str | None):
    """The organisation's full administrator, reading in ``locale``."""
    org.admin.locale = locale
    db.session.commit()
    return org.admin


def named(org, locale):
    """Rep and Sales East with a Chinese and a Spanish name; Finance only a Chinese one."""
    org.rep.translations = {"name": {"zh_Hans": "销售代表", "es": "Representante"}}
    org.east.translations = {"name": {"zh_Hans": "华东销售部", "es": "Ventas Este"}}
    org.finance.translations = {"name": {"zh_Hans": "财务部"}}
    return reader(org, locale)


# --- editing through the real routes --------------------------------------------------------


def test_a_new_role_takes_its_translations_from_the_form(org, login_as):
    client = login_as(org.admin)
    form = page(client.get(f"{ROLES}/new"))
    assert 'name="tr_name.zh_Hans"' in form and 'name="tr_name.es"' in form
    r = client.submit(
        f"{ROLES}/new",
        {
            "name": "Key account",
            "tr_name.zh_Hans": " 大客户经理 ",
            "tr_name.es": "Cuentas clave",
            **matrix_post(["account", "deal"]),
        },
    )
    assert r.status_code == 303
    role = db.session.scalar(select(Role).where(Role.name == "Key account"))
    assert role.translations == {"name": {"es": "Cuentas clave", "zh_Hans": "大客户经理"}}
    entry = db.session.scalar(select(AccessAuditEntry).where(AccessAuditEntry.role_id == role.id))
    assert json.loads(entry.after)["Name [zh_Hans]"] == "大客户经理"


def test_editing_a_role_prefills_changes_and_clears_its_translations(org, login_as):
    org.rep.translations = {"name": {"zh_Hans": "销售代表", "es": "Representante"}}
    client = login_as(org.admin)
    body = page(client.get(f"{ROLES}/{org.rep.id}"))
    assert 'name="tr_name.zh_Hans" value="销售代表"' in body
    assert 'name="tr_name.es" value="Representante"' in body
    r = client.submit(
        f"{ROLES}/{org.rep.id}/settings",
        {"name": "Rep", "tr_name.zh_Hans": "", "tr_name.es": "Representante de ventas"},
    )
    assert r.status_code == 303
    db.session.refresh(org.rep)
    assert org.rep.translations == {"name": {"es": "Representante de ventas"}}
    # The audit shows the change like a rename, in the reader's words.
    log = page(client.get("/admin/access/audit?kind=role"))
    assert "Name (Español)" in log and "Representante de ventas" in log
    assert "Name (中文（简体）)" in log and "销售代表" in log


def test_a_settings_post_without_the_control_keeps_the_translations(org, login_as):
    org.rep.translations = {"name": {"es": "Representante"}}
    r = login_as(org.admin).submit(f"{ROLES}/{org.rep.id}/settings", {"name": "Sales rep"})
    assert r.status_code == 303
    db.session.refresh(org.rep)
    assert (org.rep.name, org.rep.translations) == ("Sales rep", {"name": {"es": "Representante"}})


def test_departments_take_their_translations_on_creation_and_edit(org, login_as):
    client = login_as(org.admin)
    assert 'name="tr_name.es"' in page(client.get(DEPARTMENTS))
    r = client.submit(
        f"{DEPARTMENTS}/new",
        {"name": "Support", "parent": "", "manager": "", "tr_name.zh_Hans": "客服部"},
    )
    assert r.status_code == 303
    support = db.session.scalar(select(Department).where(Department.name == "Support"))
    assert support.translations == {"name": {"zh_Hans": "客服部"}}
    body = page(client.get(f"{DEPARTMENTS}/{support.id}"))
    assert 'name="tr_name.zh_Hans" value="客服部"' in body
    r = client.submit(
        f"{DEPARTMENTS}/{support.id}",
        {
            "name": "Support",
            "manager": "",
            "tr_name.zh_Hans": "客户服务部",
            "tr_name.es": "Soporte",
        },
    )
    assert r.status_code == 303
    db.session.refresh(support)
    assert support.translations == {"name": {"es": "Soporte", "zh_Hans": "客户服务部"}}
    entry = db.session.scalars(
        select(AccessAuditEntry)
        .where(AccessAuditEntry.department_id == support.id)
        .order_by(AccessAuditEntry.id.desc())
    ).first()
    assert entry.action == "changed"
    assert json.loads(entry.before) == {"Name [es]": "—", "Name [zh_Hans]": "客服部"}
    assert json.loads(entry.after) == {"Name [es]": "Soporte", "Name [zh_Hans]": "客户服务部"}


def test_a_translation_only_change_is_logged_and_the_same_one_is_not(org):
    before = audit_count()
    departments.update(
        org.admin, org.east.id, name="Sales East", manager_id=None, translations={"name": {}}
    )
    assert audit_count() == before  # nothing changed: nothing logged
    roles.update(org.admin, org.rep.id, translations={"name": {"es": "Representante"}})
    assert audit_count() == before + 1


# --- bad input: a clear message by the name, nothing changed ---------------------------------


BAD = [
    ({"tr_name.xx": "Klingon"}, "“xx” is not a language of this CRM."),
    ({"tr_name.es": "R" * 121}, "The Español translation is too long: use at most"),
    ({"tr_name.zh_Hans": "销售\x00代表"}, "The 中文（简体） translation contains a NUL character."),
]


def _posts(org) -> dict[str, tuple[str, dict]]:
    return {
        "role_new": (f"{ROLES}/new", {"name": "Fresh", **matrix_post(["account", "deal"])}),
        "role_settings": (f"{ROLES}/{org.rep.id}/settings", {"name": "Rep"}),
        "department_new": (f"{DEPARTMENTS}/new", {"name": "Fresh", "parent": "", "manager": ""}),
        "department_save": (f"{DEPARTMENTS}/{org.east.id}", {"name": "Sales East", "manager": ""}),
    }


WHERE = ["role_new", "role_settings", "department_new", "department_save"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize(("bad", "message"), BAD)
def test_bad_translations_are_refused_by_the_name_and_change_nothing(
    org, login_as, where, bad, message
):
    org.rep.translations = {"name": {"es": "Representante"}}
    org.east.translations = {"name": {"es": "Ventas Este"}}
    client = login_as(org.admin)
    url, data = _posts(org)[where]
    before, entries = snapshot(), audit_count()
    r = client.submit(url, {**data, "tr_name.es": "Bien", **bad})
    body = page(r)
    assert r.status_code == 400
    assert message in name_errors(body)
    assert '<details class="translations" open>' in body  # the refused inputs are in view
    assert snapshot() == before and audit_count() == entries


def test_a_post_without_the_csrf_token_changes_no_translation(org, login_as):
    client = login_as(org.admin)
    before = snapshot()
    r = client.post(
        f"{ROLES}/{org.rep.id}/settings", data={"name": "Rep", "tr_name.es": "Representante"}
    )
    assert r.status_code == 400 and snapshot() == before


def test_an_access_manager_cannot_translate_a_role_beyond_them(org, login_as):
    """Translations are part of the role: the same rules as a rename (here: a role holding
    rights the manager does not hold)."""
    client = login_as(org.mgr)
    before = snapshot()
    r = client.submit(f"{ROLES}/{org.wide.id}/settings", {"name": "Wide", "tr_name.es": "Amplio"})
    assert r.status_code == 403 and snapshot() == before


def test_the_services_refuse_a_wrong_shape(org):
    before = snapshot()
    for bad in ({"label": {"es": "x"}}, ["es"], {"name": "Representante"}):
        with pytest.raises(ValidationFailed) as caught:
            roles.update(org.admin, org.rep.id, translations=bad)
        assert caught.value.errors["name"]
        with pytest.raises(ValidationFailed):
            departments.create(org.admin, name="Shape", translations=bad)
    assert snapshot() == before


# --- readers see the names in their language -------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "rep", "east", "finance"),
    [
        ("zh_Hans", "销售代表", "华东销售部", "财务部"),
        ("es", "Representante", "Ventas Este", "Finance"),  # no Spanish Finance: the plain name
        ("en", "Rep", "Sales East", "Finance"),
    ],
)
def test_every_access_page_names_roles_and_departments_in_the_readers_language(
    org, login_as, locale, rep, east, finance
):
    client = login_as(named(org, locale))
    users = page(client.get("/admin/access/users"))
    assert f'<span class="tag">{rep}</span>' in users  # the roles column
    assert f"<td>{east}</td>" in users  # the department column
    assert f'<option value="{org.rep.id}">{rep}</option>' in users  # the role filter
    assert f"{finance}</option>" in users  # the department filter
    user = page(client.get(f"/admin/access/users/{org.rep_east.id}"))
    # The department picker (indented by depth) and the role check boxes.
    assert re.search(rf'<option value="{org.east.id}" selected>\s*{east}</option>', user)
    assert re.search(rf'value="{org.rep.id}" checked>\s*{rep}\s*</label>', user)
    role_list = page(client.get(ROLES))
    assert f">{rep}</a>" in role_list
    role_page = page(client.get(f"{ROLES}/{org.rep.id}"))
    assert f"<h1>{rep}</h1>" in role_page
    # The settings form still edits the plain name.
    assert 'value="Rep"' in role_page
    tree = page(client.get(DEPARTMENTS))
    assert f">{east}</a>" in tree and f">{finance}</a>" in tree
    dept = page(client.get(f"{DEPARTMENTS}/{org.east.id}"))
    assert f"<h1>{east}</h1>" in dept and 'value="Sales East"' in dept


def test_a_role_picker_elsewhere_uses_the_readers_language(org, login_as):
    client = login_as(named(org, "zh_Hans"))
    body = page(client.get(f"{ROLES}/{org.dept_lead.id}"))
    # "Give its users this role instead" on the delete form of a role people hold.
    assert f'<option value="{org.rep.id}">销售代表</option>' in body


def test_a_blocked_users_facts_name_department_and_roles_in_the_readers_language(org, login_as):
    """An access manager reading a user they cannot change (a full administrator's
    department and roles are listed as facts)."""
    org.mgr.locale = "es"
    org.wide.translations = {"name": {"es": "Todo"}}
    db.session.commit()
    boss = make_user("boss@example.com", roles=("Wide",), department=org.finance)
    org.finance.translations = {"name": {"es": "Finanzas"}}
    db.session.commit()
    body = page(login_as(org.mgr).get(f"/admin/access/users/{boss.id}"))
    assert '<span class="tag">Todo</span>' in body and "<dd>Finanzas</dd>" in body


def test_errors_name_the_role_in_the_readers_language(org, login_as):
    """An access manager giving a role beyond their rights reads its name in Chinese."""
    org.wide.translations = {"name": {"zh_Hans": "全部可见"}}
    org.mgr.locale = "zh_Hans"
    db.session.commit()
    r = login_as(org.mgr).submit(
        f"/admin/access/users/{org.rep_east.id}",
        {"display_name": "Eli East", "department": str(org.east.id), "roles": [str(org.wide.id)]},
    )
    assert r.status_code == 403 and "“全部可见”" in page(r)


def test_outside_a_request_the_plain_name_is_read(org):
    org.rep.translations = {"name": {"zh_Hans": "销售代表"}}
    db.session.commit()
    assert org.rep.display_name == "Rep"

"""The sign-in, preferences and access screens in Chinese and Spanish: no English chrome
left, WTForms' own messages and the services' refusals in the reader's language, the
audit log's stored English shown translated, the command line in the company's language."""

from __future__ import annotations

import json
import re

import pytest
from flask_babel import refresh
from sqlalchemy import select

from crm import i18n
from crm.access import departments, roles
from crm.access import policy as P
from crm.access.models import AccessAuditEntry
from crm.auth.models import AppSetting
from crm.extensions import db
from tests.factories import make_department, make_role, make_user

# English words of the screens' chrome (navigation, headings, buttons, labels), each
# marked for translation: none may be left on a translated page. ("Roles" is Spanish too.)
CHROME = (
    "Sign in",
    "Sign out",
    "Password",
    "Preferences",
    "Users",
    "Departments",
    "Department",
    "Status",
    "Audit log",
    "Save",
    "Cancel",
    "Search",
    "Members",
    "Record access",
    "Filter",
    "Time zone",
    "Own records",
    "Every other entity",
)
LOCALES = {"zh_Hans": ("zh-CN,zh;q=0.9", "zh-Hans"), "es": ("es-ES,es;q=0.9", "es")}
# Words each page shows in the language (one per page is enough to know it is translated).
EXPECTED = {
    "zh_Hans": {
        "login": "登录",
        "preferences": "个人设置",
        "users": "用户",
        "role": "记录权限",
        "department": "成员",
        "audit": "审计日志",
    },
    "es": {
        "login": "Iniciar sesión",
        "preferences": "Preferencias",
        "users": "Usuarios",
        "role": "Acceso a registros",
        "department": "Miembros",
        "audit": "Registro de auditoría",
    },
}


def english_left(html: str) -> list[str]:
    """The chrome words still in ``html`` (whole words, as written: ``type="password"`` or
    ``class="user-rows"`` are not words people read)."""
    return [w for w in CHROME if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", html)]


@pytest.fixture
def company(app):
    """An administrator, a department with a member, a role, and an audit entry."""
    admin = make_user("ada@example.com", display_name="Ada", is_admin=True, roles=())
    ventas = make_department("Ventas")
    make_user("li@example.com", display_name="李娜", roles=(), department=ventas)
    role = make_role("Comercial", {("*", "read"): 1})
    departments.create(admin, name="Norte")  # an audit entry: "created", parent "(top level)"
    return admin, ventas, role


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_the_access_screens_hold_no_english_chrome(client, login_as, company, locale):
    admin, ventas, role = company
    header, tag = LOCALES[locale]
    login = client.get("/login", headers={"Accept-Language": header})
    pages = {"login": login}
    admin.locale = locale
    db.session.commit()
    signed_in = login_as(admin)
    urls = {
        "preferences": "/account/preferences",
        "users": "/admin/access/users",
        "role": f"/admin/access/roles/{role.id}",
        "department": f"/admin/access/departments/{ventas.id}",
        "audit": "/admin/access/audit",
    }
    for name, url in urls.items():
        pages[name] = signed_in.get(url, headers={"Accept-Language": "en"})
    for name, page in pages.items():
        assert page.status_code == 200, name
        html = page.data.decode()
        assert f'<html lang="{tag}">' in html, name
        assert EXPECTED[locale][name] in html, name
        assert not english_left(html), f"{locale} {name}: {english_left(html)}"


def test_the_same_pages_in_english_show_the_english_words(client, login_as, company):
    admin, _ventas, role = company
    html = login_as(admin).get(f"/admin/access/roles/{role.id}").data.decode()
    assert {"Users", "Record access", "Every other entity"} <= set(english_left(html))


@pytest.mark.parametrize(
    ("header", "required", "refused"),
    [
        ("zh-CN", "该字段是必填字段。", "电子邮箱与密码不匹配任何有效账号。"),
        (
            "es-ES",
            "Este campo es obligatorio.",
            "El correo electrónico y la contraseña no corresponden a ninguna cuenta activa.",
        ),
    ],
)
def test_form_and_service_messages_speak_the_language(client, staff, header, required, refused):
    empty = client.submit(
        "/login", {"email": "", "password": ""}, headers={"Accept-Language": header}
    )
    assert empty.status_code == 400
    assert required in empty.data.decode()
    wrong = client.submit(
        "/login",
        {"email": "staff@example.com", "password": "not-the-password"},
        headers={"Accept-Language": header},
    )
    assert refused in wrong.data.decode()


def test_the_audit_log_stores_english_and_shows_the_readers_language(login_as, company):
    admin, _ventas, _role = company
    entry = db.session.scalar(select(AccessAuditEntry).where(AccessAuditEntry.kind == "department"))
    assert json.loads(entry.after) == {"Name": "Norte", "Parent": "(top level)"}
    admin.locale = "zh_Hans"
    db.session.commit()
    html = login_as(admin).get("/admin/access/audit").data.decode()
    assert "上级部门:</span> — → （顶级）" in html
    assert "名称:</span> — → Norte" in html  # the name people typed stays as typed
    csv = login_as(admin).get("/admin/access/audit.csv").data.decode("utf-8-sig")
    assert csv.splitlines()[0] == "时间（UTC）,操作人,类型,操作,涉及,项目,之前,之后"


def test_role_entries_show_entity_action_and_levels_translated(login_as, company):
    admin, _ventas, role = company
    roles.update(admin, role.id, grants={("*", "read"): P.DEPARTMENT})
    entry = db.session.scalar(select(AccessAuditEntry).where(AccessAuditEntry.kind == "role"))
    assert json.loads(entry.before) == {"Every other entity: Read": "Own records"}
    admin.locale = "es"
    db.session.commit()
    html = login_as(admin).get("/admin/access/audit?kind=role").data.decode()
    assert "Todas las demás entidades: Ver:</span> Registros propios → Su departamento" in html


def test_a_refused_change_is_explained_in_the_language(login_as, company):
    admin, ventas, _role = company
    admin.locale = "es"
    db.session.commit()
    answer = login_as(admin).submit(f"/admin/access/departments/{ventas.id}/delete", {})
    assert answer.status_code == 400
    assert "«Ventas» todavía tiene 1 miembro: muévalo primero a otro departamento." in (
        answer.data.decode()
    )


def test_error_pages_and_the_copy_button_are_translated(client, login_as, company):
    admin, _ventas, _role = company
    missing = client.get("/no-such-page", headers={"Accept-Language": "es"})
    assert missing.status_code == 404
    assert "Página no encontrada" in missing.data.decode()
    admin.locale = "zh_Hans"
    db.session.commit()
    signed_in = login_as(admin)
    created = signed_in.submit(
        "/admin/access/users/new",
        {"display_name": "王伟", "email": "wang@example.com", "department": ""},
    )
    html = created.data.decode()
    assert 'data-msg-copied="已复制"' in html and ">复制</button>" in html


def test_the_command_line_speaks_the_company_language(app):
    db.session.add(AppSetting(key=i18n.LOCALE_SETTING, value="es"))
    db.session.commit()
    refresh()
    result = app.test_cli_runner().invoke(
        args=["crm", "create-admin", "--email", "ops@example.com", "--password", "ops-secret-123"]
    )
    assert result.exit_code == 0, result.output
    assert "Se ha creado el administrador ops@example.com." in result.output


def test_share_and_owner_subjects_hold_no_english_and_read_in_the_readers_language(
    login_as, company
):
    from crm.access import audit
    from crm.access.models import User
    from crm.records import sharing
    from crm.uow import unit_of_work
    from tests.factories import make_entity, make_record, stored, text

    admin, ventas, _role = company
    li = db.session.scalar(select(User).where(User.email == "li@example.com"))
    spec = make_entity("deal", "Deal", [text("title", "Title")])
    deal = make_record(admin, "deal", {"title": "Big"})
    sharing.share(admin, spec, deal, user_id=li.id, access="read")
    sharing.share(admin, spec, deal, department_id=ventas.id, access="edit")
    sharing.transfer(admin, spec, deal, li.id, expected_version=stored("deal", deal)["version"])
    with unit_of_work():  # one stored in English before subjects held no words
        audit.record(
            admin, "share", "unshared", f"Deal #{deal} with Old Name",
            before={"Access": "Read"}, after={"Access": audit.NOTHING},
            entity_key="deal", record_id=deal,
        )  # fmt: skip
        audit.record(  # shared with someone since removed
            admin, "share", "unshared",
            audit.record_subject("Deal", deal, shared_with=audit.REMOVED),
            before={"Access": "Read"}, after={"Access": audit.NOTHING},
            entity_key="deal", record_id=deal,
        )  # fmt: skip
    kept = db.session.scalars(
        select(AccessAuditEntry)
        .where(AccessAuditEntry.kind.in_(["share", "owner"]))
        .order_by(AccessAuditEntry.id)
    ).all()
    assert [json.loads(e.subject) for e in kept[:3]] == [
        {"entity": "Deal", "record": deal, "with": "李娜"},
        {"entity": "Deal", "record": deal, "with": "Ventas", "department": True},
        {"entity": "Deal", "record": deal},
    ]

    def about(locale: str, kind: str = "share") -> list[str]:
        admin.locale = locale
        db.session.commit()
        answer = login_as(admin).get(f"/admin/access/audit.csv?kind={kind}")
        return [row.split(",")[4] for row in answer.data.decode("utf-8-sig").splitlines()[1:]]

    assert about("zh_Hans") == [
        f"Deal #{deal}（共享给 已删除的用户或部门）",
        f"Deal #{deal}（共享给 Old Name）",
        f"Deal #{deal}（共享给部门 Ventas）",
        f"Deal #{deal}（共享给 李娜）",
    ]  # newest first
    assert about("es") == [
        f"Deal #{deal} con (eliminado)",
        f"Deal #{deal} con Old Name",
        f"Deal #{deal} con el departamento Ventas",
        f"Deal #{deal} con 李娜",
    ]
    assert about("en") == [
        f"Deal #{deal} with (removed)",
        f"Deal #{deal} with Old Name",
        f"Deal #{deal} with department Ventas",
        f"Deal #{deal} with 李娜",
    ]
    assert about("zh_Hans", "owner") == [f"Deal #{deal}"]
    admin.locale = "zh_Hans"
    db.session.commit()
    html = login_as(admin).get("/admin/access/audit?kind=share").data.decode()
    assert f"Deal #{deal}（共享给部门 Ventas）" in html


def test_a_long_name_leaves_the_stored_subject_whole():
    from crm.access import audit

    subject = audit.record_subject("Deal" * 40, 7, shared_with="名" * 400, department=True)
    assert len(subject) <= 300
    parts = json.loads(subject)
    assert parts["record"] == 7 and parts["department"] is True
    assert parts["entity"] == ("Deal" * 40)[:80] and set(parts["with"]) == {"名"}


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("zh_Hans", "停止了与已删除的用户或部门的共享"),
        ("es", "dejó de compartir con (eliminado)"),
        ("en", "stopped sharing with (removed)"),
    ],
)
def test_a_timeline_share_with_someone_removed_reads_in_the_language(app, locale, words):
    from flask_babel import force_locale

    from crm.access import audit
    from crm.records import sharing

    side = {"user_id": 9, "name": audit.REMOVED, "access": "read"}
    with app.test_request_context(), force_locale(locale):
        assert sharing.describe_share_change([(sharing.SHARE_KEY, side, None)]) == words

"""The staff runtime in Chinese and in Spanish: lists, record pages, forms, bulk actions,
sharing, the home page and the conflict page speak the user's language, with no English
left in the words the application itself writes (labels typed by administrators, record
values and the page frame are other work)."""

from __future__ import annotations

import csv
import io

import pytest

from crm.access.models import User
from crm.extensions import db
from crm.metadata import list_views
from crm.records import service as records
from tests.records.runtime_model import build_model, entity, make, picks

# Per language: words the pages must show, and the English they replace.
WORDS = {
    "zh_Hans": {
        "list": [
            "保存视图",
            "回收站",
            "快速新建",
            "导出此列表",
            "添加筛选",
            "全选本页",
            "修改字段…",
        ],
        "record": ["动态", "添加备注", "编辑", "删除", "共享", "负责人：", "第 1 版"],
        "new": ["新建account", "创建account", "取消", "此字段为必填项。"],
        "edit": ["编辑account", "保存", "取消"],
        "bulk": ["已更新 2 条Accounts。"],
        "sharing": ["共享给", "将负责人转移给", "转移负责人", "未与任何人共享。", "查看和编辑"],
        "home": ["工作台", "欢迎回来", "我的账号", "上次登录"],
        "home_block": ["您可查看 2 条accounts"],
        "conflict": ["已被他人修改", "对方的", "保存我的选择", "放弃我的修改", "您打开时"],
        "filters": ["筛选字段…", "先选择字段，再选择条件。", "应用", "记录"],
    },
    "es": {
        "list": [
            "Guardar vista",
            "Papelera de reciclaje",
            "Creación rápida",
            "Exportar esta lista",
            "Añadir filtro",
            "Seleccionar todo en esta página",
        ],
        "record": ["Cronología", "Añadir nota", "Editar", "Eliminar", "Uso compartido"],
        "new": ["Crear account", "Cancelar", "Este campo es obligatorio."],
        "edit": ["Editar account", "Guardar", "Cancelar"],
        "bulk": ["Se actualizaron 2 registros de Accounts."],
        "sharing": [
            "Compartir con",
            "Transferir la propiedad a",
            "No se comparte con nadie.",
            "Ver y editar",
        ],
        "home": ["Espacio de trabajo", "Le damos la bienvenida", "Su cuenta de usuario"],
        "home_block": ["Puede ver 2 accounts"],
        "conflict": [
            "Modificado por otra persona",
            "De la otra persona",
            "Guardar mis elecciones",
            "Descartar mis cambios",
        ],
        "filters": ["Filtrar por…", "Elija un campo y, después, una condición.", "Aplicar"],
    },
}

# The English these pages wrote before (absent in both languages).
ENGLISH = {
    "list": [
        ">Save view<",
        ">Recycle bin<",
        ">Quick create<",
        "Export this list",
        "Add filter",
        "Select all on this page",
        "Change a field…",
        "Tick rows to change",
        "New Account",
        ">Counting…<",
        " selected<",
    ],
    "record": [
        ">Timeline<",
        "Add note",
        ">Edit<",
        ">Delete<",
        ">Sharing<",
        "Sharing and ownership",
        "created this",
        "Nothing yet",
        " · version ",
    ],
    "new": ["New account", "Create account", ">Cancel<", "This field is required."],
    "edit": ["Edit account", ">Save<", ">Cancel<"],
    "bulk": ["updated.", "Accounts updated"],
    "sharing": [
        "Share with",
        "Transfer ownership",
        "Not shared with anyone",
        "Read and edit",
        ">Share<",
    ],
    "home": ["Workspace", "Good to see you", "Your account", "Last sign-in", "Counting…"],
    "home_block": ["you can see", "Nothing of yours yet"],
    "conflict": [
        "Changed by someone else",
        "was changed while you edited it",
        "Saved now (theirs)",
        "Save my choices",
        "Discard my changes",
        "When you opened it",
        ">Theirs<",
        ">Mine<",
    ],
    "filters": [
        "Filter by…",
        "Choose a field, then a condition.",
        ">Apply<",
        ">Cancel<",
        ">Update<",
    ],
}

LANGS = pytest.mark.parametrize("locale", ["zh_Hans", "es"])


@pytest.fixture
def model(app):
    return build_model()


def speaking(user: User, locale: str) -> User:
    user.locale = locale
    db.session.commit()
    return user


def check(page: str, locale: str, area: str) -> None:
    for word in WORDS[locale][area]:
        assert word in page, f"{locale} {area}: {word!r} missing"
    for english in ENGLISH[area]:
        assert english not in page, f"{locale} {area}: English {english!r} left"


@LANGS
def test_the_list_page_speaks_the_users_language(login_as, staff, model, locale):
    make(staff, "account", name="Acme")
    c = login_as(speaking(staff, locale))
    page = c.get("/r/account/")
    html = page.data.decode()
    assert page.status_code == 200
    assert f'<html lang="{locale.replace("_", "-")}">' in html
    check(html, locale, "list")
    # The bulk bar's "N selected" carries its sentence for one and for several records.
    one, other = {
        "zh_Hans": ("已选择 {n} 条", "已选择 {n} 条"),
        "es": ("{n} seleccionado", "{n} seleccionados"),
    }[locale]
    assert f'data-msg-one="{one}"' in html and f'data-msg-other="{other}"' in html
    assert "<strong data-bulk-count>0</strong>" in html
    # Each row's selection box is named in the user's language.
    select = {"zh_Hans": "选择Acme", "es": "Seleccionar Acme"}[locale]
    assert f'aria-label="{select}"' in html and 'aria-label="Select Acme"' not in html


@LANGS
def test_counts_use_the_languages_plural_forms_and_number_format(login_as, staff, model, locale):
    make(staff, "account", name="Acme")
    c = login_as(speaking(staff, locale))
    hx = {"HX-Request": "true"}
    one = c.get("/r/account/count", headers=hx).data.decode()
    make(staff, "account", name="Globex")
    two = c.get("/r/account/count", headers=hx).data.decode()
    if locale == "es":
        assert one == "1 account" and two == "2 accounts"
    else:
        assert one == "共 1 条" and two == "共 2 条"
    nothing = c.get("/r/account/?q=zzz-nothing").data.decode()
    assert {"zh_Hans": "没有匹配的accounts。", "es": "No hay accounts que coincidan."}[
        locale
    ] in nothing
    assert "No accounts match." not in nothing


@LANGS
def test_the_record_page_and_its_timeline(login_as, staff, model, locale):
    a = make(staff, "account", name="Acme")
    c = login_as(speaking(staff, locale))
    html = c.get(f"/r/account/{a}").data.decode()
    check(html, locale, "record")
    created = {"zh_Hans": "创建了此记录", "es": "creó este registro"}[locale]
    assert created in html
    # A note answered by htmx: the timeline fragment in the user's language too.
    note = c.hx_post(f"/r/account/{a}/notes", {"body": "Hola"}).data.decode()
    assert {"zh_Hans": "写道", "es": "escribió"}[locale] in note and "wrote" not in note
    empty = c.hx_post(f"/r/account/{a}/notes", {"body": "  "})
    assert empty.status_code == 400
    assert {"zh_Hans": "请先输入内容。", "es": "Escriba algo primero."}[
        locale
    ] in empty.data.decode()


@LANGS
def test_the_new_and_edit_forms(login_as, staff, model, locale):
    a = make(staff, "account", name="Acme")
    c = login_as(speaking(staff, locale))
    refused = c.submit("/r/account/new", {"name": ""})
    assert refused.status_code == 400
    check(refused.data.decode(), locale, "new")
    check(c.get(f"/r/account/{a}/edit").data.decode(), locale, "edit")
    created = c.submit("/r/account/new", {"name": "Initech"}, follow_redirects=True)
    assert {"zh_Hans": "已创建Account。", "es": "Registro de Account creado."}[
        locale
    ] in created.data.decode()


@LANGS
def test_bulk_edit_reports_in_the_users_language(login_as, staff, model, locale):
    ids = [make(staff, "account", name=n) for n in ("A", "B")]
    c = login_as(speaking(staff, locale))
    r = c.hx_post(
        "/r/account/bulk/edit",
        {"pick": picks(*[(i, 1) for i in ids]), "field": "industry", "value_for": "industry",
         "industry": "tech"},
    )  # fmt: skip
    assert r.status_code == 200
    check(r.data.decode(), locale, "bulk")
    nothing = c.hx_post("/r/account/bulk/edit", {"field": "industry", "value": "tech"})
    assert nothing.status_code == 400
    assert {"zh_Hans": "请先至少选择一条记录。", "es": "Primero seleccione al menos un registro."}[
        locale
    ] in nothing.data.decode()
    value = c.hx_get("/r/account/bulk/input?field=industry").data.decode()
    assert {"zh_Hans": "新的Industry", "es": "Nuevo valor de Industry"}[locale] in value
    assert "New Industry" not in value


@LANGS
def test_the_sharing_panel(login_as, staff, admin, model, locale):
    a = make(staff, "account", name="Acme")
    c = login_as(speaking(staff, locale))
    panel = c.hx_get(f"/r/account/{a}/sharing").data.decode()
    check(panel, locale, "sharing")
    shared = c.hx_post(
        f"/r/account/{a}/sharing", {"target": f"user:{admin.id}", "access": "read"}
    ).data.decode()
    assert {
        "zh_Hans": "已与Ada Admin共享（查看）。",
        "es": "Compartido con Ada Admin (ver).",
    }[locale] in shared
    assert "Shared with Ada Admin" not in shared


@LANGS
def test_the_home_page(login_as, staff, model, locale):
    make(staff, "account", name="Acme")
    make(staff, "account", name="Globex")
    c = login_as(speaking(staff, locale))
    check(c.get("/").data.decode(), locale, "home")
    check(c.hx_get("/home/entity/account").data.decode(), locale, "home_block")


@LANGS
def test_the_conflict_page(login_as, staff, admin, model, locale):
    a = make(staff, "account", name="Acme", employees="5")
    mine, theirs = login_as(speaking(staff, locale)), login_as(admin)
    saved = theirs.submit(
        f"/r/account/{a}/edit", {"version": "1", "name": "Acme", "employees": "7"}
    )
    assert saved.status_code == 303
    r = mine.submit(f"/r/account/{a}/edit", {"version": "1", "name": "Acme", "employees": "9"})
    assert r.status_code == 409
    html = r.data.decode()
    check(html, locale, "conflict")
    assert {
        "zh_Hans": "Ada Admin在您打开此account后保存了它",
        "es": "Ada Admin guardó este registro",
    }[locale] in html


@LANGS
def test_the_filter_builder(login_as, staff, model, locale):
    c = login_as(speaking(staff, locale))
    check(c.hx_get("/r/account/filters/new").data.decode(), locale, "filters")
    refused = c.get("/r/account/?f.nope.eq=1")
    assert refused.status_code == 400
    assert {
        "zh_Hans": "没有可用于筛选的字段“nope”。",
        "es": "No existe el campo «nope» para filtrar.",
    }[locale] in refused.data.decode()


@LANGS
def test_the_exports_own_header_cells_are_translated(login_as, staff, model, locale):
    make(staff, "account", name="Acme")
    view = list_views.save_private_view(
        "account",
        {"name": "Mine", "columns": ["name", "owner_id", "created_at", "updated_at"]},
        user_id=staff.id,
    )
    c = login_as(speaking(staff, locale))
    body = c.get(f"/r/account/export.csv?view={view.id}").data.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(body)))
    assert (
        header
        == {
            "zh_Hans": ["Name", "负责人", "创建时间", "最后修改时间"],
            "es": ["Name", "Propietario", "Fecha de creación", "Última modificación"],
        }[locale]
    )
    page = c.get(f"/r/account/?view={view.id}").data.decode()
    assert ">Owner<" not in page and ">Created<" not in page


def test_english_stays_as_it_was(login_as, staff, model):
    """No language chosen and an English browser: the English wording is unchanged."""
    make(staff, "account", name="Acme")
    c = login_as(staff)
    en = {"Accept-Language": "en"}
    html = c.get("/r/account/", headers=en).data.decode()
    assert ">Save view<" in html and "Export this list:" in html
    assert 'data-msg-one="{n} selected"' in html and 'aria-label="Select Acme"' in html
    count = c.get("/r/account/count", headers={**en, "HX-Request": "true"}).data.decode()
    assert count == "1 account"


def test_a_bulk_result_in_one_language_is_not_served_to_another(login_as, staff, admin, model):
    """The list rows' renderer is kept per metadata version: it is kept per language too,
    or the first reader's "Select" would reach everyone."""
    make(staff, "account", name="Acme")
    zh = login_as(speaking(staff, "zh_Hans")).get("/r/account/").data.decode()
    en = login_as(admin).get("/r/account/", headers={"Accept-Language": "en"}).data.decode()
    assert 'aria-label="选择Acme"' in zh and 'aria-label="Select Acme"' in en
    records.create(admin, entity("account"), {"name": "Globex"})
    zh_again = login_as(staff).get("/r/account/").data.decode()
    assert 'aria-label="选择Globex"' in zh_again

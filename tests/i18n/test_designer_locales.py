"""The configuration area speaks the administrator's language: every designer screen, its
validation messages and the words its scripts use, in Chinese and in Spanish, with no
English left in its chrome (labels typed by administrators stay as they were typed)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from crm.access import policy
from crm.extensions import db
from crm.metadata import specs
from crm.schema import service
from tests.factories import insert_rows

# Per page: words the page must show in each language (messages of the designer's own,
# not words other areas share and may word differently), and English words of the same
# page's chrome that must be gone.
PAGES = {
    "/admin/": {
        "zh_Hans": ["配置", "对象", "新建对象", "变更记录", "打开"],
        "es": ["Configuración", "Entidades", "Nueva entidad", "Registro de cambios", "Abrir"],
        "english": [
            "New entity",
            "Change log",
            "The kinds of records your company keeps",
            ">Open<",
        ],
    },
    "/admin/entities/member": {
        "zh_Hans": [
            "添加字段",
            "表单布局",
            "快速新建",
            "列表视图",
            "历史记录",
            "2 条记录",
            "归档对象",
        ],
        "es": [
            "Agregar campo",
            "Diseño de página",
            "Creación rápida",
            "Vistas de lista",
            "Historial",
            "2 registros",
            "Archivar entidad",
        ],
        "english": [
            "Add field",
            "Form layout",
            "Quick create",
            "List views",
            ">History<",
            "2 records",
            "Archive entity",
            "names records",
            ">Rules<",
        ],
    },
    "/admin/entities/member/fields/new?type=picklist": {
        "zh_Hans": [
            "标签",
            "API 名称",
            "帮助文本",
            "选项值",
            "添加选项值",
            "必填",
            "参与快速搜索",
            "灰色",
        ],
        "es": [
            "Etiqueta",
            "Nombre de API",
            "Texto de ayuda",
            "Valores",
            "Agregar un valor",
            "Obligatorio",
            "Incluido en la búsqueda rápida",
            "Gris",
        ],
        "english": [
            "Help text",
            "Add a value",
            "Included in quick search",
            "Drag rows to reorder",
            ">Gray<",
            ">Active<",
            "The column name",
        ],
    },
    "/admin/entities/member/layout": {
        "zh_Hans": [
            "拖动字段进行排列",
            "添加分组",
            "更改会自动保存",
            "预览",
            "新建Member",
            "详细信息",
        ],
        "es": [
            "Arrastre los campos para organizarlos",
            "Agregar sección",
            "Los cambios se guardan automáticamente",
            "Vista previa",
            "Detalles",
        ],
        "english": [
            "Drag fields to arrange them",
            "Add section",
            "Changes save automatically",
            ">Preview<",
            "Move section up",
            ">Details<",
        ],
    },
    "/admin/entities/member/layout?kind=quick": {
        "zh_Hans": ["快速新建中", "可用字段", "打开完整表单"],
        "es": ["En la creación rápida", "Campos disponibles", "Abrir el formulario completo"],
        "english": ["On quick create", "Available fields", "Open full form"],
    },
    "/admin/entities/member/views/new": {
        "zh_Hans": [
            "新建列表视图",
            "默认视图",
            "默认排序",
            "默认筛选条件",
            "保存视图",
            "升序",
            "负责人",
        ],
        "es": [
            "Nueva vista de lista",
            "Vista predeterminada",
            "Orden predeterminado",
            "Filtros predeterminados",
            "Guardar vista",
            "Ascendente",
            "Propietario",
        ],
        "english": [
            "New list view",
            "Default sort",
            "Default filters",
            "Save view",
            "Add filter",
            "Ascending",
            ">Owner<",
            "Tick the fields to show",
        ],
    },
    "/admin/entities/member/views": {
        "zh_Hans": ["还没有共享视图", "创建第一个视图", "最后修改时间"],
        "es": ["Aún no hay vistas compartidas", "Crear la primera vista", "Última modificación"],
        "english": [
            "No shared views yet",
            "Create the first view",
            "Everyone sees",
            "Last changed",
        ],
    },
    "/admin/changes": {
        "zh_Hans": ["变更记录", "创建了对象", "添加了字段", "系统", "全部对象", "操作人"],
        "es": [
            "Registro de cambios",
            "Entidad creada",
            "Campo agregado",
            "sistema",
            "Todas las entidades",
            "Quién",
        ],
        "english": [
            "Created entity",
            "Added field",
            ">system<",
            "All entities",
            ">Who<",
            "Newest first",
        ],
    },
}
HTML_LANG = {"zh_Hans": 'lang="zh-Hans"', "es": 'lang="es"'}


@pytest.fixture(params=["zh_Hans", "es"])
def locale(request) -> str:
    return request.param


@pytest.fixture
def member(app):
    entity = service.create_entity(
        "member",
        "Member",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "code", "type": "text", "label": "Code"},
            {
                "key": "level",
                "type": "picklist",
                "label": "Level",
                "choices": [{"key": "gold", "label": "Gold", "color": "amber"}],
            },
        ],
    )
    insert_rows("member", {"name": "Ana", "code": "A-1"}, {"name": "Bo", "code": "B-2"})
    return entity


@pytest.fixture
def speaker(login_as, admin, locale):
    """An administrator who chose ``locale`` (their browser asks for English)."""
    admin.locale = locale
    db.session.commit()
    client = login_as(admin)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _text(response) -> str:
    return html.unescape(response.data.decode())


@pytest.mark.parametrize("url", list(PAGES))
def test_every_designer_page_speaks_the_administrators_language(speaker, locale, member, url):
    page = speaker.get(url)
    assert page.status_code == 200
    text = _text(page)
    assert HTML_LANG[locale] in text
    missing = [w for w in PAGES[url][locale] if w not in text]
    assert not missing, f"{url} lacks {missing}"
    left = [w for w in PAGES[url]["english"] if w in text]
    assert not left, f"{url} still says {left}"
    assert "Member" in text  # what the administrator typed is shown as typed


WORDS = {
    "zh_Hans": {
        "required": "该字段是必填字段。",
        "lowercase": "字段 API 名称必须为小写：可改为“select”。",
        "reserved": "“Select”是保留字；请换一个字段 API 名称。",
        "view_name": "请输入视图名称。",
        "nothing_saved": "未保存任何内容。",
        "no_column": "请至少选择一列。",
        "column": 'data-msg-column="第 {n} 列"',
        "drop": 'data-empty="将字段拖到此处"',
        "sort": 'data-label="排序："',
        "move_up": 'data-msg-up="上移{label}"',
        "hide": 'data-msg-remove="隐藏{label}"',
    },
    "es": {
        "required": "Este campo es obligatorio.",
        "lowercase": "El nombre de API del campo debe ir en minúsculas: pruebe «select».",
        "reserved": "«Select» es una palabra reservada; elija otro nombre de API de campo.",
        "view_name": "Introduzca un nombre para la vista.",
        "nothing_saved": "No se ha guardado nada.",
        "no_column": "Elija al menos una columna.",
        "column": 'data-msg-column="Columna {n}"',
        "drop": 'data-empty="Arrastre los campos aquí"',
        "sort": 'data-label="Orden:"',
        "move_up": 'data-msg-up="Subir {label}"',
        "hide": 'data-msg-remove="Ocultar {label}"',
    },
}


def test_an_invalid_field_is_refused_in_the_administrators_language(speaker, locale, member):
    url = "/admin/entities/member/fields/new?type=text"
    empty = speaker.submit(url, {"type": "text", "label": "", "key": "", "key_edited": ""})
    assert empty.status_code == 400
    assert WORDS[locale]["required"] in _text(empty)
    assert "This field is required" not in _text(empty)

    bad_key = speaker.submit(
        url, {"type": "text", "label": "Points", "key": "Select", "key_edited": "1"}
    )
    assert bad_key.status_code == 400
    text = _text(bad_key)
    assert WORDS[locale]["lowercase"] in text and WORDS[locale]["reserved"] in text
    assert "must be lowercase" not in text and "reserved word" not in text
    # The message sits on the key input (errors are placed by key, never by wording).
    key_block = re.search(r'<div class="field has-error">\s*<label for="key">.*?</div>', text, re.S)
    assert key_block and WORDS[locale]["lowercase"] in key_block.group(0)
    assert specs.current().entity("member").field("select") is None
    assert specs.current().entity("member").field("points") is None


def test_an_invalid_list_view_is_refused_in_the_administrators_language(speaker, locale, member):
    answer = speaker.submit("/admin/entities/member/views/new", {"name": "", "save": "1"})
    assert answer.status_code == 400
    text = _text(answer)
    assert WORDS[locale]["view_name"] in text and WORDS[locale]["no_column"] in text
    assert WORDS[locale]["nothing_saved"] in text
    assert "Enter a name for the view" not in text and "Choose at least one column" not in text


def test_the_editors_scripts_get_their_words_from_the_page(speaker, locale, member):
    layout = speaker.get("/admin/entities/member/layout").data.decode()
    assert WORDS[locale]["column"] in layout and WORDS[locale]["drop"] in layout
    quick = speaker.get("/admin/entities/member/layout?kind=quick").data.decode()
    assert WORDS[locale]["drop"] in quick
    editor = speaker.get("/admin/entities/member/views/new").data.decode()
    assert WORDS[locale]["move_up"] in editor and WORDS[locale]["hide"] in editor


def test_english_stays_the_default_and_the_scripts_fall_back_to_it(login_as, admin, member):
    client = login_as(admin)
    layout = client.get("/admin/entities/member/layout", headers={"Accept-Language": "en"})
    assert 'data-msg-column="Column {n}"' in layout.data.decode()
    scripts = Path(__file__).resolve().parents[2] / "static" / "js"
    layout_js = (scripts / "layout-editor.js").read_text(encoding="utf-8")
    assert 'getAttribute("data-msg-column") || "Column {n}"' in layout_js
    list_js = (scripts / "list-view-editor.js").read_text(encoding="utf-8")
    assert '"data-msg-" + action' in list_js and 'up: "Move {label} up"' in list_js
    answer = client.submit(
        "/admin/entities/member/fields/new?type=text",
        {"type": "text", "label": "Points", "key": "Select", "key_edited": "1"},
        headers={"Accept-Language": "en"},
    )
    assert "The field key must be lowercase: try “select”." in _text(answer)


REFUSED = {
    "zh_Hans": ("有 2 个值无法转换", "例如 “A-1”, “B-2”"),
    "es": ("2 valores no se podrían convertir", "por ejemplo, «A-1», «B-2»"),
}


def _configurer(locale: str):
    """Someone who may configure but is no full administrator, speaking ``locale``."""
    from crm.access.models import Role
    from tests.factories import make_role, make_user

    make_role("Designer", {("*", "read"): policy.ALL})
    db.session.scalar(db.select(Role).where(Role.name == "Designer")).can_configure = True
    user = make_user("designer@example.com", roles=("Designer",))
    user.locale = locale
    db.session.commit()
    return user


def test_a_refused_type_change_is_worded_in_the_language_and_quotes_values_only_to_admins(
    login_as, admin, locale, member
):
    """Stored values are quoted to full administrators only; removing them for others
    works in every language (the message carries its wording without them)."""
    admin.locale = locale
    db.session.commit()
    change = {"type": "integer", "label": "Code", "confirm_type": "integer"}
    url = "/admin/entities/member/fields/code"
    count, quoted = REFUSED[locale]
    for user, quotes in ((admin, True), (_configurer(locale), False)):
        answer = login_as(user).submit(url, change)
        assert answer.status_code == 400, user.email
        text = _text(answer)
        assert count in text
        assert (quoted in text) is quotes and ("A-1" in text) is quotes
        assert "would not convert" not in text
    assert specs.current().entity("member").field("code").type == "text"


FLASHES = {
    "zh_Hans": (
        "“会员”已创建。接下来请添加字段。",
        "字段已归档：在各处隐藏，值均保留。可随时恢复。",
    ),
    "es": (
        "«Socio» está lista. Ahora agregue sus campos.",
        "Campo archivado: oculto en todas partes y con los valores conservados.",
    ),
}
LABELS = {"zh_Hans": "会员", "es": "Socio"}


def test_notices_after_a_change_are_in_the_administrators_language(speaker, locale, member):
    made = speaker.submit(
        "/admin/entities/new",
        {"label_singular": LABELS[locale], "key": "club_member", "key_edited": "1"},
        follow_redirects=True,
    )
    assert made.status_code == 200
    assert FLASHES[locale][0] in _text(made)
    archived = speaker.submit(
        "/admin/entities/member/fields/code/archive", {}, follow_redirects=True
    )
    assert FLASHES[locale][1] in _text(archived)
    assert "is ready" not in _text(made) and "Field archived" not in _text(archived)


def test_the_shared_views_page_labels_its_cells_in_the_language(speaker, locale, member):
    from crm.metadata import list_views as lv

    lv.save_shared_view(
        "member",
        {"name": "Gold", "columns": ["name", "owner_id"], "sort": [["created_at", "desc"]]},
        actor_id=None,
    )
    text = _text(speaker.get("/admin/entities/member/views"))
    assert WORDS[locale]["sort"] in text  # what a narrow screen shows before the sort
    owner = "负责人" if locale == "zh_Hans" else "Propietario"
    assert owner in text  # the spine's column, translated
    assert "Make default" not in text and "Owner" not in text

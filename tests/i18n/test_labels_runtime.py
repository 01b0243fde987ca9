"""Labels an administrator typed, in the reader's language: a Chinese and a Spanish
reader see the entity, field, help text, picklist and section labels translated in lists,
forms, filter chips, exports, the record page, its timeline and the navigation; a label
without a translation into their language falls back to the plain one."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from openpyxl import load_workbook

from crm.access.models import User
from crm.extensions import db
from crm.metadata import layouts
from crm.records import service as records
from crm.schema import service as schema

ZH = {
    "singular": "客户",
    "plural": "客户列表",
    "name": "名称",
    "tier": "等级",
    "gold": "金牌",
    "silver": "银牌",
    "help": "客户的等级",
    "section": "基本信息",
}
ES = {
    "singular": "Cuenta",
    "plural": "Cuentas",
    "name": "Nombre",
    "tier": "Nivel",
    "gold": "Oro",
    "silver": None,  # no Spanish label: the plain "Silver" shows
    "help": "El nivel de la cuenta",
    "section": "Datos básicos",
}
WORDS = {"zh_Hans": ZH, "es": ES}


def _tr(part: str) -> dict[str, str]:
    return {loc: w[part] for loc, w in WORDS.items() if w[part]}


@pytest.fixture
def model(app):
    schema.create_entity(
        "account",
        "Account",
        "Accounts",
        translations={"singular": _tr("singular"), "plural": _tr("plural")},
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True,
             "searchable": True, "translations": {"label": _tr("name")}},
            {"key": "tier", "type": "picklist", "label": "Tier", "help_text": "How big",
             "translations": {"label": _tr("tier"), "help": _tr("help")},
             "choices": [{"key": "gold", "label": "Gold", "labels": _tr("gold")},
                         {"key": "silver", "label": "Silver", "labels": _tr("silver")}]},
            {"key": "notes", "type": "text", "label": "Notes"},  # never translated
        ],
        name_field="name",
    )  # fmt: skip
    layouts.save_layout(
        "account",
        "form",
        {
            "sections": [
                {"key": "s1", "title": "Basics", "columns": 1, "titles": _tr("section"),
                 "fields": [["name", "tier", "notes"]]},
            ]
        },
        actor_id=None,
    )  # fmt: skip


def speaking(user: User, locale: str | None) -> User:
    user.locale = locale
    db.session.commit()
    return user


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.data.decode())


LANGS = pytest.mark.parametrize("locale", ["zh_Hans", "es"])


@LANGS
def test_list_headers_navigation_and_chips(login_as, staff, model, locale):
    w = WORDS[locale]
    records.create(staff, _spec(), {"name": "Acme", "tier": "gold"})
    c = login_as(speaking(staff, locale))
    page = html(c.get("/r/account/?f.tier.in=gold"))
    assert f"<title>{w['plural']}" in page or f"{w['plural']}</h1>" in page
    assert re.search(rf"<th><a [^>]*>{w['name']}", page)
    assert re.search(rf"<th><a [^>]*>{w['tier']}", page)
    assert re.search(r"<th><a [^>]*>Notes", page)  # no translation: the plain label
    assert f">{w['plural']}</a>" in page  # the navigation
    chip = re.findall(r'<span class="filter-chip-text">([^<]*)</span>', page)
    assert chip and chip[0].startswith(w["tier"]) and chip[0].endswith(w["gold"])
    assert ">Tier<" not in page and "Accounts</a>" not in page


@LANGS
def test_form_labels_help_options_and_sections(login_as, staff, model, locale):
    w = WORDS[locale]
    c = login_as(speaking(staff, locale))
    page = html(c.get("/r/account/new"))
    assert f">{w['name']}<" in page and f">{w['tier']}<" in page
    assert w["help"] in page and "How big" not in page
    assert f">{w['gold']}</option>" in page
    assert f">{w['silver'] or 'Silver'}</option>" in page  # Spanish falls back
    assert f"<h2>{w['section']}</h2>" in page and "Basics" not in page


@LANGS
def test_record_page_and_timeline(login_as, staff, model, locale):
    w = WORDS[locale]
    rid = records.create(staff, _spec(), {"name": "Acme", "tier": "silver"})
    records.update_record(staff, _spec(), rid, {"tier": "gold"}, expected_version=1)
    c = login_as(speaking(staff, locale))
    page = html(c.get(f"/r/account/{rid}"))
    assert f"<h2>{w['section']}</h2>" in page
    assert w["tier"] in page and w["gold"] in page
    timeline = page[page.index('id="timeline"') :]
    silver = w["silver"] or "Silver"
    assert (
        f'<span class="muted">{w["tier"]}:</span> <del>{silver}</del> → <ins>{w["gold"]}</ins>'
        in timeline
    )


@LANGS
def test_export_header_rows(login_as, staff, model, locale):
    w = WORDS[locale]
    records.create(staff, _spec(), {"name": "Acme", "tier": "gold"})
    c = login_as(speaking(staff, locale))
    body = c.get("/r/account/export.csv").data.decode("utf-8-sig")
    header, first = list(csv.reader(io.StringIO(body)))[:2]
    assert w["name"] in header and w["tier"] in header and "Notes" in header
    assert w["gold"] in first
    book = load_workbook(io.BytesIO(c.get("/r/account/export.xlsx").data))
    sheet = book.worksheets[0]
    cells = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert w["name"] in cells and w["tier"] in cells
    assert sheet.title == w["plural"]


def test_the_default_language_reads_the_plain_labels(login_as, staff, model):
    c = login_as(speaking(staff, "en"))
    page = html(c.get("/r/account/new"))
    assert ">Name<" in page and ">Tier<" in page and "How big" in page
    assert "<h2>Basics</h2>" in page and "金牌" not in page and "Oro" not in page


def _spec():
    from crm.metadata import specs

    return specs.current().entity("account")

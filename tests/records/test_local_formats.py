"""Local formats and time zones through the pages people use: lists, record pages, forms,
inline and bulk edit, list filters ("today" included) and exports, for a user writing
English (UTC), one writing Chinese in Shanghai and one writing Spanish in Madrid."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from crm import timeutil
from crm.extensions import db
from crm.metadata import list_views, specs
from crm.metadata.models import ListViewRow
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import make_user, stored

NBSP, NNBSP = "\u00a0", "\u202f"
COLUMNS = ["name", "amount", "qty", "share", "closes", "meeting", "active", "score"]


@pytest.fixture
def model(app):
    schema.create_entity(
        "deal",
        "Deal",
        fields=[
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "amount", "type": "currency", "label": "Amount",
             "options": {"currency": "EUR"}},
            {"key": "qty", "type": "integer", "label": "Quantity"},
            {"key": "share", "type": "percent", "label": "Share"},
            {"key": "closes", "type": "date", "label": "Closes"},
            {"key": "meeting", "type": "datetime", "label": "Meeting"},
            {"key": "active", "type": "boolean", "label": "Active"},
            {"key": "score", "type": "rating", "label": "Score"},
        ],
        name_field="name",
    )  # fmt: skip
    return specs.current().entity("deal")


def person(locale: str | None, zone: str | None, name: str):
    user = make_user(display_name=name)
    user.locale, user.timezone = locale, zone
    db.session.commit()
    list_views.save_private_view(
        "deal", {"name": "All", "columns": COLUMNS, "is_default": True}, user_id=user.id
    )
    return user


@pytest.fixture
def en(app, model):
    return person("en", "UTC", "Ann English")


@pytest.fixture
def zh(app, model):
    return person("zh_Hans", "Asia/Shanghai", "Wang Wei")


@pytest.fixture
def es(app, model):
    return person("es", "Europe/Madrid", "Lucía Madrid")


def deal(user, model, **values) -> int:
    return records.create(user, model, {"name": "Deal", **values})


def row_of(html: str, record_id: int) -> str:
    start = html.index(f'value="{record_id}:')
    return html[start : html.index("</tr>", start)]


# --- showing -------------------------------------------------------------------------------


def test_list_cells_follow_each_users_language_and_time_zone(login_as, model, en, zh, es):
    d = deal(
        en, model, amount="1234.5", qty="1234567", share="12.5", closes="2026-04-03",
        meeting="2026-03-28T16:00Z", active="true", score="3",
    )  # fmt: skip
    # One process, one metadata version: each language gets its own drawn cells.
    english = row_of(login_as(en).get("/r/deal/").text, d)
    chinese = row_of(login_as(zh).get("/r/deal/").text, d)
    spanish = row_of(login_as(es).get("/r/deal/").text, d)
    again = row_of(login_as(en).get("/r/deal/").text, d)
    assert english == again
    for cells in (
        [english, "€1,234.50", "1,234,567", "12.5%", "Apr 3, 2026",
         f"Mar 28, 2026, 4:00{NNBSP}PM", "Yes", "3 of 5"],
        [chinese, "€1,234.50", "1,234,567", "12.5%", "2026年4月3日", "2026年3月29日 00:00",
         ">是<", "3 分（满分 5 分）"],
        [spanish, f"1.234,50{NBSP}€", "1.234.567", f"12,5{NBSP}%", "3 abr 2026",
         "28 mar 2026, 17:00", ">Sí<", "3 de 5"],
    ):  # fmt: skip
        html, *shown = cells
        for text in shown:
            assert text in html, (text, html)


def test_record_page_writes_values_and_times_in_the_users_zone(login_as, model, zh, es):
    d = deal(zh, model, amount="99.9", meeting="2026-07-01T22:30Z")
    db.session.execute(
        specs.current().table("deal").update().values(updated_at=datetime(2026, 7, 1, 22, 30))
    )
    db.session.commit()
    chinese = login_as(zh).get(f"/r/deal/{d}").text
    assert "2026年7月2日 06:30" in chinese and "€99.90" in chinese
    spanish = login_as(es).get(f"/r/deal/{d}").text
    assert "2 jul 2026, 0:30" in spanish and f"99,90{NBSP}€" in spanish
    assert "UTC" not in spanish.split('id="record-title"')[1].split("</p>")[0]


# --- typing --------------------------------------------------------------------------------


def test_a_form_reads_what_the_user_types_in_their_language(login_as, model, es, zh):
    r = login_as(es).submit(
        "/r/deal/new",
        {"name": "Madrid", "amount": "1.234,50 €", "qty": "1.500", "share": "12,5",
         "closes": "31/12/2026", "meeting": "2026-03-29T03:15"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    row = stored("deal", int(r.headers["Location"].rsplit("/", 1)[1]))
    assert (row["amount"], row["qty"], row["share"], row["closes"], row["meeting"]) == (
        Decimal("1234.50"), 1500, Decimal("12.50"), date(2026, 12, 31),
        datetime(2026, 3, 29, 1, 15),  # 03:15 summer time in Madrid
    )  # fmt: skip
    # The edit form shows the values back as the user writes them, in their zone.
    form = login_as(es).get(r.headers["Location"] + "/edit").text
    assert 'value="1234,50"' in form and 'value="2026-12-31"' in form
    assert 'value="2026-03-29T03:15"' in form and 'inputmode="decimal"' in form
    r = login_as(zh).submit(
        "/r/deal/new", {"name": "上海", "amount": "€1,234.50", "closes": "2026年12月31日",
                        "meeting": "2026/12/31 下午2:30"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    row = stored("deal", int(r.headers["Location"].rsplit("/", 1)[1]))
    assert row["amount"] == Decimal("1234.50") and row["closes"] == date(2026, 12, 31)
    assert row["meeting"] == datetime(2026, 12, 31, 6, 30)  # 14:30 in Shanghai


@pytest.mark.parametrize(
    ("who", "values", "message"),
    [
        ("es", {"amount": "1,234.50"}, "Introduzca un número, por ejemplo 1234,50."),
        ("es", {"qty": "12,5"}, "Introduzca un número entero."),
        ("es", {"closes": "31/02/2026"}, "31/02/2026 no es una fecha válida."),
        ("es", {"meeting": "2026-03-29T02:30"},
         "La hora 02:30 no existe en la zona horaria Europe/Madrid"),
        ("zh", {"closes": "03/04/2026"}, "请输入日期，例如 2026/12/31（或 2026-12-31）。"),
        ("zh", {"amount": "一千"}, "请输入数字，例如 1234.50。"),
        ("en", {"amount": "1.234,50"}, "Enter a number, such as 1234.50."),
        ("en", {"closes": "31/12/2026"}, "31/12/2026 is not a date."),
    ],
)  # fmt: skip
def test_malformed_values_are_refused_in_the_users_language_and_nothing_is_stored(
    login_as, model, request, who, values, message
):
    user = request.getfixturevalue(who)
    r = login_as(user).submit("/r/deal/new", {"name": "Bad", **values})
    assert r.status_code == 400
    assert message in r.text
    assert stored("deal", 1) is None


@pytest.mark.parametrize(
    ("who", "shown", "words"),
    [
        ("en", 'value="2026-03-04"', "Read as March 4, 2026."),
        ("es", 'value="2026-04-03"', "Se ha interpretado como 3 de abril de 2026."),
    ],
)
def test_the_form_shows_how_an_ambiguous_date_was_read(login_as, model, request, who, shown, words):
    user = request.getfixturevalue(who)
    # 03/04/2026 is 4 March in English and 3 April in Spanish; another field is wrong, so
    # the form comes back: the date as read, in the date input, and said in words.
    r = login_as(user).submit("/r/deal/new", {"name": "X", "closes": "03/04/2026", "qty": "x"})
    assert r.status_code == 400
    assert shown in r.text and words in r.text


def test_inline_and_bulk_edit_read_the_users_language(login_as, model, es):
    c = login_as(es)
    a, b = deal(es, model, amount="1"), deal(es, model, amount="2")
    saved = c.hx_post(f"/r/deal/{a}/field/amount", {"version": "1", "amount": "2.500,75"})
    assert saved.status_code == 200 and f"2.500,75{NBSP}€" in saved.text
    assert stored("deal", a)["amount"] == Decimal("2500.75")
    bad = c.hx_post(f"/r/deal/{a}/field/amount", {"version": "2", "amount": "2,500.75"})
    assert bad.status_code == 400 and "Introduzca un número" in bad.text
    assert stored("deal", a)["amount"] == Decimal("2500.75")
    r = c.hx_post(
        "/r/deal/bulk/edit",
        {"pick": [f"{a}:2", f"{b}:1"], "field": "qty", "value_for": "qty", "qty": "1.000"},
    )
    assert r.status_code == 200, r.text
    assert stored("deal", a)["qty"] == 1000 and stored("deal", b)["qty"] == 1000


def test_list_filters_read_and_say_values_in_the_users_language(login_as, model, es, en):
    small, big = deal(es, model, amount="999.99"), deal(es, model, amount="1000.50")
    c = login_as(es)
    page = c.get("/r/deal/?f.amount.gte=1.000,50").text
    assert f'value="{big}:' in page and f'value="{small}:' not in page
    assert f"Amount es al menos 1.000,50{NBSP}€" in page
    # The builder keeps the value in the form every language reads back alike.
    r = c.get("/r/deal/filters/apply?field=amount&op=gte&value=1.000,50")
    assert r.status_code == 303 and "f.amount.gte=1000.50" in r.headers["Location"]
    english = login_as(en).get("/r/deal/?f.amount.gte=1000.50").text
    assert f'value="{big}:' in english and "Amount is at least €1,000.50" in english
    assert login_as(en).get("/r/deal/?f.amount.gte=1.000,50").status_code == 400
    dated = c.get("/r/deal/filters/apply?field=closes&op=eq&value=31/12/2026")
    assert "f.closes.eq=2026-12-31" in dated.headers["Location"]


@pytest.mark.parametrize("now", [datetime(2026, 1, 15, 20, 0), datetime(2026, 1, 15, 23, 30)])
def test_today_is_each_users_today(login_as, model, zh, es, monkeypatch, now):
    # 20:00 UTC: 04:00 on the 16th in Shanghai, 21:00 on the 15th in Madrid.
    # 23:30 UTC: the 16th in both, but Shanghai's 16th began eight hours earlier.
    late = deal(es, model, name="Late", meeting="2026-01-15T20:00Z")  # 16th in Shanghai
    early = deal(es, model, name="Early", meeting="2026-01-15T10:00Z")  # 15th in both
    monkeypatch.setattr(timeutil, "utcnow", lambda: now)
    shanghai = login_as(zh).get("/r/deal/?f.meeting.relative=today").text
    madrid = login_as(es).get("/r/deal/?f.meeting.relative=today").text
    listed = {
        who: {i for i in (late, early) if f'value="{i}:' in html}
        for who, html in (("shanghai", shanghai), ("madrid", madrid))
    }
    if now.hour == 20:
        assert listed == {"shanghai": {late}, "madrid": {late, early}}
    else:
        assert listed == {"shanghai": {late}, "madrid": set()}


def test_today_on_a_date_field_is_the_users_calendar_day(login_as, model, zh, es, monkeypatch):
    d15 = deal(es, model, name="Fifteenth", closes="2026-01-15")
    d16 = deal(es, model, name="Sixteenth", closes="2026-01-16")
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2026, 1, 15, 20, 0))
    shanghai = login_as(zh).get("/r/deal/?f.closes.relative=today").text
    madrid = login_as(es).get("/r/deal/?f.closes.relative=today").text
    assert f'value="{d16}:' in shanghai and f'value="{d15}:' not in shanghai
    assert f'value="{d15}:' in madrid and f'value="{d16}:' not in madrid
    # A day typed into a date-time filter is the user's day too.
    late = deal(es, model, name="Late", meeting="2026-01-15T20:00Z")
    on_16 = login_as(zh).get("/r/deal/?f.meeting.eq=2026-01-16").text
    assert f'value="{late}:' in on_16
    assert f'value="{late}:' not in login_as(es).get("/r/deal/?f.meeting.eq=2026-01-16").text


# --- words of the types --------------------------------------------------------------------


def test_type_names_operator_words_and_periods_are_translated(login_as, model, zh, es):
    builder = login_as(zh).get("/r/deal/filters/new?field=amount").text
    assert ">大于<" in builder and ">介于<" in builder and ">为空<" in builder
    period = login_as(es).get("/r/deal/filters/new?field=meeting&op=relative").text
    assert ">Últimos 30 días<" in period and ">está en el periodo<" in period


# --- exports -------------------------------------------------------------------------------


@pytest.fixture
def exported(model, es):
    deal(
        es, model, name="=cmd", amount="-1234.5", qty="-7", share="12.5", closes="2026-12-31",
        meeting="2026-03-28T16:00Z", active="true", score="4",
    )  # fmt: skip


def test_csv_holds_machine_forms_of_numbers_and_dates(login_as, es, exported):
    body = login_as(es).get("/r/deal/export.csv").data.decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(body)))
    assert header == ["Name", "Amount", "Quantity", "Share", "Closes", "Meeting", "Active", "Score"]
    # numbers: a point, no grouping, no symbol, never quoted as text; dates ISO; moments in
    # the user's zone; words (yes/no) in the user's language; formulas still defused.
    assert row == [
        "'=cmd", "-1234.50", "-7", "12.50", "2026-12-31", "2026-03-28 17:00", "Sí", "4",
    ]  # fmt: skip


def test_xlsx_holds_real_numbers_and_dates(login_as, es, exported):
    data = login_as(es).get("/r/deal/export.xlsx").data
    sheet = load_workbook(io.BytesIO(data)).active
    cells = {c.column_letter: c for c in sheet[2]}
    assert cells["A"].value == "'=cmd"
    assert cells["B"].value == -1234.5 and '"€"' in cells["B"].number_format
    assert cells["C"].value == -7 and cells["C"].number_format == "#,##0"
    assert cells["D"].value == pytest.approx(0.125) and cells["D"].number_format.endswith("%")
    assert cells["E"].value == datetime(2026, 12, 31) and cells["E"].number_format == "yyyy-mm-dd"
    assert cells["F"].value == datetime(2026, 3, 28, 17, 0)  # Madrid
    assert cells["G"].value == "Sí" and cells["H"].value == 4


def test_a_moment_in_a_filter_is_the_same_instant_for_every_reader(login_as, model, zh, es):
    early = deal(es, model, name="Early", meeting="2026-01-15T09:00Z")
    late = deal(es, model, name="Late", meeting="2026-01-15T10:00Z")
    # 10:30 typed in Madrid is 09:30 UTC: kept as such, marked "Z".
    r = login_as(es).get("/r/deal/filters/apply?field=meeting&op=before&value=2026-01-15T10:30")
    assert "f.meeting.before=2026-01-15T09:30Z" in unquote(r.headers["Location"])
    shanghai = login_as(zh).get("/r/deal/?f.meeting.before=2026-01-15T09:30Z").text
    assert f'value="{early}:' in shanghai and f'value="{late}:' not in shanghai
    assert "2026年1月15日 17:30" in shanghai  # the chip, in Shanghai's time
    # A view kept before moments were marked holds UTC without the "Z": read as UTC.
    old = ListViewRow(
        entity_key="deal", name="Old", owner_id=zh.id, position=9, is_default=False,
        columns=COLUMNS, sort=[], filters=[
            {"field": "meeting", "op": "before", "value": "2026-01-15T09:30"}],
    )  # fmt: skip
    db.session.add(old)
    db.session.commit()
    shanghai = login_as(zh).get(f"/r/deal/?view={old.id}").text
    assert f'value="{early}:' in shanghai and f'value="{late}:' not in shanghai
    assert "2026年1月15日 17:30" in shanghai

"""The built-in starters (schemas/starters/*.json) and the first-run page that offers them.

Every file in the folder is checked, whoever added it: it loads without problems; applied
to an empty installation and exported again with the same header it gives the file's very
bytes (the file is the product's own export); planned again it changes nothing; and every
label a person reads has a Chinese and a Spanish translation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.errors import Conflict, Forbidden, NotFound
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.models import EntityRow
from crm.packages import starters
from crm.packages.apply import apply, plan_package
from crm.packages.export import dumps, export_package
from crm.packages.load import load
from tests.factories import make_user

FOLDER = Path(__file__).resolve().parents[2] / "schemas" / "starters"
FILES = sorted(FOLDER.glob("*.json"))
LOCALES = ("zh_Hans", "es")


def _header(text: str) -> dict:
    return json.loads(text)["package"]


def test_the_folder_holds_the_starters_the_issue_asks_for():
    names = {p.stem for p in FILES}
    assert {"membership-retail", "after-sales-service"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_starter_loads_without_problems(path):
    package = load(path.read_bytes(), filename=path.name)
    header = package.data["package"]
    assert package.name == path.stem
    assert header["version"] == "1.0.0"
    description = header.get("description", "")
    assert description and "\n" not in description
    assert package.data.get("entities") and package.data.get("roles")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_starter_is_the_products_own_export_byte_for_byte(app, path):
    text = path.read_text(encoding="utf-8")
    admin = make_user("builder@example.com", is_admin=True)
    package = load(text.encode("utf-8"), filename=path.name)
    result = apply(plan_package(package.data), actor_id=admin.id)
    assert result.changed
    header = _header(text)
    exported = dumps(
        export_package(
            name=header["name"], version=header["version"], description=header.get("description")
        )
    )
    assert exported == text
    again = plan_package(json.loads(text))
    assert [c.path for c in again.changes + again.conflicts] == []


def _missing(where: str, translations, problems: list[str]) -> None:
    for locale in LOCALES:
        value = (translations or {}).get(locale)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where} [{locale}]")


def label_problems(package: dict) -> list[str]:
    """Every label of ``package`` that lacks a Chinese or Spanish translation, by place."""
    problems: list[str] = []
    for ekey, e in (package.get("entities") or {}).items():
        tr = e.get("translations") or {}
        _missing(f"{ekey}: singular", tr.get("singular"), problems)
        _missing(f"{ekey}: plural", tr.get("plural"), problems)
        for fkey, f in (e.get("fields") or {}).items():
            ftr = f.get("translations") or {}
            _missing(f"{ekey}.{fkey}: label", ftr.get("label"), problems)
            if f.get("help_text"):
                _missing(f"{ekey}.{fkey}: help", ftr.get("help"), problems)
            for c in f.get("choices") or []:
                _missing(f"{ekey}.{fkey}: choice {c['key']}", c.get("labels"), problems)
        for kind, layout in (e.get("layouts") or {}).items():
            for n, s in enumerate(layout.get("sections") or [] if kind == "form" else []):
                if s.get("title"):
                    _missing(f"{ekey}: section {n + 1}", s.get("titles"), problems)
        for vkey, v in (e.get("list_views") or {}).items():
            name = (v.get("translations") or {}).get("name")
            _missing(f"{ekey}: list view {vkey}", name, problems)
        for pkey, p in (e.get("pipelines") or {}).items():
            _missing(
                f"{ekey}: pipeline {pkey}", (p.get("translations") or {}).get("name"), problems
            )
            for s in p.get("stages") or []:
                name = (s.get("translations") or {}).get("name")
                _missing(f"{ekey}: pipeline {pkey} stage {s['key']}", name, problems)
    for rkey, r in (package.get("roles") or {}).items():
        _missing(f"role {rkey}", (r.get("translations") or {}).get("name"), problems)
    return problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_label_of_a_starter_reads_in_chinese_and_spanish(path):
    package = json.loads(path.read_text(encoding="utf-8"))
    assert label_problems(package) == []


def test_the_label_check_finds_a_missing_translation():
    package = {
        "entities": {
            "x": {
                "translations": {"singular": {"zh_Hans": "甲", "es": "X"}},
                "fields": {"a": {"label": "A", "help_text": "Help", "choices": [{"key": "k"}]}},
                "list_views": {"v": {"name": "V", "translations": {"name": {"zh_Hans": "视图"}}}},
            }
        },
        "roles": {"r": {"name": "R"}},
    }
    found = label_problems(package)
    assert "x: plural [zh_Hans]" in found and "x.a: help [es]" in found
    assert "x.a: choice k [zh_Hans]" in found and "x: list view v [es]" in found
    assert "role r [es]" in found and "x: singular [es]" not in found


# --- the registry --------------------------------------------------------------------------


def test_the_registry_lists_every_file_with_a_title_and_what_it_holds(app):
    found = starters.available()
    assert sorted(s.key for s in found) == sorted(p.stem for p in FILES)
    # The registry's order: B2B sales, the most common kind of business, first.
    assert [s.key for s in found][:3] == ["b2b-sales", "membership-retail", "after-sales-service"]
    retail = starters.get("membership-retail")
    assert retail.title == "Membership and retail" and retail.icon
    s = starters.summary(retail, "zh_Hans")
    assert "会员" in [e.label for e in s.entities]
    assert ("会员关怀", 4) in [(p.name, p.stages) for p in s.pipelines]
    assert "店长" in s.roles
    assert "Socios" in [e.label for e in starters.summary(retail, "es").entities]
    assert "Members" in [e.label for e in starters.summary(retail, None).entities]
    assert starters.get("nope") is None and starters.get(["x"]) is None


def test_a_file_without_a_registry_entry_still_shows_by_its_name(app, tmp_path):
    data = json.loads((FOLDER / "after-sales-service.json").read_text(encoding="utf-8"))
    data["package"]["name"] = "field-service-x"
    (tmp_path / "field-service-x.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    try:
        found = starters.available(tmp_path)
        assert [s.key for s in found] == ["field-service-x"]  # the broken file is left out
        assert found[0].title == "field-service-x"
        assert found[0].description == data["package"]["description"]
    finally:
        starters.available()  # back to the real folder for the tests after this one


def test_install_is_refused_for_non_administrators_forged_keys_and_configured_crms(app):
    staff = make_user("staff@example.com")
    admin = make_user("admin@example.com", is_admin=True)
    with pytest.raises(Forbidden):
        starters.install("membership-retail", staff)
    for forged in ("nope", "../package", "", None, 7):
        with pytest.raises(NotFound):
            starters.install(forged, admin)
    assert not specs.raw().entities
    starters.install("membership-retail", admin)
    before = db.session.scalar(select(func.count()).select_from(EntityRow))
    with pytest.raises(Conflict):
        starters.install("after-sales-service", admin)
    assert db.session.scalar(select(func.count()).select_from(EntityRow)) == before


# --- the first-run page -----------------------------------------------------------------


def _entity_count() -> int:
    return db.session.scalar(select(func.count()).select_from(EntityRow))


def test_an_administrator_of_an_empty_crm_is_offered_the_starters(app, login_as, admin):
    client = login_as(admin)
    for url in ("/", "/admin/start"):  # the home page of an empty CRM, and the page itself
        page = client.get(url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Choose a starting point" in html and "Start with an empty CRM" in html
        for s in starters.available():
            assert f'value="{s.key}"' in html and s.title in html
        assert "Care follow-ups" in html and "Member care" in html and "Field engineer" in html


def test_the_page_reads_in_the_administrators_language(app, login_as):
    lin = make_user("lin@example.com", is_admin=True)
    lin.locale = "zh_Hans"
    db.session.commit()
    html = login_as(lin).get("/admin/start").get_data(as_text=True)
    assert "会员回访" in html and "会员关怀" in html and "现场工程师" in html


def test_choosing_a_starter_installs_it_and_lands_home(app, login_as, admin):
    client = login_as(admin)
    r = client.submit("/admin/start", {"starter": "after-sales-service"})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    home = client.get("/")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "starter is installed" in html and "Choose a starting point" not in html
    for label in ("Tickets", "Assets", "Customers", "Field visits"):
        assert f">{label}</a>" in html
    assert {"customer", "contact", "asset", "ticket", "visit"} == set(specs.raw().entities)
    again = client.get("/admin/start")
    assert again.status_code in (302, 303) and again.headers["Location"] == "/"
    count = _entity_count()
    twice = client.submit("/admin/start", {"starter": "membership-retail"})
    assert twice.status_code in (302, 303) and twice.headers["Location"] == "/"
    assert _entity_count() == count


def test_starting_empty_lands_in_the_configuration_area(app, login_as, admin):
    client = login_as(admin)
    r = client.submit("/admin/start", {"starter": ""})
    assert r.status_code == 303 and r.headers["Location"] == "/admin/"
    home = client.get("/").get_data(as_text=True)  # no longer offered the starters
    assert "Choose a starting point" not in home and "define your first entity" in home
    assert _entity_count() == 0


def test_a_forged_starter_key_says_so_and_changes_nothing(app, login_as, admin):
    client = login_as(admin)
    for forged in ("no-such-starter", "../../etc/passwd", "b2b-sales<script>"):
        r = client.submit("/admin/start", {"starter": forged})
        assert r.status_code == 400
        assert "There is no such starter" in r.get_data(as_text=True)
    assert _entity_count() == 0


def test_without_the_csrf_token_nothing_is_installed(app, login_as, admin):
    r = login_as(admin).post("/admin/start", data={"starter": "membership-retail"})
    assert r.status_code == 400
    assert _entity_count() == 0


def test_people_who_may_not_configure_are_refused(app, login_as, staff):
    client = login_as(staff)
    assert "Choose a starting point" not in client.get("/").get_data(as_text=True)
    assert client.get("/admin/start").status_code == 403
    r = client.submit("/admin/start", {"starter": "membership-retail"})
    assert r.status_code == 403
    assert _entity_count() == 0


def test_the_page_sends_people_away_once_entities_exist(app, login_as, admin):
    from crm.schema import service as schema
    from tests.factories.schema import text

    schema.create_entity("memo", "Memo", fields=[text("title", "Title")])
    client = login_as(admin)
    assert "Choose a starting point" not in client.get("/").get_data(as_text=True)
    r = client.get("/admin/start")
    assert r.status_code in (302, 303) and r.headers["Location"] == "/"
    posted = client.submit("/admin/start", {"starter": "membership-retail"})
    assert posted.status_code in (302, 303)
    assert set(specs.raw().entities) == {"memo"}


def test_the_first_administrator_is_offered_the_starters_after_setup(client):
    form = {
        "display_name": "Lin 林",
        "email": "lin@example.com",
        "password": "a-good-long-secret",
        "confirm": "a-good-long-secret",
    }
    assert client.submit("/setup", form).status_code == 303
    signed = client.submit("/login", {"email": "lin@example.com", "password": "a-good-long-secret"})
    assert signed.status_code == 303
    home = client.get(signed.headers["Location"])
    assert home.status_code == 200
    assert "Choose a starting point" in home.get_data(as_text=True)


def test_the_registry_hands_out_the_files_own_bytes(app):
    for s in starters.available():
        assert s.raw == (FOLDER / f"{s.key}.json").read_bytes()

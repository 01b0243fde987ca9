"""The B2B sales starter (``schemas/starters/b2b-sales.json``, the demo's configuration):
every label in three languages, the roles the demo's people hold, and shared views that
list in the package's order once applied. (``tests/test_demo.py`` proves the file is the
product's own export of the demo, byte for byte.)"""

from __future__ import annotations

import json

from sqlalchemy import select

from crm import demo
from crm.demo_org import DEPARTMENTS
from crm.extensions import db
from crm.metadata.models import ListViewRow
from crm.packages.apply import apply, plan_package
from crm.packages.load import load
from tests.factories import make_user

LOCALES = ("zh_Hans", "es")


def _starter() -> dict:
    return json.loads(demo.STARTER.read_text(encoding="utf-8"))


def _untranslated(package: dict) -> list[str]:
    """Every label (entity names, field labels and help texts, choices, form sections,
    shared views, pipelines and stages, roles) without a Chinese or Spanish text."""
    missing: list[str] = []

    def need(where: str, texts: dict | None) -> None:
        missing.extend(f"{where} [{loc}]" for loc in LOCALES if not (texts or {}).get(loc))

    for ekey, e in package["entities"].items():
        for part in ("singular", "plural"):
            need(f"{ekey}/{part}", e.get("translations", {}).get(part))
        for fkey, f in e["fields"].items():
            need(f"{ekey}/{fkey}", f.get("translations", {}).get("label"))
            if f.get("help_text"):
                need(f"{ekey}/{fkey}/help", f.get("translations", {}).get("help"))
            for c in f.get("choices", []):
                need(f"{ekey}/{fkey}/{c['key']}", c.get("labels"))
        for s in e.get("layouts", {}).get("form", {}).get("sections", []):
            need(f"{ekey}/sections/{s['key']}", s.get("titles"))
        for vkey, v in e.get("list_views", {}).items():
            need(f"{ekey}/list_views/{vkey}", v.get("translations", {}).get("name"))
        for pkey, p in e.get("pipelines", {}).items():
            need(f"{ekey}/pipelines/{pkey}", p.get("translations", {}).get("name"))
            for s in p["stages"]:
                need(f"{ekey}/pipelines/{pkey}/{s['key']}", s.get("translations", {}).get("name"))
    for rkey, r in package["roles"].items():
        need(f"roles/{rkey}", r.get("translations", {}).get("name"))
    return missing


def test_the_starter_has_every_label_in_three_languages_and_the_demos_roles():
    package = _starter()
    assert package["package"]["name"] == demo.STARTER.stem
    assert package["package"]["version"] == "1.0.0"
    assert _untranslated(package) == []
    assert set(package["entities"]) == {"account", "contact", "lead", "deal", "activity"}
    held = {k for *_n, members in DEPARTMENTS for *_m, keys in members for k in keys}
    assert held <= set(package["roles"])
    assert sum(bool(r.get("can_configure")) for r in package["roles"].values()) == 1


def test_applied_shared_views_list_in_the_packages_order(app):
    """New shared views are saved in the order of their positions in the package (not of
    their keys), so a starter's views list as it lists them and export gives them back."""
    admin = make_user("admin@example.com", is_admin=True)
    package = _starter()
    views = package["entities"]["deal"]["list_views"]
    wanted = sorted(views, key=lambda k: views[k]["position"])
    assert wanted != sorted(views)  # the case that matters: not alphabetical
    data = json.dumps(package).encode("utf-8")
    apply(plan_package(load(data).data), actor_id=admin.id)
    stored = select(ListViewRow.key).where(
        ListViewRow.entity_key == "deal", ListViewRow.owner_id.is_(None)
    )
    assert list(db.session.scalars(stored.order_by(ListViewRow.position))) == wanted

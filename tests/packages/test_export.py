"""Package export: exactly what docs/packages.md says, deterministic, and the same bytes
from the function, the command line and the configuration area's download."""

from __future__ import annotations

import json
import re

import pytest

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.packages.export import dumps, export_package

LOST_REASONS = [
    ("price", "Price", "价格", "Precio"),
    ("competitor", "Chose a competitor", "选择了竞争对手", "Eligió a la competencia"),
    ("no_budget", "No budget", "没有预算", "Sin presupuesto"),
    ("no_decision", "No decision", "未做决定", "Sin decisión"),
    ("timing", "Timing", "时机不对", "Momento inadecuado"),
    ("other", "Other", "其他", "Otro"),
]


ALL_ACTIONS = ("assign", "bulk_edit", "create", "delete", "edit", "export", "import", "read")


def _label(es: str, zh: str) -> dict:
    return {"label": {"es": es, "zh_Hans": zh}}


EXPECTED = {
    "format": "atelier.package",
    "format_version": 1,
    "package": {
        "name": "acme-sales",
        "version": "2.1",
        "description": "Acme's sales set-up",
        "default_locale": "en",
    },
    "entities": {
        "account": {
            "label_singular": "Account",
            "label_plural": "Accounts",
            "icon": "🏢",
            "name_field": "name",
            "fields": {
                "name": {
                    "type": "text",
                    "label": "Name",
                    "position": 10,
                    "required": True,
                    "searchable": True,
                    "options": {"max_length": 255},
                },
            },
        },
        "deal": {
            "label_singular": "Deal",
            "label_plural": "Deals",
            "name_field": "title",
            "translations": {"singular": {"zh_Hans": "商机"}, "plural": {"es": "Oportunidades"}},
            "fields": {
                "title": {
                    "type": "text",
                    "label": "Title",
                    "position": 10,
                    "required": True,
                    "options": {"max_length": 255},
                    "translations": {"label": {"es": "Título"}},
                },
                "amount": {
                    "type": "currency",
                    "label": "Amount",
                    "position": 20,
                    "options": {"currency": "EUR", "decimal_places": 2},
                },
                "kind": {
                    "type": "picklist",
                    "label": "Kind",
                    "position": 30,
                    "choices": [
                        {"key": "new", "label": "New", "color": "blue"},
                        {"key": "renewal", "label": "Renewal"},
                    ],
                },
                "account": {
                    "type": "lookup",
                    "label": "Account",
                    "position": 40,
                    "options": {"target": "account", "on_delete": "clear"},
                },
                # the fields the pipeline added: managed ones carry no choices
                "pipeline": {
                    "type": "pipeline",
                    "label": "Pipeline",
                    "position": 50,
                    "translations": _label("Embudo", "流程"),
                },
                "stage": {
                    "type": "stage",
                    "label": "Stage",
                    "position": 60,
                    "translations": _label("Etapa", "阶段"),
                },
                "probability": {
                    "type": "percent",
                    "label": "Probability",
                    "position": 70,
                    "options": {"decimal_places": 0},  # no compiled "follows_stage"
                    "translations": _label("Probabilidad", "赢率"),
                },
                "lost_reason": {
                    "type": "picklist",
                    "label": "Lost reason",
                    "position": 80,
                    "choices": [
                        {"key": k, "label": en, "labels": {"es": es, "zh_Hans": zh}}
                        for k, en, zh, es in LOST_REASONS
                    ],
                    "translations": _label("Motivo de pérdida", "输单原因"),
                },
            },
            "layouts": {
                "form": {
                    "sections": [
                        {
                            "key": "s1",
                            "title": "Details",
                            "columns": 1,
                            "fields": [["title", "amount"]],
                        }
                    ]
                }
            },
            "list_views": {  # the private view is not there
                "big_deals": {
                    "name": "Big deals",
                    "translations": {"name": {"zh_Hans": "大单"}},
                    "columns": ["title", "amount"],
                    "sort": [{"field": "amount", "dir": "desc"}],
                    "filters": [{"field": "kind", "op": "in", "value": ["new"]}],
                    "position": 1,
                }
            },
            "pipelines": {
                "sales": {
                    "name": "Sales",
                    "default": True,
                    "position": 10,
                    "options": {"amount_field": "amount"},
                    "stages": [
                        {
                            "key": "qualify",
                            "name": "Qualify",
                            "probability": 10,
                            "category": "open",
                            "color": "gray",
                            "translations": {"name": {"es": "Calificar"}},
                        },
                        {
                            "key": "won",
                            "name": "Won",
                            "probability": 100,
                            "category": "won",
                            "color": "green",
                            "required_fields": ["amount"],
                        },
                    ],
                }
            },
        },
    },
    "roles": {
        "sales_rep": {
            "name": "Sales rep",
            "translations": {"name": {"zh_Hans": "销售代表"}},
            "description": "Sells.",
            # stored compactly: deal's delete equals "*"'s (none), so it is not repeated
            "grants": {"*": {"read": "own"}, "deal": {"read": "department"}},
            "field_rights": {"deal": {"amount": "read"}},  # edit, the default, omitted
        },
        "staff": {  # every installation's first role (migration 0006)
            "name": "Staff",
            "description": "Every action on every record. Narrow it, or make roles of your own.",
            "grants": {"*": dict.fromkeys(ALL_ACTIONS, "all")},
        },
    },
}


def _export() -> dict:
    return export_package(name="acme-sales", version="2.1", description="Acme's sales set-up")


def test_a_small_configuration_exports_exactly_as_the_format_says(small):
    assert _export() == EXPECTED


def test_the_text_is_sorted_indented_utf8_and_identical_twice(small):
    first, second = dumps(_export()), dumps(_export())
    assert first == second
    assert first.endswith("}\n")
    assert "销售代表" in first  # not \u escapes
    assert (
        first == json.dumps(json.loads(first), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    )
    # the order of ordered things is kept: stages and choices as the administrator set them
    package = json.loads(first)
    stages = package["entities"]["deal"]["pipelines"]["sales"]["stages"]
    assert [s["key"] for s in stages] == ["qualify", "won"]


def test_no_ids_timestamps_or_users(small):
    text = dumps(_export())
    forbidden = {"id", "owner_id", "created_at", "updated_at", "user_id", "actor_id", "role_id"}

    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    assert not forbidden & set(keys(json.loads(text)))
    assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text)
    assert "admin@example.com" not in text


def test_a_change_shows_in_the_next_export_and_keys_stay(small):
    from sqlalchemy import select

    from crm.access import roles
    from crm.access.models import Role

    rep = db.session.scalar(select(Role).where(Role.key == "sales_rep"))
    roles.update(small, rep.id, name="Field sales")
    after = _export()
    assert after["roles"]["sales_rep"]["name"] == "Field sales"  # the key never changes
    assert after != EXPECTED


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"name": "Acme Sales", "version": "1"}, "name"),
        ({"name": "9lives", "version": "1"}, "name"),
        ({"name": "acme", "version": ""}, "version"),
        ({"name": "acme", "version": "1\n2"}, "version"),
        ({"name": "acme", "version": "x" * 41}, "version"),
    ],
)
def test_a_bad_name_or_version_is_refused_with_its_place(app, kw, where):
    with pytest.raises(ValidationFailed) as exc:
        export_package(**kw)
    assert list(exc.value.errors) == [where]


def test_the_demo_configuration_exports_the_same_bytes_twice(app):
    """The demo's configuration (the B2B starter: entities, pipelines, translations,
    roles, shared views), installed as ``make run`` installs it, with the demo's people
    (records left out: they are not configuration)."""
    from crm import demo, demo_labels, demo_org
    from tests.factories import make_user

    admin = make_user("demo-admin@example.com", is_admin=True)
    assert demo.install_starter(admin)
    demo_org.load(admin, "a-password-for-the-demo")
    demo_labels.load()
    first = dumps(export_package(name="demo", version="1"))
    assert first == dumps(export_package(name="demo", version="1"))
    package = json.loads(first)
    assert {"account", "contact", "lead", "deal", "activity"} <= set(package["entities"])
    assert package["entities"]["deal"]["pipelines"]
    assert len(package["roles"]) > 2
    assert all(re.match(r"^[a-z][a-z0-9_]{0,40}$", k) for k in package["roles"])


def test_the_command_writes_the_same_bytes_as_the_function(small, tmp_path):
    from flask import current_app

    runner = current_app.test_cli_runner()
    expected = dumps(export_package(name="acme-sales", version="2.1"))
    out = runner.invoke(
        args=["crm", "package", "export", "--name", "acme-sales", "--version", "2.1"]
    )
    assert out.exit_code == 0, out.output
    assert out.stdout == expected
    target = tmp_path / "acme.json"
    written = runner.invoke(
        args=["crm", "package", "export", "--name", "acme-sales", "--version", "2.1",
              "--out", str(target)]
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    assert target.read_bytes() == expected.encode("utf-8")
    bad = runner.invoke(args=["crm", "package", "export", "--name", "Not A Key"])
    assert bad.exit_code == 1
    assert "--name:" in bad.stderr


def test_the_download_needs_the_configure_right_and_is_an_attachment(small, login_as, staff):
    denied = login_as(staff)
    assert denied.get("/admin/packages").status_code == 403
    assert denied.get("/admin/packages/export?name=acme&version=1").status_code == 403
    client = login_as(small)
    page = client.get("/admin/packages")
    assert page.status_code == 200
    assert "/admin/packages/export" in page.get_data(as_text=True)
    r = client.get("/admin/packages/export?name=acme-sales&version=2.1")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="acme-sales-2.1.json"'
    assert r.mimetype == "application/json"
    assert r.get_data(as_text=True) == dumps(export_package(name="acme-sales", version="2.1"))


def test_a_bad_name_in_the_download_form_says_so_and_downloads_nothing(small, login_as):
    client = login_as(small)
    r = client.get("/admin/packages/export?name=Acme+Sales&version=1")
    assert r.status_code == 400
    assert "Content-Disposition" not in r.headers
    html = r.get_data(as_text=True)
    assert "The package was not exported." in html
    assert "The package name must start with a lowercase letter" in html


def test_planning_the_installations_own_export_says_nothing_would_change(app):
    """The plan reads the installation as export writes it: a company's fresh export
    planned against itself is empty (the demo's entities, fields, layouts, shared views,
    pipelines and roles)."""
    from crm import demo, demo_labels, demo_org
    from crm.packages.current import current_config
    from crm.packages.plan import plan
    from tests.factories import make_user

    admin = make_user("demo-admin@example.com", is_admin=True)
    assert demo.install_starter(admin)
    demo_org.load(admin, "a-password-for-the-demo")
    demo_labels.load()
    package = json.loads(dumps(export_package(name="demo", version="1")))
    assert package["roles"]  # the demo's roles and shared views are in it, and planned
    assert any(e.get("list_views") for e in package["entities"].values())
    result = plan(current_config(), package)
    assert [c.path for c in result.changes + result.conflicts] == []

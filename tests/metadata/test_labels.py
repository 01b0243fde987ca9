"""Labels in every language: the fallback rule, the checks of translations, the specs a
reader of one language gets, and the schema service saving translations atomically."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import pick
from crm.metadata import labels, specs
from crm.metadata.models import ConfigChange, EntityRow
from crm.schema import service


@pytest.mark.parametrize(
    ("translations", "locale", "expected"),
    [
        ({"zh_Hans": "客户"}, "zh_Hans", "客户"),
        ({"zh_Hans": "客户"}, "es", "Account"),  # missing: the plain label
        ({"es": ""}, "es", "Account"),  # empty is none
        ({}, "es", "Account"),
        (None, "es", "Account"),
        ({"en": "Customer"}, "en", "Customer"),  # a default-language translation wins
        ({"es": "Cuenta"}, None, "Account"),  # no request: the plain label
    ],
)
def test_pick_falls_back_to_the_plain_label(translations, locale, expected):
    assert pick("Account", translations, locale) == expected


def test_check_cleans_drops_empty_and_names_problems(app):
    cleaned, problems = labels.check({"es": "  Cuenta\u0007 ", "zh_Hans": " ", "en": None})
    assert cleaned == {"es": "Cuenta"} and problems == []
    assert labels.check({"es": "שלום עולם"})[0] == {"es": "שלום עולם"}  # right-to-left kept
    _c, problems = labels.check({"fr": "Compte", "es": 3, "zh_Hans": "x" * 201})
    assert problems == [
        "“fr” is not a language of this CRM.",
        "The Español translation must be text.",
        "The 中文（简体） translation is too long: use at most 200 characters.",
    ]
    assert labels.check("Cuenta")[1] == ["The translations were not sent in the expected shape."]
    assert labels.check({"es": "a\x00"}, limit=2000)[1] == [
        "The Español translation contains a NUL character."
    ]


@pytest.fixture
def account(app):
    return service.create_entity(
        "account",
        "Account",
        translations={"singular": {"es": "Cuenta"}},
        fields=[
            {"key": "name", "type": "text", "label": "Name",
             "translations": {"label": {"zh_Hans": "名称"}}},
            {"key": "tier", "type": "picklist", "label": "Tier",
             "choices": [{"key": "gold", "label": "Gold", "labels": {"zh_Hans": "金牌"}}]},
        ],
    )  # fmt: skip


def test_specs_of_a_language_carry_its_labels_and_keep_keys(app, account):
    plain = specs.raw()
    zh = plain.localized("zh_Hans")
    es = plain.localized("es")
    assert zh is plain.localized("zh_Hans")  # made once per version and language
    assert zh.entity("account").field("name").label == "名称"
    assert zh.entity("account").field("tier").choice("gold").label == "金牌"
    assert zh.entity("account").label_singular == "Account"  # no Chinese: plain
    assert es.entity("account").label_singular == "Cuenta"
    assert es.entity("account").field("name").label == "Name"
    assert [f.key for f in zh.entity("account").fields] == ["name", "tier"]
    assert plain.entity("account").field("name").label == "Name"
    assert zh.table("account") is plain.table("account")
    assert plain.localized(None) is plain and zh.localized("es") is es


def test_translations_are_logged_and_bump_the_version(app, account):
    version = specs.raw().version
    service.update_field(
        "account", "name", translations={"label": {"zh_Hans": "客户名称", "es": "Nombre"}}
    )
    assert specs.raw().version > version
    log = db.session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc())).first()
    assert log.action == "update_field"
    assert log.before["translations"] == {"label": {"zh_Hans": "名称"}}
    assert log.after["translations"] == {"label": {"es": "Nombre", "zh_Hans": "客户名称"}}


def test_bad_translations_change_nothing(app, account):
    version = specs.raw().version
    logs = db.session.scalar(select(func.count()).select_from(ConfigChange))
    with pytest.raises(ValidationFailed) as exc, service.change() as c:
        c.update_entity("account", label_plural="Clients", translations={"plural": {"es": 5}})
        c.update_field("account", "name", translations={"label": {"xx": "?"}, "help": {}})
        c.update_field("account", "tier", translations={"nope": {}})
    assert exc.value.errors == {
        "label_plural": ["The Español translation must be text."],
        "account.name.label": ["“xx” is not a language of this CRM."],
        "account.tier.translations": ["The translations were not sent in the expected shape."],
    }
    assert specs.raw().version == version
    assert db.session.scalar(select(func.count()).select_from(ConfigChange)) == logs
    row = db.session.scalar(select(EntityRow).where(EntityRow.key == "account"))
    assert row.label_plural == "Accounts" and row.translations == {"singular": {"es": "Cuenta"}}

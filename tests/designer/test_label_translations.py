"""The designer's "Translations" controls: entity labels, field label and help text,
picklist values, saved in the same post through the schema service, checked like the
plain labels, logged in the change log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.metadata import specs
from crm.metadata.models import ConfigChange, EntityRow, FieldRow
from crm.schema import service


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


@pytest.fixture
def member(app):
    return service.create_entity(
        "member",
        "Member",
        fields=[
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "level", "type": "picklist", "label": "Level",
             "choices": [{"key": "gold", "label": "Gold"}, {"key": "silver", "label": "Silver"}]},
        ],
    )  # fmt: skip


def raw_entity():
    return specs.raw().entity("member")


def test_the_edit_form_offers_a_control_per_other_language(admin_client, member):
    html = admin_client.get("/admin/entities/member/edit").data.decode()
    assert "<summary>Translations</summary>" in html
    assert 'name="tr_singular.zh_Hans"' in html and 'name="tr_plural.es"' in html
    assert 'name="tr_singular.en"' not in html  # English is the company default here
    assert '<span lang="zh-Hans">中文（简体）</span>' in html
    assert '<span lang="es">Español</span>' in html and 'dir="auto"' in html


def test_entity_labels_are_saved_and_shown_with_their_count(admin_client, member):
    r = admin_client.submit(
        "/admin/entities/member/edit",
        {
            "label_singular": "Member",
            "label_plural": "Members",
            "tr_singular.zh_Hans": " 会员 ",
            "tr_singular.es": "Socio",
            "tr_plural.zh_Hans": "会员",
            "tr_plural.es": "",  # empty: no translation
        },
    )
    assert r.status_code == 303, r.data.decode()[-2000:]
    e = raw_entity()
    assert e.label_singular == "Member" and e.label_plural == "Members"  # keys, plain labels
    assert dict(e.translations["singular"]) == {"es": "Socio", "zh_Hans": "会员"}
    assert dict(e.translations["plural"]) == {"zh_Hans": "会员"}
    row = db.session.scalar(select(EntityRow).where(EntityRow.key == "member"))
    assert row.translations == {
        "plural": {"zh_Hans": "会员"},
        "singular": e.translations["singular"],
    }
    html = admin_client.get("/admin/entities/member/edit").data.decode()
    assert "Translations (2)" in html and 'value="Socio"' in html
    log = db.session.scalars(
        select(ConfigChange).where(ConfigChange.action == "update_entity")
    ).all()[-1]
    assert (
        log.before["translations"] == {} and log.after["translations"]["singular"]["es"] == "Socio"
    )
    changes = admin_client.get("/admin/changes").data.decode()
    assert "singular label in Español" in changes and "Socio" in changes


def test_a_new_entity_gets_its_translations_in_the_same_post(admin_client, app):
    r = admin_client.submit(
        "/admin/entities/new",
        {"label_singular": "Lead", "key": "lead", "tr_plural.zh_Hans": "线索"},
    )
    assert r.status_code == 303
    assert dict(specs.raw().entity("lead").translations["plural"]) == {"zh_Hans": "线索"}


def test_right_to_left_labels_are_kept_as_typed(admin_client, member):
    r = admin_client.submit(
        "/admin/entities/member/edit",
        {"label_singular": "Member", "label_plural": "Members", "tr_singular.es": "عضو"},
    )
    assert r.status_code == 303
    assert raw_entity().translations["singular"]["es"] == "عضو"


def test_bad_translations_are_refused_with_a_message_and_nothing_changes(admin_client, member):
    before = db.session.scalar(select(EntityRow.translations).where(EntityRow.key == "member"))
    r = admin_client.submit(
        "/admin/entities/member/edit",
        {
            "label_singular": "Member 2",
            "label_plural": "Members",
            "tr_singular.es": "x" * 201,
            "tr_plural.zh_Hans": "a\x00b",
        },
    )
    assert r.status_code == 400
    html = r.data.decode()
    assert "The Español translation is too long: use at most 200 characters." in html
    assert "Translations" in html and "x" * 201 in html  # what was typed comes back
    e = raw_entity()
    assert e.label_singular == "Member" and e.translations == {}
    assert (
        db.session.scalar(select(EntityRow.translations).where(EntityRow.key == "member")) == before
    )


def test_field_label_help_and_picklist_values(admin_client, member):
    r = admin_client.submit(
        "/admin/entities/member/fields/level",
        {
            "type": "picklist",
            "label": "Level",
            "help_text": "How loyal",
            "tr_label.zh_Hans": "等级",
            "tr_label.es": "Nivel",
            "tr_help.es": "Cuán fiel",
            "choice_key": ["gold", "silver"],
            "choice_label": ["Gold", "Silver"],
            "choice_label.zh_Hans": ["金牌", ""],
            "choice_label.es": ["Oro", "Plata"],
            "choice_label.en": ["", ""],
            "choice_color": ["", ""],
            "choice_state": ["active", "active"],
        },
    )
    assert r.status_code == 303, r.data.decode()[-3000:]
    f = raw_entity().field("level")
    assert f.label == "Level" and f.help_text == "How loyal"
    assert dict(f.translations["label"]) == {"es": "Nivel", "zh_Hans": "等级"}
    assert dict(f.translations["help"]) == {"es": "Cuán fiel"}
    assert [dict(c.labels) for c in f.choices] == [
        {"es": "Oro", "zh_Hans": "金牌"},
        {"es": "Plata"},
    ]
    row = db.session.scalar(select(FieldRow).where(FieldRow.key == "level"))
    assert row.choices[0]["labels"] == {"es": "Oro", "zh_Hans": "金牌"}
    html = admin_client.get("/admin/entities/member/fields/level").data.decode()
    assert 'name="choice_label.zh_Hans" value="金牌"' in html
    assert 'name="choice_label.en" value=""' in html  # the default language: a hidden input
    changes = admin_client.get("/admin/changes").data.decode()
    assert "label of Gold in 中文（简体）" in changes


def test_a_post_without_the_controls_keeps_the_stored_translations(admin_client, member):
    service.update_field(
        "member",
        "level",
        translations={"label": {"es": "Nivel"}},
        choices=[{"key": "gold", "label": "Gold", "labels": {"es": "Oro"}}, {"key": "silver"}],
    )
    r = admin_client.submit(
        "/admin/entities/member/fields/level",
        {
            "type": "picklist",
            "label": "Level",
            "choice_key": ["gold", "silver"],
            "choice_label": ["Gold", "Silver"],
            "choice_color": ["", ""],
            "choice_state": ["active", "active"],
        },
    )
    assert r.status_code == 303
    f = raw_entity().field("level")
    assert dict(f.translations["label"]) == {"es": "Nivel"}
    assert dict(f.choice("gold").labels) == {"es": "Oro"}


def test_a_bad_picklist_translation_names_its_value(admin_client, member):
    r = admin_client.submit(
        "/admin/entities/member/fields/level",
        {
            "type": "picklist",
            "label": "Level",
            "choice_key": ["gold", "silver"],
            "choice_label": ["Gold", "Silver"],
            "choice_label.es": ["O" * 300, ""],
            "choice_color": ["", ""],
            "choice_state": ["active", "active"],
        },
    )
    assert r.status_code == 400
    assert (
        "Choice “gold”: The Español translation is too long: use at most 200 characters."
        in r.data.decode()
    )
    assert raw_entity().field("level").choice("gold").labels == {}


def test_designer_lists_show_the_admins_language(admin_client, admin, member):
    service.update_entity("member", translations={"plural": {"zh_Hans": "会员"}})
    service.update_field("member", "name", translations={"label": {"zh_Hans": "姓名"}})
    admin.locale = "zh_Hans"
    db.session.commit()
    html = admin_client.get("/admin/entities/member").data.decode()
    assert "会员" in html and "姓名" in html
    # The edit form still starts from the plain label (what it saves).
    edit = admin_client.get("/admin/entities/member/fields/name").data.decode()
    assert 'id="label" name="label" required type="text" value="Name"' in edit or (
        'value="Name"' in edit
    )


def test_the_key_checks_answer_a_plain_post_with_the_whole_page(admin_client, member):
    """Without htmx the inline key checks render the whole form, its Translations
    controls included (found by the hostile-input run as a 500)."""
    r = admin_client.submit("/admin/entities/new/check", {"label_singular": "Lead"})
    assert r.status_code == 200 and 'name="tr_singular.es"' in r.data.decode()
    r = admin_client.submit("/admin/entities/member/fields/check", {"label": "Tier"})
    assert r.status_code == 200 and 'name="tr_label.es"' in r.data.decode()

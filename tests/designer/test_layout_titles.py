"""Section titles in every language: the layout editor shows the plain title with its
"Translations" control and saves both; staff read the title in their language."""

from __future__ import annotations

import json

import pytest

from crm.extensions import db
from crm.metadata import layouts, specs
from crm.schema import service


@pytest.fixture
def member(app):
    service.create_entity(
        "member", "Member", fields=[{"key": "name", "type": "text", "label": "Name"}]
    )


def post_layout(client, sections):
    return client.submit(
        "/admin/entities/member/layout", {"layout": json.dumps({"sections": sections})}
    )


def test_section_titles_are_saved_with_their_translations(login_as, admin, member):
    c = login_as(admin)
    r = post_layout(
        c,
        [{"key": "s1", "title": "About", "columns": 1, "fields": [["name"]],
          "titles": {"zh_Hans": " 简介 ", "es": ""}}],
    )  # fmt: skip
    assert r.status_code in (200, 302, 303), r.data.decode()[-2000:]
    section = specs.raw().layout("member").sections[0]
    assert section.title == "About" and dict(section.titles) == {"zh_Hans": "简介"}
    assert specs.raw().localized("zh_Hans").layout("member").sections[0].title == "简介"
    assert specs.raw().localized("es").layout("member").sections[0].title == "About"
    # An administrator reading Chinese edits the plain title, not the translation.
    admin.locale = "zh_Hans"
    db.session.commit()
    html = c.get("/admin/entities/member/layout").data.decode()
    assert 'data-section-title value="About"' in html
    assert 'data-section-title-locale="zh_Hans" value="简介"' in html
    assert '<span lang="es">Español</span>' in html


def test_bad_title_translations_are_refused(login_as, admin, member):
    c = login_as(admin)
    r = post_layout(
        c,
        [{"key": "s1", "title": "About", "columns": 1, "fields": [["name"]],
          "titles": {"es": "x" * 101, "kl": "?"}}],
    )  # fmt: skip
    assert r.status_code == 400
    html = r.data.decode()
    assert "Section 1: The Español translation is too long: use at most 100 characters." in html
    assert "Section 1: “kl” is not a language of this CRM." in html
    assert specs.raw().layout("member").sections[0].titles == {}


def test_new_section_placeholder_is_in_the_admins_language(login_as, admin, member):
    admin.locale = "es"
    db.session.commit()
    html = login_as(admin).get("/admin/entities/member/layout").data.decode()
    assert 'value="Nueva sección"' in html or "Nueva sección" in html
    assert layouts.MAX_TITLE == 100

"""Shared list views named in every language: the editor's "Translations" control beside
the name, saved in the same post; staff see the name in their language."""

from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.metadata import list_views as lv
from crm.metadata.models import ConfigChange, ListViewRow
from tests.designer.test_list_views import account, admin_client, form_post  # noqa: F401


def test_a_view_name_and_its_translations(admin_client, admin, staff, login_as, account):  # noqa: F811
    r = admin_client.submit(
        "/admin/entities/account/views/new",
        form_post(**{"tr_name.zh_Hans": "进行中的商机", "tr_name.es": "Oportunidades abiertas"}),
    )
    assert r.status_code == 303, r.data.decode()[-2000:]
    row = db.session.scalar(select(ListViewRow))
    assert row.name == "Open deals"
    assert row.translations == {"name": {"es": "Oportunidades abiertas", "zh_Hans": "进行中的商机"}}
    log = db.session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc())).first()
    assert log.after["translations"]["name"]["es"] == "Oportunidades abiertas"
    # Staff see the name in their language; a language without one sees the plain name.
    for locale, name in (
        ("zh_Hans", "进行中的商机"),
        ("es", "Oportunidades abiertas"),
        ("en", "Open deals"),
    ):
        staff.locale = locale
        db.session.commit()
        html = login_as(staff).get(f"/r/account/?view={row.id}").data.decode()
        assert f">{name}</option>" in html, locale
    # The editor starts from the plain name, whatever the administrator reads.
    admin.locale = "es"
    db.session.commit()
    edit = admin_client.get(f"/admin/entities/account/views/{row.id}/edit").data.decode()
    assert (
        'value="Open deals"' in edit and 'name="tr_name.es" value="Oportunidades abiertas"' in edit
    )
    # Saving without the control keeps them; an empty input removes one.
    assert (
        admin_client.submit(f"/admin/entities/account/views/{row.id}/edit", form_post()).status_code
        == 303
    )
    db.session.refresh(row)
    assert row.translations["name"]["zh_Hans"] == "进行中的商机"
    admin_client.submit(
        f"/admin/entities/account/views/{row.id}/edit",
        form_post(**{"tr_name.zh_Hans": "", "tr_name.es": "Abiertas"}),
    )
    db.session.refresh(row)
    assert row.translations == {"name": {"es": "Abiertas"}}
    assert lv.get_view(row.id, None).plain_name == "Open deals"


def test_a_too_long_translation_is_refused(admin_client, account):  # noqa: F811
    r = admin_client.submit(
        "/admin/entities/account/views/new", form_post(**{"tr_name.es": "x" * 101})
    )
    assert r.status_code == 400
    assert "The Español translation is too long: use at most 100 characters." in r.data.decode()
    assert db.session.scalar(select(ListViewRow)) is None

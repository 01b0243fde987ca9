"""The field designer places the schema service's errors by their keys, not their wording."""

from __future__ import annotations

import dataclasses
import re

import pytest

from crm.errors import ValidationFailed
from crm.schema import service

# Wording the old placement read as "this is about the key" ("field key"), "about the
# label" ("label") or "about an option" ("max_length: ..."): each must stay where its key
# puts it whatever it says.
MISLEADING = "Choose another field key: this label says max_length: nothing."


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
            {"key": "points", "type": "integer", "label": "Points"},
        ],
    )


def errors_of(html: str, field_id: str) -> str:
    """The error list rendered under input ``field_id`` ("" when it has none)."""
    found = re.search(rf'<ul class="errors" id="{field_id}-errors">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def notice(html: str) -> str:
    """The errors shown above the form."""
    found = re.search(r'<div class="notice notice-error" role="alert">(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


def test_a_reworded_label_error_stays_on_the_label(admin_client, member, monkeypatch):
    monkeypatch.setattr(service, "label_problems", lambda *_a, **_k: [MISLEADING])
    r = admin_client.submit(
        "/admin/entities/member/fields/new?type=text",
        {"type": "text", "label": "Nickname", "key": "nickname", "key_edited": "1"},
    )
    assert r.status_code == 400
    html = r.data.decode()
    assert MISLEADING in errors_of(html, "label")
    assert MISLEADING not in errors_of(html, "key") + errors_of(html, "max_length")
    assert MISLEADING not in notice(html)


def test_a_reworded_key_error_stays_on_the_key(admin_client, member, monkeypatch):
    reworded = "Pick something else: this label-like name is reserved."
    monkeypatch.setattr(service, "key_problems", lambda *_a, **_k: [reworded])
    r = admin_client.submit(
        "/admin/entities/member/fields/new?type=text",
        {"type": "text", "label": "Nickname", "key": "nickname", "key_edited": "1"},
    )
    assert r.status_code == 400
    html = r.data.decode()
    assert reworded in errors_of(html, "key")
    assert reworded not in errors_of(html, "label") + notice(html)


def test_a_reworded_option_error_stays_on_its_option(admin_client, member, monkeypatch):
    monkeypatch.setattr(
        service.types, "check_options", lambda *_a, **_k: {"max_length": [MISLEADING]}
    )
    r = admin_client.submit(
        "/admin/entities/member/fields/name",
        {"type": "text", "label": "Name", "max_length": "80"},
    )
    assert r.status_code == 400
    html = r.data.decode()
    assert MISLEADING in errors_of(html, "max_length")
    assert MISLEADING not in errors_of(html, "label") + notice(html)


def test_a_reworded_default_error_stays_on_the_default(admin_client, member, monkeypatch):
    def parse(_f, _value):
        raise ValueError(MISLEADING)

    real_get = service.types.get
    reworded = dataclasses.replace(real_get("integer"), parse=parse)
    monkeypatch.setattr(
        service.types, "get", lambda key: reworded if key == "integer" else real_get(key)
    )
    r = admin_client.submit(
        "/admin/entities/member/fields/points",
        {"type": "integer", "label": "Points", "default": "12"},
    )
    assert r.status_code == 400
    html = r.data.decode()
    assert MISLEADING in errors_of(html, "default")
    assert MISLEADING not in errors_of(html, "label") + errors_of(html, "max_length")


def test_an_error_about_an_input_the_page_does_not_show_goes_above_the_form(admin_client, member):
    r = admin_client.submit(
        "/admin/entities/member/fields/new?type=long_text",
        {"type": "long_text", "label": "Notes", "unique": "y"},
    )
    assert r.status_code == 400
    assert "cannot be unique" in notice(r.data.decode())


def test_the_schema_service_keys_field_errors_by_setting(member):
    with pytest.raises(ValidationFailed) as info:
        service.add_field("member", "Bad Key", "text", "", options={"max_length": 0}, default=None)
    errors = info.value.errors
    assert set(errors) >= {"member.Bad Key.key", "member.Bad Key.label"}
    with pytest.raises(ValidationFailed) as info:
        service.add_field("member", "code", "text", "Code", options={"max_length": 0})
    assert list(info.value.errors) == ["member.code.max_length"]
    with pytest.raises(ValidationFailed) as info:
        service.update_field("member", "points", default="twelve")
    assert list(info.value.errors) == ["member.points.default"]
    assert "Default value" not in str(info.value.errors)  # the key says what it is about

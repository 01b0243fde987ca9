"""Form layouts and quick create: effective layouts, validation, the service, the editor."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest
from sqlalchemy import func, select

from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.metadata import specs
from crm.metadata.layouts import (
    LayoutSpec,
    SectionSpec,
    effective_layout,
    effective_quick,
    parse_payload,
    save_layout,
    validate_layout,
    validate_quick,
)
from crm.metadata.models import ConfigChange, LayoutRow
from crm.metadata.spec import Choice, EntitySpec, FieldSpec
from crm.schema import service

# -- pure functions on hand-made specs --------------------------------------------------------


def _spec(*fields: FieldSpec, name_field: str | None = None) -> EntitySpec:
    return EntitySpec("member", "Member", "Members", name_field=name_field, fields=fields)


def _f(key: str, position: int, type: str = "text", **kw) -> FieldSpec:
    return FieldSpec(key=key, type=type, label=key.title(), position=position, **kw)


SPEC = _spec(
    _f("name", 10, required=True),
    _f("email", 20, "email"),
    _f("phone", 30, "phone"),
    _f("joined", 40, "date"),
    _f("level", 50, "picklist", choices=(Choice("gold", "Gold"), Choice("silver", "Silver"))),
    _f("active", 60, "boolean"),
    _f("fee", 70, "currency", options=MappingProxyType({"currency": "EUR"})),
    _f("notes", 80, "long_text"),
    _f("old", 90, archived=True),
    name_field="name",
)


def _section(key="s1", title="Details", columns=2, fields=((), ())) -> dict:
    return {"key": key, "title": title, "columns": columns, "fields": [list(c) for c in fields]}


class TestEffectiveLayout:
    def test_default_is_one_details_section_of_two_alternating_columns(self):
        layout = effective_layout(SPEC, None)
        assert layout == LayoutSpec(
            (
                SectionSpec(
                    "s1",
                    "Details",
                    2,
                    (("name", "phone", "level", "fee"), ("email", "joined", "active", "notes")),
                ),
            )
        )
        assert "old" not in layout.field_keys

    def test_entity_without_fields_has_one_empty_section(self):
        layout = effective_layout(_spec(), None)
        assert len(layout.sections) == 1
        assert layout.field_keys == ()

    def test_new_field_is_appended_to_the_last_sections_shortest_column(self):
        definition = {
            "sections": [
                _section("s1", "Main", 1, [["name", "email", "phone", "joined", "level"]]),
                _section("s2", "More", 2, [["active", "fee"], ["notes"]]),
            ]
        }
        spec = _spec(*SPEC.fields, _f("website", 100, "url"), _f("vip", 110, "boolean"))
        layout = effective_layout(spec, definition)
        assert layout.sections[0].fields == (("name", "email", "phone", "joined", "level"),)
        # "website" goes to the shorter second column, then "vip" to the (now) first shortest.
        assert layout.sections[1].fields == (("active", "fee", "vip"), ("notes", "website"))

    def test_archived_unknown_and_repeated_fields_disappear(self):
        definition = {
            "sections": [
                _section("s1", "Main", 2, [["name", "old", "ghost", "email"], ["name", 7, None]]),
            ]
        }
        layout = effective_layout(SPEC, definition)
        first = layout.sections[0].fields
        assert first[0][:2] == ("name", "email")
        assert "old" not in layout.field_keys and "ghost" not in layout.field_keys
        assert layout.field_keys.count("name") == 1
        assert set(layout.field_keys) == {f.key for f in SPEC.active_fields}

    def test_garbage_definitions_fall_back_without_raising(self):
        for junk in ({}, {"sections": "x"}, {"sections": []}, {"sections": [1, "a"]}, []):
            assert effective_layout(SPEC, junk) == effective_layout(SPEC, None)
        layout = effective_layout(
            SPEC, {"sections": [{"key": "bad key", "title": 5, "columns": 9, "fields": "x"}]}
        )
        section = layout.sections[0]
        assert section.key == "s1" and section.title == "Details" and section.columns == 3
        assert len(section.fields) == 3

    def test_extra_columns_are_folded_into_the_last(self):
        layout = effective_layout(
            SPEC, {"sections": [_section(columns=1, fields=[["name"], ["email"]])]}
        )
        assert layout.sections[0].fields[0][:2] == ("name", "email")


class TestEffectiveQuick:
    def test_default_is_name_required_then_position_order_up_to_five(self):
        assert effective_quick(SPEC, None) == ("name", "email", "phone", "joined", "level")

    def test_default_keeps_every_required_field_even_past_five(self):
        fields = [_f(f"r{i}", i, required=True) for i in range(7)]
        assert len(effective_quick(_spec(*fields), None)) == 7

    def test_default_skips_auto_numbers(self):
        spec = _spec(_f("number", 1, "auto_number"), _f("title", 2))
        assert effective_quick(spec, None) == ("title",)

    def test_stored_list_loses_unknown_and_archived_and_gains_required(self):
        assert effective_quick(SPEC, {"fields": ["fee", "old", "ghost", "fee", "email"]}) == (
            "fee",
            "email",
            "name",
        )

    def test_empty_or_garbage_falls_back_to_default(self):
        assert effective_quick(SPEC, {"fields": ["ghost"]}) == effective_quick(SPEC, None)
        assert effective_quick(SPEC, {"fields": "x"}) == effective_quick(SPEC, None)


class TestValidate:
    def test_valid_layout_is_normalised(self):
        data = {
            "sections": [
                {"key": "s3", "title": "  Main \x00 info ", "columns": 1, "fields": [["name"]]},
                {"title": "Membership", "columns": 2, "fields": [["level"], ["fee"], ["active"]]},
            ]
        }
        definition, errors = validate_layout(SPEC, data)
        assert errors == {}
        assert definition == {
            "sections": [
                _section("s3", "Main info", 1, [["name"]]),
                _section("s1", "Membership", 2, [["level"], ["fee", "active"]]),
            ]
        }

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"sections": []}, "at least one section"),
            ({"sections": [_section()] * 21}, "at most 20 sections"),
            ({"sections": [_section(title="  ")]}, "Enter a section title."),
            ({"sections": [_section(title="x" * 101)]}, "at most 100 characters"),
            ({"sections": [_section(columns=4)]}, "choose 1, 2 or 3 columns"),
            ({"sections": [_section(columns=0)]}, "choose 1, 2 or 3 columns"),
            ({"sections": [_section(columns="2")]}, "choose 1, 2 or 3 columns"),
            ({"sections": [_section(columns=True)]}, "choose 1, 2 or 3 columns"),
            ({"sections": [_section(fields=[["ghost"]])]}, "“ghost”, which is not a field"),
            ({"sections": [_section(fields=[["old"]])]}, "“old”, which is not a field"),
            ({"sections": [_section(fields=[["<b>x"]])]}, "a value that is not a field key"),
            ({"sections": [_section(fields=[["name"], ["name"]])]}, "placed twice"),
            ({"sections": [_section(key="x1")]}, "key that is not valid"),
            ({"sections": [_section(key="s1\n")]}, "key that is not valid"),
            ({"sections": [_section(), _section(title="B")]}, "same key"),
            ({"sections": [_section(fields="name")]}, "expected shape"),
            ({"sections": [_section(fields=[[], [], [], []])]}, "expected shape"),
            ({"sections": ["x"]}, "expected shape"),
            ({"sections": {}}, "expected shape"),
            (["s1"], "expected shape"),
        ],
    )
    def test_invalid_layouts_are_refused_with_a_message(self, data, message):
        definition, errors = validate_layout(SPEC, data)
        assert definition == {}
        assert any(message in m for m in errors["layout"]), errors

    def test_every_problem_is_reported_at_once(self):
        data = {"sections": [_section(title="", columns=5, fields=[["ghost", "name", "name"]])]}
        _, errors = validate_layout(SPEC, data)
        assert len(errors["layout"]) == 4

    def test_quick_validation(self):
        assert validate_quick(SPEC, {"fields": ["email", "fee"]}) == (
            {"fields": ["email", "fee", "name"]},
            {},
        )
        assert validate_quick(SPEC, ["fee"]) == ({"fields": ["fee", "name"]}, {})
        for bad in ({"fields": ["ghost"]}, {"fields": ["old"]}, {"fields": ["fee", "fee"]}, {}):
            assert validate_quick(SPEC, bad)[1]["layout"]
        no_required = _spec(_f("a", 1))
        assert "at least one field" in validate_quick(no_required, {"fields": []})[1]["layout"][0]

    @pytest.mark.parametrize("raw", ["", None, "{", "[" * 5000, "nan-json", '{"a": 1e99999x}'])
    def test_payload_that_is_not_json_is_refused(self, raw):
        with pytest.raises(ValidationFailed):
            parse_payload(raw)

    def test_payload_over_64_kb_is_refused(self):
        with pytest.raises(ValidationFailed, match="too large"):
            parse_payload(json.dumps({"sections": [], "pad": "x" * 70_000}))


# -- the service ------------------------------------------------------------------------------


@pytest.fixture
def member(app):
    return service.create_entity(
        "member",
        "Member",
        "Members",
        fields=[
            {"key": "name", "type": "text", "label": "Name", "required": True},
            {"key": "email", "type": "email", "label": "Email"},
            {"key": "phone", "type": "phone", "label": "Phone"},
            {"key": "joined", "type": "date", "label": "Joined"},
            {
                "key": "level",
                "type": "picklist",
                "label": "Level",
                "choices": [{"key": "gold", "label": "Gold"}, {"key": "silver", "label": "Silver"}],
            },
            {"key": "active", "type": "boolean", "label": "Active"},
            {"key": "fee", "type": "currency", "label": "Fee", "options": {"currency": "EUR"}},
            {"key": "notes", "type": "long_text", "label": "Notes"},
        ],
        name_field="name",
    )


TWO_SECTIONS = {
    "sections": [
        {"key": "s1", "title": "Details", "columns": 2, "fields": [["name", "email"], ["phone"]]},
        {"title": "Membership", "columns": 2, "fields": [["level", "joined"], ["fee"]]},
    ]
}


def _version() -> int:
    db.session.rollback()
    return specs.read_version()


def _changes(action: str) -> list[ConfigChange]:
    db.session.rollback()
    return list(db.session.scalars(select(ConfigChange).where(ConfigChange.action == action)))


def _layout_rows() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(LayoutRow))


class TestService:
    def test_save_bumps_the_version_logs_and_compiled_specs_follow(self, member, admin):
        before = _version()
        save_layout("member", "form", TWO_SECTIONS, actor_id=admin.id)
        assert _version() == before + 1
        [entry] = _changes("update_layout")
        assert entry.entity_key == "member" and entry.user_id == admin.id
        assert entry.before is None and entry.after["sections"][1]["key"] == "s2"
        layout = specs.current().layout("member")
        assert [s.title for s in layout.sections] == ["Details", "Membership"]
        # Fields the layout does not name still land on the form (end of the last section).
        assert layout.sections[1].fields == (("level", "joined", "notes"), ("fee", "active"))

        save_layout("member", "form", {"sections": [_section(fields=[["name"], []])]}, actor_id=1)
        [_, second] = _changes("update_layout")
        assert second.before == entry.after
        assert specs.current().layout("member").sections[0].fields[0][0] == "name"

    def test_saving_the_same_layout_again_changes_nothing(self, member, admin):
        save_layout("member", "form", TWO_SECTIONS, actor_id=admin.id)
        effective = specs.current().layout("member").as_definition()
        save_layout("member", "form", effective, actor_id=admin.id)  # places every field
        before = _version()
        save_layout("member", "form", effective, actor_id=admin.id)
        assert _version() == before
        assert len(_changes("update_layout")) == 2

    def test_quick_layout_saved_with_required_fields_forced_in(self, member, admin):
        save_layout("member", "quick", {"fields": ["email", "fee"]}, actor_id=admin.id)
        assert specs.current().quick_layout("member") == ("email", "fee", "name")
        [entry] = _changes("update_quick_layout")
        assert entry.after == {"fields": ["email", "fee", "name"]}

    def test_invalid_layout_changes_nothing(self, member, admin):
        before = _version()
        bad = {"sections": [_section(title="", fields=[["ghost"]])]}
        with pytest.raises(ValidationFailed) as caught:
            save_layout("member", "form", bad, actor_id=admin.id)
        assert len(caught.value.errors["layout"]) == 2
        assert _version() == before
        assert _layout_rows() == 0 and _changes("update_layout") == []

    def test_unknown_kind_or_entity_changes_nothing(self, member, admin):
        before = _version()
        with pytest.raises(ValidationFailed):
            save_layout("member", "kanban", TWO_SECTIONS, actor_id=admin.id)
        with pytest.raises(NotFound):
            save_layout("nobody", "form", TWO_SECTIONS, actor_id=admin.id)
        service.archive_entity("member")
        archived = _version()
        with pytest.raises(NotFound):
            save_layout("member", "form", TWO_SECTIONS, actor_id=admin.id)
        assert _version() == archived == before + 1
        assert _layout_rows() == 0

    def test_new_field_and_archived_field_follow_the_saved_layout(self, member, admin):
        save_layout("member", "form", TWO_SECTIONS, actor_id=admin.id)
        service.add_field("member", "website", "url", "Website")
        service.archive_field("member", "fee")
        layout = specs.current().layout("member")
        assert "website" in layout.sections[-1].field_keys
        assert "fee" not in layout.field_keys

    def test_layout_is_computed_once_per_version(self, member):
        compiled = specs.current()
        assert compiled.layout("member") is compiled.layout("member")
        assert compiled.quick_layout("member") is compiled.quick_layout("member")
        with pytest.raises(KeyError):
            compiled.layout("nobody")


# -- the editor -------------------------------------------------------------------------------

URL = "/admin/entities/member/layout"


def _stored(kind: str = "form"):
    db.session.rollback()
    return db.session.scalar(
        select(LayoutRow.definition).where(LayoutRow.entity_key == "member", LayoutRow.kind == kind)
    )


class TestEditor:
    def test_admin_sees_the_editor_and_the_preview(self, member, login_as, admin):
        r = login_as(admin).get(URL)
        assert r.status_code == 200
        html = r.data.decode()
        assert 'data-layout-editor="form"' in html
        assert "/static/vendor/Sortable.min.js" in html and "/static/js/layout-editor.js" in html
        assert 'aria-current="page">Form layout' in html
        assert 'class="pv-grid cols-2"' in html
        assert "<option>Gold</option>" in html  # picklist preview shows choice labels
        assert 'type="date"' in html and "<textarea" in html and 'type="checkbox"' in html
        assert "style=" not in html and "<script>" not in html

    def test_quick_editor(self, member, login_as, admin):
        r = login_as(admin).get(URL + "?kind=quick")
        assert r.status_code == 200
        html = r.data.decode()
        assert 'data-layout-editor="quick"' in html
        assert 'aria-current="page">Quick create' in html
        assert "Required fields stay on quick create" in html

    def test_unknown_kind_or_entity_is_404(self, member, login_as, admin):
        c = login_as(admin)
        assert c.get(URL + "?kind=nope").status_code == 404
        assert c.get("/admin/entities/nobody/layout").status_code == 404

    def test_staff_cannot_see_or_save(self, member, login_as, staff):
        c = login_as(staff)
        assert c.get(URL).status_code == 403
        r = c.hx_post(URL, data={"layout": json.dumps(TWO_SECTIONS)})
        assert r.status_code == 403
        assert c.submit(URL, data={"layout": json.dumps(TWO_SECTIONS)}).status_code == 403
        assert _stored() is None

    def test_htmx_save_returns_the_editor_fragment(self, member, login_as, admin):
        before = _version()
        r = login_as(admin).hx_post(URL, data={"layout": json.dumps(TWO_SECTIONS)})
        assert r.status_code == 200
        html = r.data.decode()
        assert "<html" not in html
        assert "HX-Request" in r.headers["Vary"]
        assert 'id="layout-editor"' in html and "Saved" in html
        assert html.count("data-preview-section") == 2
        assert _version() == before + 1
        assert _stored()["sections"][1]["title"] == "Membership"

    def test_plain_post_redirects_with_a_flash(self, member, login_as, admin):
        c = login_as(admin)
        r = c.submit(URL + "?kind=quick", data={"layout": json.dumps({"fields": ["fee"]})})
        assert r.status_code == 303
        assert r.headers["Location"].endswith("/admin/entities/member/layout?kind=quick")
        assert "Quick create saved." in c.get(r.headers["Location"]).data.decode()
        assert _stored("quick") == {"fields": ["fee", "name"]}

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ("this is not json", "expected shape"),
            ("", "was not sent"),
            (json.dumps({"sections": [], "pad": "x" * 70_000}), "too large"),
            ('{"sections": {"a": 1}}', "expected shape"),
            ("[" * 10_000, "expected shape"),
            (json.dumps({"sections": [_section(fields=[["ghost"]])]}), "“ghost”"),
            (json.dumps({"sections": [_section(columns=4)]}), "1, 2 or 3 columns"),
            (json.dumps({"sections": [_section(title="")]}), "Enter a section title."),
        ],
    )
    def test_malformed_payloads_are_400_and_change_nothing(
        self, member, login_as, admin, payload, message
    ):
        before = _version()
        c = login_as(admin)
        r = c.hx_post(URL, data={"layout": payload})
        assert r.status_code == 400
        html = r.data.decode()
        assert message in html and "Not saved" in html
        assert "<html" not in html
        plain = c.submit(URL, data={"layout": payload})
        assert plain.status_code == 400 and "<html" in plain.data.decode()
        assert message in plain.data.decode()
        assert _version() == before
        assert _stored() is None

    def test_user_text_is_escaped(self, member, login_as, admin):
        c = login_as(admin)
        data = {
            "sections": [
                _section("s1", "{{7*7}}", 2, [["name"], []]),
                _section("s2", "<script>alert(1)</script>", 1, [["email"]]),
            ]
        }
        r = c.hx_post(URL, data={"layout": json.dumps(data)})
        assert r.status_code == 200
        html = c.get(URL).data.decode()
        assert "{{7*7}}" in html and 'value="49"' not in html
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        # Titles are never put into hx-* attributes.
        for line in html.splitlines():
            if "hx-" in line:
                assert "alert" not in line and "7*7" not in line

    def test_too_long_title_is_refused_without_echoing_it(self, member, login_as, admin):
        title = "<img src=x onerror=alert(1)>" * 10
        data = {"sections": [_section(title=title)]}
        r = login_as(admin).hx_post(URL, data={"layout": json.dumps(data)})
        assert r.status_code == 400
        assert "onerror" not in r.data.decode()
        assert _stored() is None

    def test_post_without_csrf_token_is_refused(self, member, login_as, admin):
        c = login_as(admin)
        r = c.post(URL, data={"layout": json.dumps(TWO_SECTIONS)}, headers={"HX-Request": "true"})
        assert r.status_code == 400
        r = c.post(URL, data={"layout": json.dumps(TWO_SECTIONS)})
        assert r.status_code == 400
        assert _stored() is None

    def test_archived_entity_shows_a_notice_and_refuses_saves(self, member, login_as, admin):
        service.archive_entity("member")
        c = login_as(admin)
        html = c.get(URL).data.decode()
        assert "This entity is archived" in html and "data-layout-editor" not in html
        assert c.hx_post(URL, data={"layout": json.dumps(TWO_SECTIONS)}).status_code == 404
        assert _stored() is None

"""List rows drawn by the renderer compiled per entity, columns and metadata version."""

from __future__ import annotations

import inspect
from datetime import date

import pytest

from crm.metadata import list_views, specs
from crm.records import present, rows
from crm.records import service as records
from crm.schema import service as schema
from tests.factories import make_user


@pytest.fixture
def model(app):
    schema.create_entity(
        "org",
        "Org",
        fields=[{"key": "name", "type": "text", "label": "Name", "required": True}],
        name_field="name",
    )
    schema.create_entity(
        "thing",
        "Th<i>ng",
        "Things",
        fields=[
            {"key": "name", "type": "text", "label": "Name"},
            {"key": "stage", "type": "picklist", "label": "Stage",
             "choices": [{"key": "hot", "label": "<b>Hot</b>", "color": "red"},
                         {"key": "cold", "label": "Cold"}]},
            {"key": "org", "type": "lookup", "label": "Org", "options": {"target": "org"}},
            {"key": "amount", "type": "currency", "label": "Amount",
             "options": {"currency": "EUR"}},
            {"key": "due", "type": "date", "label": "Due"},
            {"key": "done", "type": "boolean", "label": "Done"},
            {"key": "tags", "type": "multi_picklist", "label": "Tags",
             "choices": [{"key": "a", "label": "A & A"}, {"key": "b", "label": "B"}]},
            {"key": "site", "type": "url", "label": "Site"},
        ],
        name_field="name",
    )  # fmt: skip
    return specs.current()


COLUMNS = ["name", "stage", "org", "owner_id", "amount", "due", "done", "tags", "site"]


def _view(user):
    list_views.save_private_view(
        "thing",
        {"name": "All columns", "columns": COLUMNS, "is_default": True},
        user_id=user.id,
    )


def _row_of(html: str, record_id: int) -> str:
    start = html.index(
        f'<tr><td class="pick"><input type="checkbox" name="pick" value="{record_id}:'
    )
    return html[start : html.index("</tr>", start) + len("</tr>")]


def test_a_row_shows_every_kind_of_cell_escaped(login_as, model):
    owner = make_user(display_name="<em>Olga</em>")
    org = records.create(owner, model.entity("org"), {"name": "O'Reilly & <Sons>"})
    thing = records.create(
        owner,
        model.entity("thing"),
        {"name": '<script>alert("x")</script>', "stage": "hot", "org": str(org),
         "amount": "1234.5", "due": "2026-03-01", "done": "true", "tags": ["a", "b"],
         "site": "https://example.com/?a=1&b=<2>"},
    )  # fmt: skip
    _view(owner)
    html = login_as(owner).get("/r/thing/").data.decode()
    assert _row_of(html, thing) == (
        f'<tr><td class="pick"><input type="checkbox" name="pick" value="{thing}:1" '
        'form="bulk-form" aria-label="Select &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;">'
        f'</td><td><a class="strong" href="/r/thing/{thing}">'
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</a></td>"
        '<td><span class="chip c-red">&lt;b&gt;Hot&lt;/b&gt;</span></td>'
        f'<td><a href="/r/org/{org}">O&#39;Reilly &amp; &lt;Sons&gt;</a></td>'
        "<td>&lt;em&gt;Olga&lt;/em&gt;</td>"
        "<td>€1,234.50</td><td>Mar 1, 2026</td><td>Yes</td><td>A &amp; A, B</td>"
        "<td>https://example.com/?a=1&amp;b=&lt;2&gt;</td></tr>"
    )
    assert "<script>" not in html and "<b>Hot</b>" not in html and "<em>Olga" not in html


def test_empty_values_unnamed_records_and_grey_chips(login_as, staff, model):
    bare = records.create(staff, model.entity("thing"), {"stage": "cold"})
    _view(staff)
    html = login_as(staff).get("/r/thing/").data.decode()
    assert _row_of(html, bare) == (
        f'<tr><td class="pick"><input type="checkbox" name="pick" value="{bare}:1" '
        f'form="bulk-form" aria-label="Select Th&lt;i&gt;ng #{bare}"></td>'
        f'<td><a class="strong" href="/r/thing/{bare}">Th&lt;i&gt;ng #{bare}</a></td>'
        '<td><span class="chip c-gray">Cold</span></td>'
        "<td></td><td>Sam Staff</td><td></td><td></td><td></td><td></td><td></td></tr>"
    )


def test_values_the_reader_or_the_metadata_no_longer_knows(app, staff, model):
    thing = model.entity("thing")
    org = records.create(staff, model.entity("org"), {"name": "Binned"})
    records.delete(staff, model.entity("org"), org)  # in the recycle bin: no longer readable
    columns = [list_views.field_for(thing, k) for k in ("name", "stage", "org", "owner_id")]
    data = [
        {"id": 1, "version": 3, "name": "A", "stage": "<gone>", "org": org, "owner_id": 987654},
        {"id": 2, "version": 1, "name": "", "stage": None, "org": None, "owner_id": None},
    ]
    with app.test_request_context("/r/thing/"):
        display = present.Display(staff, thing, columns, data)
        html = str(rows.render_rows(thing, columns, data, display))
    assert (
        '<td><span class="chip c-gray">&lt;gone&gt;</span></td>'
        f'<td><a href="/r/org/{org}">(a record you cannot see)</a></td>'
        "<td>(former user)</td></tr>"
    ) in html
    assert (
        'aria-label="Select Th&lt;i&gt;ng #2"' in html
        and "<td></td><td></td><td></td></tr>" in html
    )


def test_one_renderer_per_metadata_version(app, login_as, staff, model):
    thing = model.entity("thing")
    columns = [thing.field(k) for k in ("name", "stage")]
    with app.test_request_context("/r/thing/"):
        first = rows.renderer(thing, columns)
        assert rows.renderer(thing, columns) is first
        assert rows.renderer(thing, columns[:1]) is not first  # other columns, other renderer
    records.create(staff, thing, {"name": "Kiln", "stage": "cold"})
    schema.update_field(
        "thing",
        "stage",
        choices=[{"key": "hot", "label": "Hot", "color": "red"},
                 {"key": "cold", "label": "Chilly", "color": "blue"}],
    )  # fmt: skip
    _view(staff)
    html = login_as(staff).get("/r/thing/").data.decode()
    assert '<span class="chip c-blue">Chilly</span>' in html
    with app.test_request_context("/r/thing/"):
        specs.forget_request_specs()  # this test's app context kept the old version on g
        thing = specs.current().entity("thing")
        assert rows.renderer(thing, [thing.field(k) for k in ("name", "stage")]) is not first


def test_show_more_rows_come_from_the_same_renderer(login_as, staff, model):
    for i in range(3):
        records.create(
            staff,
            model.entity("thing"),
            {"name": f"T{i}", "amount": "2", "due": date(2026, 1, i + 1)},
        )
    c = login_as(staff)
    first = c.get("/r/thing/?sort=name&size=2").data.decode()
    after = first.split("&after=")[1].split('"')[0]
    more = c.get(
        f"/r/thing/?sort=name&size=2&after={after}",
        headers={"HX-Request": "true", "HX-Target": "more-row"},
    ).data.decode()
    assert "<html" not in more and more.count('name="pick"') == 1
    assert '">T2</a></td>' in more


def test_metadata_reaches_the_renderer_as_values_and_no_source_is_generated(app, staff):
    label = 'Evil"); raise SystemExit("{x}\n'
    schema.create_entity(
        "zq_box",
        label,
        fields=[
            {"key": "zq_title", "type": "text", "label": label},
            {"key": "zq_mood", "type": "picklist", "label": label,
             "choices": [{"key": "zq_odd", "label": label, "color": "red"}]},
        ],
        name_field="zq_title",
    )  # fmt: skip
    box = specs.current().entity("zq_box")
    columns = [box.field("zq_title"), box.field("zq_mood")]
    with app.test_request_context("/r/zq_box/"):
        compiled = rows.renderer(box, columns)
        data = [{"id": 1, "version": 1, "zq_title": None, "zq_mood": "zq_odd"}]
        html = str(rows.render_rows(box, columns, data, present.Display(staff, box, columns, data)))
    # Closures from the type entries: no generated source, nothing exec'd or compiled.
    assert not hasattr(compiled, "source")
    module_source = inspect.getsource(rows)
    assert "exec(" not in module_source and "compile(" not in module_source
    assert callable(compiled.draw) and compiled.draw.__code__.co_filename == rows.__file__
    shown = "Evil&#34;); raise SystemExit(&#34;{x}"  # labels are stored without the newline
    assert f'aria-label="Select {shown} #1"' in html
    assert f'<span class="chip c-red">{shown}</span>' in html


def test_a_lookup_to_an_archived_entity_is_text(app, staff, model):
    thing = model.entity("thing")
    org = records.create(staff, model.entity("org"), {"name": "Kept"})
    schema.archive_entity("org")
    columns = [list_views.field_for(thing, k) for k in ("name", "org")]
    data = [{"id": 5, "version": 1, "name": "N", "org": org}]
    with app.test_request_context("/r/thing/"):
        specs.forget_request_specs()
        thing = specs.current().entity("thing")
        columns = [thing.field("name"), thing.field("org")]
        html = str(
            rows.render_rows(thing, columns, data, present.Display(staff, thing, columns, data))
        )
    assert html.endswith("<td>(a record you cannot see)</td></tr>\n")

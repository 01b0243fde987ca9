"""The pipeline editor of the configuration area, through its real routes (CSRF on)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.metadata import specs
from crm.metadata.models import ConfigChange
from crm.pipelines import service
from crm.pipelines.models import PipelineRow, StageMove, StageRow
from tests.factories import make_record, make_user, stored
from tests.pipelines.factories import make_deal_entity

BASE = "/admin/entities/deal/pipelines"


@pytest.fixture
def deal(app):
    return make_deal_entity()


@pytest.fixture
def admin_client(login_as, admin):
    return login_as(admin)


def stage(key="", name="", probability="0", category="open", color="gray", gate=(), **kw):
    return {
        "key": key,
        "name": name,
        "probability": probability,
        "category": category,
        "color": color,
        "required_fields": list(gate),
        **kw,
    }


SALES = [
    stage("new", "New", "10"),
    stage("qualified", "Qualified", "30"),
    stage("proposal", "Proposal", "60", gate=["amount"]),
    stage("won", "Won", "100", "won", gate=["amount", "close_date"]),
    stage("lost", "Lost", "0", "lost"),
]


def form(name="Sales", stages=SALES, **extra) -> dict:
    """A post as the editor's form sends it: rows in order, inputs named <token>.<attr>."""
    data: dict[str, list[str] | str] = {"name": name, "stage_row": []}
    for n, s in enumerate(stages):
        token = s.get("token", f"r{n}")
        data["stage_row"].append(token)
        for attr, value in s.items():
            if attr == "token":
                continue
            data[f"{token}.{attr}"] = value
    data.update(extra)
    return data


def state():
    """Everything a refused save must leave alone."""
    db.session.rollback()
    return (
        specs.read_version(),
        db.session.scalar(select(func.count()).select_from(ConfigChange)),
        [
            (s.key, s.name, s.position, s.probability, s.color, s.archived_at is None)
            for s in db.session.scalars(select(StageRow).order_by(StageRow.id))
        ],
        [(p.key, p.name) for p in db.session.scalars(select(PipelineRow).order_by(PipelineRow.id))],
    )


def sales():
    return service.pipelines_of("deal").get("sales")


def errors_near(html: str) -> str:
    return re.sub(r"\s+", " ", html)


# --- creating ---------------------------------------------------------------------------------


def test_entity_page_links_to_its_pipelines(admin_client, deal):
    r = admin_client.get("/admin/entities/deal")
    assert f'href="{BASE}"' in r.text
    r = admin_client.get(BASE)
    assert r.status_code == 200
    assert "Sales" in r.text and "5 stages" in r.text and "default" in r.text
    assert f"{BASE}/sales/edit" in r.text and f"{BASE}/new" in r.text


def test_create_a_pipeline_through_the_form(admin_client, admin):
    make_deal_entity()
    page = admin_client.get(f"{BASE}/new")
    assert page.status_code == 200
    assert 'name="stage_row"' in page.text and "Board preview" in page.text
    stages = [
        stage(name="Inquiry", probability="5", color="blue"),
        stage(
            name="Signed contract",
            probability="100",
            category="won",
            color="green",
            gate=["amount"],
            stale_days="",
        ),
        stage(name="Dropped", category="lost", color="red", stale_days="30"),
    ]
    r = admin_client.submit(
        f"{BASE}/new",
        form("Renewal", stages, **{"tr_name.es": "Renovación", "r0.tr_name.zh_Hans": "询价"}),
    )
    assert r.status_code == 303, r.text
    renewal = service.pipelines_of("deal").get("renewal")
    assert renewal is not None and not renewal.is_default  # "sales" stays the default
    assert dict(renewal.translations["name"]) == {"es": "Renovación"}
    got = [
        (s.key, s.probability, s.category, s.color, s.required_fields, s.stale_days)
        for s in renewal.stages
    ]
    assert got == [
        ("inquiry", 5, "open", "blue", (), None),
        ("signed_contract", 100, "won", "green", ("amount",), None),
        ("dropped", 0, "lost", "red", (), 30),
    ]
    assert dict(renewal.stages[0].translations["name"]) == {"zh_Hans": "询价"}
    log = db.session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc())).first()
    assert (log.action, log.user_id) == ("save_pipeline", admin.id)


def test_the_first_pipeline_of_an_entity_adds_its_fields(admin_client):
    from tests.factories import field, make_entity, text

    make_entity(
        "ticket", "Ticket", [text("subject", "Subject"), field("hours", "integer", "Hours")]
    )
    r = admin_client.submit(
        "/admin/entities/ticket/pipelines/new",
        form(
            "Support",
            [stage(name="Open", probability="0"), stage(name="Solved", category="won")],
            key="support",
            amount_field="hours",
            card_fields=["subject"],
        ),
    )
    assert r.status_code == 303, r.text
    ticket = specs.current().entity("ticket")
    assert ticket.field("stage").type == "stage" and ticket.field("pipeline").type == "pipeline"
    p = service.pipelines_of("ticket").get("support")
    assert p.is_default and p.amount_field == "hours" and p.card_fields == ("subject",)


def test_new_pipeline_key_of_an_existing_one_is_refused(admin_client, deal):
    before = state()
    r = admin_client.submit(f"{BASE}/new", form("Other", key="sales"))
    assert r.status_code == 400
    assert "already has a pipeline with the key" in r.text
    assert state() == before


# --- editing ----------------------------------------------------------------------------------


def test_rename_reorder_recolour_reprobability_and_gate(admin_client, deal):
    page = admin_client.get(f"{BASE}/sales/edit")
    assert page.status_code == 200
    assert page.text.count('name="stage_row"') == 5
    rows = [dict(s) for s in SALES]
    rows[1], rows[2] = rows[2], rows[1]  # proposal before qualified
    rows[0].update(name="Fresh", color="teal", probability="15")
    rows[2]["required_fields"] = ["close_date"]
    r = admin_client.submit(
        f"{BASE}/sales/edit",
        form("Sales team", rows, amount_field="amount", probability_override="y"),
    )
    assert r.status_code == 303, r.text
    p = sales()
    assert p.name == "Sales team" and p.probability_override
    assert [s.key for s in p.active_stages] == ["new", "proposal", "qualified", "won", "lost"]
    new = p.stage("new")
    assert (new.name, new.color, new.probability) == ("Fresh", "teal", 15)
    assert p.stage("qualified").required_fields == ("close_date",)
    # the stage field's choices follow the new order
    assert [c.key for c in specs.current().entity("deal").field("stage").choices][:3] == [
        "new",
        "proposal",
        "qualified",
    ]


def test_a_stored_stage_key_is_shown_fixed(admin_client, deal):
    page = admin_client.get(f"{BASE}/sales/edit").text
    assert re.search(r'<input type="hidden" name="[a-z0-9]+\.key" value="proposal">', page)
    assert "<code>proposal</code>" in page


def test_removing_a_stage_with_records_asks_where_to_move_them(admin_client, admin, deal):
    ids = [make_record(admin, "deal", {"title": f"D{i}"}) for i in range(3)]
    page = admin_client.get(f"{BASE}/sales/edit").text
    assert "3 records" in page  # the "new" row says how many records sit in it
    rows = [dict(s) for s in SALES]
    rows[0]["remove"] = "1"
    before = state()
    r = admin_client.submit(f"{BASE}/sales/edit", form("Sales", rows))
    assert r.status_code == 400
    assert state() == before
    text = errors_near(r.text)
    # the question sits in the removed row, with the stages left as choices
    row = re.search(r'<tr class="stage-row has-error" data-row="r0">.*?</tr>', text).group(0)
    assert "holds 3 records: choose the stage to move them to" in row
    assert 'name="r0.move_to"' in row and '<option value="qualified"' in row
    assert '<option value="new"' not in row

    rows[0]["move_to"] = "qualified"
    r = admin_client.submit(f"{BASE}/sales/edit", form("Sales", rows))
    assert r.status_code == 303, r.text
    assert [s.key for s in sales().active_stages] == ["qualified", "proposal", "won", "lost"]
    assert {stored("deal", i)["stage"] for i in ids} == {"qualified"}
    moves = db.session.scalars(select(StageMove).where(StageMove.from_stage == "new")).all()
    assert sorted(m.record_id for m in moves) == sorted(ids)
    assert {m.to_stage for m in moves} == {"qualified"}


def test_removing_an_empty_stage_needs_no_question(admin_client, deal):
    rows = [dict(s) for s in SALES]
    rows[1]["remove"] = "1"
    r = admin_client.submit(f"{BASE}/sales/edit", form("Sales", rows))
    assert r.status_code == 303, r.text
    assert sales().stage("qualified") is None
    assert sales().stage("qualified", include_archived=True).archived


# --- bad input --------------------------------------------------------------------------------


def _refused(client, url, data) -> str:
    before = state()
    r = client.submit(url, data)
    assert r.status_code == 400, r.status_code
    assert state() == before, "something changed"
    return errors_near(r.text)


def _row_html(text: str, token: str) -> str:
    return re.search(rf'<tr class="stage-row[^"]*" data-row="{token}">.*?</tr>', text).group(0)


def test_bad_values_are_shown_in_their_rows_and_nothing_changes(admin_client, deal):
    rows = [dict(s) for s in SALES]
    rows[1]["probability"] = "150"
    rows[2]["color"] = "chartreuse"
    rows[3]["required_fields"] = ["amount", "no_such_field"]
    rows[4]["stale_days"] = "-3"
    rows.append(stage("Bad Key!", "Extra"))
    text = _refused(admin_client, f"{BASE}/sales/edit", form("Sales", rows))
    assert "whole number from 0 to 100" in _row_html(text, "r1")
    assert "Choose a colour from the palette" in _row_html(text, "r2")
    assert "“no_such_field” is not a field a stage can require" in _row_html(text, "r3")
    assert "Stale after: a number of days" in _row_html(text, "r4")
    assert "lowercase" in _row_html(text, "r5").lower()
    # each message in its own row only
    assert "whole number from 0 to 100" not in _row_html(text, "r2")
    # what was typed is shown again
    assert 'value="150"' in _row_html(text, "r1")


def test_bad_pipeline_settings_are_placed_by_key(admin_client, deal):
    text = _refused(admin_client, f"{BASE}/new", form("Other", SALES[:1], key="9 bad"))
    assert re.search(r'id="key-errors"><li>[^<]+</li>', text)
    assert 'value="9 bad"' in text
    text = _refused(
        admin_client,
        f"{BASE}/new",
        form(
            "",
            [stage("other_new", "New")],
            key="other",
            amount_field="title",
            card_fields=[
                "title",
                "amount",
                "close_date",
                "probability",
                "stage",
                "pipeline",
                "lost_reason",
            ],
        ),
    )
    assert re.search(r'id="name-errors"><li>[^<]+</li>', text)
    assert re.search(r'id="amount_field-errors"><li>Choose a number or currency field', text)
    assert re.search(r'id="card_fields-errors"><li>A card shows at most 6 fields', text)


@pytest.mark.parametrize(
    "crafted",
    [
        {"name": "Sales"},  # no stages at all
        {"name": "Sales", "stage_row": ["../x", "<b>", ""], "../x.name": "Y"},  # bad tokens
        {"name": "Sales", "stage_row": ["a", "a"], "a.name": "New", "a.key": "new"},  # repeated
        {"name": "Sales", "stage_row": ["a"], "a.name": "Only", "a.category": "won"},  # no open
        {"name": "Sales", "stage_row": ["a"], "a.key": "x" * 500, "a.name": "N" * 500},
        {"name": ["A", "B"], "stage_row": ["a"], "a.name": "N", "a.probability": ["1", "x"]},
        {"name": "Sales", "stage_row": ["a"], "a.name": "N", "a.category": "maybe"},
    ],
)
def test_crafted_posts_are_refused_with_messages(admin_client, deal, crafted):
    before = state()
    r = admin_client.submit(f"{BASE}/sales/edit", crafted)
    assert r.status_code == 400, r.text[:500]
    assert 'class="errors"' in r.text or "notice-error" in r.text
    assert state() == before


def test_two_rows_with_one_key_and_a_key_of_another_pipeline(admin_client, deal):
    admin_client.submit(
        f"{BASE}/new",
        form("Renewal", [stage("renew_open", "Open"), stage("renew_won", "Won", category="won")]),
    )
    rows = [dict(s) for s in SALES] + [
        stage("won", "Won again", category="won"),
        stage("renew_open", "Theirs"),
    ]
    text = _refused(admin_client, f"{BASE}/sales/edit", form("Sales", rows))
    assert "Two stages have the key “won”" in _row_html(text, "r5")
    assert "Another pipeline of this entity has a stage “renew_open”" in _row_html(text, "r6")


def test_posts_without_csrf_are_refused(admin_client, deal):
    before = state()
    assert admin_client.post(f"{BASE}/sales/edit", data=form("X")).status_code == 400
    assert admin_client.post(f"{BASE}/sales/archive").status_code == 400
    assert state() == before


def test_unknown_entity_and_pipeline_are_404(admin_client, deal):
    assert admin_client.get("/admin/entities/nope/pipelines").status_code == 404
    assert admin_client.get(f"{BASE}/nope/edit").status_code == 404
    assert admin_client.submit(f"{BASE}/nope/edit", form()).status_code == 404
    assert admin_client.submit(f"{BASE}/nope/archive").status_code == 404


# --- archive ----------------------------------------------------------------------------------


def test_archive_refused_while_records_follow_then_done(admin_client, admin, deal):
    admin_client.submit(
        f"{BASE}/new",
        form("Renewal", [stage("renew_open", "Open"), stage("renew_won", "Won", category="won")]),
    )
    rid = make_record(admin, "deal", {"title": "R", "pipeline": "renewal"})
    before = state()
    r = admin_client.submit(f"{BASE}/renewal/archive")
    assert r.status_code == 303
    assert state() == before
    page = admin_client.get(r.headers["Location"]).text
    assert "1 record follows this pipeline" in page
    from crm.records import service as records

    records.delete(admin, specs.current().entity("deal"), rid)
    r = admin_client.submit(f"{BASE}/renewal/archive")
    assert r.status_code == 303
    p = service.pipelines_of("deal").get("renewal", include_archived=True)
    assert p.archived
    assert "archived" in admin_client.get(BASE).text


# --- preview and rows -------------------------------------------------------------------------


def test_preview_follows_the_form_as_typed(admin_client, deal):
    rows = [
        stage("a", "Alpha", "20", color="teal"),
        stage("", "Beta", "900", color="nope"),
        stage("c", "Gone", remove="1"),
    ]
    r = admin_client.hx_post(f"{BASE}/preview", form("X", rows))
    assert r.status_code == 200 and "<html" not in r.text
    assert "Vary" in r.headers and "HX-Request" in r.headers["Vary"]
    text = errors_near(r.text)
    cols = re.findall(
        r'<div class="pl-col c-(\w+)"> <span class="pl-col-name">([^<]*)</span> '
        r'<span class="pl-col-meta">([^<]*)</span>',
        text,
    )
    assert cols == [("teal", "Alpha", "20 %"), ("gray", "Beta", "—")]


def test_add_a_stage_row(admin_client, deal):
    r = admin_client.hx_get(f"{BASE}/stage-row")
    assert r.status_code == 200 and "<html" not in r.text
    token = re.search(r'name="stage_row" value="([a-z0-9]+)"', r.text).group(1)
    assert f'name="{token}.name"' in r.text and f'name="{token}.required_fields"' in r.text
    assert admin_client.get(f"{BASE}/stage-row").status_code == 303
    # without JavaScript: the form comes back with one more (empty) row, nothing saved
    before = state()
    r = admin_client.submit(f"{BASE}/sales/edit", form("Sales", SALES, add_stage="1"))
    assert r.status_code == 200
    assert r.text.count('name="stage_row"') == 6
    assert state() == before


# --- who may ----------------------------------------------------------------------------------


def test_staff_without_the_configure_right_is_refused(login_as, staff, deal):
    client = login_as(staff)
    for url in (BASE, f"{BASE}/new", f"{BASE}/sales/edit"):
        assert client.get(url).status_code == 403, url
    assert client.hx_get(f"{BASE}/stage-row").status_code == 403
    before = state()
    for url in (f"{BASE}/new", f"{BASE}/sales/edit", f"{BASE}/sales/archive", f"{BASE}/preview"):
        assert client.submit(url, form("Hacked")).status_code == 403, url
    assert state() == before
    assert sales().name == "Sales"


def test_a_configurator_who_is_not_admin_may_edit(login_as, deal):
    from tests.factories import make_role

    make_role("Configurator", can_configure=True)
    user = make_user("conf@example.com", roles=("Staff", "Configurator"))
    client = login_as(user)
    rows = [dict(s) for s in SALES]
    r = client.submit(f"{BASE}/sales/edit", form("Pipeline of sales", rows))
    assert r.status_code == 303, r.text
    assert sales().name == "Pipeline of sales"


# --- the change log ---------------------------------------------------------------------------


def _log_lines(client) -> str:
    r = client.get("/admin/changes?entity=deal")
    assert r.status_code == 200
    text = re.sub(r"<[^>]+>", " ", r.text)
    return re.sub(r"\s+", " ", text)


def test_change_log_tells_pipeline_changes_in_words(admin_client, admin, deal):
    text = _log_lines(admin_client)
    assert "Added pipeline" in text
    assert "stages: New (10 %), Qualified (30 %), Proposal (60 %)" in text
    rows = [dict(s) for s in SALES]
    rows[1], rows[2] = rows[2], rows[1]
    rows[0].update(name="Fresh", color="teal", probability="15")
    rows[2]["required_fields"] = ["close_date"]
    rows[4]["remove"] = "1"
    rows.append(stage("", "Negotiation", "80"))
    r = admin_client.submit(f"{BASE}/sales/edit", form("Sales", rows, probability_override="y"))
    assert r.status_code == 303, r.text
    text = _log_lines(admin_client)
    assert "Changed pipeline" in text
    for words in (
        "stage renamed: New → Fresh",
        "probability of Fresh: 10 % → 15 %",
        "colour of Fresh: Gray → Teal",
        "required fields of Qualified: — → Close date",
        "stages added: Negotiation",
        "stages removed: Lost",
        "stages reordered: Fresh, Proposal, Qualified, Won",
        "probability may be overridden: no → yes",
    ):
        assert words in text, words
    admin_client.submit(
        f"{BASE}/new",
        form("Renewal", [stage("renew_open", "Open"), stage("renew_won", "Won", category="won")]),
    )
    assert admin_client.submit(f"{BASE}/renewal/archive").status_code == 303
    text = _log_lines(admin_client)
    assert "Archived pipeline" in text and "pipeline: Renewal" in text


def test_change_log_survives_malformed_pipeline_entries(admin_client, deal):
    db.session.add_all(
        [
            ConfigChange(
                version=1, entity_key="deal", action="save_pipeline", before=None, after=None
            ),
            ConfigChange(
                version=1,
                entity_key="deal",
                action="save_pipeline",
                before={"stages": "nonsense", "options": 3},
                after={"name": 5, "stages": [{"key": 1}, {"key": "x", "probability": "z"}]},
            ),
            ConfigChange(version=1, entity_key="deal", action="archive_pipeline", before=[1, 2]),
        ]
    )
    db.session.commit()
    assert admin_client.get("/admin/changes?entity=deal").status_code == 200

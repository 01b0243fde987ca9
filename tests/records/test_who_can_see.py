"""The administrators' "Who can see this and why" panel: who gets it, what it says, and
that its verdict for every (user, record) is the scoped query layer's, over a tree of
departments, roles of every level and shares; in a fixed number of queries."""

from __future__ import annotations

import random

import pytest
from flask_babel import get_locale
from sqlalchemy import event, select, update

from crm.access import policy as P
from crm.access.models import RecordShare
from crm.extensions import db
from crm.records import sharing
from crm.records.query import scoped, table_of
from crm.records.who_can_see import explain
from tests.factories import make_department, make_role, make_user
from tests.records.runtime_model import build_model, entity, make

# --- the panel ----------------------------------------------------------------------------


@pytest.fixture
def story(app, admin):
    """The cases the panel must name: an administrator, an owner with "own records", a
    manager above the owner's department, everyone's "all records", a user share and a
    department share."""
    build_model()
    sales = make_department("Sales")
    east = make_department("Sales East", sales)
    support = make_department("Support")
    make_role("Sales rep", {"create": P.ALL, "read": P.OWN, "edit": P.OWN})
    make_role("Manager", {"read": P.SUBTREE, "edit": P.DEPARTMENT})
    make_role("Access desk", {"read": P.ALL}, can_manage_access=True)
    people = {
        "ann": make_user(display_name="Ann", roles=("Sales rep",), department=east),
        "bea": make_user(display_name="Bea", roles=("Sales rep",), department=support),
        "cal": make_user(display_name="Cal", roles=("Sales rep",), department=sales),
        "dee": make_user(display_name="Dee", roles=("Sales rep",), department=support),
        "max": make_user(display_name="Max", roles=("Manager",), department=sales),
        "sam": make_user(display_name="Sam", roles=("Staff",), department=support),
        "nil": make_user(display_name="Nil", roles=(), department=sales),
        "ida": make_user(display_name="Ida", roles=("Access desk",)),
        "old": make_user(display_name="Old", roles=("Staff",), is_active=False),
        "ada": admin,
    }
    account = entity("account")
    rid = make(people["ann"], "account", name="Acme")
    sharing.share(people["ann"], account, rid, user_id=people["bea"].id, access="edit")
    sharing.share(people["ann"], account, rid, department_id=sales.id, access="read")
    sharing.share(people["ann"], account, rid, user_id=people["nil"].id, access="read")
    return {"p": people, "id": rid, "url": f"/r/account/{rid}"}


def test_the_panel_names_the_rule_that_grants_each_person(login_as, story):
    p = story["p"]
    r = login_as(p["ada"]).hx_get(f"{story['url']}/access")
    body = r.data.decode()
    assert r.status_code == 200 and "<html" not in body and "HX-Request" in r.headers["Vary"]
    for line in [
        "<strong>Ada Admin</strong>",
        "Sees it: Full administrator",
        "Sees it: Role Sales rep: Read = Own records — owns it",
        "Edits it: Role Sales rep: Edit = Own records — owns it",
        "Sees it: Role Manager: Read = Department and below — owner is in Sales East, below Sales",
        "Sees it: Role Staff: Read = All records",
        "Edits it: Role Staff: Edit = All records",
        "Sees it: Shared with them by Ann (read and edit)",
        "Edits it: Shared with them by Ann (read and edit)",
        "Sees it: Shared with department Sales (read)",
        "Sees it: Shared with department Sales (read) — they are in Sales East, below it",
        "Nil (read): their roles give no right to read Accounts",
        "7 people can see this Account; 4 can edit it.",
        "<strong>Can edit:</strong> Ada Admin, Ann, Bea, Sam</p>",
    ]:
        assert line in body, line
    # Dee (a rep in Support, nothing shared), Nil (no role) and Old (inactive) cannot.
    for absent in ("<strong>Dee</strong>", "<strong>Nil</strong>", "<strong>Old</strong>"):
        assert absent not in body
    # Max reads by his role but may edit only his own department's records: not this one.
    row = {"id": story["id"], "owner_id": p["ann"].id}
    verdicts = {v.name: v for v in explain(entity("account"), row).readers}
    assert verdicts["Max"].can_read and not verdicts["Max"].can_edit
    assert verdicts["Cal"].read == ("Shared with department Sales (read)",)
    assert sorted(verdicts) == ["Ada Admin", "Ann", "Bea", "Cal", "Ida", "Max", "Sam"]


def test_the_panels_name_roles_and_departments_in_the_readers_language(login_as, story):
    """Who can see it and the sharing panel (its shares and its department picker) say a
    role's and a department's name in the reader's language; the history stays plain."""
    from crm.access.models import AccessAuditEntry, Department, Role

    sales = db.session.scalar(select(Department).where(Department.name == "Sales"))
    sales.translations = {"name": {"es": "Ventas"}}
    rep = db.session.scalar(select(Role).where(Role.name == "Sales rep"))
    rep.translations = {"name": {"es": "Comercial"}}
    story["p"]["ada"].locale = "es"
    db.session.commit()
    c = login_as(story["p"]["ada"])
    who = c.hx_get(f"{story['url']}/access").data.decode()
    assert "Rol Comercial" in who and "Ventas" in who and "Role Sales rep" not in who
    panel = c.hx_get(f"{story['url']}/sharing").data.decode()
    assert f'<option value="department:{sales.id}">Ventas</option>' in panel
    assert "Ventas › Sales East" in panel  # a department below: its path, in Spanish
    # What is stored as text (the access audit) keeps the plain name, whoever shares.
    form = {"target": f"department:{sales.id}", "access": "edit", "seen": "1"}
    assert c.hx_post(f"{story['url']}/sharing", form).status_code == 200
    last = db.session.scalars(select(AccessAuditEntry).order_by(AccessAuditEntry.id.desc())).first()
    assert last.action == "shared" and '"with": "Sales"' in last.subject


def test_the_panel_is_a_page_of_its_own_without_htmx(login_as, story):
    page = login_as(story["p"]["ada"]).get(f"{story['url']}/access").data.decode()
    assert "<html" in page and "<h1>Who can see this and why</h1>" in page


def test_the_sharing_panel_loads_it_for_administrators_only(login_as, story):
    p = story["p"]
    marker = f'<div id="who-can-see" hx-get="{story["url"]}/access" hx-trigger="load"'
    assert marker in login_as(p["ada"]).hx_get(f"{story['url']}/sharing").data.decode()
    assert marker in login_as(p["ida"]).hx_get(f"{story['url']}/sharing").data.decode()
    assert marker not in login_as(p["sam"]).hx_get(f"{story['url']}/sharing").data.decode()


@pytest.mark.parametrize("who", ["sam", "ann", "max"])
def test_anyone_else_is_refused(login_as, story, who):
    """Staff may read and edit everything, and still may not see who else can."""
    c = login_as(story["p"][who])
    for r in (c.hx_get(f"{story['url']}/access"), c.get(f"{story['url']}/access")):
        assert r.status_code == 403
        assert "Only administrators can see who has access to a record." in r.data.decode()
        assert "Shared with" not in r.data.decode()


def test_an_access_manager_who_is_not_a_full_administrator_may_see_it(login_as, story):
    r = login_as(story["p"]["ida"]).hx_get(f"{story['url']}/access")
    assert r.status_code == 200 and "Sees it: Role Access desk: Read = All records" in (
        r.data.decode()
    )


def test_an_access_manager_who_cannot_read_the_record_finds_nothing(login_as, story):
    make_role("Desk only", {"read": P.OWN}, can_manage_access=True)
    clerk = make_user(display_name="Clerk", roles=("Desk only",))
    assert login_as(clerk).hx_get(f"{story['url']}/access").status_code == 404


def test_names_in_the_panel_are_escaped(login_as, story):
    p = story["p"]
    evil = make_user(display_name="<script>alert(1)</script>", roles=("Sales rep",))
    ops = make_department('<i onmouseover="x">Ops</i>')
    account = entity("account")
    sharing.share(p["ann"], account, story["id"], user_id=evil.id, access="read")
    sharing.share(p["ann"], account, story["id"], department_id=ops.id, access="read")
    make_user(display_name="<b>Ops person</b>", roles=("Sales rep",), department=ops)
    body = login_as(p["ada"]).hx_get(f"{story['url']}/access").data.decode()
    assert "<script>" not in body and "<i onmouseover" not in body and "<b>Ops" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "Shared with department &lt;i onmouseover=&#34;x&#34;&gt;Ops&lt;/i&gt; (read)" in body


# --- agreement with the scoped query layer ---------------------------------------------------


def _agreement(app_users: list, keys: tuple[str, ...] = ("account", "deal")) -> dict:
    """For every entity, record and user: the panel's verdict against the scoped query's.
    Returns what was compared, and raises with every disagreement."""
    P.forget()
    wrong = []
    counts = {"read": 0, "edit": 0, "pairs": 0}
    for key in keys:
        spec = entity(key)
        table = table_of(spec)
        rows = list(
            db.session.execute(select(table).where(table.c.deleted_at.is_(None))).mappings()
        )
        sql = {
            (u.id, action): set(db.session.scalars(scoped(u, spec, action, columns=[table.c.id])))
            for u in app_users
            for action in ("read", "edit")
        }
        for row in rows:
            verdict = explain(spec, row)
            readers = {v.user_id for v in verdict.readers}
            editors = {v.user_id for v in verdict.editors}
            for u in app_users:
                counts["pairs"] += 1
                for action, panel in (("read", readers), ("edit", editors)):
                    by_sql = row["id"] in sql[(u.id, action)]
                    counts[action] += by_sql
                    if by_sql != (u.id in panel):
                        wrong.append((key, row["id"], row["owner_id"], u.display_name, action,
                                      "sql" if by_sql else "panel"))  # fmt: skip
            for v in verdict.readers:  # every reader has a reason for each right they hold
                assert v.read and (v.edit or v.user_id not in editors)
    assert not wrong, wrong
    return counts


@pytest.fixture
def tree(app, admin):
    """HQ > Sales > Sales East / Sales West, HQ > Support > Tier 2, and Finance apart."""
    build_model()
    hq = make_department("HQ")
    sales = make_department("Sales", hq)
    d = {
        "hq": hq,
        "sales": sales,
        "east": make_department("Sales East", sales),
        "west": make_department("Sales West", sales),
        "support": make_department("Support", hq),
        "finance": make_department("Finance"),
    }
    d["tier2"] = make_department("Tier 2", d["support"])
    return {"d": d, "admin": admin}


def test_the_panel_agrees_with_the_scoped_query_for_every_user_and_record(tree):
    d, admin = tree["d"], tree["admin"]
    make_role("Rep", {"create": P.ALL, "read": P.OWN, "edit": P.OWN})
    make_role("Lead", {"read": P.DEPARTMENT, "edit": P.OWN})
    make_role("Manager", {"read": P.SUBTREE, "edit": P.SUBTREE})
    make_role("Director", {"read": P.SUBTREE, "edit": P.DEPARTMENT})
    make_role("Auditor", {"read": P.ALL})
    make_role("Blind editor", {"edit": P.ALL})  # edit without read: acts on nothing
    make_role("Account desk", {"read": P.DEPARTMENT, "edit": P.DEPARTMENT}, entity="account")
    make_role("Nothing", {})
    u = {
        "rep_east": make_user(display_name="rep east", roles=("Rep",), department=d["east"]),
        "rep_east2": make_user(display_name="rep east 2", roles=("Rep",), department=d["east"]),
        "rep_west": make_user(display_name="rep west", roles=("Rep",), department=d["west"]),
        "rep_t2": make_user(display_name="rep tier2", roles=("Rep",), department=d["tier2"]),
        "rep_fin": make_user(display_name="rep fin", roles=("Rep",), department=d["finance"]),
        "rep_nodept": make_user(display_name="rep nodept", roles=("Rep",)),
        "lead_sales": make_user(display_name="lead sales", roles=("Lead",), department=d["sales"]),
        "lead_east": make_user(display_name="lead east", roles=("Lead",), department=d["east"]),
        "lead_nodept": make_user(display_name="lead nodept", roles=("Lead",)),
        "mgr_sales": make_user(display_name="mgr sales", roles=("Manager",), department=d["sales"]),
        "mgr_hq": make_user(display_name="mgr hq", roles=("Manager",), department=d["hq"]),
        "dir_support": make_user(
            display_name="dir support", roles=("Director",), department=d["support"]
        ),
        "auditor": make_user(display_name="auditor", roles=("Auditor",), department=d["finance"]),
        "rep_auditor": make_user(
            display_name="rep+auditor", roles=("Rep", "Auditor"), department=d["west"]
        ),
        "desk": make_user(display_name="desk", roles=("Account desk", "Rep"), department=d["east"]),
        "blind": make_user(display_name="blind", roles=("Blind editor",), department=d["east"]),
        "nothing": make_user(display_name="nothing", roles=("Nothing",), department=d["sales"]),
        "noroles": make_user(display_name="no roles", roles=(), department=d["east"]),
        "staff": make_user(display_name="staff", roles=("Staff",)),
        "gone": make_user(
            display_name="gone", roles=("Auditor", "Rep"), department=d["east"], is_active=False
        ),
        "admin": admin,
    }
    owners = ["rep_east", "rep_east2", "rep_west", "rep_t2", "rep_fin", "rep_nodept",
              "lead_sales", "mgr_hq", "gone", "dir_support", "desk"]  # fmt: skip
    ids: dict[str, dict[str, int]] = {}
    for key in ("account", "deal"):
        spec = entity(key)
        made = [make(admin, key, **({"name": o} if key == "account" else {"title": o}))
                for o in owners]  # fmt: skip
        table = table_of(spec)
        for rid, o in zip(made, owners, strict=True):
            db.session.execute(update(table).where(table.c.id == rid).values(owner_id=u[o].id))
        ids[key] = dict(zip(owners, made, strict=True))
        # No owner, and an owner who does not exist.
        for owner_id in (None, 987654):
            rid = make(admin, key, **({"name": "x"} if key == "account" else {"title": "x"}))
            db.session.execute(update(table).where(table.c.id == rid).values(owner_id=owner_id))
        db.session.commit()

    def share(key, owner, access, **target):
        db.session.add(RecordShare(entity_key=key, record_id=ids[key][owner], access=access,
                                   created_by=admin.id, **target))  # fmt: skip

    share("account", "rep_fin", "read", user_id=u["rep_east"].id)
    share("account", "rep_fin", "edit", department_id=d["sales"].id)
    share("account", "rep_west", "edit", user_id=u["lead_east"].id)
    share("account", "rep_t2", "read", department_id=d["hq"].id)
    share("account", "rep_nodept", "edit", user_id=u["nothing"].id)  # gated: no right at all
    share("account", "rep_nodept", "edit", user_id=u["blind"].id)  # gated: edit without read
    share("deal", "rep_east", "edit", department_id=d["tier2"].id)
    share("deal", "rep_west", "read", user_id=u["gone"].id)  # inactive: nothing
    share("deal", "mgr_hq", "edit", user_id=u["rep_nodept"].id)
    share("deal", "gone", "read", department_id=d["east"].id)
    share("deal", "dir_support", "edit", user_id=u["dir_support"].id)  # the owner, again
    db.session.commit()

    counts = _agreement(list(u.values()))
    assert counts["pairs"] == 2 * 13 * len(u)
    assert 0 < counts["edit"] < counts["read"] < counts["pairs"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agreement_holds_for_random_roles_departments_and_shares(tree, seed):
    rng = random.Random(seed)
    d, admin = list(tree["d"].values()), tree["admin"]
    levels = list(P.LEVELS)
    for n in range(6):
        grants = {a: rng.choice(levels) for a in ("read", "edit") if rng.random() < 0.9}
        make_role(f"R{n}", grants, entity=rng.choice(["*", "*", "account"]))
    names = [f"R{n}" for n in range(6)]
    people = [
        make_user(
            display_name=f"u{n}",
            roles=tuple(rng.sample(names, rng.choice([0, 1, 1, 2]))),
            department=rng.choice([*d, None]),
            is_active=rng.random() < 0.9,
            is_admin=rng.random() < 0.05,
        )
        for n in range(14)
    ]
    everyone = [*people, admin]
    for key in ("account", "deal"):
        table = table_of(entity(key))
        for n in range(12):
            rid = make(admin, key, **({"name": f"a{n}"} if key == "account" else {"title": "d"}))
            owner = rng.choice([*everyone, None])
            db.session.execute(
                update(table).where(table.c.id == rid).values(owner_id=owner and owner.id)
            )
            for _ in range(rng.choice([0, 0, 1, 2])):
                target = (
                    {"user_id": rng.choice(everyone).id}
                    if rng.random() < 0.5
                    else {"department_id": rng.choice(d).id}
                )
                access = rng.choice(["read", "edit"])
                db.session.add(
                    RecordShare(
                        entity_key=key, record_id=rid, created_by=admin.id, access=access, **target
                    )
                )
        db.session.commit()
    _agreement(everyone)


def test_explain_takes_the_same_queries_for_ten_users_or_forty(tree):
    d = tree["d"]
    make_role("Rep", {"create": P.ALL, "read": P.OWN, "edit": P.OWN})
    make_role("Manager", {"read": P.SUBTREE, "edit": P.SUBTREE})
    owner = make_user(roles=("Rep",), department=d["east"])
    rid = make(owner, "account", name="Acme")
    sharing.share(owner, entity("account"), rid, department_id=d["sales"].id, access="read")
    row = {"id": rid, "owner_id": owner.id}
    get_locale()  # the reasons are in the user's language: read once per request, not counted

    def statements(n_users: int) -> int:
        for n in range(n_users):
            make_user(roles=("Rep", "Manager")[: 1 + n % 2], department=list(d.values())[n % 7])
        db.session.commit()
        spec = entity("account")
        seen = []

        def count(_conn, _cursor, statement, *_args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            explanation = explain(spec, row)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert explanation.readers
        return len(seen)

    get_locale()  # a request picks its language once (one read of the company's default)
    first = statements(10)
    assert first == statements(30) == 7

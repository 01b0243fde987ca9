"""The import screens (issue 16): upload, mapping, dry run, start, list, error file, undo."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.imports.models import Import
from crm.records.query import table_of
from tests.factories import make_user
from tests.records.runtime_model import build_model, entity

MESSY = (
    "\ufeffName;Code;Industry;Employees\r\n"
    "Acme;C1;Tech;10\r\n"
    "Globex;C2;technolgy;20\r\n"
    "Initech;C3;Retail;lots\r\n"
)


@pytest.fixture
def model(app):
    return build_model()


def count() -> int:
    table = table_of(entity("account"))
    n = db.session.scalar(
        select(func.count()).select_from(table).where(table.c.deleted_at.is_(None))
    )
    db.session.rollback()
    return n


def upload(client, text: str | bytes, name: str = "accounts.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.submit("/r/account/imports/", {"file": (io.BytesIO(data), name)},
                         content_type="multipart/form-data")  # fmt: skip


def form_of(html: str) -> dict[str, str]:
    """The mapping form's values as the page sets them (selected options, hidden inputs)."""
    out: dict[str, str] = {}
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        out[name] = chosen.group(1) if chosen else ""
    for name, value in re.findall(r'<input type="hidden" name="(v-[^"]+)" value="([^"]*)"', html):
        out[name] = value
    return out


def test_upload_map_fix_dry_run_run_errors_undo(staff, model, login_as):
    client = login_as(staff)
    assert "/r/account/imports/" in client.get("/r/account/").data.decode()
    r = upload(client, MESSY)
    assert r.status_code == 302, r.data[:500]
    url = r.headers["Location"]
    html = client.get(url).data.decode()
    assert "Acme" in html and "technolgy" in html and "Tech" in html
    assert "3 rows under the header." in html
    form = form_of(html)
    assert form["col-0"] == "name" and form["col-2"] == "industry" and form["delimiter"] == ";"
    # the typo'd picklist value is mapped to Tech
    n = next(k[:-5] for k, v in form.items() if k.endswith("-text") and v == "technolgy")
    form[n] = "tech"
    r = client.submit(url, {**form, "action": "preview"})
    page = r.data.decode()
    assert r.status_code == 200, page[:2000]
    assert "3 rows: 2 to create, 0 to update, 0 to skip, 1 in error." in page
    assert count() == 0
    r = client.submit(url, {**form, "action": "start"})
    assert r.status_code == 303
    imp = db.session.scalars(select(Import)).one()
    assert r.headers["Location"].endswith(f"/admin/jobs/{imp.job_id}")  # run at once in tests
    assert "Import" in client.get(r.headers["Location"]).data.decode()
    assert count() == 2
    db.session.expire_all()
    imp = db.session.get(Import, imp.id)
    assert (imp.status, imp.created, imp.errors) == ("done", 2, 1)
    listing = client.get("/r/account/imports/").data.decode()
    assert "accounts.csv" in listing and f"/imports/{imp.id}/errors.csv" in listing
    errors = client.get(f"/r/account/imports/{imp.id}/errors.csv").data.decode("utf-8-sig")
    assert "Initech" in errors and "Employees" in errors
    r = client.submit(f"/r/account/imports/{imp.id}/undo", {"confirm": "yes"})
    assert r.status_code == 303
    assert "2 records sent to the recycle bin" in client.get(r.headers["Location"]).data.decode()
    assert count() == 0


def test_a_bad_file_is_refused_with_a_message_and_nothing_written(staff, model, login_as):
    client = login_as(staff)
    r = upload(client, b"\x00\x01\x02\x03binary\x00" * 100, "evil.csv")
    assert r.status_code == 400 and "upload-error" in r.data.decode()
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def test_a_dry_run_with_many_problems_sums_them_by_field(staff, model, login_as):
    client = login_as(staff)
    body = "Name;Code;Employees\n" + "".join(f"Acme {i};C{i};lots\n" for i in range(250))
    url = upload(client, body + ";C-x;1\n").headers["Location"]
    r = client.submit(url, {**form_of(client.get(url).data.decode()), "action": "preview"})
    page = r.data.decode()
    assert "251 rows: 0 to create, 0 to update, 0 to skip, 251 in error." in page
    assert "<strong>Employees</strong>: 250 problems" in page
    assert "<strong>Name</strong>: 1 problem<" in page
    assert "The first 200 of 251 problems are listed here" in page


def test_a_formula_looking_value_is_stored_as_text_and_escaped_on_export(staff, model, login_as):
    client = login_as(staff)
    body = 'Name,Code\n"=HYPERLINK(""http://evil.example"",""Click"")",C1\n-2237,C2\n'
    url = upload(client, body).headers["Location"]
    r = client.submit(url, {**form_of(client.get(url).data.decode()), "action": "start"})
    assert r.status_code == 303
    table = table_of(entity("account"))
    names = set(db.session.scalars(select(table.c.name)))
    assert names == {'=HYPERLINK("http://evil.example","Click")', "-2237"}  # as written
    export = client.get("/r/account/export.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in export and "'-2237" in export  # never a formula to a spreadsheet
    assert "\n=HYPERLINK" not in export and ",=HYPERLINK" not in export


def test_many_unknown_values_are_listed_in_part_and_the_rest_can_be_left_empty(
    staff, model, login_as
):
    client = login_as(staff)
    body = "Name;Code;Industry\n" + "".join(f"Acme {i};C{i};Trade {i % 40}\n" for i in range(80))
    url = upload(client, body).headers["Location"]
    html = client.get(url).data.decode()
    assert html.count('aria-label="Import Trade') == 25  # the 25 most frequent
    assert "15 more values, in 30 rows, go as every other value." in html
    form = form_of(html)
    r = client.submit(url, {**form, "action": "preview"})
    assert "80 rows: 0 to create, 0 to update, 0 to skip, 80 in error." in r.data.decode()
    column = next(k for k in form if k.startswith("rest-"))
    r = client.submit(url, {**form, column: "+empty", "action": "preview"})
    assert "80 rows: 80 to create, 0 to update, 0 to skip, 0 in error." in r.data.decode()
    r = client.submit(url, {**form, column: "+empty", "action": "start"})
    assert r.status_code == 303 and count() == 80


def test_a_first_and_a_last_name_are_joined_into_the_name(staff, model, login_as):
    client = login_as(staff)
    url = upload(client, "First name;Last name;Code\nAda;Lovelace;C1\n").headers["Location"]
    form = form_of(client.get(url).data.decode())
    assert form["col-0"] == form["col-1"] == "name"
    page = client.submit(url, {**form, "action": "preview"}).data.decode()
    assert "1 row: 1 to create" in page and "<td>Ada Lovelace</td>" in page
    assert page.count("<th>Name</th>") == 1  # one column in the preview, not one per file column


def test_records_are_found_by_a_combination_and_a_second_import_creates_nothing(
    staff, model, login_as
):
    client = login_as(staff)
    body = "Name;Industry;Employees\nAcme;Tech;10\nAcme;Retail;20\nGlobex;Tech;30\n"
    for counts in ("3 to create", "0 to create, 0 to update, 3 to skip"):
        url = upload(client, body).headers["Location"]
        form = {**form_of(client.get(url).data.decode()), "mode": "create", "match_on": "name"}
        form["match_also"] = ["industry", ""]
        assert counts in client.submit(url, {**form, "action": "preview"}).data.decode()
        assert client.submit(url, {**form, "action": "start"}).status_code == 303
    assert count() == 3  # the name alone would have found Acme twice
    url = upload(client, "Name;Industry;Employees\nAcme;Retail;99\n").headers["Location"]
    form = {**form_of(client.get(url).data.decode()), "mode": "both", "match_on": "name"}
    r = client.submit(url, {**form, "match_also": "industry", "action": "start"})
    assert r.status_code == 303 and count() == 3
    table = table_of(entity("account"))
    rows = db.session.execute(select(table.c.industry, table.c.employees).order_by(table.c.id))
    assert [tuple(r) for r in rows] == [("tech", 10), ("retail", 99), ("tech", 30)]


def test_an_import_takes_a_file_larger_than_other_forms_and_refuses_a_huge_one(
    app, staff, model, login_as
):
    app.config.update(MAX_CONTENT_LENGTH=4_000, IMPORT_MAX_BYTES=40_000)
    client = login_as(staff)
    body = "Name,Code\n" + "".join(f"Acme {i},C{i}\n" for i in range(1_000))  # ~15 kB
    r = upload(client, body)
    assert r.status_code == 302  # over the site's 4 kB, under the import's 40 kB
    assert db.session.scalar(select(func.count()).select_from(Import)) == 1
    r = client.submit("/r/account/new", {"name": "x" * 20_000})  # any other form: 4 kB
    assert r.status_code == 413
    r = upload(client, body * 3)  # ~45 kB
    assert r.status_code == 413 and "That upload is too large" in r.data.decode()
    assert db.session.scalar(select(func.count()).select_from(Import)) == 1


def test_without_the_import_right_the_screens_are_refused(model, login_as):
    from crm.access import policy
    from tests.factories import make_role

    make_role("Reader", {"read": policy.ALL, "create": policy.ALL, "edit": policy.ALL})
    user = make_user("reader@example.com", roles=("Reader",))
    client = login_as(user)
    assert "/r/account/imports/" not in client.get("/r/account/").data.decode()
    assert client.get("/r/account/imports/").status_code == 403
    assert upload(client, MESSY).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def test_posts_need_the_csrf_token(staff, model, login_as):
    client = login_as(staff)
    r = client.post("/r/account/imports/", data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                    content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Import)) == 0


def test_the_reader_s_guesses_can_be_changed_and_the_file_read_again(staff, model, login_as):
    client = login_as(staff)
    url = upload(client, "Name,Code\nAcme;x,C1\n").headers["Location"]
    form = form_of(client.get(url).data.decode())
    assert form["delimiter"] == ","
    r = client.submit(url, {**form, "delimiter": ";", "header_row": "1", "action": "reread"})
    assert r.status_code == 200
    page = r.data.decode()
    assert form_of(page)["delimiter"] == ";" and "Name,Code" in page
    r = client.submit(url, {**form, "encoding": "no-such-codec", "action": "reread"})
    assert r.status_code == 400  # a clear message; the draft keeps how it was read
    assert form_of(client.get(url).data.decode())["delimiter"] == ";"


def test_a_saved_mapping_is_offered_for_the_next_file(staff, model, login_as):
    client = login_as(staff)
    url = upload(client, "Firma,Kennung\nAcme,C1\n").headers["Location"]
    form = {**form_of(client.get(url).data.decode()), "col-0": "name", "col-1": "code"}
    r = client.submit(url, {**form, "save_name": "Old CRM", "action": "save"})
    assert r.status_code == 200 and "The mapping was saved." in r.data.decode()
    url2 = upload(client, "Kennung,Firma\nC2,Globex\n").headers["Location"]
    page = client.get(url2).data.decode()
    assert "Old CRM" in page
    link = re.search(r'href="([^"]+saved=\d+)"', page).group(1).replace("&amp;", "&")
    form = form_of(client.get(link).data.decode())
    assert (form["col-0"], form["col-1"]) == ("code", "name")


def test_lookups_resolve_by_name_at_run_time(staff, model, login_as):
    from crm.records import service as records

    records.create(staff, entity("account"), {"name": "Acme"})
    client = login_as(staff)
    r = client.submit("/r/contact/imports/", {"file": (io.BytesIO(
        b"Full name,Account\nAda,acme \nBob,Nobody\nCy,\n"), "c.csv")},
        content_type="multipart/form-data")  # fmt: skip
    url = r.headers["Location"]
    form = form_of(client.get(url).data.decode())
    assert form["col-1"] == "account" and form["lk-account-none"] == "fail"
    r = client.submit(url, {**form, "action": "preview"})
    assert "3 rows: 2 to create, 0 to update, 0 to skip, 1 in error." in r.data.decode()
    r = client.submit(url, {**form, "lk-account-none": "empty", "action": "start"})
    assert r.status_code == 303
    table = table_of(entity("contact"))
    rows = dict(db.session.execute(select(table.c.full_name, table.c.account)).all())
    assert rows == {"Ada": 1, "Bob": None, "Cy": None}


def test_a_mapping_that_needs_fixing_is_refused_with_its_reasons(staff, model, login_as):
    client = login_as(staff)
    url = upload(client, "Code\nC1\n").headers["Location"]
    form = form_of(client.get(url).data.decode())
    r = client.submit(url, {**form, "action": "start"})
    assert r.status_code == 400 and "Map a column to each required field" in r.data.decode()
    assert db.session.scalar(select(Import.status)) == "draft" and count() == 0
    r = client.submit(url, {**form, "col-0": "nosuchfield", "action": "preview"})
    assert r.status_code == 400 and count() == 0


def test_someone_else_s_import_is_not_found(staff, model, login_as):
    client = login_as(staff)
    url = upload(client, MESSY).headers["Location"]
    other = login_as(make_user("other@example.com"))
    assert other.get(url).status_code == 404
    number = url.rstrip("/").split("/")[-2]
    assert other.get(f"/r/account/imports/{number}/errors.csv").status_code == 404
    assert other.submit(f"/r/account/imports/{number}/undo", {"confirm": "yes"}).status_code == 404


def test_an_update_undone_keeps_what_changed_since(staff, model, login_as):
    from crm.records import service as records

    spec = entity("account")
    a = records.create(staff, spec, {"name": "Acme", "code": "C1", "employees": "1"})
    b = records.create(staff, spec, {"name": "Globex", "code": "C2", "employees": "2"})
    client = login_as(staff)
    url = upload(client, "Code,Employees\nC1,10\nC2,20\n").headers["Location"]
    form = form_of(client.get(url).data.decode())
    form |= {"mode": "update", "match_on": "code", "action": "preview"}
    assert "2 to update" in client.submit(url, form).data.decode()
    assert client.submit(url, {**form, "action": "start"}).status_code == 303
    current = records.get(staff, spec, b)
    records.update_record(staff, spec, b, {"employees": "99"}, expected_version=current["version"])
    imp = db.session.scalars(select(Import)).one()
    r = client.submit(f"/r/account/imports/{imp.id}/undo", {"confirm": "yes"})
    page = client.get(r.headers["Location"]).data.decode()
    assert "1 given their values back, 1 left as they are" in page and "lines 3" in page
    assert records.get(staff, spec, a)["employees"] == 1
    assert records.get(staff, spec, b)["employees"] == 99


def test_an_xlsx_file_is_mapped_and_imported(staff, model, login_as):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Employees", "Active"])
    sheet.append(["Acme", 12, "Yes"])
    sheet.append(["Globex", 1200, "No"])
    out = io.BytesIO()
    book.save(out)
    client = login_as(staff)
    r = upload(client, out.getvalue(), "accounts.xlsx")
    url = r.headers["Location"]
    form = form_of(client.get(url).data.decode())
    assert (form["col-0"], form["col-1"], form["col-2"]) == ("name", "employees", "active")
    assert client.submit(url, {**form, "action": "start"}).status_code == 303
    assert count() == 2


def test_an_administrator_adds_an_unknown_value_as_a_new_choice(admin, staff, model, login_as):
    from crm.metadata import specs

    text = "Name,Industry,Owner\nAcme,Finance,staff@example.com\nGlobex,Tech,\n"
    # a member of staff is not offered to add choices (nor may post it)
    client = login_as(staff)
    url = upload(client, text).headers["Location"]
    html = client.get(url).data.decode()
    assert 'value="+new"' not in html and "add it as a new choice" not in html
    form = form_of(html)
    assert form["col-2"] == "owner_id"  # "Owner": the record's owner, by e-mail
    n = next(k[:-5] for k, v in form.items() if k.endswith("-text") and v == "Finance")
    r = client.submit(url, {**form, n: "+new", "action": "start"})
    assert r.status_code == 400 and count() == 0
    # an administrator is, in their own language: the choice is added when the import starts
    client = login_as(admin)
    url = upload(client, text).headers["Location"]
    html = client.get(url).data.decode()
    assert '<option value="+new">add it as a new choice</option>' in html
    form = form_of(html)
    r = client.submit(url, {**form, n: "+new", "action": "preview"})
    page = r.data.decode()
    assert "New choices of “Industry”, added when the import starts: Finance" in page
    assert "Finance" not in [c.label for c in specs.current().entity("account").field(
        "industry").choices]  # fmt: skip
    r = client.submit(url, {**form, n: "+new", "action": "start"})
    assert r.status_code == 303, r.data.decode()[:3000]
    field = specs.current().entity("account").field("industry")
    assert [(c.key, c.label) for c in field.choices][-1] == ("finance", "Finance")
    table = table_of(entity("account"))
    rows = db.session.execute(select(table.c.name, table.c.industry, table.c.owner_id)).all()
    assert sorted(rows) == [("Acme", "finance", staff.id), ("Globex", "tech", admin.id)]


def test_a_lookup_rule_creates_the_missing_records_from_the_screen(staff, model, login_as):
    client = login_as(staff)
    r = client.submit("/r/contact/imports/", {"file": (io.BytesIO(
        b"Full name,Account\nAda,Acme\nBob,acme\nCy,Globex\n"), "c.csv")},
        content_type="multipart/form-data")  # fmt: skip
    url = r.headers["Location"]
    form = form_of(client.get(url).data.decode())
    r = client.submit(url, {**form, "lk-account-none": "create", "action": "preview"})
    page = r.data.decode()
    assert "3 rows: 3 to create, 0 to update, 0 to skip, 0 in error." in page
    assert "2 records to create for “Account”." in page  # "Acme" and "acme": one
    r = client.submit(url, {**form, "lk-account-none": "create", "action": "start"})
    assert r.status_code == 303
    accounts = table_of(entity("account"))
    assert sorted(db.session.scalars(select(accounts.c.name))) == ["Acme", "Globex"]


@pytest.mark.parametrize(
    "hostile",
    [
        {"col-1": "owner_id", "col-0": "owner_id"},  # two columns on the owner
        {"mode": "upsert\x00"},
        {"mode": "x" * 5000},
        {"lk-account-none": "create' OR 1=1"},
        {"lk-account-several": "create"},  # "create" is no answer to several matches
        {"lk-account-on": "owner_id"},
        {"col-1": "account", "v-1-0-text": "Acme", "v-1-0": "+new"},  # a lookup's values
        {"col-0": "owner_id", "v-0-0-text": "Ada" * 3000, "v-0-0": "+new"},
    ],
)
def test_hostile_mapping_posts_are_refused_with_a_message(staff, model, login_as, hostile):
    client = login_as(staff)
    file = {"file": (io.BytesIO(b"Full name,Account\nAda,Acme\n"), "c.csv")}
    r = client.submit("/r/contact/imports/", file, content_type="multipart/form-data")
    url = r.headers["Location"]
    form = form_of(client.get(url).data.decode())
    for action in ("preview", "start"):
        r = client.submit(url, {**form, **hostile, "action": action})
        assert r.status_code == 400, (action, r.data.decode()[:1500])
    contacts = table_of(entity("contact"))
    assert db.session.scalar(select(func.count()).select_from(contacts)) == 0


def test_create_it_is_offered_only_to_who_may_create_the_linked_records(model, login_as):
    from tests.factories import make_role

    role = make_role("Contacts only", {
        ("contact", "create"): 4, ("contact", "read"): 4, ("contact", "import"): 4,
        ("account", "read"): 4,
    })  # fmt: skip
    rep = make_user("rep@example.com", roles=(role.name,))
    client = login_as(rep)
    file = {"file": (io.BytesIO(b"Full name,Account\nAda,Acme\n"), "c.csv")}
    url = client.submit("/r/contact/imports/", file,
                        content_type="multipart/form-data").headers["Location"]  # fmt: skip
    html = client.get(url).data.decode()
    linked = html[html.index('name="lk-account-none"') :]
    assert "create it" not in linked[: linked.index("</select>")]
    form = form_of(html)
    r = client.submit(url, {**form, "lk-account-none": "create", "action": "preview"})
    assert r.status_code == 400
    assert "You may not create Accounts, so missing ones cannot be created." in r.data.decode()


def test_a_file_counted_at_upload_is_not_counted_again_for_the_progress(staff, model, login_as):
    from crm.imports import run as engine

    client = login_as(staff)
    body = "Name;Code\n" + "".join(f"Acme {i};C{i}\n" for i in range(1_200))
    url = upload(client, body).headers["Location"]
    form = form_of(client.get(url).data.decode())
    imp = db.session.scalars(select(Import)).one()
    assert imp.settings["profile"]["rows"] == 1_200
    client.submit(url, {**form, "action": "start"})  # runs at once in tests: redo it to see
    db.session.execute(Import.__table__.update().values(last_line=0, status="queued"))
    db.session.commit()
    seen: list[tuple[int, int]] = []
    engine.run(imp.id, batch=500, report=lambda done, total, _w: seen.append((done, total)))
    assert seen == [(0, 1_200), (500, 1_200), (1_000, 1_200)]  # the total from the start


def test_an_administrator_adds_every_other_value_as_new_choices(admin, staff, model, login_as):
    from crm.metadata import specs

    text = "Name;Industry\n" + "".join(f"Acme {i};Trade {i % 30}\n" for i in range(60))
    text += "Globex;Tech\n"
    client = login_as(staff)  # staff are not offered it
    url = upload(client, text).headers["Location"]
    assert 'value="+new"' not in client.get(url).data.decode()
    client = login_as(admin)
    url = upload(client, text).headers["Location"]
    form = form_of(client.get(url).data.decode())
    rest = next(k for k in form if k.startswith("rest-"))
    page = client.submit(url, {**form, rest: "+new", "action": "preview"}).data.decode()
    assert "61 rows: 61 to create, 0 to update, 0 to skip, 0 in error." in page
    assert "added when the import starts: Trade 0, Trade 1" in page  # all 30, not the 25 shown
    r = client.submit(url, {**form, rest: "+new", "action": "start"})
    assert r.status_code == 303 and count() == 61
    labels = [c.label for c in specs.current().entity("account").field("industry").choices]
    assert {f"Trade {i}" for i in range(30)} <= set(labels) and "Tech" in labels
    assert labels.count("Tech") == 1  # known values are not added again


def test_the_dry_run_applies_the_stage_gates_the_run_applies(admin, login_as):
    from tests.pipelines.factories import make_deal_entity

    make_deal_entity()
    client = login_as(admin)
    body = "Title;Stage;Amount;Close date\nOne;won;500;2026-12-31\nTwo;won;700;\n"
    r = client.submit("/r/deal/imports/", {"file": (io.BytesIO(body.encode()), "deals.csv")},
                      content_type="multipart/form-data")  # fmt: skip
    url = r.headers["Location"]
    form = form_of(client.get(url).data.decode())
    page = client.submit(url, {**form, "action": "preview"}).data.decode()
    assert "2 rows: 1 to create, 0 to update, 0 to skip, 1 in error." in page  # as the run
    client.submit(url, {**form, "action": "start"})
    imp = db.session.scalars(select(Import)).one()
    assert (imp.created, imp.errors) == (1, 1)


def test_a_column_the_user_skips_says_so_not_why_it_had_matched(staff, model, login_as):
    client = login_as(staff)
    url = upload(client, MESSY).headers["Location"]
    form = form_of(client.get(url).data.decode())
    assert form["col-2"] == "industry"
    page = client.submit(url, {**form, "col-2": "", "action": "save"}).data.decode()
    row = re.search(r"<strong>Industry</strong>.*?</tr>", page, re.S).group(0)
    assert "skipped by you" in row and "same label" not in row
    row = re.search(r"<strong>Name</strong>.*?</tr>", page, re.S).group(0)
    assert "same label" in row or "same key" in row


def test_the_dry_run_applies_the_stage_gates_to_updates_as_the_run_does(admin, login_as):
    from crm.metadata import specs
    from crm.records import service as records
    from tests.pipelines.factories import make_deal_entity

    make_deal_entity()
    spec = specs.current().entity("deal")
    records.create(admin, spec, {"title": "One", "stage": "proposal", "amount": "500"})
    records.create(admin, spec, {"title": "Two", "stage": "proposal", "amount": "700",
                                 "close_date": "2026-11-30"})  # fmt: skip
    client = login_as(admin)
    body = "Title;Stage\nOne;won\nTwo;won\n"  # One has no close date, which Won requires
    r = client.submit("/r/deal/imports/", {"file": (io.BytesIO(body.encode()), "deals.csv")},
                      content_type="multipart/form-data")  # fmt: skip
    url = r.headers["Location"]
    form = {**form_of(client.get(url).data.decode()), "mode": "update", "match_on": "title"}
    page = client.submit(url, {**form, "action": "preview"}).data.decode()
    assert "2 rows: 0 to create, 1 to update, 0 to skip, 1 in error." in page  # as the run
    assert "Close date" in page
    client.submit(url, {**form, "action": "start"})
    imp = db.session.scalars(select(Import)).one()
    assert (imp.updated, imp.errors) == (1, 1)

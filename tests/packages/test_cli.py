"""``flask --app app crm package plan|apply FILE``: what an implementer scripting an
installation reads and the exit codes they branch on."""

from __future__ import annotations

import json

import pytest
from flask import current_app

from crm.metadata import specs
from crm.schema import service
from tests.factories import insert_rows
from tests.packages.test_apply import package, state


@pytest.fixture
def run(app):
    runner = current_app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["crm", "package", *args])

    return invoke


@pytest.fixture
def write(tmp_path):
    def to_file(pkg: dict, name: str = "pkg.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(pkg, ensure_ascii=False), encoding="utf-8")
        return str(path)

    return to_file


def entities() -> set[str]:
    return set(specs.raw().entities)


def test_planning_the_installations_own_export_says_nothing_would_change(run, write, tmp_path):
    assert run("apply", write(package()), "--yes").exit_code == 0
    own = tmp_path / "own.json"
    exported = run("export", "--name", "acme", "--version", "1", "--out", str(own))
    assert exported.exit_code == 0, exported.output
    out = run("plan", str(own))
    assert out.exit_code == 0, out.output
    # Roles and shared list views are read from the installation too: nothing to say.
    assert "roles" in json.loads(own.read_text())
    assert out.stdout.strip() == "Nothing would change."
    assert out.stderr == ""


def test_the_plan_of_a_new_package_shows_its_entities_grouped(run, write):
    before = state()
    out = run("plan", write(package()))
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert "Entity deal" in text and "Entity account" in text
    assert '+ add entity deal (label_singular="Deal", label_plural="Deals")' in text
    assert '+ add field amount (type="currency", label="Amount")' in text
    assert "+ add pipeline sales" in text and "[qualify, propose, won, lost]" in text
    assert text.index("Entity account") < text.index("Entity deal")
    assert "Nothing would change." not in text
    assert state() == before  # planning writes nothing


def test_apply_without_yes_prints_the_plan_and_changes_nothing(run, write):
    before = state()
    out = run("apply", write(package()))
    assert out.exit_code == 1
    assert "+ add entity deal" in out.stdout
    assert "add --yes" in out.stderr
    assert state() == before
    assert "deal" not in entities()


def test_apply_with_yes_creates_the_entities_and_reapplying_changes_nothing(run, write):
    path = write(package())
    out = run("apply", path, "--yes")
    assert out.exit_code == 0, out.output
    assert "Package b2b-sales 1.0.0 applied:" in out.stdout
    assert {"account", "deal"} <= entities()
    assert specs.raw().entity("deal").field("kind") is not None
    version = specs.read_version()
    again = run("apply", path, "--yes")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == "Nothing would change."
    assert specs.read_version() == version
    assert run("plan", path).stdout.strip() == "Nothing would change."


def test_a_change_reads_old_to_new(run, write):
    run("apply", write(package()), "--yes")
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Value"
    out = run("plan", write(v2))
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert lines == ["Entity deal", '  ~ change fields/amount/label: "Amount" → "Value"']


def test_destructive_steps_are_refused_without_the_flag_and_named(run, write):
    run("apply", write(package()), "--yes")
    insert_rows("deal", {"title": "A", "code": "1"}, {"title": "B", "code": "2"})
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["code"]["unique"] = True
    path = write(v2)
    plan = run("plan", path)
    assert "~ change fields/code/unique: (none) → true" in plan.stdout
    assert "destructive: The field becomes unique" in plan.stdout
    before = state()
    refused = run("apply", path, "--yes")
    assert refused.exit_code == 1
    assert "--allow-destructive" in refused.stderr
    assert "/entities/deal/fields/code/unique: The field becomes unique" in refused.stderr
    assert state() == before
    allowed = run("apply", path, "--yes", "--allow-destructive")
    assert allowed.exit_code == 0, allowed.output
    assert specs.raw().entity("deal").field("code").unique


def test_a_conflict_is_refused_until_a_side_is_chosen(run, write):
    run("apply", write(package()), "--yes")
    service.update_field("deal", "amount", label="Mine")
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Theirs"
    path = write(v2)
    conflict = "/entities/deal/fields/amount/label"
    plan = run("plan", path)
    assert f'! conflict {conflict}: mine="Mine" theirs="Theirs"' in plan.stdout
    before = state()
    refused = run("apply", path, "--yes")
    assert refused.exit_code == 1
    assert "--take-theirs" in refused.stderr and conflict in refused.stderr
    assert state() == before
    wrong = run("apply", path, "--yes", "--take-theirs", "/entities/deal/fields/nope/label")
    assert wrong.exit_code == 1
    assert "/entities/deal/fields/nope/label" in wrong.stderr
    assert state() == before
    done = run("apply", path, "--yes", "--take-theirs", conflict)
    assert done.exit_code == 0, done.output
    assert specs.raw().entity("deal").field("amount").label == "Theirs"


def test_keep_mine_keeps_the_local_value_and_shows_it_as_kept(run, write):
    run("apply", write(package()), "--yes")
    service.update_field("deal", "amount", label="Mine")
    v2 = package("2")
    v2["entities"]["deal"]["fields"]["amount"]["label"] = "Theirs"
    path = write(v2)
    conflict = "/entities/deal/fields/amount/label"
    assert run("apply", path, "--yes", "--keep-mine", conflict).exit_code == 0
    assert specs.raw().entity("deal").field("amount").label == "Mine"
    again = run("plan", path)
    assert again.exit_code == 0
    assert '(kept local change fields/amount/label: "Mine" (the package says "Theirs"))' in (
        again.stdout
    )
    assert again.stdout.rstrip().endswith("Nothing would change.")


def test_an_invalid_package_lists_every_problem_by_pointer_and_exits_2(run, write):
    bad = package()
    bad["entities"]["deal"]["fields"]["account"]["options"]["target"] = "nowhere"
    bad["entities"]["deal"]["name_field"] = "missing"
    before = state()
    for command in (["plan"], ["apply", "--yes"]):
        out = run(command[0], write(bad), *command[1:])
        assert out.exit_code == 2, out.output
        problems = [line for line in out.stderr.splitlines() if line.startswith("/")]
        pointers = {line.split(": ", 1)[0] for line in problems}
        assert "/entities/deal/fields/account/options/target" in pointers
        assert "/entities/deal/name_field" in pointers
        assert out.stdout == ""
    assert state() == before


def test_a_file_that_is_not_a_package_exits_2(run, tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json", encoding="utf-8")
    out = run("plan", str(path))
    assert out.exit_code == 2
    assert out.stderr.splitlines()[1].startswith("/: ")


def test_a_writer_problem_is_reported_and_nothing_changes(run, write):
    bad = package()
    bad["entities"]["deal"]["pipelines"]["sales"]["stages"][0]["color"] = "neon"
    before = state()
    out = run("apply", write(bad), "--yes")
    assert out.exit_code in (1, 2), out.output
    assert "color" in out.stderr
    assert state() == before


def test_the_plan_speaks_the_companys_default_language(run, write):
    from crm import i18n
    from crm.uow import unit_of_work

    with unit_of_work():
        i18n.set_company_defaults(locale="es", timezone=None)
    path = write(package())
    out = run("plan", path)
    assert "Entidad deal" in out.stdout and "+ añadir entidad deal" in out.stdout
    refused = run("apply", path)
    assert "No se cambió nada: añada --yes para aplicar este plan." in refused.stderr


def test_a_stage_list_change_names_the_stages_whose_settings_changed(run, write):
    run("apply", write(package()), "--yes")
    v2 = package("2")
    stages = v2["entities"]["deal"]["pipelines"]["sales"]["stages"]
    stages[0]["name"] = "Qualify it"
    stages.insert(1, {"key": "meet", "name": "Meet", "category": "open", "color": "gray",
                      "probability": 30})  # fmt: skip
    out = run("plan", write(v2))
    assert (
        "~ change pipelines/sales/stages: [qualify, propose, won, lost] → "
        "[qualify, meet, propose, won, lost] (settings changed: qualify)"
    ) in out.stdout
    only_renamed = package("3")
    only_renamed["entities"]["deal"]["pipelines"]["sales"]["stages"][0]["name"] = "Qualify it"
    out = run("plan", write(only_renamed))
    assert '"name": "Qualify"' in out.stdout and '"name": "Qualify it"' in out.stdout


def test_roles_are_applied_as_the_user_given_with_as(run, write):
    from tests.factories import make_user
    from tests.packages.test_apply_roles import package as with_roles

    make_user("admin@example.com", is_admin=True)
    path = write(with_roles())
    plan = run("plan", path)
    assert '+ add role sales_rep (name="Sales rep")' in plan.stdout
    assert "+ add list view open_deals" in plan.stdout
    before = state()
    refused = run("apply", path, "--yes")
    assert refused.exit_code == 1
    assert "/roles: Roles are changed by a user" in refused.stderr
    assert state() == before
    unknown = run("apply", path, "--yes", "--as", "nobody@example.com")
    assert unknown.exit_code == 1
    assert "There is no user with the email nobody@example.com." in unknown.stderr
    assert state() == before
    done = run("apply", path, "--yes", "--as", "ADMIN@example.com")
    assert done.exit_code == 0, done.output
    assert run("plan", path).stdout.strip() == "Nothing would change."

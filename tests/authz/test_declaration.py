"""The declared world is what the matrix claims it is, and the oracle answers a few cases
worked out by hand from issue 6 (so a mistake in the oracle cannot hide a bug)."""

from __future__ import annotations

from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.oracle import Rec

SCOPED = ("read", "edit", "delete", "export", "bulk_edit", "assign")


def test_at_least_five_roles_four_entities_and_the_five_positions():
    assert len(d.ROLES) >= 5 and len(d.ENTITIES) == 4
    assert {"own", "same_dept", "other_dept", "shared_read", "shared_edit"} <= set(
        d.RECORD_POSITIONS
    )
    assert any(p.startswith("below") for p in d.RECORD_POSITIONS)
    assert any(len(roles) > 1 for roles in d.ACTORS.values())  # widest grant of several


def test_every_scope_level_appears_for_every_scoped_action():
    for action in SCOPED:
        seen = {
            oracle.role_level(role, entity, action) for role in d.ROLES for entity in d.ENTITY_ORDER
        }
        assert seen == {d.NONE, d.OWN, d.DEPT, d.SUBTREE, d.ALL}, action
    created = {oracle.role_level(r, e, "create") for r in d.ROLES for e in d.ENTITY_ORDER}
    assert d.NONE in created and created - {d.NONE}


def test_the_oracle_on_cases_worked_out_by_hand():
    support, north, keyacct = "support", "north", "keyacct"
    # rep: own records only, but every account
    assert oracle.may("rep", "read", Rec("contact", "rep"))
    assert not oracle.may("rep", "read", Rec("contact", "colleague"))
    assert oracle.may("rep", "read", Rec("account", support))
    assert not oracle.may("rep", "edit", Rec("account", support))
    # shares widen read and edit where the role has the action at all
    shared_read = Rec("contact", support, (("user", "rep", "read"),))
    shared_edit = Rec("contact", support, (("user", "rep", "edit"),))
    assert oracle.may("rep", "read", shared_read) and not oracle.may("rep", "edit", shared_read)
    assert oracle.may("rep", "edit", shared_edit)
    assert not oracle.may("rep", "delete", shared_edit)  # sharing gives read and edit only
    assert not oracle.may("rep", "read", Rec("ticket", support, (("user", "rep", "edit"),)))
    assert not oracle.may("auditor", "edit", Rec("deal", support, (("user", "auditor", "edit"),)))
    # department shares reach the department and the ones below it, not the ones above
    assert oracle.may("rep", "read", Rec("deal", support, (("department", "root", "read"),)))
    assert not oracle.may("rep", "read", Rec("deal", support, (("department", "A1", "edit"),)))
    # department vs department-and-below; nothing goes up
    assert oracle.may("lead", "read", Rec("deal", "colleague"))
    assert not oracle.may("lead", "read", Rec("deal", north))
    assert oracle.may("manager", "edit", Rec("deal", keyacct))
    assert not oracle.may("manager", "read", Rec("deal", "boss"))
    # every other action needs read; bulk edit needs edit too
    assert not oracle.may("clerk", "edit", Rec("deal", "clerk"))  # edit all, read none
    assert oracle.may("clerk", "edit", Rec("account", "clerk"))
    assert not oracle.may("clerk", "edit", Rec("account", "colleague"))  # read own only
    assert not oracle.may("manager", "delete", Rec("contact", support))  # delete all, read below
    assert not oracle.may("manager", "bulk_edit", Rec("ticket", support))  # edit: department
    # widest grant of several roles; field rights only from roles that read the entity
    assert oracle.may("combo", "read", Rec("ticket", north))  # clerk's subtree
    assert oracle.may("combo", "edit", Rec("deal", support, (("user", "combo", "read"),)))
    assert oracle.field_access("combo", "account", "secret") == d.EDIT
    assert oracle.field_access("combo", "ticket", "name") == d.HIDDEN
    assert oracle.field_access("rep", "account", "secret") == d.HIDDEN
    # full administrators: everything
    assert oracle.may("admin", "delete", Rec("ticket", "boss"))
    assert oracle.field_access("admin", "ticket", "name") == d.EDIT

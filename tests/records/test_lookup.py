"""The lookup autocomplete service: scoped like every other read of records."""

from __future__ import annotations

from crm.access import policy
from crm.records import checks, lookup
from crm.records import service as records
from tests.factories import make_role, make_user
from tests.records.runtime_model import build_model, entity


def test_lookup_options_are_scoped_live_named_and_capped(app):
    build_model()
    account = entity("account")
    make_role("Own reader", {"read": policy.OWN, "create": policy.OWN, "delete": policy.OWN})
    owner = make_user(display_name="Olive Owner")
    reader = make_user(display_name="Rita Reader", roles=("Own reader",))
    mine = records.create(reader, account, {"name": "Acme mine"})
    records.create(owner, account, {"name": "Acme theirs"})
    gone = records.create(reader, account, {"name": "Acme gone"})
    records.delete(reader, account, gone)
    for i in range(lookup.LIMIT + 2):
        records.create(owner, account, {"name": f"Other {i}"})

    # Another person's record and the recycle bin stay out of what someone may only
    # read of their own; the owner sees theirs.
    assert lookup.lookup_options(reader, account, "acme") == [(mine, "Acme mine")]
    assert [n for _, n in lookup.lookup_options(owner, account, "acme")] == [
        "Acme theirs",
        "Acme mine",
    ]
    # No text: the most recently changed records, at most LIMIT of them.
    found = lookup.lookup_options(owner, account, "")
    assert len(found) == lookup.LIMIT and found[0][1] == f"Other {lookup.LIMIT + 1}"


def test_field_messages_check_as_saving_would_and_write_nothing(app, staff):
    build_model()
    account = entity("account")
    taken = records.create(staff, account, {"name": "Acme", "code": "A1"})
    code = account.field("code")
    employees = account.field("employees")

    assert checks.field_messages(staff, account, code, {"code": "A1"}) != []
    assert checks.field_messages(staff, account, code, {"code": "A1"}, record_id=taken) == []
    assert checks.field_messages(staff, account, employees, {"employees": "many"}) != []
    assert checks.field_messages(staff, account, employees, {"employees": "12"}) == []

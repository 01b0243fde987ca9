"""attach_errors: service errors go to the fields their keys name; the rest come back."""

from __future__ import annotations

from wtforms import Form, StringField

from crm.errors import ValidationFailed
from forms.errors import attach_errors


class Person(Form):
    name = StringField()
    email = StringField()


def test_errors_land_on_the_fields_their_keys_name():
    form = Person()
    loose = attach_errors(
        form, {"email": ["Taken."], "__all__": ["Try later."], "name": ["Too long."]}
    )
    assert list(form.email.errors) == ["Taken."]
    assert list(form.name.errors) == ["Too long."]
    assert loose == ["Try later."]


def test_a_domain_error_can_be_passed_whole_and_errors_add_up():
    form = Person()
    form.name.errors = ["First."]
    attach_errors(form, ValidationFailed("No.", errors={"name": ["Second."]}))
    assert list(form.name.errors) == ["First.", "Second."]


def test_a_prefix_names_the_subject_and_fields_limit_what_is_shown():
    form = Person()
    errors = {
        "deal.amount.name": ["On the name."],
        "deal.amount.email": ["Not shown here."],
        "deal.amount": ["About the whole field."],
        "name": ["Another subject's key."],
    }
    loose = attach_errors(form, errors, prefix="deal.amount.", fields=("name",))
    assert list(form.name.errors) == ["On the name."]
    assert not form.email.errors
    assert loose == ["Not shown here.", "About the whole field.", "Another subject's key."]


def test_wording_never_decides_the_field():
    form = Person()
    loose = attach_errors(form, {"__all__": ["The email field: name is wrong."]})
    assert not form.name.errors and not form.email.errors
    assert loose == ["The email field: name is wrong."]

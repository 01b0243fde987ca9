"""Hostile input on every route of the authorization matrix's route table: generated ids
(huge, negative, zero, not digits, other scripts' digits), page cursors and strings (NUL,
lone surrogates, very long) sent in URL segments, query arguments and form fields, by a
signed-in user with valid CSRF tokens. Whatever comes in, the answer is never a 500.

The routes are split into pieces (``PIECES``) so xdist can spread them; each piece runs a
bounded number of examples per route, derandomized so a run is repeatable.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.authz.routes import PUBLIC, route_table

PIECES = 4
EXAMPLES = 12
ACTORS = ("rep", "admin")

BAD_IDS = [
    "99999999999999999999",
    "9223372036854775808",
    "9223372036854775807",
    "18446744073709551616",
    "-1",
    "-9223372036854775809",
    "0",
    "00",
    "abc",
    "1e3",
    "1.5",
    "0x10",
    "١٢",  # Arabic-Indic digits: str.isdigit() says yes
    "１２",  # full-width digits
    "²",
    " 7 ",
    "",
]
BAD_TEXT = [
    "\x00",
    "abc\x00def",
    "\ud800",
    "a\udfffb",
    "x" * 5000,
    "=1+1",
    "＝1",
    "%",
    "_",
    '"',
    "'",
    "\\",
    "rowid",
    "NEAR(a b)",
    "{name} : x",
    "*",
    "true",
    "null",
    "[]",
]


def _cursor(values) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = [
    "!!!",
    "@@@@",
    "AAAA",
    "e30",  # {}
    _cursor([]),
    _cursor([None]),
    _cursor([True, 1]),
    _cursor([2**70, 1]),
    _cursor([2**63, 2**63]),
    _cursor(["x", "y"]),
    _cursor([{"d": "NaN"}, 1]),
    _cursor([{"d": "abc"}, 1]),
    _cursor([{"t": "nope"}, 1]),
    _cursor([{"t": "2020-01-01T00:00:00+05:00"}, 1]),
    _cursor([{"a": 5}, 1]),
    _cursor([{"zz": 1}, 1]),
    _cursor([[1], [2]]),
    _cursor(["\x00", 1]),
    _cursor(["\ud800", 1]),
    _cursor([1.5e308, 1]),
    _cursor({"a": 1}),
    _cursor("x"),
]

ids = st.one_of(
    st.sampled_from(BAD_IDS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
texts = st.one_of(st.sampled_from(BAD_TEXT), st.text(max_size=40))
cursors = st.one_of(
    st.sampled_from(BAD_CURSORS),
    st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.lists(
        st.one_of(st.integers(), st.booleans(), st.text(max_size=5), st.none()), max_size=5
    ).map(_cursor),
)
anything = st.one_of(ids, texts)

# Query arguments and form fields the app reads, each with what to send in it.
ARG_STRATEGIES = {
    "view": ids,
    "record": ids,
    "q": texts,
    "after": cursors,
    "size": anything,
    "sort": texts,
    "page": anything,
    "field": texts,
    "f.name.contains": texts,
    "f.amount.gt": anything,
    "f.account.in": ids,
    "f.owner_id.in": ids,
    "f.updated_at.gt": texts,
    "type": texts,
    "kind": texts,
    "index": anything,
    "parent": ids,
    "entity": texts,
    "tab": texts,
    "quick": texts,
    "seen": texts,
}
FORM_STRATEGIES = {
    **ARG_STRATEGIES,
    "pick": st.one_of(ids, st.tuples(ids, ids).map(":".join)),
    "owner_id": ids,
    "user_id": ids,
    "department_id": ids,
    "target": st.one_of(ids, ids.map(lambda i: f"user:{i}"), ids.map(lambda i: f"department:{i}")),
    "access": texts,
    "version": anything,
    "name": texts,
    "ref": texts,
    "account": ids,
    "contact": ids,
    "amount": anything,
    "memo": texts,
    "body": texts,
    "value": anything,
    "value_for": texts,
    "label": texts,
    "key": texts,
    "move_to": ids,
    "parent_id": ids,
    "role_ids": ids,
    "roles": ids,
    "is_default": texts,
    "confirm_type": texts,
    "email": texts,
    "display_name": texts,
    "level": texts,
    "action": texts,
    "parent": ids,
    "manager": ids,
    "department": ids,
    "max_length": anything,
    "decimal_places": anything,
    "padding": anything,
    "label_singular": texts,
    "label_plural": texts,
    "name_field": texts,
    "columns": texts,
    "sort-0-field": texts,
    "filters-0-field": texts,
    "filters-0-value": anything,
    # the import mapping form
    "mode": st.one_of(st.sampled_from(("create", "update", "both", "upsert")), texts),
    "match_on": texts,
    "col-0": st.one_of(st.sampled_from(("owner_id", "name", "account")), texts),
    "v-0-0-text": texts,
    "v-0-0": st.one_of(st.just("+new"), texts),
    "lk-account-none": st.one_of(st.sampled_from(("create", "empty", "fail")), texts),
}
ARG_NAMES = sorted(ARG_STRATEGIES)
FORM_NAMES = sorted(FORM_STRATEGIES)
MISSING = {"key": "nosuchentity", "entity_key": "nosuchentity", "field_key": "nosuchfield"}


def _real(world, rule, name: str):
    """A value for URL argument ``name`` that names something real (the rep's own deal,
    a lookup field on it, a shared list view, a role, a department, a user)."""
    if rule.endpoint == "records.related_list":
        related = {"key": "contact", "source": "deal", "field_key": "contact"}
        if name in related:
            return related[name]
        return world.record("contact", ("own", "rep")).id
    deal = world.record("deal", ("own", "rep")).id
    real = {
        "key": "deal",
        "entity_key": "deal",
        "field_key": "account",
        "source": "ticket",
        "fmt": "csv",
        "record_id": deal,
        "share_id": 1,
        "view_id": world.views["deal"],
        "role_id": world.role_ids["clerk"],
        "department_id": world.dept_id("B"),
        "user_id": world.user_id("spare"),
        "import_id": 1,
    }
    return real.get(name, "x")


def _enc(value: str) -> str:
    """Percent-encode like a client sending raw bytes (lone surrogates included)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _url(rule, values: dict) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", _enc(str(values[name])), url)
    return url


def _rules(app) -> list:
    table = route_table(app)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint in table]
    return sorted(rules, key=lambda r: (r.endpoint, r.rule))


def _piece_of(rule) -> int:
    return zlib.crc32(f"{rule.endpoint} {rule.rule}".encode()) % PIECES


@st.composite
def requests(draw, world, rules):
    """One request with one hostile value (in a URL segment, a query argument or a form
    field) and sometimes a few more, the rest naming real things so the value gets deep."""
    rule = draw(st.sampled_from(rules))
    id_args = sorted(n for n in rule.arguments if n.endswith("_id"))
    method = draw(st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"})))
    admin_write = method == "POST" and not rule.endpoint.startswith("records.")
    # administration writes go to things that do not exist unless the hostile value is
    # theirs: the world's configuration stays as built for the examples that follow
    values = {
        n: MISSING.get(n, "999999") if admin_write else _real(world, rule, n)
        for n in rule.arguments
    }
    places = [
        p for p, ok in (("path", rule.arguments), ("arg", True), ("form", method == "POST")) if ok
    ]
    place = draw(st.sampled_from(places))
    args: dict[str, str] = {}
    form: dict[str, str] = {}
    if place == "path":
        name = draw(st.sampled_from(id_args or sorted(rule.arguments)))
        values[name] = draw(ids if name.endswith("_id") else texts.filter(bool))
    # mostly one hostile value, so that no earlier refusal hides the reader of the next
    extra = draw(st.sampled_from((0, 0, 0, 1, 3)))
    if place in ("arg", "form"):
        names, strategies = (
            (ARG_NAMES, ARG_STRATEGIES) if place == "arg" else (FORM_NAMES, FORM_STRATEGIES)
        )
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=1 + extra, unique=True))
        (args if place == "arg" else form).update({n: draw(strategies[n]) for n in chosen})
    actor = "admin" if not rule.endpoint.startswith("records.") else draw(st.sampled_from(ACTORS))
    htmx = draw(st.booleans())
    return rule, method, values, args, form, actor, htmx


def _send(world, rule, method, values, args, form, actor, htmx):
    client = world.clients[actor]
    url = _url(rule, values)
    if args:
        url += "?" + "&".join(f"{_enc(k)}={_enc(v)}" for k, v in args.items())
    headers = {"HX-Request": "true"} if htmx else {}
    if method == "POST":
        body = "&".join(
            f"{_enc(k)}={_enc(v)}" for k, v in {**form, "csrf_token": client.csrf_token()}.items()
        )
        return url, client.post(
            url,
            data=body,
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )
    return url, client.get(url, headers=headers)


@pytest.mark.parametrize("piece", range(PIECES))
def test_no_route_answers_hostile_input_with_a_500(world, piece):
    rules = [r for r in _rules(world.app) if _piece_of(r) == piece and r.endpoint not in PUBLIC]
    assert rules, f"piece {piece} holds no route"
    failures: list[str] = []

    for rule in rules:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(requests(world, [rule]))
        def check(request):
            rule, method, values, args, form, actor, htmx = request
            try:
                url, response = _send(world, rule, method, values, args, form, actor, htmx)
            finally:
                if method == "POST":
                    world.reset()
            if response.status_code >= 500:
                failures.append(f"{actor} {method} {url} {form!r:.300} -> {response.status_code}")

        check()
    if failures:
        pytest.fail("\n".join(sorted(set(failures))), pytrace=False)

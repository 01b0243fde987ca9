"""Which URLs webhooks may call (``check_url``) and how receivers verify signatures."""

from __future__ import annotations

import pytest

from crm.webhooks import admin as webhooks_admin
from crm.webhooks.signing import body_of, sign, verify
from crm.webhooks.urls import check_url, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
        "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1", "64:ff9b::a00:1",
        "not an address",
    ],
)  # fmt: skip
def test_private_and_special_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address):
    assert is_public(address)


def test_a_public_https_url_passes(app, dns):
    assert check_url("https://hooks.example.com/in?a=1") == []
    assert check_url("HTTP://hooks.example.com.:8080/") == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "full web address"),
        ("hooks.example.com/in", "http:// or https://"),
        ("ftp://hooks.example.com/", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://hooks.example.com:99999/", "cannot be read"),
        ("https://a b.example.com/", "full web address"),
        ("https://:pw@hooks.example.com/", "user name and password"),
        ("https://nowhere.example.com/", "cannot be found"),
        ("http://2130706433/", "cannot be found"),  # the resolver is the judge of odd forms
        ("https:///path-only", "no host name"),
    ],
)
def test_urls_that_cannot_be_called_say_why(app, dns, url, words):
    messages = check_url(url)
    assert messages and any(words in m for m in messages), messages


def test_a_decimal_address_resolving_to_loopback_is_refused(app, dns):
    dns["2130706433"] = ["127.0.0.1"]
    assert "private or local" in check_url("http://2130706433/")[0]


def test_allowing_a_host_is_by_exact_name(app, admin, dns):
    dns["hooks.internal"] = ["10.0.0.5"]
    dns["other.internal"] = ["10.0.0.5"]
    webhooks_admin.add_host(admin, "hooks.internal")
    assert check_url("https://hooks.internal/in") == []
    assert "private or local" in check_url("https://other.internal/in")[0]
    assert "private or local" in check_url("https://10.0.0.5/in")[0]


def test_verify_accepts_only_the_right_signature_in_time():
    body = body_of({"b": 1, "a": "ü"})
    assert body == '{"a":"ü","b":1}'.encode()
    sig = sign("k", 1_700_000_000, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("k", "1700000000", body, sig, now=1_700_000_100)
    assert not verify("k", "1700000000", body, sig, now=1_700_000_000 + 301)  # a replay
    assert verify("k", "1700000000", body, sig, tolerance=None)
    assert not verify("k", "1700000001", body, sig, tolerance=None)
    assert not verify("k", "soon", body, sig, tolerance=None)
    assert not verify("k", "1700000000", body, sig.upper(), tolerance=None)
    assert not verify("k", "1700000000", body, None, tolerance=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        body_of({"x": float("nan")})

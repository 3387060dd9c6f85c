"""Webhook signatures (and the documented verification recipe) and the address policy."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cordon.domain import netpolicy
from cordon.notices.webhook import (
    SignatureError,
    WebhookRefused,
    check_target,
    check_url,
    sign,
    verify_signature,
)

SECRET = "whsec_example"
BODY = b'{"type":"cordon.notice","notice":{"id":7}}'


def test_the_documented_recipe_verifies_a_signature_with_the_standard_library_only() -> None:
    header = sign(SECRET, 1767225600, BODY)
    # docs/notices.md: split at "," and "=", HMAC-SHA256 over "<t>." + raw body, compare v1.
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + BODY, hashlib.sha256)
    assert hmac.compare_digest(expected.hexdigest(), parts["v1"])
    assert verify_signature(SECRET, header, BODY, now=1767225600 + 10) == 1767225600


@pytest.mark.parametrize(
    ("secret", "body", "now", "reason"),
    [
        (SECRET, BODY + b" ", 1767225600, "no v1 signature matches"),
        ("whsec_other", BODY, 1767225600, "no v1 signature matches"),
        (SECRET, BODY, 1767225600 + 301, "more than 300 s"),
        (SECRET, BODY, 1767225600 - 301, "more than 300 s"),
    ],
)
def test_a_changed_body_a_wrong_secret_or_a_stale_timestamp_fails(
    secret: str, body: bytes, now: int, reason: str
) -> None:
    header = sign(SECRET, 1767225600, BODY)
    with pytest.raises(SignatureError, match=reason):
        verify_signature(secret, header, body, now=now)


def test_a_malformed_header_is_refused() -> None:
    for header in ("", "v1=abc", "t=x,v1=abc", "garbage"):
        with pytest.raises(SignatureError):
            verify_signature(SECRET, header, BODY, now=0)


def test_rotated_signatures_verify_when_any_v1_matches() -> None:
    header = sign(SECRET, 100, BODY) + ",v1=" + "0" * 64
    assert verify_signature(SECRET, header, BODY, now=100) == 100


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "loopback where Cordon and its database listen"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest", "metadata"),
        ("https://[::1]/hook", "loopback"),
        ("https://2130706433/hook", "loopback"),
    ],
)
def test_the_address_policy_refuses_internal_targets(url: str, reason: str) -> None:
    with pytest.raises(WebhookRefused, match=reason):
        check_target(url, ())


def test_plain_http_is_allowed_only_inside_opened_networks() -> None:
    allow = netpolicy.parse_allow_list(["127.61.0.0/16"])
    assert check_target("http://127.61.0.1:8080/hook", allow) == ["127.61.0.1"]
    with pytest.raises(WebhookRefused, match="address policy"):
        check_target("http://127.62.0.1/hook", allow)


def test_urls_must_be_http_with_a_host_and_no_credentials() -> None:
    for bad in ("ftp://x.test/", "https:///nohost", "https://user:pw@x.test/", "not a url"):
        with pytest.raises(WebhookRefused):
            check_url(bad)
    assert check_url(" https://hooks.example.test/cordon ") == "https://hooks.example.test/cordon"

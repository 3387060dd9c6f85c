"""Checkout links -> (provider, account id), with providers described as data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.domain.payments import (
    DEFAULT_CHECKOUT_REGISTRY,
    FICTITIOUS_PROVIDERS,
    CheckoutAccount,
    CheckoutProvider,
    CheckoutRegistry,
    InvalidCheckoutLink,
    InvalidProviderSpec,
    parse_checkout_link,
    provider_from_mapping,
    provider_to_mapping,
)


@pytest.mark.parametrize(
    ("url", "provider", "account"),
    [
        ("https://pay.paybridge.test/checkout/acme-digital", "paybridge", "acme-digital"),
        ("http://PAY.PAYBRIDGE.TEST/Checkout/Acme-Digital/step/2?x=1", "paybridge", "acme-digital"),
        ("https://pay.paybridge.test:8443/checkout/acme-digital/", "paybridge", "acme-digital"),
        ("https://checkout.coinvault.test/m/M12345678", "coinvault", "M12345678"),
        ("https://checkout.coinvault.test/m/M12345678/invoice/77f1", "coinvault", "M12345678"),
        ("https://swiftpay.test/pay?merchant_id=4455667788&amount=9.99", "swiftpay", "4455667788"),
        ("https://www.swiftpay.test/pay/?amount=1&merchant_id=123456", "swiftpay", "123456"),
        ("https://velvet-shop.tillpoint.test/", "tillpoint", "velvet-shop"),
        ("https://Velvet-Shop.tillpoint.test/buy/vip?plan=1", "tillpoint", "velvet-shop"),
    ],
)
def test_fictitious_provider_links_name_their_account(
    url: str, provider: str, account: str
) -> None:
    found = parse_checkout_link(url)
    assert found == CheckoutAccount(provider, account, url)
    assert found.key == f"{provider}:{account}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://pay.paybridge.test/checkout/", "no valid account"),
        ("https://pay.paybridge.test/checkout/ab", "no valid account"),  # shorter than 3
        ("https://pay.paybridge.test/help/acme", "no valid account"),
        ("https://checkout.coinvault.test/m/m12345678", "no valid account"),  # case is kept
        ("https://swiftpay.test/pay?merchant=4455667788", "no valid account"),
        ("https://swiftpay.test/refund?merchant_id=4455667788", "no valid account"),
        ("https://www.tillpoint.test/", "no valid account"),  # reserved label
        ("https://a.b.tillpoint.test/", "no registered payment"),  # one label only
        ("https://paybridge.test/checkout/acme", "no registered payment service"),
        ("https://pay.paybridge.test.evil.test/checkout/acme", "no registered payment service"),
        ("ftp://pay.paybridge.test/checkout/acme", "http"),
        ("not a url", "http"),
        ("https://[::1/checkout", "not a URL"),
    ],
)
def test_links_that_are_not_checkout_accounts_are_rejected_with_a_reason(
    url: str, reason: str
) -> None:
    with pytest.raises(InvalidCheckoutLink, match=reason):
        parse_checkout_link(url)
    assert DEFAULT_CHECKOUT_REGISTRY.match(url) is None


def test_fictitious_providers_live_on_reserved_test_domains() -> None:
    for provider in FICTITIOUS_PROVIDERS:
        assert all(host.endswith(".test") for host in provider.hosts)
        assert provider.description


def test_provider_from_data_round_trips_and_extends_the_registry() -> None:
    spec = {
        "name": "northpay",
        "hosts": ["*.northpay.test"],
        "path": "/s/*/{account}",
        "account_pattern": "acct_[A-Za-z0-9]{14}",
        "account_case": "preserve",
        "description": "Hosted checkout",
    }
    provider = provider_from_mapping(spec)
    assert provider_from_mapping(provider_to_mapping(provider)) == provider
    registry = DEFAULT_CHECKOUT_REGISTRY.extended_from_data([spec])
    url = "https://eu.checkout.northpay.test/s/en/acct_AbCdEf0123456Z?x=1"
    assert registry.parse(url) == CheckoutAccount("northpay", "acct_AbCdEf0123456Z", url)
    assert DEFAULT_CHECKOUT_REGISTRY.match(url) is None  # the original is unchanged
    assert registry.get("paybridge") is not None


def test_extending_with_a_known_name_replaces_that_provider() -> None:
    replacement = CheckoutProvider(name="paybridge", hosts=("pay.paybridge.test",), query="m")
    registry = DEFAULT_CHECKOUT_REGISTRY.extended([replacement])
    assert registry.get("paybridge") == replacement
    assert len(registry.providers) == len(DEFAULT_CHECKOUT_REGISTRY.providers)
    assert registry.parse("https://pay.paybridge.test/x?m=abc").account_id == "abc"


def test_a_registry_refuses_two_providers_of_one_name() -> None:
    with pytest.raises(InvalidProviderSpec, match="twice"):
        CheckoutRegistry((FICTITIOUS_PROVIDERS[0], FICTITIOUS_PROVIDERS[0]))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"hosts": ["a.test"], "query": "m"}, "name is required"),
        ({"name": "Bad Name", "hosts": ["a.test"], "query": "m"}, "name"),
        ({"name": "x", "hosts": "a.test", "query": "m"}, "hosts must be a list"),
        ({"name": "x", "hosts": [], "query": "m"}, "hosts must list"),
        ({"name": "x", "hosts": ["a_b.test"], "query": "m"}, "hosts"),
        ({"name": "x", "hosts": ["a.test"]}, "exactly one place"),
        ({"name": "x", "hosts": ["a.test"], "path": "/p/{account}", "query": "m"}, "exactly one"),
        ({"name": "x", "hosts": ["a.test"], "path": "p/{account}"}, "path must start"),
        ({"name": "x", "hosts": ["a.test"], "path": "/{account}/{account}"}, "once"),
        ({"name": "x", "hosts": ["a.test"], "path": "/{merchant}", "query": "m"}, "placeholder"),
        ({"name": "x", "hosts": ["a.test"], "query": "m", "account_pattern": "("}, "account_patt"),
        ({"name": "x", "hosts": ["a.test"], "query": "m", "account_case": "upper"}, "account_case"),
        ({"name": "x", "hosts": ["a.test"], "query": "m", "colour": "red"}, "unknown key"),
        ({"name": "x", "hosts": ["{account}.a.test", "b.test"]}, "all carry"),
    ],
)
def test_malformed_provider_data_is_refused_naming_the_field(
    spec: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidProviderSpec, match=field):
        provider_from_mapping(spec)


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{2,39}", fullmatch=True))
def test_paybridge_account_ids_round_trip_through_their_link(account: str) -> None:
    url = f"https://pay.paybridge.test/checkout/{account}"
    assert parse_checkout_link(url).account_id == account


@given(st.from_regex(r"[0-9]{6,12}", fullmatch=True), st.from_regex(r"[a-z]{1,8}", fullmatch=True))
def test_swiftpay_account_id_is_found_wherever_it_sits_in_the_query(
    merchant: str, other: str
) -> None:
    url = f"https://swiftpay.test/pay?{other}=1&merchant_id={merchant}"
    assert parse_checkout_link(url).account_id == merchant

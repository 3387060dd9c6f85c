"""Identifiers as records: every written form is read to one key (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.domain.payments import (
    DEFAULT_CHECKOUT_REGISTRY,
    Chain,
    InvalidPaymentIdentifier,
    extract_payment_identifiers,
    make_iban,
    synthetic_address,
)
from cordon.money.identifiers import (
    IdentifierType,
    card_merchant,
    checkout_account,
    from_found,
    parse_identifier,
)

REG = DEFAULT_CHECKOUT_REGISTRY


def test_the_written_forms_of_one_identifier_share_a_key() -> None:
    address = synthetic_address(Chain.BTC, b"seed")
    assert parse_identifier(address, REG).key == f"btc:{address}"
    assert parse_identifier(f"BTC:{address}", REG).key == f"btc:{address}"
    link = parse_identifier("https://pay.paybridge.test/checkout/Velvet-Club?x=1", REG)
    assert (link.type, link.key) == (IdentifierType.CHECKOUT_ACCOUNT, "paybridge:velvet-club")
    assert parse_identifier("paybridge:VELVET-club", REG).key == "paybridge:velvet-club"
    card = parse_identifier("card:540518:abc123", REG)
    assert (card.key, card.payment_method) == ("card:540518:ABC123", "card")
    iban = make_iban("NL", "ABNA0417164300")
    spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert parse_identifier(spaced.lower(), REG).key == iban


def test_what_the_extractor_finds_is_recorded_under_the_extractors_key() -> None:
    address = synthetic_address(Chain.ETH, b"x")
    page = f"pay to {address.lower()} or https://pay.paybridge.test/checkout/velvet-club"
    for found in extract_payment_identifiers(page):
        assert from_found(found).key == found.key


def test_text_naming_no_identifier_is_refused_with_the_reason() -> None:
    for bad in ("", "hello", "https://pay.unknown.test/x", "paybridge:Not Valid!", "card:12:x"):
        with pytest.raises(InvalidPaymentIdentifier):
            parse_identifier(bad, REG)
    with pytest.raises(InvalidPaymentIdentifier, match="checksum"):
        parse_identifier("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", REG)


def test_accounts_must_fit_their_providers_pattern() -> None:
    assert checkout_account("coinvault", "M12345678", REG).key == "coinvault:M12345678"
    with pytest.raises(InvalidPaymentIdentifier, match="account pattern"):
        checkout_account("coinvault", "m12345678", REG)
    with pytest.raises(InvalidPaymentIdentifier, match="no checkout provider"):
        checkout_account("nopay", "abc", REG)


@given(
    st.from_regex(r"[0-9]{6,8}", fullmatch=True), st.from_regex(r"[A-Z0-9]{1,15}", fullmatch=True)
)
def test_card_merchants_round_trip_through_their_key(bin_: str, mid: str) -> None:
    spec = card_merchant(bin_, mid)
    assert parse_identifier(spec.key, REG) == spec

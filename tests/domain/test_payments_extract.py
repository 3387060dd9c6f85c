"""Extraction of payment identifiers from page text and HTML: only valid ones, deduplicated,
each with where it was seen."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cordon.domain.payments import (
    DEFAULT_CHECKOUT_REGISTRY,
    AddressKind,
    BankAccount,
    Chain,
    CheckoutAccount,
    CryptoAddress,
    FoundIdentifier,
    IdentifierType,
    extract_payment_identifiers,
    is_valid_crypto_address,
    is_valid_iban,
    make_btc_p2pkh,
    parse_crypto_address,
    synthetic_address,
    synthetic_iban,
)

BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
LEGACY = "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu"
CASHADDR = "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"
BARE_CASHADDR = "qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ETH_LOWER = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
TRX = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
XMR = (
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3X"
    "jrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
)
LTC_SEGWIT = synthetic_address(Chain.LTC, b"page")

PAGE = f"""<!doctype html>
<html><body>
<p>Pay with Bitcoin: <a href="bitcoin:{BECH32}?amount=0.01">{BECH32}</a></p>
<p>Old wallet {LEGACY}, typo wallet 1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggv.</p>
<p data-bch="{CASHADDR}">BCH (no prefix): {BARE_CASHADDR}</p>
<p>ETH {ETH} broken 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD lower {ETH_LOWER}</p>
<p>USDT (TRC20): {TRX}; XMR: {XMR}; LTC: {LTC_SEGWIT}</p>
<p>Bank transfer: IBAN DE89 3704 0044 0532 0130 00 (EUR) or GB82WEST12345698765432.
Wrong: GB82 WEST 1234 5698 7654 33</p>
<a class="buy" href="https://pay.paybridge.test/checkout/velvet-club?plan=vip&amp;ref=1">Card</a>
<a href="https://swiftpay.test/pay?amount=9&amp;merchant_id=445566">Wallet</a>
<p>Or go to pay.paybridge.test/checkout/velvet-club. Not ours: https://pay.example.test/checkout/x</p>
<script>var shop = "//nova-shop.tillpoint.test/buy";</script>
<p>Again: {BECH32}</p>
</body></html>
"""


def _by_key(text: str) -> dict[str, FoundIdentifier]:
    return {found.key: found for found in extract_payment_identifiers(text)}


def test_every_valid_identifier_on_a_page_is_found_once() -> None:
    found = _by_key(PAGE)
    assert set(found) == {
        f"btc:{BECH32}",
        f"btc:{LEGACY}",
        f"bch:{CASHADDR}",
        "bch:bitcoincash:" + BARE_CASHADDR,
        f"eth:{ETH}",
        "eth:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        f"trx:{TRX}",
        f"xmr:{XMR}",
        f"ltc:{LTC_SEGWIT}",
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "paybridge:velvet-club",
        "swiftpay:445566",
        "tillpoint:nova-shop",
    }


def test_nothing_invalid_is_ever_returned() -> None:
    for found in extract_payment_identifiers(PAGE):
        identifier = found.identifier
        if isinstance(identifier, CryptoAddress):
            assert is_valid_crypto_address(found.text, identifier.chain)
        elif isinstance(identifier, BankAccount):
            assert is_valid_iban(found.text)
        else:
            assert DEFAULT_CHECKOUT_REGISTRY.match(identifier.url) == identifier


def test_repeated_identifier_keeps_every_position_and_the_first_context() -> None:
    found = _by_key(PAGE)[f"btc:{BECH32}"]
    assert found.type is IdentifierType.CRYPTO_ADDRESS
    assert len(found.occurrences) == 3  # the href, the link text, and "Again:"
    assert found.start == found.occurrences[0] == PAGE.index(BECH32)
    for start in found.occurrences:
        assert PAGE[start : start + len(BECH32)] == BECH32
    assert found.text == BECH32
    assert "Pay with Bitcoin" in found.context
    assert "\n" not in found.context


def test_positions_point_at_what_was_written() -> None:
    for found in extract_payment_identifiers(PAGE):
        assert PAGE[found.start : found.end] == found.text


def test_grouped_iban_keeps_its_printed_form_and_its_compact_key() -> None:
    found = _by_key(PAGE)["DE89370400440532013000"]
    assert found.type is IdentifierType.IBAN
    assert found.text == "DE89 3704 0044 0532 0130 00"


def test_checkout_links_in_attributes_are_decoded_and_normalised() -> None:
    found = _by_key(PAGE)
    swift = found["swiftpay:445566"]
    assert isinstance(swift.identifier, CheckoutAccount)
    assert swift.identifier.url == "https://swiftpay.test/pay?amount=9&merchant_id=445566"
    bridge = found["paybridge:velvet-club"]
    assert len(bridge.occurrences) == 2  # the href and the bare host in the text
    till = found["tillpoint:nova-shop"]
    assert isinstance(till.identifier, CheckoutAccount)
    assert till.identifier.url == "https://nova-shop.tillpoint.test/buy"


def test_single_case_eth_is_found_but_flagged() -> None:
    found = _by_key(PAGE)["eth:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"]
    assert isinstance(found.identifier, CryptoAddress)
    assert found.identifier.checksummed is False
    assert found.text == ETH_LOWER


def test_addresses_glued_to_other_words_are_not_taken() -> None:
    glued = f"x{LEGACY} {LEGACY}y 9{ETH} DE89370400440532013000X"
    assert extract_payment_identifiers(glued) == []


def test_identifiers_at_the_very_start_and_end_are_found() -> None:
    for text in (LEGACY, BECH32, ETH, "GB82WEST12345698765432", XMR):
        assert [f.text for f in extract_payment_identifiers(text)] == [text]


def test_non_ascii_text_keeps_offsets_right() -> None:
    nbsp = "\u00a0"
    iban = nbsp.join(["DE89", "3704", "0044", "0532", "0130", "00"])
    text = f"Zahlung — 送金 😀 an {LEGACY} oder IBAN {iban}."
    found = extract_payment_identifiers(text)
    assert [f.key for f in found] == [f"btc:{LEGACY}", "DE89370400440532013000"]
    for item in found:
        assert text[item.start : item.end] == item.text


def test_a_custom_registry_is_used_for_checkout_links() -> None:
    registry = DEFAULT_CHECKOUT_REGISTRY.extended_from_data(
        [{"name": "northpay", "hosts": ["pay.northpay.test"], "query": "acct"}]
    )
    text = "buy at https://pay.northpay.test/?acct=abc123 now"
    assert extract_payment_identifiers(text) == []
    found = extract_payment_identifiers(text, registry=registry)
    assert [f.key for f in found] == ["northpay:abc123"]


_filler = st.text(alphabet=st.sampled_from(list(" \n<>\"'=/:.,;abcxyzQRS0123456789")), max_size=40)
_identifiers = st.one_of(
    st.builds(synthetic_address, st.sampled_from(list(Chain)), st.binary(max_size=8)),
    st.builds(
        lambda seed: synthetic_address(Chain.BTC, seed, kind=AddressKind.P2PKH),
        st.binary(max_size=8),
    ),
    st.builds(synthetic_iban, st.sampled_from(["DE", "FR", "GB", "NL"]), st.binary(max_size=8)),
)


@settings(max_examples=60)
@given(st.lists(st.tuples(_filler, _identifiers), min_size=1, max_size=5), _filler)
def test_identifiers_embedded_between_separators_are_all_found(
    parts: list[tuple[str, str]], tail: str
) -> None:
    text = "".join(f"{filler} {identifier} " for filler, identifier in parts) + tail
    found = {f.text for f in extract_payment_identifiers(text)}
    assert {identifier for _, identifier in parts} <= found


@settings(max_examples=60)
@given(st.binary(min_size=20, max_size=20), st.integers(1, 33), st.data())
def test_a_mistyped_address_is_never_extracted(
    payload: bytes, position: int, data: st.DataObject
) -> None:
    address = make_btc_p2pkh(payload)
    position = min(position, len(address) - 1)
    b58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    replacement = data.draw(st.sampled_from([c for c in b58 if c != address[position]]))
    typo = address[:position] + replacement + address[position + 1 :]
    assert extract_payment_identifiers(f"send to {typo} now") == []


@settings(max_examples=80)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0x: .\n")
        ),
        max_size=400,
    )
)
def test_random_text_yields_only_identifiers_that_parse(text: str) -> None:
    for found in extract_payment_identifiers(text):
        if isinstance(found.identifier, CryptoAddress):
            assert parse_crypto_address(found.text, found.identifier.chain) == found.identifier


@pytest.mark.parametrize("size", [0, 1, 10])
def test_empty_and_tiny_texts_yield_nothing(size: int) -> None:
    assert extract_payment_identifiers("a" * size) == []

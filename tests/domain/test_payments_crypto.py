"""Crypto addresses: EIP-55, CashAddr, base58check (BTC, LTC, TRX) and Monero, with the
published vectors and round-trip properties of every encoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.domain.payments import (
    AddressKind,
    Chain,
    CryptoAddress,
    InvalidAddress,
    Network,
    is_valid_crypto_address,
    make_bch_cashaddr,
    make_btc_p2pkh,
    make_btc_p2sh,
    make_btc_segwit,
    make_eth_address,
    make_ltc_p2pkh,
    make_ltc_p2sh,
    make_ltc_segwit,
    make_trx_address,
    make_xmr_address,
    parse_crypto_address,
    synthetic_address,
    to_eip55,
)
from cordon.domain.payments.cashaddr import (
    CashAddrError,
    cashaddr_checksum_ok,
    cashaddr_decode,
    cashaddr_encode,
)
from cordon.domain.payments.monero import ALPHABET as MONERO_ALPHABET
from cordon.domain.payments.monero import MoneroError, b58decode, b58encode

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# EIP-55 "Specification": the four addresses the EIP's own test() checks.
EIP55_VECTORS = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]

# CashAddr spec 1.1, "Test vectors": valid checksums over deliberately invalid payloads.
CASHADDR_CHECKSUM_VECTORS = [
    "prefix:x64nx6hz",
    "p:gpf8m4h7",
    "bitcoincash:qpzry9x8gf2tvdw0s3jn54khce6mua7lcw20ayyn",
    "bchtest:spectestnetaddressrealrealaddressqpan2k9lh",
    "bchreg:555555555555555555555555555555555555555555555udxmlmrz",
]
# CashAddr spec 1.1, "Examples of address translation": legacy base58 -> CashAddr.
CASHADDR_TRANSLATIONS = [
    (
        "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
        "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
    ),
    (
        "1KXrWXciRDZUpQwQmuM1DbwsKDLYAYsVLR",
        "bitcoincash:qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy",
    ),
    ("16w1D5WRVKJuZUsSRzdLp9w3YGcgoxDXb", "bitcoincash:qqq3728yw0y47sqn6l2na30mcw6zm78dzqre909m2r"),
    (
        "3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC",
        "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq",
    ),
    (
        "3LDsS579y7sruadqu11beEJoTjdFiFCdX4",
        "bitcoincash:pr95sy3j9xwd2ap32xkykttr4cvcu7as4yc93ky28e",
    ),
    (
        "31nwvkZwyPdgzjBJZXfDmSWsC4ZLKpYyUw",
        "bitcoincash:pqq3728yw0y47sqn6l2na30mcw6zm78dzq5ucqzc37",
    ),
]
# CashAddr spec 1.1, "Larger test vectors" (a selection across sizes, types and prefixes).
CASHADDR_LARGER = [
    (
        "bitcoincash:qr6m7j9njldwwzlg9v7v53unlr4jkmx6eylep8ekg2",
        0,
        "F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9",
    ),
    (
        "bchtest:pr6m7j9njldwwzlg9v7v53unlr4jkmx6eyvwc0uz5t",
        1,
        "F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9",
    ),
    (
        "pref:pr6m7j9njldwwzlg9v7v53unlr4jkmx6ey65nvtks5",
        1,
        "F5BF48B397DAE70BE82B3CCA4793F8EB2B6CDAC9",
    ),
    (
        "bitcoincash:q9adhakpwzztepkpwp5z0dq62m6u5v5xtyj7j3h2ws4mr9g0",
        0,
        "7ADBF6C17084BC86C1706827B41A56F5CA32865925E946EA",
    ),
    (
        "bchtest:pgagf7w02x4wnz3mkwnchut2vxphjzccwxgjvvjmlsxqwkcvs7md7wt",
        1,
        "3A84F9CF51AAE98A3BB3A78BF16A6183790B18719126325BFC0C075B",
    ),
    (
        "bitcoincash:qvch8mmxy0rtfrlarg7ucrxxfzds5pamg73h7370aa87d80gyhqxq5nlegake",
        0,
        "3173EF6623C6B48FFD1A3DCC0CC6489B0A07BB47A37F47CFEF4FE69DE825C060",
    ),
    (
        "pref:pvch8mmxy0rtfrlarg7ucrxxfzds5pamg73h7370aa87d80gyhqxq4k9m7qf9",
        1,
        "3173EF6623C6B48FFD1A3DCC0CC6489B0A07BB47A37F47CFEF4FE69DE825C060",
    ),
    (
        "bitcoincash:qnq8zwpj8cq05n7pytfmskuk9r4gzzel8qtsvwz79zdskftrzxtar994cgutavfklv39gr3uvz",
        0,
        "C07138323E00FA4FC122D3B85B9628EA810B3F381706385E289B0B25631197D194B5C238BEB136FB",
    ),
    (
        "bchtest:plg0x333p4238k0qrc5ej7rzfw5g8e4a4r6vvzyrcy8j3s5k0en7calvclhw46hudk5flttj6ydvjc0pv3nchp52amk97tqa5zygg96mc773cwez",
        1,
        "D0F346310D5513D9E01E299978624BA883E6BDA8F4C60883C10F28C2967E67EC77ECC7EEEAEAFC6DA89FAD72D11AC961E164678B868AEEEC5F2C1DA08884175B",
    ),
]

# The Monero project's donation addresses (standard, and subaddress) as its README publishes.
MONERO_STANDARD = (
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3X"
    "jrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
)
MONERO_SUBADDRESS = (
    "888tNkZrPN6JsEgekjMnABU4TBzc2Dt29EPAvkRxbANsAnjyP"
    "bb3iQ1YBRk1UXcdRsiKc9dhwMVgN5S9cQUiyoogDavup3H"
)
# Tron's USDT token contract, and its hex form 41 + 20 bytes as TronScan shows it.
TRON_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRON_USDT_HEX = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"


# ---------------------------------------------------------------- EIP-55


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_eip55_vectors_are_reproduced_and_accepted_as_checksummed(address: str) -> None:
    assert to_eip55(bytes.fromhex(address[2:])) == address
    assert to_eip55(address.lower()) == address
    parsed = parse_crypto_address(address)
    assert (parsed.chain, parsed.kind, parsed.address) == (Chain.ETH, AddressKind.ACCOUNT, address)
    assert parsed.checksummed


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_single_case_eth_addresses_are_accepted_but_flagged_unchecksummed(address: str) -> None:
    for written in ("0x" + address[2:].lower(), "0x" + address[2:].upper()):
        parsed = parse_crypto_address(written)
        assert parsed.address == address
        assert parsed.checksummed is False


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_eth_address_with_one_letter_case_flipped_is_rejected(address: str) -> None:
    index = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    flipped = address[:index] + address[index].swapcase() + address[index + 1 :]
    with pytest.raises(InvalidAddress, match="EIP-55"):
        parse_crypto_address(flipped)


@pytest.mark.parametrize(
    "text",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xZZ",
    ],
)
def test_malformed_eth_addresses_are_rejected(text: str) -> None:
    assert not is_valid_crypto_address(text, Chain.ETH)


# ---------------------------------------------------------------- CashAddr


@pytest.mark.parametrize("text", CASHADDR_CHECKSUM_VECTORS)
def test_cashaddr_spec_checksum_vectors_hold(text: str) -> None:
    prefix, _, payload = text.partition(":")
    assert cashaddr_checksum_ok(prefix, payload)
    assert cashaddr_checksum_ok(prefix.upper(), payload.upper())
    assert not cashaddr_checksum_ok(prefix + "x", payload)


@pytest.mark.parametrize(("legacy", "cashaddr"), CASHADDR_TRANSLATIONS)
def test_cashaddr_spec_translations_match_the_legacy_hash(legacy: str, cashaddr: str) -> None:
    old = parse_crypto_address(legacy, Chain.BCH)
    new = parse_crypto_address(cashaddr)
    assert new.chain is Chain.BCH
    assert (new.kind, new.payload, new.network) == (old.kind, old.payload, Network.MAINNET)
    assert make_bch_cashaddr(old.payload, kind=old.kind) == cashaddr
    # Without the prefix, and upper-case: the same address.
    bare = cashaddr.partition(":")[2]
    assert parse_crypto_address(bare).address == cashaddr
    assert parse_crypto_address(cashaddr.upper()).address == cashaddr
    assert make_bch_cashaddr(old.payload, kind=old.kind, with_prefix=False) == bare


@pytest.mark.parametrize(("address", "type_bits", "hash_hex"), CASHADDR_LARGER)
def test_cashaddr_spec_larger_vectors_round_trip(
    address: str, type_bits: int, hash_hex: str
) -> None:
    decoded = cashaddr_decode(address)
    assert (decoded.type_bits, decoded.hash.hex().upper()) == (type_bits, hash_hex)
    assert cashaddr_encode(decoded.prefix, type_bits, decoded.hash) == address


def test_cashaddr_mixed_case_and_bad_checksum_are_rejected() -> None:
    good = CASHADDR_TRANSLATIONS[0][1]
    with pytest.raises(CashAddrError, match="mixed case"):
        cashaddr_decode(good[:20] + good[20:].upper())
    with pytest.raises(InvalidAddress, match="checksum"):
        parse_crypto_address(good[:-1] + ("q" if good[-1] != "q" else "p"))


def test_cashaddr_of_an_unused_hash_size_is_not_a_bch_address() -> None:
    # Valid CashAddr (spec vector, 24-byte hash) but no BCH address uses that size.
    with pytest.raises(InvalidAddress, match="not in use"):
        parse_crypto_address(CASHADDR_LARGER[3][0])


# ---------------------------------------------------------------- base58check: BTC, LTC, TRX


def test_known_tron_address_decodes_to_its_published_hex() -> None:
    parsed = parse_crypto_address(TRON_USDT)
    assert (parsed.chain, parsed.kind, parsed.network) == (
        Chain.TRX,
        AddressKind.ACCOUNT,
        Network.MAINNET,
    )
    assert "41" + parsed.payload.hex() == TRON_USDT_HEX
    assert make_trx_address(bytes.fromhex(TRON_USDT_HEX[2:])) == TRON_USDT


def test_tron_address_with_another_version_byte_is_rejected() -> None:
    bitcoin_style = make_btc_p2pkh(bytes(range(20)))
    with pytest.raises(InvalidAddress):
        parse_crypto_address(bitcoin_style, Chain.TRX)


@pytest.mark.parametrize(
    ("maker", "chain", "kind", "network", "first"),
    [
        (make_btc_p2pkh, Chain.BTC, AddressKind.P2PKH, Network.MAINNET, "1"),
        (make_btc_p2sh, Chain.BTC, AddressKind.P2SH, Network.MAINNET, "3"),
        (make_ltc_p2pkh, Chain.LTC, AddressKind.P2PKH, Network.MAINNET, "L"),
        (make_ltc_p2sh, Chain.LTC, AddressKind.P2SH, Network.MAINNET, "M"),
    ],
)
def test_base58_makers_produce_the_documented_leading_character(
    maker: object, chain: Chain, kind: AddressKind, network: Network, first: str
) -> None:
    assert callable(maker)
    address = maker(bytes(range(1, 21)))
    assert address[0] == first
    parsed = parse_crypto_address(address)
    assert (parsed.chain, parsed.kind, parsed.network) == (chain, kind, network)


def test_testnet_base58_addresses_say_testnet() -> None:
    address = make_btc_p2pkh(bytes(20), network=Network.TESTNET)
    assert address[0] in "mn"
    assert parse_crypto_address(address).network is Network.TESTNET


def test_shared_p2sh_form_is_btc_unless_the_chain_is_named() -> None:
    address = make_btc_p2sh(bytes(range(20)))
    assert parse_crypto_address(address).chain is Chain.BTC
    assert parse_crypto_address(address, "ltc").chain is Chain.LTC
    with pytest.raises(InvalidAddress, match="unknown chain"):
        parse_crypto_address(address, "doge")


def test_wrong_chain_version_bytes_are_rejected() -> None:
    with pytest.raises(InvalidAddress, match="not a LTC address"):
        parse_crypto_address(make_btc_p2pkh(bytes(20)), Chain.LTC)


@pytest.mark.parametrize("text", ["", "   ", "1" * 200, "hello", "0OIl" * 9])
def test_garbage_is_rejected_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        parse_crypto_address(text)
    assert caught.value.reason


# ---------------------------------------------------------------- Monero


def test_published_monero_addresses_are_valid() -> None:
    standard = parse_crypto_address(MONERO_STANDARD)
    assert (standard.chain, standard.kind, standard.network) == (
        Chain.XMR,
        AddressKind.STANDARD,
        Network.MAINNET,
    )
    sub = parse_crypto_address(MONERO_SUBADDRESS)
    assert sub.kind is AddressKind.SUBADDRESS
    assert make_xmr_address(standard.payload[:32], standard.payload[32:]) == MONERO_STANDARD
    assert (
        make_xmr_address(sub.payload[:32], sub.payload[32:], kind=AddressKind.SUBADDRESS)
        == MONERO_SUBADDRESS
    )


def test_monero_integrated_address_carries_its_payment_id() -> None:
    address = make_xmr_address(
        bytes(32), bytes(range(32)), kind=AddressKind.INTEGRATED, payment_id=b"\x01" * 8
    )
    assert len(address) == 106
    parsed = parse_crypto_address(address)
    assert parsed.kind is AddressKind.INTEGRATED
    assert parsed.payload[-8:] == b"\x01" * 8


def test_monero_base58_rejects_impossible_block_widths_and_overflow() -> None:
    with pytest.raises(MoneroError, match="impossible"):
        b58decode("1" * 12)  # a last block of 1 character encodes no byte count
    with pytest.raises(MoneroError, match="overflow"):
        b58decode("zz")  # 57*58+57 does not fit in one byte


@given(st.binary(max_size=100))
def test_monero_base58_encode_then_decode_is_the_identity(data: bytes) -> None:
    encoded = b58encode(data)
    assert set(encoded) <= set(MONERO_ALPHABET)
    assert b58decode(encoded) == data


# ---------------------------------------------------------------- every encoder, as properties

_h20 = st.binary(min_size=20, max_size=20)
_h32 = st.binary(min_size=32, max_size=32)
_net = st.sampled_from([Network.MAINNET, Network.TESTNET])


def _encoded_addresses() -> st.SearchStrategy[tuple[str, Chain, bytes]]:
    """(address, chain, expected payload) for every encoder."""
    return st.one_of(
        st.builds(lambda h, n: (make_btc_p2pkh(h, network=n), Chain.BTC, h), _h20, _net),
        st.builds(lambda h, n: (make_btc_p2sh(h, network=n), Chain.BTC, h), _h20, _net),
        st.builds(lambda h: (make_btc_segwit(h), Chain.BTC, b"\x00" + h), _h20),
        st.builds(lambda h: (make_btc_segwit(h, witver=1), Chain.BTC, b"\x01" + h), _h32),
        st.builds(lambda h: (make_ltc_p2pkh(h), Chain.LTC, h), _h20),
        st.builds(lambda h: (make_ltc_p2sh(h), Chain.LTC, h), _h20),
        st.builds(lambda h: (make_ltc_segwit(h), Chain.LTC, b"\x00" + h), _h20),
        st.builds(lambda h: (make_bch_cashaddr(h), Chain.BCH, h), _h20),
        st.builds(
            lambda h: (make_bch_cashaddr(h, kind=AddressKind.P2SH), Chain.BCH, h),
            st.one_of(_h20, _h32),
        ),
        st.builds(lambda h: (make_eth_address(h), Chain.ETH, h), _h20),
        st.builds(lambda h: (make_trx_address(h), Chain.TRX, h), _h20),
        st.builds(lambda s, v: (make_xmr_address(s, v), Chain.XMR, s + v), _h32, _h32),
        st.builds(
            lambda s, v: (make_xmr_address(s, v, kind=AddressKind.SUBADDRESS), Chain.XMR, s + v),
            _h32,
            _h32,
        ),
    )


@given(_encoded_addresses())
def test_encode_then_parse_is_the_identity(case: tuple[str, Chain, bytes]) -> None:
    address, chain, payload = case
    parsed = parse_crypto_address(address)
    assert (parsed.chain, parsed.address, parsed.payload) == (chain, address, payload)
    assert parsed.checksummed
    assert parse_crypto_address(address, chain) == parsed


def _alphabet_for(parsed: CryptoAddress) -> str:
    if parsed.chain is Chain.ETH:
        return "0123456789abcdefABCDEF"
    if parsed.chain is Chain.BCH or parsed.address.startswith(("bc1", "tb1", "ltc1")):
        return "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    return B58


@given(_encoded_addresses(), st.data())
def test_any_single_character_change_is_rejected_or_changes_the_checksum_result(
    case: tuple[str, Chain, bytes], data: st.DataObject
) -> None:
    address, chain, _ = case
    original = parse_crypto_address(address)
    body_start = {Chain.ETH: 2, Chain.BCH: len("bitcoincash:")}.get(chain, 0)
    if address.startswith(("bc1", "ltc1")):
        body_start = address.index("1") + 1
    position = data.draw(st.integers(body_start, len(address) - 1), label="position")
    replacement = data.draw(
        st.sampled_from([c for c in _alphabet_for(original) if c != address[position]]),
        label="replacement",
    )
    mutated = address[:position] + replacement + address[position + 1 :]
    try:
        changed = parse_crypto_address(mutated, chain)
    except InvalidAddress:
        return
    # Only EIP-55 can let a change through (it has ~15 check bits, not 32): then the address
    # is a different one, or it is flagged as carrying no checksum at all.
    assert chain is Chain.ETH
    assert changed.payload != original.payload or not changed.checksummed


@given(st.sampled_from(list(Chain)), st.binary(max_size=16))
def test_synthetic_addresses_are_valid_and_deterministic(chain: Chain, seed: bytes) -> None:
    address = synthetic_address(chain, seed)
    assert synthetic_address(chain, seed) == address
    assert parse_crypto_address(address, chain).chain is chain


@pytest.mark.parametrize(
    ("chain", "kind"),
    [
        (Chain.BTC, AddressKind.P2PKH),
        (Chain.BTC, AddressKind.P2SH),
        (Chain.BTC, AddressKind.P2WSH),
        (Chain.BTC, AddressKind.P2TR),
        (Chain.LTC, AddressKind.P2PKH),
        (Chain.BCH, AddressKind.P2SH),
        (Chain.XMR, AddressKind.SUBADDRESS),
        (Chain.XMR, AddressKind.INTEGRATED),
    ],
)
def test_synthetic_address_honours_the_requested_kind(chain: Chain, kind: AddressKind) -> None:
    parsed = parse_crypto_address(synthetic_address(chain, b"seed", kind=kind), chain)
    assert parsed.kind is kind


def test_encoders_refuse_wrong_payload_sizes() -> None:
    with pytest.raises(ValueError, match="20 bytes"):
        make_btc_p2pkh(bytes(19))
    with pytest.raises(ValueError, match="20 bytes"):
        make_trx_address(bytes(21))
    with pytest.raises(ValueError, match="32 bytes"):
        make_xmr_address(bytes(31), bytes(32))
    with pytest.raises(ValueError, match="20 bytes"):
        make_bch_cashaddr(bytes(32), kind=AddressKind.P2PKH)

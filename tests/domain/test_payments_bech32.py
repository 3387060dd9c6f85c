"""Bech32/Bech32m strings and segwit addresses against the BIP-173 and BIP-350 test vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.domain.payments import (
    AddressKind,
    Chain,
    InvalidAddress,
    Network,
    make_bech32_address,
    parse_crypto_address,
)
from cordon.domain.payments.bech32 import (
    CHARSET,
    Bech32Error,
    Bech32Variant,
    bech32_decode,
    bech32_encode,
    segwit_decode,
)

# BIP-173, "Test vectors": valid Bech32 strings.
BIP173_VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
# BIP-173: invalid Bech32 strings, with the reason the BIP gives.
BIP173_INVALID_BECH32 = [
    ("\x20" + "1nwldj5", "HRP character out of range"),
    ("\x7f" + "1axkwrx", "HRP character out of range"),
    ("\x80" + "1eym55h", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "overall max length exceeded",
    ),
    ("pzry9x0s0muk", "No separator character"),
    ("1pzry9x0s0muk", "Empty HRP"),
    ("x1b4n0q5v", "Invalid data character"),
    ("li1dgmt3", "Too short checksum"),
    ("de1lg7wt" + "\xff", "Invalid character in checksum"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty HRP"),
    ("1qzzfhee", "empty HRP"),
]
# BIP-350, "Test vectors for Bech32m": valid Bech32m strings.
BIP350_VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
BIP350_INVALID_BECH32M = [
    ("\x20" + "1xj0phk", "HRP character out of range"),
    ("\x7f" + "1g6xzxy", "HRP character out of range"),
    ("\x80" + "1vctc34", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "overall max length exceeded",
    ),
    ("qyrz8wqd2c9m", "No separator character"),
    ("1qyrz8wqd2c9m", "Empty HRP"),
    ("y1b0jsk6g", "Invalid data character"),
    ("lt1igcx5c0", "Invalid data character"),
    ("in1muywd", "Too short checksum"),
    ("mm1crxm3i", "Invalid character in checksum"),
    ("au1s5cgom", "Invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
]
# BIP-350 valid segwit addresses and their scriptPubKey (supersedes BIP-173's v1+ vectors).
BIP350_VALID_ADDRESSES = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]
BIP350_INVALID_ADDRESSES = [
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "Invalid hrp"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    (
        "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    (
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "Invalid checksum (Bech32 instead of Bech32m)",
    ),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "Invalid checksum (Bech32m instead of Bech32)"),
    (
        "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
        "Invalid checksum (Bech32m instead of Bech32)",
    ),
    (
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "Invalid character in checksum",
    ),
    (
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
        "Invalid witness version",
    ),
    ("bc1pw5dgrnzv", "Invalid program length (1 byte)"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "Invalid program length (41 bytes)",
    ),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "Invalid program length for witness version 0"),
    (
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
        "Mixed case",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "zero padding of more than 4 bits",
    ),
    (
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
        "Non-zero padding in 8-to-5 conversion",
    ),
    ("bc1gmk9yu", "Empty data section"),
]
# BIP-173's invalid segwit addresses (all still invalid under BIP-350).
BIP173_INVALID_ADDRESSES = [
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "Invalid human-readable part"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "Invalid checksum"),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "Invalid witness version"),
    ("bc1rw5uspcuh", "Invalid program length"),
    (
        "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
        "Invalid program length",
    ),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "Invalid program length for witness version 0"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "Mixed case"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "zero padding of more than 4 bits"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
        "Non-zero padding in 8-to-5 conversion",
    ),
    ("bc1gmk9yu", "Empty data section"),
]
# BIP-173 listed these v1+ addresses as valid with a Bech32 checksum; BIP-350 made v1+ use
# Bech32m, so they must now be rejected.
BIP173_V1_PLUS_NOW_INVALID = [
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
    "BC1SW50QA3JX3S",
    "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
]


def _script_pubkey(witness_version: int, program: bytes) -> str:
    opcode = 0 if witness_version == 0 else 0x50 + witness_version
    return (bytes([opcode, len(program)]) + program).hex()


@pytest.mark.parametrize("text", BIP173_VALID_BECH32)
def test_bip173_valid_strings_decode_as_bech32(text: str) -> None:
    decoded = bech32_decode(text)
    assert decoded.variant is Bech32Variant.BECH32
    assert bech32_encode(decoded.hrp, decoded.data, decoded.variant) == text.lower()


@pytest.mark.parametrize("text", BIP350_VALID_BECH32M)
def test_bip350_valid_strings_decode_as_bech32m_and_never_as_bech32(text: str) -> None:
    decoded = bech32_decode(text)
    assert decoded.variant is Bech32Variant.BECH32M
    assert bech32_encode(decoded.hrp, decoded.data, decoded.variant) == text.lower()


@pytest.mark.parametrize(("text", "reason"), BIP173_INVALID_BECH32 + BIP350_INVALID_BECH32M)
def test_invalid_bech32_and_bech32m_strings_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(Bech32Error):
        bech32_decode(text)


@pytest.mark.parametrize(("address", "script_hex"), BIP350_VALID_ADDRESSES)
def test_bip350_valid_addresses_decode_to_their_script_pubkey(
    address: str, script_hex: str
) -> None:
    decoded = segwit_decode(address)
    assert _script_pubkey(decoded.witness_version, decoded.program) == script_hex
    parsed = parse_crypto_address(address)
    assert parsed.chain is Chain.BTC
    assert parsed.address == address.lower()
    assert parsed.network is (Network.MAINNET if decoded.hrp == "bc" else Network.TESTNET)
    assert make_bech32_address(decoded.hrp, decoded.witness_version, decoded.program) == (
        address.lower()
    )


@pytest.mark.parametrize(("address", "reason"), BIP350_INVALID_ADDRESSES + BIP173_INVALID_ADDRESSES)
def test_invalid_segwit_addresses_are_rejected(address: str, reason: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_crypto_address(address, Chain.BTC)
    with pytest.raises(InvalidAddress):
        parse_crypto_address(address)


@pytest.mark.parametrize("address", BIP173_V1_PLUS_NOW_INVALID)
def test_bip173_v1_plus_addresses_with_bech32_checksum_are_rejected_per_bip350(
    address: str,
) -> None:
    assert bech32_decode(address).variant is Bech32Variant.BECH32
    with pytest.raises(InvalidAddress, match="bech32m"):
        parse_crypto_address(address)


def test_segwit_kinds_follow_version_and_program_length() -> None:
    assert parse_crypto_address(BIP350_VALID_ADDRESSES[0][0]).kind is AddressKind.P2WPKH
    assert parse_crypto_address(BIP350_VALID_ADDRESSES[1][0]).kind is AddressKind.P2WSH
    assert parse_crypto_address(BIP350_VALID_ADDRESSES[7][0]).kind is AddressKind.P2TR
    assert parse_crypto_address(BIP350_VALID_ADDRESSES[3][0]).kind is AddressKind.WITNESS_UNKNOWN


def test_encoder_refuses_what_segwit_forbids() -> None:
    with pytest.raises(ValueError, match="witness version"):
        make_bech32_address("bc", 17, bytes(20))
    with pytest.raises(ValueError, match="program length"):
        make_bech32_address("bc", 1, bytes(41))
    with pytest.raises(ValueError, match="version 0"):
        make_bech32_address("bc", 0, bytes(21))


_programs = st.one_of(
    st.tuples(st.just(0), st.sampled_from([20, 32])),
    st.tuples(st.integers(1, 16), st.integers(2, 40)),
).flatmap(lambda vl: st.tuples(st.just(vl[0]), st.binary(min_size=vl[1], max_size=vl[1])))


@given(_programs, st.sampled_from(["bc", "tb", "bcrt"]))
def test_segwit_encode_then_decode_is_the_identity(
    version_program: tuple[int, bytes], hrp: str
) -> None:
    version, program = version_program
    address = make_bech32_address(hrp, version, program)
    decoded = segwit_decode(address)
    assert (decoded.hrp, decoded.witness_version, decoded.program) == (hrp, version, program)
    parsed = parse_crypto_address(address)
    assert parsed.address == address
    assert parsed.payload == bytes([version]) + program


@given(_programs, st.data())
def test_any_single_character_substitution_in_a_segwit_address_is_rejected(
    version_program: tuple[int, bytes], data: st.DataObject
) -> None:
    # Bech32 and Bech32m detect every error of up to 4 substituted characters.
    version, program = version_program
    address = make_bech32_address("bc", version, program)
    position = data.draw(st.integers(3, len(address) - 1), label="position")
    replacement = data.draw(
        st.sampled_from([c for c in CHARSET if c != address[position]]), label="replacement"
    )
    mutated = address[:position] + replacement + address[position + 1 :]
    with pytest.raises(InvalidAddress):
        parse_crypto_address(mutated)

"""IBANs: per-country length and structure, the mod-97 check, and the encoders."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.domain.payments import (
    InvalidIban,
    compact_iban,
    iban_lengths,
    is_valid_iban,
    make_iban,
    parse_iban,
    synthetic_iban,
)

# Example IBANs as the national banking communities publish them in the ISO 13616 registry.
REGISTRY_EXAMPLES = [
    "GB29 NWBK 6016 1331 9268 19",
    "DE89 3704 0044 0532 0130 00",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "CH93 0076 2011 6238 5295 7",
    "NO93 8601 1117 947",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    "GB82 WEST 1234 5698 7654 32",
]


@pytest.mark.parametrize("text", REGISTRY_EXAMPLES)
def test_registry_example_ibans_are_valid_in_any_spacing_and_case(text: str) -> None:
    account = parse_iban(text)
    assert account.iban == text.replace(" ", "")
    assert account.formatted == text
    assert parse_iban(text.lower()).iban == account.iban
    assert parse_iban("IBAN " + account.iban).iban == account.iban
    assert account.country_code == text[:2]
    assert account.check_digits == text[2:4]
    assert len(account.iban) == iban_lengths()[account.country_code]


def test_bank_code_is_read_from_the_country_structure() -> None:
    assert parse_iban("DE89 3704 0044 0532 0130 00").bank_code == "37040044"
    assert parse_iban("GB82 WEST 1234 5698 7654 32").bank_code == "WEST"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("GB82 WEST 1234 5698 7654 33", "mod-97"),
        ("DE89 3704 0044 0532 0130 0", "DE IBANs have 22"),
        ("XX89 3704 0044 0532 0130 00", "no IBAN format"),
        ("GB82 WEST 1234 5698 7654 3A", "structure"),
        ("", "2 letters"),
        ("12GB WEST", "2 letters"),
    ],
)
def test_invalid_ibans_are_rejected_naming_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidIban, match=reason):
        parse_iban(text)
    assert not is_valid_iban(text)


def test_lengths_cover_the_registry_including_kosovo() -> None:
    lengths = iban_lengths()
    assert lengths["DE"] == 22
    assert lengths["NO"] == 15
    assert lengths["MT"] == 31
    assert "XK" in lengths
    assert len(lengths) >= 80


def test_make_iban_computes_the_check_digits() -> None:
    assert make_iban("DE", "370400440532013000") == "DE89370400440532013000"
    assert make_iban("gb", "WEST 1234 5698 7654 32") == "GB82WEST12345698765432"
    with pytest.raises(InvalidIban):
        make_iban("DE", "3704004405320130")  # too short for Germany


def test_compact_iban_strips_separators_and_label() -> None:
    assert compact_iban("iban: de89-3704\u00a00044 0532 0130 00") == "DE89370400440532013000"


_countries = st.sampled_from(["DE", "GB", "FR", "NL", "ES", "IT", "BE", "AT", "PL", "SE", "NO"])


@given(_countries, st.binary(max_size=16))
def test_synthetic_ibans_are_valid_and_deterministic(country: str, seed: bytes) -> None:
    iban = synthetic_iban(country, seed)
    assert iban == synthetic_iban(country, seed)
    assert parse_iban(iban).country_code == country
    # make_iban over the BBAN gives back the same IBAN: encode and parse agree.
    assert make_iban(country, parse_iban(iban).bban) == iban


@given(_countries, st.binary(max_size=16), st.data())
def test_any_single_character_substitution_is_rejected(
    country: str, seed: bytes, data: st.DataObject
) -> None:
    # ISO 7064 MOD 97-10 detects every single substituted character.
    iban = synthetic_iban(country, seed)
    position = data.draw(st.integers(0, len(iban) - 1), label="position")
    alphabet = string.ascii_uppercase + string.digits
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != iban[position]]))
    mutated = iban[:position] + replacement + iban[position + 1 :]
    assert not is_valid_iban(mutated)

"""Bech32 (BIP-173) and Bech32m (BIP-350) strings and native segwit addresses.

Written from the two BIPs. A Bech32 string is ``hrp`` + ``1`` + data characters, the last six
of which are a BCH checksum over GF(32); Bech32m differs only in the constant the checksum is
xored with. Segwit addresses carry a witness version (0-16) and a 2-40 byte witness program;
version 0 must use Bech32, versions 1 and above Bech32m.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHAR_VALUE = {c: i for i, c in enumerate(CHARSET)}
# Generator of the BCH code, one coefficient per bit of the top five checksum bits (BIP-173).
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
MAX_LENGTH = 90


class Bech32Variant(Enum):
    """The checksum constant that tells Bech32 (BIP-173) from Bech32m (BIP-350)."""

    BECH32 = 1
    BECH32M = 0x2BC830A3


class Bech32Error(ValueError):
    """A string that is not valid Bech32/Bech32m, or not a valid segwit address."""


@dataclass(frozen=True)
class Bech32String:
    """A decoded Bech32/Bech32m string: lower-case hrp, 5-bit data without checksum, variant."""

    hrp: str
    data: tuple[int, ...]
    variant: Bech32Variant


@dataclass(frozen=True)
class SegwitAddress:
    """A decoded native segwit address."""

    hrp: str
    witness_version: int
    program: bytes
    variant: Bech32Variant


def _polymod(values: Sequence[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    # High bits of each character, a zero, then the low bits: the checksum covers the hrp exactly.
    codes = [ord(c) for c in hrp]
    return [c >> 5 for c in codes] + [0] + [c & 31 for c in codes]


def _checksum(hrp: str, data: Sequence[int], variant: Bech32Variant) -> list[int]:
    residue = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ variant.value
    return [(residue >> (5 * (5 - i))) & 31 for i in range(6)]


def convert_bits(data: Sequence[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    """Regroup ``data`` from ``from_bits``-bit to ``to_bits``-bit integers (big-endian bit order).

    With ``pad`` the last group is filled with zero bits; without it, leftover bits must be fewer
    than ``from_bits`` and all zero, otherwise ``Bech32Error`` is raised.
    """
    acc = 0
    bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise Bech32Error(f"value {value} does not fit in {from_bits} bits")
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
        acc &= (1 << bits) - 1
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits:
        raise Bech32Error("more than 4 bits of padding")
    elif acc:
        raise Bech32Error("non-zero padding bits")
    return out


def bech32_encode(hrp: str, data: Sequence[int], variant: Bech32Variant) -> str:
    """Encode ``hrp`` and 5-bit ``data`` as a lower-case Bech32/Bech32m string.

    Raises ``Bech32Error`` when the hrp or data are out of range or the result exceeds 90
    characters.
    """
    _check_hrp(hrp)
    if hrp != hrp.lower():
        raise Bech32Error("hrp must be lower case when encoding")
    if any(v < 0 or v > 31 for v in data):
        raise Bech32Error("data values must be 5-bit integers")
    text = hrp + "1" + "".join(CHARSET[v] for v in [*data, *_checksum(hrp, data, variant)])
    if len(text) > MAX_LENGTH:
        raise Bech32Error(f"encoded length {len(text)} exceeds {MAX_LENGTH}")
    return text


def _check_hrp(hrp: str) -> None:
    if not 1 <= len(hrp) <= 83:
        raise Bech32Error("hrp must be 1 to 83 characters")
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("hrp character out of range")


def bech32_decode(text: str, *, max_length: int = MAX_LENGTH) -> Bech32String:
    """Decode a Bech32 or Bech32m string, telling which variant its checksum holds for.

    Rejects mixed case, characters outside US-ASCII 33-126, a missing or empty hrp, fewer than
    six data characters, data characters outside the Bech32 alphabet, strings longer than
    ``max_length``, and checksums valid for neither variant.
    """
    if len(text) > max_length:
        raise Bech32Error(f"length {len(text)} exceeds {max_length}")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise Bech32Error("character out of range")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixed case")
    lowered = text.lower()
    sep = lowered.rfind("1")
    if sep < 0:
        raise Bech32Error("no separator character")
    if sep == 0:
        raise Bech32Error("empty hrp")
    if len(lowered) - sep - 1 < 6:
        raise Bech32Error("checksum too short")
    hrp = lowered[:sep]
    try:
        data = [_CHAR_VALUE[c] for c in lowered[sep + 1 :]]
    except KeyError as exc:
        raise Bech32Error(f"invalid data character {exc.args[0]!r}") from None
    residue = _polymod([*_hrp_expand(hrp), *data])
    for variant in Bech32Variant:
        if residue == variant.value:
            return Bech32String(hrp, tuple(data[:-6]), variant)
    raise Bech32Error("invalid checksum")


def segwit_encode(hrp: str, witness_version: int, program: bytes) -> str:
    """Encode a native segwit address: Bech32 for version 0, Bech32m for versions 1-16.

    Raises ``Bech32Error`` for a version outside 0-16, a program outside 2-40 bytes, or a
    version 0 program that is neither 20 nor 32 bytes.
    """
    _check_witness(witness_version, program)
    variant = Bech32Variant.BECH32 if witness_version == 0 else Bech32Variant.BECH32M
    data = [witness_version, *convert_bits(program, 8, 5, pad=True)]
    return bech32_encode(hrp, data, variant)


def _check_witness(witness_version: int, program: bytes) -> None:
    if not 0 <= witness_version <= 16:
        raise Bech32Error(f"invalid witness version {witness_version}")
    if not 2 <= len(program) <= 40:
        raise Bech32Error(f"invalid program length ({len(program)} bytes)")
    if witness_version == 0 and len(program) not in (20, 32):
        raise Bech32Error(f"invalid program length for witness version 0 ({len(program)} bytes)")


def segwit_decode(text: str) -> SegwitAddress:
    """Decode a native segwit address of any hrp, checking everything BIP-173/BIP-350 require.

    The caller decides which hrps it accepts.
    """
    decoded = bech32_decode(text)
    if not decoded.data:
        raise Bech32Error("empty data section")
    witness_version = decoded.data[0]
    if witness_version > 16:
        raise Bech32Error(f"invalid witness version {witness_version}")
    program = bytes(convert_bits(decoded.data[1:], 5, 8, pad=False))
    _check_witness(witness_version, program)
    expected = Bech32Variant.BECH32 if witness_version == 0 else Bech32Variant.BECH32M
    if decoded.variant is not expected:
        raise Bech32Error(
            f"witness version {witness_version} needs a {expected.name.lower()} checksum, "
            f"found {decoded.variant.name.lower()}"
        )
    return SegwitAddress(decoded.hrp, witness_version, program, decoded.variant)

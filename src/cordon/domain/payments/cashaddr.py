"""Bitcoin Cash CashAddr addresses, written from the CashAddr specification (version 1.1).

``prefix:payload``: the payload is a version byte and a hash in 5-bit groups, followed by a
40-bit BCH checksum over the lower five bits of each prefix character, a zero for the
separator, and the payload. The version byte's type bits say P2PKH (0) or P2SH (1); its size
bits say the hash length, so the length is checkable. The prefix may be left out when shown, in
which case the checksum tells the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cordon.domain.payments.bech32 import CHARSET, Bech32Error, convert_bits

_CHAR_VALUE = {c: i for i, c in enumerate(CHARSET)}
# One generator per bit of the top five checksum bits (spec, section "Checksum").
_GENERATOR = (0x98F2BC8E61, 0x79B76D99E2, 0xF33E5FB3C4, 0xAE2EABE2A8, 0x1E4F43E470)
# Size bits -> hash length in bytes.
HASH_SIZES = (20, 24, 28, 32, 40, 48, 56, 64)
PREFIXES = ("bitcoincash", "bchtest", "bchreg")


class CashAddrError(ValueError):
    """A string that is not a valid CashAddr address."""


@dataclass(frozen=True)
class CashAddr:
    """A decoded CashAddr: lower-case prefix, type bits (0 P2PKH, 1 P2SH, others undefined)
    and the hash."""

    prefix: str
    type_bits: int
    hash: bytes


def _polymod(values: Sequence[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 35
        chk = ((chk & 0x07FFFFFFFF) << 5) ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk ^ 1


def _prefix_values(prefix: str) -> list[int]:
    return [ord(c) & 31 for c in prefix] + [0]


def cashaddr_checksum_ok(prefix: str, payload: str) -> bool:
    """Whether the checksum of ``prefix:payload`` holds (case-insensitive, no payload checks)."""
    try:
        values = [_CHAR_VALUE[c] for c in payload.lower()]
    except KeyError:
        return False
    return _polymod([*_prefix_values(prefix.lower()), *values]) == 0


def cashaddr_encode(prefix: str, type_bits: int, hash_: bytes) -> str:
    """Encode ``prefix:payload`` in lower case for a hash of one of the specified sizes."""
    if not prefix or any(not ("a" <= c <= "z" or "0" <= c <= "9") for c in prefix):
        raise CashAddrError(f"prefix {prefix!r} must be lower-case letters and digits")
    if not 0 <= type_bits <= 15:
        raise CashAddrError(f"type {type_bits} does not fit in 4 bits")
    if len(hash_) not in HASH_SIZES:
        raise CashAddrError(f"hash of {len(hash_)} bytes has no size code")
    version = (type_bits << 3) | HASH_SIZES.index(len(hash_))
    data = convert_bits([version, *hash_], 8, 5, pad=True)
    residue = _polymod([*_prefix_values(prefix), *data, 0, 0, 0, 0, 0, 0, 0, 0])
    checksum = [(residue >> (5 * (7 - i))) & 31 for i in range(8)]
    return prefix + ":" + "".join(CHARSET[v] for v in [*data, *checksum])


def cashaddr_decode(text: str, *, default_prefixes: Sequence[str] = PREFIXES) -> CashAddr:
    """Decode a CashAddr with or without its prefix.

    Without a prefix, each of ``default_prefixes`` is tried and the one whose checksum holds is
    the address's prefix. Rejects mixed case, characters outside the alphabet, a bad checksum,
    a set reserved bit, non-zero padding, and a hash whose length disagrees with the size bits.
    """
    if text.lower() != text and text.upper() != text:
        raise CashAddrError("mixed case")
    lowered = text.lower()
    if ":" in lowered:
        prefix, _, payload = lowered.rpartition(":")
        candidates: Sequence[str] = (prefix,)
    else:
        payload = lowered
        candidates = default_prefixes
    if len(payload) < 9:
        raise CashAddrError("payload too short")
    try:
        values = [_CHAR_VALUE[c] for c in payload]
    except KeyError as exc:
        raise CashAddrError(f"invalid character {exc.args[0]!r}") from None
    for prefix in candidates:
        if _polymod([*_prefix_values(prefix), *values]) == 0:
            break
    else:
        raise CashAddrError("invalid checksum")
    try:
        raw = convert_bits(values[:-8], 5, 8, pad=False)
    except Bech32Error as exc:
        raise CashAddrError(str(exc)) from None
    if not raw:
        raise CashAddrError("empty payload")
    version, hash_ = raw[0], bytes(raw[1:])
    if version & 0x80:
        raise CashAddrError("reserved version bit set")
    if len(hash_) != HASH_SIZES[version & 7]:
        raise CashAddrError(
            f"hash is {len(hash_)} bytes but the size bits say {HASH_SIZES[version & 7]}"
        )
    return CashAddr(prefix, version >> 3, hash_)

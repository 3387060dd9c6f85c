"""Monero's block base58 and Monero addresses.

Monero does not encode the whole byte string as one base58 number: it cuts it into 8-byte
blocks, writes each full block as exactly 11 characters (left-padded with ``1``) and the last,
shorter block as the fixed width its byte count needs. An address is a varint network prefix,
the 32-byte public spend key, the 32-byte public view key (plus an 8-byte payment id for an
integrated address), then the first four bytes of the Keccak-256 of all that.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cordon.domain.payments.keccak import keccak256

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_FULL_BLOCK = 8
_FULL_ENCODED = 11
# Encoded width of a block of n bytes, n = 0..8.
_ENCODED_SIZES = (0, 2, 3, 5, 6, 7, 9, 10, 11)
_DECODED_SIZES = {size: n for n, size in enumerate(_ENCODED_SIZES)}


class MoneroAddressType(StrEnum):
    """The three kinds of Monero address."""

    STANDARD = "standard"
    INTEGRATED = "integrated"
    SUBADDRESS = "subaddress"


# (network, address type) -> varint prefix, from Monero's cryptonote_config.
NETWORK_PREFIXES: dict[tuple[str, MoneroAddressType], int] = {
    ("mainnet", MoneroAddressType.STANDARD): 18,
    ("mainnet", MoneroAddressType.INTEGRATED): 19,
    ("mainnet", MoneroAddressType.SUBADDRESS): 42,
    ("testnet", MoneroAddressType.STANDARD): 53,
    ("testnet", MoneroAddressType.INTEGRATED): 54,
    ("testnet", MoneroAddressType.SUBADDRESS): 63,
    ("stagenet", MoneroAddressType.STANDARD): 24,
    ("stagenet", MoneroAddressType.INTEGRATED): 25,
    ("stagenet", MoneroAddressType.SUBADDRESS): 36,
}
_BY_PREFIX = {prefix: key for key, prefix in NETWORK_PREFIXES.items()}


class MoneroError(ValueError):
    """A string that is not valid Monero base58 or not a valid Monero address."""


@dataclass(frozen=True)
class MoneroAddress:
    """A decoded Monero address."""

    network: str
    address_type: MoneroAddressType
    public_spend_key: bytes
    public_view_key: bytes
    payment_id: bytes | None


def b58encode(data: bytes) -> str:
    """Encode bytes in Monero's block base58."""
    out: list[str] = []
    for start in range(0, len(data), _FULL_BLOCK):
        block = data[start : start + _FULL_BLOCK]
        value = int.from_bytes(block, "big")
        chars: list[str] = []
        while value:
            value, digit = divmod(value, 58)
            chars.append(ALPHABET[digit])
        width = _ENCODED_SIZES[len(block)]
        out.append("".join(reversed(chars)).rjust(width, ALPHABET[0]))
    return "".join(out)


def b58decode(text: str) -> bytes:
    """Decode Monero's block base58, rejecting impossible last-block widths and block overflow."""
    out = bytearray()
    for start in range(0, len(text), _FULL_ENCODED):
        chunk = text[start : start + _FULL_ENCODED]
        size = _DECODED_SIZES.get(len(chunk))
        if size is None:
            raise MoneroError(f"a last block of {len(chunk)} characters is impossible")
        value = 0
        for c in chunk:
            digit = _VALUE.get(c)
            if digit is None:
                raise MoneroError(f"invalid base58 character {c!r}")
            value = value * 58 + digit
        if value >> (8 * size):
            raise MoneroError("block value overflows its byte width")
        out += value.to_bytes(size, "big")
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes) -> tuple[int, int]:
    value = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise MoneroError("unterminated varint prefix")


def encode_address(
    public_spend_key: bytes,
    public_view_key: bytes,
    *,
    address_type: MoneroAddressType = MoneroAddressType.STANDARD,
    network: str = "mainnet",
    payment_id: bytes | None = None,
) -> str:
    """Encode a Monero address from its two 32-byte public keys (and 8-byte payment id when
    integrated)."""
    if len(public_spend_key) != 32 or len(public_view_key) != 32:
        raise MoneroError("public keys must be 32 bytes each")
    if (address_type is MoneroAddressType.INTEGRATED) != (payment_id is not None):
        raise MoneroError("a payment id is given exactly for integrated addresses")
    if payment_id is not None and len(payment_id) != 8:
        raise MoneroError("payment id must be 8 bytes")
    try:
        prefix = NETWORK_PREFIXES[(network, address_type)]
    except KeyError:
        raise MoneroError(f"unknown network {network!r}") from None
    body = _varint(prefix) + public_spend_key + public_view_key + (payment_id or b"")
    return b58encode(body + keccak256(body)[:4])


def decode_address(text: str) -> MoneroAddress:
    """Decode a Monero address, checking the prefix, the length and the Keccak checksum."""
    raw = b58decode(text)
    prefix, used = _read_varint(raw)
    key = _BY_PREFIX.get(prefix)
    if key is None:
        raise MoneroError(f"unknown network prefix {prefix}")
    network, address_type = key
    expected = used + 64 + (8 if address_type is MoneroAddressType.INTEGRATED else 0) + 4
    if len(raw) != expected:
        raise MoneroError(f"{len(raw)} bytes where a {address_type} address has {expected}")
    body, checksum = raw[:-4], raw[-4:]
    if keccak256(body)[:4] != checksum:
        raise MoneroError("invalid checksum")
    spend, view = body[used : used + 32], body[used + 32 : used + 64]
    payment_id = body[used + 64 :] if address_type is MoneroAddressType.INTEGRATED else None
    return MoneroAddress(network, address_type, spend, view, payment_id)

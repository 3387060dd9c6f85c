"""Keccak-256 as Ethereum, Tron and Monero use it (the pre-standard padding, not SHA3-256)."""

from __future__ import annotations

from Crypto.Hash import keccak


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte Keccak-256 digest of ``data``."""
    return bytes(keccak.new(digest_bits=256, data=data).digest())

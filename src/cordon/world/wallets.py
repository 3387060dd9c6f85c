"""Valid, fictitious cryptocurrency addresses for the world's networks.

Each address is made from random bytes and carries a correct checksum (Base58Check, Bech32,
Bech32m, EIP-55), so that Cordon's validators accept it; no key behind it is ever known.
"""

from __future__ import annotations

import random

import base58
from Crypto.Hash import keccak

from cordon.domain.payments.bech32 import segwit_encode

BTC_KINDS = ("p2pkh", "p2sh", "p2wpkh", "p2tr")


def btc_address(rng: random.Random, kind: str) -> str:
    """A mainnet Bitcoin address of ``kind`` (p2pkh ``1…``, p2sh ``3…``, p2wpkh ``bc1q…``,
    p2tr ``bc1p…``) with a valid checksum."""
    if kind == "p2pkh":
        return base58.b58encode_check(b"\x00" + rng.randbytes(20)).decode("ascii")
    if kind == "p2sh":
        return base58.b58encode_check(b"\x05" + rng.randbytes(20)).decode("ascii")
    if kind == "p2wpkh":
        return segwit_encode("bc", 0, rng.randbytes(20))
    if kind == "p2tr":
        return segwit_encode("bc", 1, rng.randbytes(32))
    raise ValueError(f"unknown bitcoin address kind {kind!r}")


def eip55(address_hex: str) -> str:
    """The EIP-55 mixed-case checksum spelling of a 40-digit hex Ethereum address."""
    lower = address_hex.lower().removeprefix("0x")
    if len(lower) != 40 or any(c not in "0123456789abcdef" for c in lower):
        raise ValueError(f"not a 20-byte hex address: {address_hex!r}")
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower)
    )


def eth_address(rng: random.Random) -> str:
    """An Ethereum address with a valid EIP-55 checksum."""
    return eip55(rng.randbytes(20).hex())

"""Crypto addresses: parse with every checksum checked, and encode from raw bytes.

Chains: BTC, LTC (base58check and Bech32/Bech32m), BCH (CashAddr, and legacy base58check),
ETH (EIP-55), TRX (base58check with the 0x41 prefix), XMR (Monero block base58 with a Keccak
checksum). Parsing returns a ``CryptoAddress`` whose ``address`` is the normalised form that
two sightings of one address share; the encoders are the inverse, used to make valid addresses
from chosen bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

import base58

from cordon.domain.payments import monero
from cordon.domain.payments.bech32 import Bech32Error, segwit_decode, segwit_encode
from cordon.domain.payments.cashaddr import CashAddrError, cashaddr_decode, cashaddr_encode
from cordon.domain.payments.errors import InvalidAddress
from cordon.domain.payments.keccak import keccak256


class Chain(StrEnum):
    """The chains whose addresses Cordon validates."""

    BTC = "btc"
    LTC = "ltc"
    BCH = "bch"
    ETH = "eth"
    TRX = "trx"
    XMR = "xmr"


class AddressKind(StrEnum):
    """What an address pays to."""

    P2PKH = "p2pkh"
    P2SH = "p2sh"
    P2WPKH = "p2wpkh"
    P2WSH = "p2wsh"
    P2TR = "p2tr"
    WITNESS_UNKNOWN = "witness_unknown"  # segwit v1 not 32 bytes, or v2-16: valid, not yet used
    ACCOUNT = "account"  # ETH and TRX account addresses
    STANDARD = "standard"  # XMR primary address
    SUBADDRESS = "subaddress"
    INTEGRATED = "integrated"


class Network(StrEnum):
    """The network an address belongs to."""

    MAINNET = "mainnet"
    TESTNET = "testnet"
    REGTEST = "regtest"
    STAGENET = "stagenet"


@dataclass(frozen=True)
class CryptoAddress:
    """A crypto address whose checksum holds.

    ``address`` is the normalised form (lower-case Bech32/CashAddr with ``bitcoincash:``-style
    prefix, EIP-55 for ETH, base58 as written otherwise). ``payload`` is the hash, witness
    program, or public keys the address encodes. ``checksummed`` is False only for an ETH
    address written all lower or all upper case that differs from its EIP-55 form: it carries
    no checksum, so a typo in it cannot be noticed.
    """

    chain: Chain
    kind: AddressKind
    address: str
    network: Network
    payload: bytes
    checksummed: bool = True

    def __str__(self) -> str:
        return self.address


# ---------------------------------------------------------------- version bytes and hrps

# (chain, version byte) -> (kind, network) for base58check addresses.
_BASE58_VERSIONS: dict[Chain, dict[int, tuple[AddressKind, Network]]] = {
    Chain.BTC: {
        0x00: (AddressKind.P2PKH, Network.MAINNET),
        0x05: (AddressKind.P2SH, Network.MAINNET),
        0x6F: (AddressKind.P2PKH, Network.TESTNET),
        0xC4: (AddressKind.P2SH, Network.TESTNET),
    },
    Chain.LTC: {
        0x30: (AddressKind.P2PKH, Network.MAINNET),  # L...
        0x32: (AddressKind.P2SH, Network.MAINNET),  # M...
        0x05: (AddressKind.P2SH, Network.MAINNET),  # 3..., the older P2SH form shared with BTC
        0x6F: (AddressKind.P2PKH, Network.TESTNET),
        0x3A: (AddressKind.P2SH, Network.TESTNET),  # Q...
        0xC4: (AddressKind.P2SH, Network.TESTNET),
    },
    # Legacy BCH addresses are byte-identical to BTC ones; accepted only when asked for BCH.
    Chain.BCH: {
        0x00: (AddressKind.P2PKH, Network.MAINNET),
        0x05: (AddressKind.P2SH, Network.MAINNET),
        0x6F: (AddressKind.P2PKH, Network.TESTNET),
        0xC4: (AddressKind.P2SH, Network.TESTNET),
    },
}
_VERSION_OF = {
    chain: {value: version for version, value in table.items()}
    for chain, table in _BASE58_VERSIONS.items()
}
# Preferred version byte for encoding LTC P2SH (M... rather than the shared 3...).
_VERSION_OF[Chain.LTC][(AddressKind.P2SH, Network.MAINNET)] = 0x32
_VERSION_OF[Chain.LTC][(AddressKind.P2SH, Network.TESTNET)] = 0x3A

_SEGWIT_HRPS: dict[Chain, dict[str, Network]] = {
    Chain.BTC: {"bc": Network.MAINNET, "tb": Network.TESTNET, "bcrt": Network.REGTEST},
    Chain.LTC: {"ltc": Network.MAINNET, "tltc": Network.TESTNET, "rltc": Network.REGTEST},
}
_HRP_OF = {chain: {n: h for h, n in table.items()} for chain, table in _SEGWIT_HRPS.items()}

_CASHADDR_PREFIXES = {
    "bitcoincash": Network.MAINNET,
    "bchtest": Network.TESTNET,
    "bchreg": Network.REGTEST,
}
_CASHADDR_PREFIX_OF = {n: p for p, n in _CASHADDR_PREFIXES.items()}

_TRON_VERSION = 0x41
_XMR_NETWORKS = {
    "mainnet": Network.MAINNET,
    "testnet": Network.TESTNET,
    "stagenet": Network.STAGENET,
}
_XMR_KINDS = {
    monero.MoneroAddressType.STANDARD: AddressKind.STANDARD,
    monero.MoneroAddressType.SUBADDRESS: AddressKind.SUBADDRESS,
    monero.MoneroAddressType.INTEGRATED: AddressKind.INTEGRATED,
}

_BASE58_RE = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
_HEX40_RE = re.compile(r"0x([0-9a-fA-F]{40})")


# ---------------------------------------------------------------- encoders


def _need_bytes(payload: bytes, size: int, what: str) -> None:
    if not isinstance(payload, bytes | bytearray) or len(payload) != size:
        raise ValueError(f"{what} must be exactly {size} bytes")


def base58check_encode(version: int, payload: bytes) -> str:
    """Base58check of one version byte followed by ``payload`` (double SHA-256 checksum)."""
    return base58.b58encode_check(bytes([version]) + bytes(payload)).decode("ascii")


def make_btc_p2pkh(payload20: bytes, *, network: Network = Network.MAINNET) -> str:
    """A BTC pay-to-pubkey-hash address (1... on mainnet, m/n... on testnet) for a 20-byte hash."""
    _need_bytes(payload20, 20, "P2PKH hash")
    return base58check_encode(_VERSION_OF[Chain.BTC][(AddressKind.P2PKH, network)], payload20)


def make_btc_p2sh(payload20: bytes, *, network: Network = Network.MAINNET) -> str:
    """A BTC pay-to-script-hash address (3... on mainnet, 2... on testnet) for a 20-byte hash."""
    _need_bytes(payload20, 20, "P2SH hash")
    return base58check_encode(_VERSION_OF[Chain.BTC][(AddressKind.P2SH, network)], payload20)


def make_bech32_address(hrp: str, witver: int, program: bytes) -> str:
    """A native segwit address for any hrp: Bech32 for ``witver`` 0, Bech32m for 1-16.

    Raises ``ValueError`` for a version outside 0-16 or a program length segwit forbids.
    """
    return segwit_encode(hrp, witver, bytes(program))


def make_btc_segwit(program: bytes, *, witver: int = 0, network: Network = Network.MAINNET) -> str:
    """A BTC native segwit address: 20-byte program -> P2WPKH, 32 -> P2WSH (v0) or P2TR (v1)."""
    return segwit_encode(_HRP_OF[Chain.BTC][network], witver, bytes(program))


def make_ltc_p2pkh(payload20: bytes, *, network: Network = Network.MAINNET) -> str:
    """An LTC pay-to-pubkey-hash address (L... on mainnet) for a 20-byte hash."""
    _need_bytes(payload20, 20, "P2PKH hash")
    return base58check_encode(_VERSION_OF[Chain.LTC][(AddressKind.P2PKH, network)], payload20)


def make_ltc_p2sh(payload20: bytes, *, network: Network = Network.MAINNET) -> str:
    """An LTC pay-to-script-hash address in the current M... form for a 20-byte hash."""
    _need_bytes(payload20, 20, "P2SH hash")
    return base58check_encode(_VERSION_OF[Chain.LTC][(AddressKind.P2SH, network)], payload20)


def make_ltc_segwit(program: bytes, *, witver: int = 0, network: Network = Network.MAINNET) -> str:
    """An LTC native segwit address (ltc1...)."""
    return segwit_encode(_HRP_OF[Chain.LTC][network], witver, bytes(program))


def make_bch_cashaddr(
    payload: bytes,
    *,
    kind: AddressKind = AddressKind.P2PKH,
    network: Network = Network.MAINNET,
    with_prefix: bool = True,
) -> str:
    """A BCH CashAddr for a 20-byte (or 32-byte P2SH) hash, ``bitcoincash:q...`` by default."""
    if kind not in (AddressKind.P2PKH, AddressKind.P2SH):
        raise ValueError("a CashAddr is P2PKH or P2SH")
    if len(payload) not in (20, 32) or (len(payload) == 32 and kind is AddressKind.P2PKH):
        raise ValueError("CashAddr hash must be 20 bytes (or 32 for P2SH)")
    text = cashaddr_encode(
        _CASHADDR_PREFIX_OF[network], 0 if kind is AddressKind.P2PKH else 1, bytes(payload)
    )
    return text if with_prefix else text.partition(":")[2]


def to_eip55(address: bytes | str) -> str:
    """The EIP-55 mixed-case checksummed form ``0x...`` of a 20-byte ETH address.

    Accepts the 20 raw bytes or a 40-hex-digit string with or without ``0x`` in any case.
    """
    if isinstance(address, bytes | bytearray):
        _need_bytes(bytes(address), 20, "ETH address")
        hex_ = bytes(address).hex()
    else:
        hex_ = address[2:] if address[:2] in ("0x", "0X") else address
        if not re.fullmatch(r"[0-9a-fA-F]{40}", hex_):
            raise ValueError("an ETH address is 40 hex digits")
        hex_ = hex_.lower()
    digest = keccak256(hex_.encode("ascii")).hex()
    # A letter is upper case exactly when the matching nibble of the hash is 8 or more.
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(h, 16) >= 8 else c
        for c, h in zip(hex_, digest[:40], strict=True)
    )


def make_eth_address(payload20: bytes) -> str:
    """An ETH account address in EIP-55 form for 20 bytes."""
    return to_eip55(payload20)


def make_trx_address(payload20: bytes) -> str:
    """A TRX (Tron) account address T... for 20 bytes (base58check of 0x41 + bytes)."""
    _need_bytes(payload20, 20, "TRX address")
    return base58check_encode(_TRON_VERSION, payload20)


def make_xmr_address(
    public_spend_key: bytes,
    public_view_key: bytes,
    *,
    kind: AddressKind = AddressKind.STANDARD,
    network: Network = Network.MAINNET,
    payment_id: bytes | None = None,
) -> str:
    """A Monero address (4... standard, 8... subaddress, 4... integrated with a payment id).

    The keys are taken as given: the checksum is valid for any 32 bytes, real wallets use
    points of ed25519.
    """
    types = {v: k for k, v in _XMR_KINDS.items()}
    if kind not in types:
        raise ValueError("an XMR address is standard, subaddress or integrated")
    nets = {v: k for k, v in _XMR_NETWORKS.items()}
    if network not in nets:
        raise ValueError(f"XMR has no {network} network")
    try:
        return monero.encode_address(
            bytes(public_spend_key),
            bytes(public_view_key),
            address_type=types[kind],
            network=nets[network],
            payment_id=payment_id,
        )
    except monero.MoneroError as exc:
        raise ValueError(str(exc)) from None


def synthetic_address(chain: Chain | str, seed: bytes, *, kind: AddressKind | None = None) -> str:
    """A valid address of ``chain`` derived deterministically from ``seed`` (same seed, same
    address), for synthetic data. ``kind`` picks the form; the default is each chain's most
    common one (BTC P2WPKH, LTC P2WPKH, BCH P2PKH, ETH/TRX account, XMR standard).
    """
    chain = Chain(chain)
    material = hashlib.sha512(b"cordon-synthetic-address\x00" + chain.value.encode() + seed)
    stream = material.digest() + hashlib.sha512(material.digest()).digest()
    h20, h32 = stream[:20], stream[20:52]
    if chain in (Chain.BTC, Chain.LTC):
        kind = kind or AddressKind.P2WPKH
        base_p2pkh = make_btc_p2pkh if chain is Chain.BTC else make_ltc_p2pkh
        base_p2sh = make_btc_p2sh if chain is Chain.BTC else make_ltc_p2sh
        segwit = make_btc_segwit if chain is Chain.BTC else make_ltc_segwit
        makers = {
            AddressKind.P2PKH: lambda: base_p2pkh(h20),
            AddressKind.P2SH: lambda: base_p2sh(h20),
            AddressKind.P2WPKH: lambda: segwit(h20),
            AddressKind.P2WSH: lambda: segwit(h32),
            AddressKind.P2TR: lambda: segwit(h32, witver=1),
        }
        if kind not in makers:
            raise ValueError(f"{chain} has no synthetic {kind} address")
        return makers[kind]()
    if chain is Chain.BCH:
        return make_bch_cashaddr(h20, kind=kind or AddressKind.P2PKH)
    if chain is Chain.ETH:
        return make_eth_address(h20)
    if chain is Chain.TRX:
        return make_trx_address(h20)
    payment_id = stream[84:92] if kind is AddressKind.INTEGRATED else None
    return make_xmr_address(
        h32, stream[52:84], kind=kind or AddressKind.STANDARD, payment_id=payment_id
    )


# ---------------------------------------------------------------- parsers


def _base58check(text: str, chain: Chain) -> tuple[int, bytes]:
    if not _BASE58_RE.fullmatch(text):
        raise InvalidAddress(text, "not base58")
    if not 26 <= len(text) <= 35:
        raise InvalidAddress(text, f"{len(text)} characters is not a base58check address length")
    try:
        raw = bytes(base58.b58decode_check(text))
    except ValueError:
        raise InvalidAddress(text, "base58check checksum does not hold") from None
    if len(raw) != 21:
        raise InvalidAddress(text, f"decodes to {len(raw)} bytes, an address has 21")
    return raw[0], raw[1:]


def _parse_base58_address(text: str, chain: Chain) -> CryptoAddress:
    version, payload = _base58check(text, chain)
    found = _BASE58_VERSIONS[chain].get(version)
    if found is None:
        raise InvalidAddress(text, f"version byte 0x{version:02x} is not a {chain.name} address")
    kind, network = found
    return CryptoAddress(chain, kind, text, network, payload)


def _segwit_kind(witver: int, program: bytes) -> AddressKind:
    if witver == 0:
        return AddressKind.P2WPKH if len(program) == 20 else AddressKind.P2WSH
    if witver == 1 and len(program) == 32:
        return AddressKind.P2TR
    return AddressKind.WITNESS_UNKNOWN


def _parse_segwit(text: str, chain: Chain) -> CryptoAddress:
    try:
        decoded = segwit_decode(text)
    except Bech32Error as exc:
        raise InvalidAddress(text, str(exc)) from None
    network = _SEGWIT_HRPS[chain].get(decoded.hrp)
    if network is None:
        raise InvalidAddress(text, f"human-readable part {decoded.hrp!r} is not {chain.name}")
    return CryptoAddress(
        chain,
        _segwit_kind(decoded.witness_version, decoded.program),
        text.lower(),
        network,
        bytes([decoded.witness_version]) + decoded.program,
    )


def _parse_bitcoin_like(text: str, chain: Chain) -> CryptoAddress:
    lowered = text.lower()
    if any(lowered.startswith(hrp + "1") for hrp in _SEGWIT_HRPS[chain]):
        return _parse_segwit(text, chain)
    return _parse_base58_address(text, chain)


def _parse_bch(text: str) -> CryptoAddress:
    if ":" not in text and _BASE58_RE.fullmatch(text) and text[0] in "13mn2":
        return _parse_base58_address(text, Chain.BCH)
    try:
        decoded = cashaddr_decode(text, default_prefixes=tuple(_CASHADDR_PREFIXES))
    except CashAddrError as exc:
        raise InvalidAddress(text, str(exc)) from None
    network = _CASHADDR_PREFIXES.get(decoded.prefix)
    if network is None:
        raise InvalidAddress(text, f"prefix {decoded.prefix!r} is not a Bitcoin Cash network")
    if decoded.type_bits not in (0, 1):
        raise InvalidAddress(text, f"CashAddr type {decoded.type_bits} is not P2PKH or P2SH")
    kind = AddressKind.P2PKH if decoded.type_bits == 0 else AddressKind.P2SH
    if len(decoded.hash) != 20 and not (kind is AddressKind.P2SH and len(decoded.hash) == 32):
        raise InvalidAddress(text, f"a {len(decoded.hash)}-byte {kind} hash is not in use")
    normalised = decoded.prefix + ":" + text.lower().rpartition(":")[2]
    return CryptoAddress(Chain.BCH, kind, normalised, network, decoded.hash)


def _parse_eth(text: str) -> CryptoAddress:
    match = _HEX40_RE.fullmatch(text)
    if match is None:
        raise InvalidAddress(text, "an ETH address is 0x followed by 40 hex digits")
    hex_ = match.group(1)
    eip55 = to_eip55(hex_)
    single_case = hex_ == hex_.lower() or hex_ == hex_.upper()
    if not single_case and "0x" + hex_ != eip55:
        raise InvalidAddress(text, "EIP-55 mixed-case checksum does not hold")
    return CryptoAddress(
        Chain.ETH,
        AddressKind.ACCOUNT,
        eip55,
        Network.MAINNET,
        bytes.fromhex(hex_),
        # An address with no letters, or whose EIP-55 form happens to be single-case, is its
        # own checksummed form.
        checksummed="0x" + hex_ == eip55,
    )


def _parse_trx(text: str) -> CryptoAddress:
    version, payload = _base58check(text, Chain.TRX)
    if version != _TRON_VERSION:
        raise InvalidAddress(text, f"version byte 0x{version:02x} is not Tron's 0x41")
    return CryptoAddress(Chain.TRX, AddressKind.ACCOUNT, text, Network.MAINNET, payload)


def _parse_xmr(text: str) -> CryptoAddress:
    if len(text) not in (95, 106):
        raise InvalidAddress(text, f"{len(text)} characters is not a Monero address length")
    try:
        decoded = monero.decode_address(text)
    except monero.MoneroError as exc:
        raise InvalidAddress(text, str(exc)) from None
    return CryptoAddress(
        Chain.XMR,
        _XMR_KINDS[decoded.address_type],
        text,
        _XMR_NETWORKS[decoded.network],
        decoded.public_spend_key + decoded.public_view_key + (decoded.payment_id or b""),
    )


_PARSERS = {
    Chain.BTC: lambda text: _parse_bitcoin_like(text, Chain.BTC),
    Chain.LTC: lambda text: _parse_bitcoin_like(text, Chain.LTC),
    Chain.BCH: _parse_bch,
    Chain.ETH: _parse_eth,
    Chain.TRX: _parse_trx,
    Chain.XMR: _parse_xmr,
}


def _guess_chains(text: str) -> list[Chain]:
    lowered = text.lower()
    if lowered.startswith("0x"):
        return [Chain.ETH]
    if lowered.startswith(("bc1", "tb1", "bcrt1")):
        return [Chain.BTC]
    if lowered.startswith(("ltc1", "tltc1", "rltc1")):
        return [Chain.LTC]
    if lowered.startswith(("bitcoincash:", "bchtest:", "bchreg:")) or (
        len(text) == 42 and lowered[0] in "qp"
    ):
        return [Chain.BCH]
    if len(text) in (95, 106):
        return [Chain.XMR]
    if text.startswith("T"):
        return [Chain.TRX]
    if text[:1] in ("L", "M", "Q"):
        return [Chain.LTC]
    # 1/3/m/n/2 are BTC's; a 3... is also an older LTC P2SH, which only a chain hint can say.
    return [Chain.BTC]


def parse_crypto_address(text: str, chain: Chain | str | None = None) -> CryptoAddress:
    """Parse a crypto address, checking its format, network and checksum.

    With ``chain`` the address must belong to that chain; without, the chain is told from the
    address's form (an address valid on several chains, such as a 3... P2SH shared by BTC and
    LTC, or a legacy BCH address, is reported as BTC). Surrounding whitespace is ignored; a
    ``bitcoin:``/``litecoin:``/``ethereum:`` style URI scheme is not (parse the URI first).
    Raises ``InvalidAddress`` naming what is wrong.
    """
    stripped = text.strip()
    if not stripped:
        raise InvalidAddress(text, "empty")
    if len(stripped) > 130:
        raise InvalidAddress(text, "too long for any supported address")
    if chain is not None:
        try:
            wanted = Chain(str(chain).lower())
        except ValueError:
            raise InvalidAddress(text, f"unknown chain {chain!r}") from None
        return _PARSERS[wanted](stripped)
    errors: list[InvalidAddress] = []
    for guess in _guess_chains(stripped):
        try:
            return _PARSERS[guess](stripped)
        except InvalidAddress as exc:
            errors.append(exc)
    raise errors[0]


def is_valid_crypto_address(text: str, chain: Chain | str | None = None) -> bool:
    """Whether ``parse_crypto_address`` accepts ``text``."""
    try:
        parse_crypto_address(text, chain)
    except InvalidAddress:
        return False
    return True

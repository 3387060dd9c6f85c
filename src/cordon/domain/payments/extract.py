"""Find payment identifiers in page text or HTML: crypto addresses, IBANs, checkout links.

Every candidate is validated (checksums, lengths, registered checkout providers) and only
valid identifiers are returned, one per identifier with every position it was seen at.
Candidates are found by cheap literal anchors ("0x", "bc1", "bitcoincash:", provider host
names) or by a regular expression that starts with a narrow character class, so a crawled page
of a megabyte is scanned in a few tens of milliseconds.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from cordon.domain.payments.checkout import (
    DEFAULT_CHECKOUT_REGISTRY,
    CheckoutAccount,
    CheckoutRegistry,
)
from cordon.domain.payments.crypto import Chain, CryptoAddress, parse_crypto_address
from cordon.domain.payments.errors import InvalidAddress, InvalidIban
from cordon.domain.payments.iban import BankAccount, iban_lengths, parse_iban


class IdentifierType(StrEnum):
    """The kinds of payment identifier the extractor finds."""

    CRYPTO_ADDRESS = "crypto_address"
    IBAN = "iban"
    CHECKOUT_ACCOUNT = "checkout_account"


@dataclass(frozen=True)
class FoundIdentifier:
    """A valid payment identifier found in a text.

    ``key`` is the normalised form that tells identifiers apart (``chain:address``, the compact
    IBAN, ``provider:account_id``). ``text``, ``start``, ``end`` and ``context`` describe the
    first sighting (``context`` is the surrounding text with whitespace collapsed);
    ``occurrences`` holds the start offset of every sighting, in order.
    """

    type: IdentifierType
    key: str
    identifier: CryptoAddress | BankAccount | CheckoutAccount
    text: str
    start: int
    end: int
    context: str
    occurrences: tuple[int, ...]


_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# The scans run over the text encoded as ASCII with "?" for anything else: one byte per
# character, so offsets are the text's, and bytes searches are fast whatever the text holds.
#
# Base58-family and bare-CashAddr candidates: a word of 26-106 letters/digits whose first
# character can start a BTC/LTC/BCH-legacy, TRX, XMR or CashAddr address. The pattern starts
# with the non-word character before it, which lets the regex engine skip ahead cheaply.
_WORD_BODY = rb"([13mn2LMQT45789ABqpQP][0-9A-Za-z]{25,105})(?![0-9A-Za-z])"
_WORD_RE = re.compile(rb"[^0-9A-Za-z]" + _WORD_BODY)
_WORD_AT_START_RE = re.compile(_WORD_BODY)
_IBAN_BODY = rb"([A-Z]{2}[0-9]{2}(?: ?[0-9A-Z]){8,30})"
_IBAN_RE = re.compile(rb"[^0-9A-Za-z]" + _IBAN_BODY)
_IBAN_AT_START_RE = re.compile(_IBAN_BODY)
_B58_RE = re.compile(rb"[1-9A-HJ-NP-Za-km-z]+")
_BECH32_TAIL_RE = re.compile(rb"[02-9ac-hj-np-zAC-HJ-NP-Z]{6,87}(?![0-9A-Za-z])")
_CASHADDR_TAIL_RE = re.compile(rb"[02-9ac-hj-np-zAC-HJ-NP-Z]{42,112}(?![0-9A-Za-z])")
_ETH_TAIL_RE = re.compile(rb"[0-9a-fA-F]{40}(?![0-9A-Za-z])")
_URL_TAIL_RE = re.compile(rb"[^\s\"'<>`\\{}|^]*")
_HOST_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-")
# Lower-case hrp anchors; "ltc1" also finds "tltc1" and "rltc1" (one letter further left).
_SEGWIT_ANCHORS = (b"bc1", b"tb1", b"bcrt1", b"ltc1")
_CASHADDR_PREFIXES = (b"bitcoincash:", b"bchtest:", b"bchreg:")
_URL_TRAILING = frozenset(b".,;:!?)]}'\"")


def _find_all(haystack: bytes, needle: bytes) -> Iterator[int]:
    pos = haystack.find(needle)
    while pos >= 0:
        yield pos
        pos = haystack.find(needle, pos + 1)


def _starts_word(raw: bytes, pos: int) -> bool:
    return pos == 0 or raw[pos - 1] not in _ALNUM


_Identifier = CryptoAddress | BankAccount | CheckoutAccount


class _Scan:
    """One extraction: the text, its one-byte-per-character forms, and what was found."""

    def __init__(self, text: str, context_chars: int) -> None:
        self.text = text
        # No-break spaces separate IBAN groups; make them plain spaces before encoding.
        self.raw = text.replace("\u00a0", " ").encode("ascii", "replace")
        self.low = self.raw.lower()
        self.context_chars = context_chars
        self.found: dict[str, tuple[IdentifierType, _Identifier, int, int, set[int]]] = {}

    def add(
        self,
        type_: IdentifierType,
        key: str,
        identifier: _Identifier,
        start: int,
        end: int,
    ) -> None:
        seen = self.found.get(key)
        if seen is None:
            self.found[key] = (type_, identifier, start, end, {start})
        else:
            seen[4].add(start)

    def add_crypto(self, start: int, end: int, chain: Chain | None) -> None:
        candidate = self.raw[start:end].decode("ascii")
        try:
            address = parse_crypto_address(candidate, chain)
        except InvalidAddress:
            return
        key = f"{address.chain}:{address.address}"
        self.add(IdentifierType.CRYPTO_ADDRESS, key, address, start, end)

    def results(self) -> list[FoundIdentifier]:
        out: list[FoundIdentifier] = []
        for key, (type_, identifier, start, end, starts) in self.found.items():
            lo = max(0, start - self.context_chars)
            hi = min(len(self.text), end + self.context_chars)
            out.append(
                FoundIdentifier(
                    type=type_,
                    key=key,
                    identifier=identifier,
                    text=self.text[start:end],
                    start=start,
                    end=end,
                    context=" ".join(self.text[lo:hi].split()),
                    occurrences=tuple(sorted(starts)),
                )
            )
        out.sort(key=lambda f: (f.start, f.key))
        return out


def _matches(
    scan: _Scan, pattern: re.Pattern[bytes], at_start: re.Pattern[bytes]
) -> Iterator[re.Match[bytes]]:
    first = at_start.match(scan.raw)
    if first is not None:
        yield first
    yield from pattern.finditer(scan.raw)


def _scan_words(scan: _Scan) -> None:
    raw = scan.raw
    for match in _matches(scan, _WORD_RE, _WORD_AT_START_RE):
        start, end = match.span(1)
        first, size = raw[start], end - start
        if first in b"qpQP":
            # A bare CashAddr; a prefixed one is found by its prefix.
            if size == 42 and (start == 0 or raw[start - 1] != ord(":")):
                scan.add_crypto(start, end, Chain.BCH)
        elif not _B58_RE.fullmatch(raw, start, end):
            continue
        elif first == ord("T"):
            if size == 34:
                scan.add_crypto(start, end, Chain.TRX)
        elif first in b"45789AB":
            if size in (95, 106):
                scan.add_crypto(start, end, Chain.XMR)
        elif size <= 35:
            scan.add_crypto(start, end, None)


def _scan_segwit(scan: _Scan) -> None:
    for anchor in _SEGWIT_ANCHORS:
        for pos in _find_all(scan.low, anchor):
            if anchor == b"ltc1" and pos > 0 and scan.low[pos - 1] in b"tr":
                pos -= 1
            if not _starts_word(scan.raw, pos):
                continue
            hrp_end = scan.low.index(b"1", pos) + 1
            tail = _BECH32_TAIL_RE.match(scan.raw, hrp_end)
            if tail is not None:
                chain = Chain.LTC if b"ltc" in anchor else Chain.BTC
                scan.add_crypto(pos, tail.end(), chain)


def _scan_cashaddr(scan: _Scan) -> None:
    for prefix in _CASHADDR_PREFIXES:
        for pos in _find_all(scan.low, prefix):
            if not _starts_word(scan.raw, pos):
                continue
            tail = _CASHADDR_TAIL_RE.match(scan.raw, pos + len(prefix))
            if tail is not None:
                scan.add_crypto(pos, tail.end(), Chain.BCH)


def _scan_eth(scan: _Scan) -> None:
    for pos in _find_all(scan.raw, b"0x"):
        if not _starts_word(scan.raw, pos):
            continue
        tail = _ETH_TAIL_RE.match(scan.raw, pos + 2)
        if tail is not None:
            scan.add_crypto(pos, tail.end(), Chain.ETH)


def _scan_iban(scan: _Scan) -> None:
    lengths = iban_lengths()
    raw = scan.raw
    match = _IBAN_AT_START_RE.match(raw) or _IBAN_RE.search(raw)
    while match is not None:
        start, end = match.span(1)
        # The match may run on into following words; an IBAN among them is looked for again
        # from where this candidate stops.
        match = _IBAN_RE.search(raw, start)
        needed = lengths.get(raw[start : start + 2].decode("ascii"))
        if needed is None:
            continue
        chars = bytearray()
        pos = start
        while pos < end and len(chars) < needed:
            if raw[pos] != ord(" "):
                chars.append(raw[pos])
            pos += 1
        if len(chars) != needed or (pos < len(raw) and raw[pos] in _ALNUM):
            continue
        try:
            account = parse_iban(chars.decode("ascii"))
        except InvalidIban:
            continue
        scan.add(IdentifierType.IBAN, account.iban, account, start, pos)
        match = _IBAN_RE.search(raw, pos)


@functools.lru_cache(maxsize=16)
def _anchors(registry: CheckoutRegistry) -> tuple[bytes, ...]:
    return tuple(s.encode("ascii") for s in registry.host_suffixes())


def _scan_checkout(scan: _Scan, registry: CheckoutRegistry) -> None:
    raw, low = scan.raw, scan.low
    done: set[int] = set()
    for suffix in _anchors(registry):
        for pos in _find_all(low, suffix):
            host_start = pos
            while host_start > 0 and raw[host_start - 1] in _HOST_CHARS:
                host_start -= 1
            start = host_start
            for scheme in (b"https://", b"http://", b"//"):
                if low[max(0, start - len(scheme)) : start] == scheme:
                    start -= len(scheme)
                    break
            if start in done:
                continue
            done.add(start)
            tail = _URL_TAIL_RE.match(raw, pos + len(suffix))
            end = tail.end() if tail is not None else pos + len(suffix)
            while end > pos + len(suffix) and raw[end - 1] in _URL_TRAILING:
                end -= 1
            url = html.unescape(scan.text[start:end])
            if url.startswith("//"):
                url = "https:" + url
            elif not url.lower().startswith(("http://", "https://")):
                url = "https://" + url
            account = registry.match(url)
            if account is not None:
                scan.add(IdentifierType.CHECKOUT_ACCOUNT, account.key, account, start, end)


def extract_payment_identifiers(
    text: str,
    *,
    registry: CheckoutRegistry = DEFAULT_CHECKOUT_REGISTRY,
    context_chars: int = 60,
) -> list[FoundIdentifier]:
    """Every valid payment identifier in ``text`` (page text or raw HTML), in order of first
    sighting.

    Finds crypto addresses (BTC, LTC, BCH with or without ``bitcoincash:``, ETH, TRX, XMR),
    IBANs printed compact or in groups, and checkout links of ``registry``'s providers (with or
    without scheme, HTML entities in attributes decoded). A candidate whose checksum, length or
    provider pattern does not hold is never returned. One result per identifier (by ``key``),
    carrying every offset it was seen at.
    """
    scan = _Scan(text, context_chars)
    _scan_words(scan)
    _scan_segwit(scan)
    _scan_cashaddr(scan)
    _scan_eth(scan)
    _scan_iban(scan)
    _scan_checkout(scan, registry)
    return scan.results()

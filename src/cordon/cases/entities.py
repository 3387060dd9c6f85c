"""Entities as normalised ``(kind, key)`` pairs: what cases hold, deconfliction compares, search
looks up and screening checks. No I/O.

Keys are the forms the rest of Cordon stores, made by the same normalisers: a registrable
domain and a canonical URL (:mod:`cordon.domain.urls`), a payment identifier's key
(:mod:`cordon.money.identifiers`: ``chain:address``, ``provider:account``, the compact IBAN,
``card:BIN:MERCHANT_ID``), an IP address in its compressed form, a hash in lower-case hex.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from cordon.domain.payments import CheckoutRegistry, InvalidPaymentIdentifier, normalise_descriptor
from cordon.domain.payments.errors import InvalidCardFact
from cordon.domain.urls import InvalidUrl, normalize_url
from cordon.money.identifiers import parse_identifier


class EntityKind(StrEnum):
    """Kinds of entity a case may name and search may look up."""

    NETWORK = "network"
    DOMAIN = "domain"
    URL = "url"
    IP = "ip"
    CRYPTO_ADDRESS = "crypto_address"
    CHECKOUT_ACCOUNT = "checkout_account"
    IBAN = "iban"
    CARD_MERCHANT = "card_merchant"
    DESCRIPTOR = "descriptor"
    PDQ = "pdq"
    MD5 = "md5"
    SHA256 = "sha256"
    ANALYTICS_ID = "analytics_id"
    EMAIL = "email"
    MESSENGER = "messenger"


PAYMENT_KINDS = frozenset(
    {
        EntityKind.CRYPTO_ADDRESS,
        EntityKind.CHECKOUT_ACCOUNT,
        EntityKind.IBAN,
        EntityKind.CARD_MERCHANT,
    }
)
HASH_KINDS = frozenset({EntityKind.PDQ, EntityKind.MD5, EntityKind.SHA256})
#: Kinds of indicator the crawler reads from pages (``capture_indicator.kind``).
INDICATOR_KINDS = frozenset({EntityKind.ANALYTICS_ID, EntityKind.EMAIL, EntityKind.MESSENGER})

#: Longest text accepted as one entity.
MAX_ENTITY_LENGTH = 2048

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}")
_ANALYTICS = re.compile(
    r"(UA-\d{4,10}-\d{1,4}|G-[A-Z0-9]{8,12}|GTM-[A-Z0-9]{5,8}|AW-\d{9,11}|TLY-\d{8})"
)
_SERVICE_KEY = re.compile(r"[a-z][a-z0-9_]{1,31}:[^\s]{1,256}")
_DOMAIN_CHARS = re.compile(r"[^\s/:@?#]+\.[^\s/:@?#]+")


class InvalidEntity(ValueError):
    """Text that is no entity of the kind asked for; the message names it and why."""


@dataclass(frozen=True, order=True)
class Entity:
    """One entity: its kind and normalised key."""

    kind: EntityKind
    key: str

    def pair(self) -> tuple[str, str]:
        return (self.kind.value, self.key)

    def label(self) -> str:
        return f"{self.kind.value}:{self.key}"


def parse_kind(text: str) -> EntityKind:
    """The kind called ``text``; ``InvalidEntity`` naming the known kinds otherwise."""
    try:
        return EntityKind(text.strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in EntityKind)
        raise InvalidEntity(f"unknown entity kind {text!r}; use one of {known}") from None


def _domain(text: str) -> str:
    value = text.strip().rstrip("/")
    if not value or (any(c in value for c in "/?#@") and "://" not in value):
        raise InvalidEntity(f"{text!r} is not a domain")
    try:
        n = normalize_url(value if "://" in value else f"http://{value}/")
    except InvalidUrl as exc:
        raise InvalidEntity(f"{text!r} is not a domain: {exc}") from None
    return n.registrable_domain


def _ip(text: str) -> str:
    try:
        return ipaddress.ip_address(text.strip().strip("[]")).compressed
    except ValueError:
        raise InvalidEntity(f"{text!r} is not an IP address") from None


def _hex(text: str, kind: EntityKind) -> str:
    value = text.strip().lower()
    pattern = _HEX32 if kind is EntityKind.MD5 else _HEX64
    if not pattern.fullmatch(value):
        digits = 32 if kind is EntityKind.MD5 else 64
        raise InvalidEntity(f"{text!r} is not a {kind.value} hash ({digits} hex digits)")
    return value


def parse_entity(text: str, kind: EntityKind | str, registry: CheckoutRegistry) -> Entity:
    """Normalise ``text`` as an entity of ``kind``. Raises :class:`InvalidEntity`."""
    k = kind if isinstance(kind, EntityKind) else parse_kind(kind)
    value = text.strip()
    if not value:
        raise InvalidEntity(f"empty {k.value}")
    if len(value) > MAX_ENTITY_LENGTH:
        raise InvalidEntity(f"{k.value} is longer than {MAX_ENTITY_LENGTH} characters")
    if k is EntityKind.NETWORK:
        digits = value.removeprefix("network:").strip()
        if not digits.isdigit() or int(digits) < 1:
            raise InvalidEntity(f"{text!r} is not a network id")
        return Entity(k, str(int(digits)))
    if k is EntityKind.DOMAIN:
        return Entity(k, _domain(value))
    if k is EntityKind.URL:
        try:
            return Entity(k, normalize_url(value).url)
        except InvalidUrl as exc:
            raise InvalidEntity(f"{text!r} is not a URL: {exc}") from None
    if k is EntityKind.IP:
        return Entity(k, _ip(value))
    if k in PAYMENT_KINDS:
        try:
            spec = parse_identifier(value, registry)
        except InvalidPaymentIdentifier as exc:
            raise InvalidEntity(str(exc)) from None
        if spec.type.value != k.value:
            raise InvalidEntity(f"{text!r} is a {spec.type.value}, not a {k.value}")
        return Entity(k, spec.key)
    if k is EntityKind.DESCRIPTOR:
        try:
            return Entity(k, normalise_descriptor(value))
        except InvalidCardFact as exc:
            raise InvalidEntity(str(exc)) from None
    if k in HASH_KINDS:
        return Entity(k, _hex(value.split(":", 1)[-1] if ":" in value else value, k))
    if k is EntityKind.EMAIL:
        if not _EMAIL.fullmatch(value):
            raise InvalidEntity(f"{text!r} is not an e-mail address")
        return Entity(k, value.lower())
    # Analytics ids and messenger handles are keyed ``service:id`` as the crawler keys them.
    if not _SERVICE_KEY.fullmatch(value):
        raise InvalidEntity(f"{text!r} is not a {k.value} key of the form service:id")
    service, _, ident = value.partition(":")
    if k is EntityKind.MESSENGER:
        ident = ident.lstrip("@").lower() if service in {"telegram", "session", "xmpp"} else ident
    return Entity(k, f"{service.lower()}:{ident}")


def parse_typed(text: str, registry: CheckoutRegistry) -> Entity:
    """Read a subject written ``kind:value`` (``domain:shop.test``, ``pdq:ab…``) or, when it is
    unambiguous, bare (a URL, an IP address, a payment identifier, a domain, an MD5).

    A 64-digit hex string could be a PDQ or a SHA-256 hash and must name its kind. Raises
    :class:`InvalidEntity` naming the text and why.
    """
    found = candidates(text, registry)
    if len(found) > 1:
        kinds = " or ".join(e.kind.value for e in found)
        raise InvalidEntity(f"{text!r} could be {kinds}: write it as kind:value")
    return found[0]


def candidates(text: str, registry: CheckoutRegistry) -> list[Entity]:
    """The entities a typed item stands for: ``kind:value`` names its kind; a bare text is
    every identifier it could be (a descriptor only when it says so, since nearly any text
    reads as one). Raises :class:`InvalidEntity` when it is none."""
    value = text.strip()
    head, sep, tail = value.partition(":")
    if sep and not tail.startswith("//"):
        try:
            kind = EntityKind(head.lower())
        except ValueError:
            kind = None
        if kind is not None:
            return [parse_entity(tail, kind, registry)]
    found = [e for e in detect(value, registry) if e.kind is not EntityKind.DESCRIPTOR]
    if not found:
        raise InvalidEntity(
            f"{text[:200]!r} is not a URL, domain, IP address, payment identifier, e-mail or "
            "hash; write it as kind:value"
        )
    return found


def detect(text: str, registry: CheckoutRegistry) -> list[Entity]:
    """Every entity ``text`` could be, most telling first (empty when none).

    A checkout link is both a URL and a checkout account; a 64-digit hex string both a PDQ and
    a SHA-256 hash; anything else is at most one entity.
    """
    value = text.strip()
    if not value or len(value) > MAX_ENTITY_LENGTH:
        return []
    lowered = value.lower()
    out: list[Entity] = []
    if _HEX64.fullmatch(lowered):
        return [Entity(EntityKind.PDQ, lowered), Entity(EntityKind.SHA256, lowered)]
    if _HEX32.fullmatch(lowered):
        return [Entity(EntityKind.MD5, lowered)]
    try:
        return [Entity(EntityKind.IP, ipaddress.ip_address(value.strip("[]")).compressed)]
    except ValueError:
        pass
    try:
        spec = parse_identifier(value, registry)
        out.append(Entity(EntityKind(spec.type.value), spec.key))
    except (InvalidPaymentIdentifier, ValueError):
        pass
    if "://" in value:
        with contextlib.suppress(InvalidUrl):
            out.append(Entity(EntityKind.URL, normalize_url(value).url))
        return out
    if out:
        return out
    if _EMAIL.fullmatch(value):
        return [Entity(EntityKind.EMAIL, lowered)]
    analytics = _ANALYTICS.fullmatch(value.upper())
    if analytics:
        return [Entity(EntityKind.ANALYTICS_ID, analytics.group(1))]
    if value.startswith("@") and len(value) > 1:
        return [Entity(EntityKind.MESSENGER, value[1:].lower())]
    if _DOMAIN_CHARS.fullmatch(value):
        try:
            return [Entity(EntityKind.DOMAIN, _domain(value))]
        except InvalidEntity:
            pass
    try:
        return [Entity(EntityKind.DESCRIPTOR, normalise_descriptor(value))]
    except InvalidCardFact:
        return []

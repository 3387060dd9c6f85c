"""What a payment identifier is as a record: its type, key and fields, from the pure parsers.

No I/O here. Parsing and checksums live in :mod:`cordon.domain.payments`; this module turns a
parsed identifier (or a text naming one) into the :class:`IdentifierSpec` that is stored.
Keys are those of :func:`cordon.domain.payments.extract_payment_identifiers`
(``chain:address``, ``provider:account_id``, the compact IBAN) plus
``card:<acquirer BIN>:<merchant id>`` for card acceptance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cordon.domain.payments import (
    BankAccount,
    Chain,
    CheckoutAccount,
    CheckoutRegistry,
    CryptoAddress,
    FoundIdentifier,
    InvalidAddress,
    InvalidCardFact,
    InvalidCheckoutLink,
    InvalidIban,
    InvalidPaymentIdentifier,
    parse_acquirer_bin,
    parse_crypto_address,
    parse_iban,
    parse_merchant_id,
)


class IdentifierType(StrEnum):
    """The kinds of payment identifier Cordon records."""

    CRYPTO_ADDRESS = "crypto_address"
    CHECKOUT_ACCOUNT = "checkout_account"
    IBAN = "iban"
    CARD_MERCHANT = "card_merchant"


#: Names no checkout provider may take: they would make keys ambiguous.
RESERVED_PROVIDER_NAMES = frozenset({c.value for c in Chain} | {"card", "iban"})


@dataclass(frozen=True)
class IdentifierSpec:
    """A validated payment identifier, ready to be stored.

    ``key`` tells identifiers apart; ``value`` is the form shown to people.
    """

    type: IdentifierType
    key: str
    value: str
    chain: str | None = None
    network: str | None = None
    provider: str | None = None
    account_id: str | None = None
    acquirer_bin: str | None = None
    merchant_id: str | None = None
    country: str | None = None
    bank_code: str | None = None

    @property
    def payment_method(self) -> str:
        """The payment-method bucket of metrics: card, payment_service, crypto:<chain> or
        bank_transfer."""
        return payment_method(self.type, self.chain)


def payment_method(type_: IdentifierType | str, chain: str | None) -> str:
    """The payment-method bucket of an identifier type (and chain, for crypto)."""
    t = IdentifierType(type_)
    if t is IdentifierType.CRYPTO_ADDRESS:
        return f"crypto:{chain}"
    return {
        IdentifierType.CARD_MERCHANT: "card",
        IdentifierType.CHECKOUT_ACCOUNT: "payment_service",
        IdentifierType.IBAN: "bank_transfer",
    }[t]


def from_crypto(address: CryptoAddress) -> IdentifierSpec:
    """The record of a crypto address."""
    return IdentifierSpec(
        type=IdentifierType.CRYPTO_ADDRESS,
        key=f"{address.chain.value}:{address.address}",
        value=address.address,
        chain=address.chain.value,
        network=address.network.value,
    )


def from_iban(account: BankAccount) -> IdentifierSpec:
    """The record of a bank account."""
    return IdentifierSpec(
        type=IdentifierType.IBAN,
        key=account.iban,
        value=account.formatted,
        country=account.country_code,
        bank_code=account.bank_code or None,
    )


def from_checkout(account: CheckoutAccount) -> IdentifierSpec:
    """The record of a payment-service account."""
    return IdentifierSpec(
        type=IdentifierType.CHECKOUT_ACCOUNT,
        key=account.key,
        value=account.key,
        provider=account.provider,
        account_id=account.account_id,
    )


def card_merchant(acquirer_bin: str, merchant_id: str) -> IdentifierSpec:
    """The record of a card-accepting merchant: its acquirer's BIN and its merchant id.

    Raises ``InvalidCardFact`` naming the bad field.
    """
    bin_ = parse_acquirer_bin(acquirer_bin)
    mid = parse_merchant_id(merchant_id)
    return IdentifierSpec(
        type=IdentifierType.CARD_MERCHANT,
        key=f"card:{bin_}:{mid}",
        value=f"acquirer BIN {bin_}, merchant id {mid}",
        acquirer_bin=bin_,
        merchant_id=mid,
    )


def from_found(found: FoundIdentifier) -> IdentifierSpec:
    """The record of an identifier the extractor found on a page."""
    return from_parsed(found.identifier)


def from_parsed(identifier: CryptoAddress | BankAccount | CheckoutAccount) -> IdentifierSpec:
    """The record of an already parsed identifier."""
    if isinstance(identifier, CryptoAddress):
        return from_crypto(identifier)
    if isinstance(identifier, BankAccount):
        return from_iban(identifier)
    return from_checkout(identifier)


_CARD_RE = re.compile(r"card:([0-9 -]{6,12}):([A-Za-z0-9]{1,15})", re.IGNORECASE)


def parse_identifier(text: str, registry: CheckoutRegistry) -> IdentifierSpec:
    """Read an identifier as people write it.

    Accepts ``card:<acquirer BIN>:<merchant id>``; ``<provider>:<account>`` for a provider of
    ``registry``; a checkout link of one; a crypto address, bare or as ``<chain>:<address>``;
    an IBAN. Raises ``InvalidPaymentIdentifier`` saying why none fits.
    """
    value = text.strip()
    if not value:
        raise InvalidPaymentIdentifier("payment identifier", text, "is empty")
    card = _CARD_RE.fullmatch(value)
    if card:
        return card_merchant(card.group(1), card.group(2))
    head, sep, tail = value.partition(":")
    lowered = head.lower()
    if sep and lowered in {c.value for c in Chain}:
        return from_crypto(parse_crypto_address(tail.strip(), lowered))
    if sep and not tail.startswith("//"):
        provider = registry.get(lowered)
        if provider is not None:
            return from_checkout(_account_of(provider.name, tail.strip(), registry))
    if value.lower().startswith(("http://", "https://")):
        try:
            return from_checkout(registry.parse(value))
        except InvalidCheckoutLink as exc:
            raise InvalidPaymentIdentifier("payment identifier", text, exc.reason) from None
    try:
        return from_crypto(parse_crypto_address(value))
    except InvalidAddress as crypto_error:
        try:
            return from_iban(parse_iban(value))
        except InvalidIban:
            pass
        raise InvalidPaymentIdentifier(
            "payment identifier",
            text,
            "not a crypto address, IBAN, checkout link, provider:account of a registered "
            f"provider, or card:BIN:MERCHANT_ID ({crypto_error.reason})",
        ) from None


def _account_of(provider_name: str, account: str, registry: CheckoutRegistry) -> CheckoutAccount:
    provider = registry.get(provider_name)
    if provider is None:
        raise InvalidCheckoutLink(account, f"no checkout provider {provider_name!r} is registered")
    if provider.account_case == "lower":
        account = account.lower()
    if not account or len(account) > 128 or not re.fullmatch(provider.account_pattern, account):
        raise InvalidCardFact("account", account, f"does not fit {provider_name}'s account pattern")
    if account.lower() in provider.reserved_accounts:
        raise InvalidCardFact("account", account, f"is reserved by {provider_name}")
    return CheckoutAccount(provider.name, account, f"{provider.name}:{account}")


def checkout_account(provider: str, account: str, registry: CheckoutRegistry) -> IdentifierSpec:
    """The record of ``account`` at the registered checkout provider ``provider``.

    Raises ``InvalidPaymentIdentifier`` when the provider is unknown or the account does not fit
    its pattern.
    """
    return from_checkout(_account_of(provider.strip().lower(), account.strip(), registry))

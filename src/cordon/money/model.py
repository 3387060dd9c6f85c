"""What money records are made of, validated at the edge (API bodies, CSV rows)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from cordon.domain.payments import (
    InvalidPaymentIdentifier,
    normalise_descriptor,
    parse_acquirer_bin,
    parse_mcc,
    parse_merchant_id,
    parse_scheme,
)
from cordon.domain.tlp import Tlp
from cordon.domain.urls import MAX_URL_LENGTH, InvalidUrl, normalize_url

Outcome = Literal["completed", "declined", "failed", "abandoned"]
OUTCOMES: tuple[str, ...] = ("completed", "declined", "failed", "abandoned")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_AMOUNT_DIGITS = 15


def _fact(kind: str, parse: Any, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return str(parse(value))
    except InvalidPaymentIdentifier as exc:
        raise PydanticCustomError(kind, "{reason}", {"reason": exc.reason}) from None


def parse_tlp(value: object) -> object:
    """A TLP marking as people write it, for ``mode='before'`` validators."""
    if isinstance(value, str):
        try:
            return Tlp.parse(value)
        except ValueError as exc:
            raise PydanticCustomError("tlp", "{reason}", {"reason": str(exc)}) from None
    return value


class PurchaseIn(BaseModel):
    """What a test purchase on a site revealed.

    A card purchase gives ``scheme``, ``descriptor``, ``merchant_id`` and ``acquirer_bin``
    (``mcc`` optional); a purchase through a payment service gives ``provider`` and
    ``account``; a purchase may give both.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: datetime = Field(description="When the purchase was made (ISO 8601 with time zone)")
    site_url: str = Field(
        min_length=1, max_length=MAX_URL_LENGTH, description="The page the purchase was made on"
    )
    scheme: str | None = Field(None, description="Card scheme (visa, mastercard, ...)")
    descriptor: str | None = Field(
        None, max_length=200, description="Merchant descriptor on the statement"
    )
    merchant_id: str | None = Field(None, description="Card acceptor (merchant) id")
    acquirer_bin: str | None = Field(None, description="Acquirer BIN (6-8 digits)")
    mcc: str | None = Field(None, description="Merchant category code (4 digits)")
    amount: str = Field(description="Amount paid, a decimal number such as 19.95")
    currency: str = Field(description="ISO 4217 currency code")
    provider: str | None = Field(None, description="Payment service (checkout provider) name")
    account: str | None = Field(None, description="Account id at the payment service")
    outcome: Outcome = Field("completed", description="completed, declined, failed, abandoned")
    evidence_sha256: str | None = Field(
        None, description="SHA-256 (hex) of the evidence file the purchaser keeps"
    )
    note: str | None = Field(None, max_length=10_000, description="Free-text note")
    tlp: Tlp = Field(Tlp.AMBER, description="TLP 2.0 marking (default AMBER)")
    share_with: list[int] = Field(
        default_factory=list, description="AMBER: ids of organisations it is shared with"
    )

    @field_validator("date")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise PydanticCustomError("date", "needs a time zone (e.g. 2026-01-05T10:00:00Z)")
        return value

    @field_validator("site_url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            normalize_url(value.strip())
        except InvalidUrl as exc:
            raise PydanticCustomError("url", "{reason}", {"reason": str(exc)}) from None
        return value.strip()

    @field_validator("scheme")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        return _fact("scheme", parse_scheme, value)

    @field_validator("descriptor")
    @classmethod
    def _descriptor(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = " ".join(value.split())
        _fact("descriptor", normalise_descriptor, text)
        return text

    @field_validator("merchant_id")
    @classmethod
    def _merchant_id(cls, value: str | None) -> str | None:
        return _fact("merchant_id", parse_merchant_id, value)

    @field_validator("acquirer_bin")
    @classmethod
    def _acquirer_bin(cls, value: str | None) -> str | None:
        return _fact("acquirer_bin", parse_acquirer_bin, value)

    @field_validator("mcc")
    @classmethod
    def _mcc(cls, value: str | None) -> str | None:
        return _fact("mcc", parse_mcc, value)

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: str) -> str:
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise PydanticCustomError(
                "amount", "{value!r} is not a decimal number", {"value": value}
            ) from None
        if not amount.is_finite() or amount <= 0:
            raise PydanticCustomError("amount", "must be a positive number")
        if len(amount.as_tuple().digits) > MAX_AMOUNT_DIGITS:
            raise PydanticCustomError("amount", "has too many digits")
        return str(amount)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
            raise PydanticCustomError(
                "currency", "{value!r} is not an ISO 4217 currency code", {"value": value}
            )
        return code

    @field_validator("provider", "account", "note")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    @field_validator("evidence_sha256")
    @classmethod
    def _sha256(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        digest = value.strip().lower()
        if not _HEX64.fullmatch(digest):
            raise PydanticCustomError("evidence_sha256", "must be 64 hexadecimal digits")
        return digest

    @field_validator("tlp", mode="before")
    @classmethod
    def _tlp(cls, value: object) -> object:
        return parse_tlp(value)

    @model_validator(mode="after")
    def _complete(self) -> PurchaseIn:
        card = {
            "scheme": self.scheme,
            "descriptor": self.descriptor,
            "merchant_id": self.merchant_id,
            "acquirer_bin": self.acquirer_bin,
        }
        given = [k for k, v in card.items() if v]
        if given and len(given) < len(card):
            missing = [k for k, v in card.items() if not v]
            raise PydanticCustomError(
                "card_facts",
                "a card purchase needs scheme, descriptor, merchant_id and acquirer_bin; "
                "missing: {missing}",
                {"missing": ", ".join(missing)},
            )
        if self.account and not self.provider:
            raise PydanticCustomError("account", "account needs provider")
        if not given and not (self.provider and self.account):
            raise PydanticCustomError(
                "row",
                "a test purchase records card facts (scheme, descriptor, merchant_id, "
                "acquirer_bin) or a payment-service account (provider, account)",
            )
        if self.tlp is not Tlp.AMBER and self.share_with:
            raise PydanticCustomError("share_with", "share_with applies to AMBER only")
        return self


class OwnershipIn(BaseModel):
    """Something a payment provider registers as its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["checkout_provider", "acquirer_bin_range", "crypto_address", "iban_bank"]
    value: str = Field(min_length=1, max_length=300)
    spec: dict[str, Any] | None = Field(
        None, description="checkout_provider: the link pattern (hosts, path, query, ...)"
    )


class SightingIn(BaseModel):
    """An identifier an analyst saw on a page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identifier: str = Field(min_length=1, max_length=1000)
    site_url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    tlp: Tlp
    note: str | None = Field(None, max_length=2000)
    share_with: list[int] = Field(default_factory=list)

    @field_validator("tlp", mode="before")
    @classmethod
    def _tlp(cls, value: object) -> object:
        return parse_tlp(value)

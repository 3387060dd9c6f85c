"""Errors raised when a payment identifier does not hold."""

from __future__ import annotations


class InvalidPaymentIdentifier(ValueError):
    """A payment identifier failed validation; the message names what is wrong."""

    def __init__(self, what: str, value: str, reason: str) -> None:
        self.what = what
        self.value = value
        self.reason = reason
        shown = value if len(value) <= 120 else value[:117] + "..."
        super().__init__(f"invalid {what} {shown!r}: {reason}")


class InvalidAddress(InvalidPaymentIdentifier):
    """A crypto address whose format, network or checksum does not hold."""

    def __init__(self, value: str, reason: str, what: str = "crypto address") -> None:
        super().__init__(what, value, reason)


class InvalidIban(InvalidPaymentIdentifier):
    """An IBAN whose country, length, structure or mod-97 check does not hold."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__("IBAN", value, reason)


class InvalidCheckoutLink(InvalidPaymentIdentifier):
    """A URL that is not a checkout link of any registered payment service."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__("checkout link", value, reason)


class InvalidCardFact(InvalidPaymentIdentifier):
    """A card-acceptance fact (scheme, MCC, BIN, descriptor, merchant id) that does not hold."""

    def __init__(self, what: str, value: str, reason: str) -> None:
        super().__init__(what, value, reason)


class InvalidProviderSpec(ValueError):
    """A checkout provider pattern given as data is malformed; the message names the field."""

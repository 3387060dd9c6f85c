"""Traffic Light Protocol 2.0 markings (FIRST, 2022)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Tlp(StrEnum):
    """A TLP 2.0 marking. Values are the canonical upper-case labels."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @property
    def rank(self) -> int:
        """Strictness: CLEAR is 0, RED is 4."""
        return _ORDER.index(self)

    @classmethod
    def parse(cls, text: str) -> Tlp:
        """Read a marking as people write it: ``amber+strict``, ``TLP:AMBER``, ``white``.

        ``WHITE`` is TLP 1.0's name for CLEAR and is accepted as such. Raises ``ValueError``
        naming the allowed values.
        """
        value = text.strip().upper()
        value = value.removeprefix("TLP:").replace(" ", "").replace("_", "+")
        if value == "WHITE":
            value = "CLEAR"
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown TLP marking {text!r}; use one of {allowed}") from None


_ORDER = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]


def strictest(markings: Iterable[Tlp]) -> Tlp:
    """The strictest of ``markings``: what a derived record inherits from its inputs."""
    result = Tlp.CLEAR
    for marking in markings:
        if marking.rank > result.rank:
            result = marking
    return result

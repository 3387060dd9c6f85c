"""What matching takes and gives: queries, the banks' matching settings, hits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from cordon.signals.pdq import QUALITY_THRESHOLD

MatchStatus = Literal["active", "suppressed", "quarantined"]

LOW_QUALITY_BELOW: Final = QUALITY_THRESHOLD
"""PDQ hashes of lower quality are matched only against banks that ask for it."""

ORIGINAL: Final = "original"
TRIMMED: Final = "trimmed"

#: Classifications from the most to the least severe (the scheme hotlines and XARF v4 use).
CLASSIFICATION_ORDER: Final = ("A1", "A2", "B1", "B2", "baseline")


@dataclass(frozen=True, slots=True)
class Query:
    """One signal to match. ``signal`` is normalised (lowercase hexadecimal).

    ``quality`` is PDQ's quality when known; ``variants`` are extra PDQ hashes of the same
    picture (dihedral names, ``trimmed``, ``trimmed/<dihedral name>``), matched only against
    banks that allow them.
    """

    signal_type: str
    signal: str
    quality: int | None = None
    variants: Mapping[str, str] = field(default_factory=dict)

    def pdq_hashes(self) -> list[tuple[str, str]]:
        """The plain hash first (``original``), then the variants."""
        return [(ORIGINAL, self.signal), *self.variants.items()]


@dataclass(frozen=True, slots=True)
class BankRules:
    """A bank's matching settings, read from the database at match time."""

    id: int
    name: str
    org_id: int
    tlp: str
    pdq_threshold: int
    negative: bool
    default_classification: str | None
    match_dihedral: bool
    match_trimmed: bool
    match_low_quality: bool
    live: bool

    def allows_variant(self, variant: str) -> bool:
        """Whether a hash of this variant of a picture may match this bank."""
        if variant == ORIGINAL:
            return True
        trimmed = variant == TRIMMED or variant.startswith(f"{TRIMMED}/")
        turned = variant != TRIMMED
        if trimmed and not self.match_trimmed:
            return False
        return not (turned and not self.match_dihedral)


@dataclass(frozen=True, slots=True)
class EntryFacts:
    """What matching needs to know of one bank entry."""

    id: int
    bank_id: int
    signal_type: str
    classification: str | None
    enabled: bool
    quarantined: bool


@dataclass(frozen=True, slots=True)
class Hit:
    """One match of a query against a bank entry."""

    entry_id: int
    bank_id: int
    bank_name: str
    signal_type: str
    distance: int
    variant: str
    classification: str | None
    negative: bool
    status: MatchStatus

    @property
    def suppressed(self) -> bool:
        return self.status == "suppressed"

    @property
    def confirms(self) -> bool:
        """Whether this hit confirms the content it was seen in: active, classified, and from a
        bank that is not a list of known false positives."""
        return self.status == "active" and not self.negative and self.classification is not None


def most_severe(classifications: list[str | None]) -> str | None:
    """The most severe classification among these (None when there is none)."""
    present = {c for c in classifications if c}
    for c in CLASSIFICATION_ORDER:
        if c in present:
            return c
    return None

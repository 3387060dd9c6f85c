"""The rules of banks and entries, and the shapes the API and the CLI accept.

Everything here is pure: names, categories, classifications, tags and thresholds are checked
here, at the edge, so that the repository can trust what it is given.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cordon.domain.tlp import Tlp
from cordon.signals import types

#: HMA's bank names: an upper-case letter, then upper-case letters, digits and underscores.
NAME_RE: Final = re.compile(r"[A-Z][A-Z0-9_]*")
NAME_MAX: Final = 64
#: The signal types a bank may hold (python-threatexchange's ``pdq`` and ``video_md5``, and
#: Cordon's photo digests).
BANK_SIGNAL_TYPES: Final = ("pdq", "photo_md5", "photo_sha256", "video_md5")
#: Signal types python-threatexchange knows; the others are Cordon's extensions.
PYTX_SIGNAL_TYPES: Final = ("pdq", "video_md5")
#: The legal classification scheme hotlines and XARF v4 use.
CLASSIFICATIONS: Final = ("baseline", "A1", "A2", "B1", "B2")
CATEGORIES: Final = ("positive", "negative", "disputed", "investigation_seed")
OPINIONS: Final = ("confirm", "dispute")
DEFAULT_PDQ_THRESHOLD: Final = 31
#: Above this a PDQ threshold matches unrelated pictures (two random hashes differ by about 128
#: bits, and near-duplicates stay well under 64).
MAX_PDQ_THRESHOLD: Final = 64
TAG_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
MAX_TAGS: Final = 32
MAX_SOURCE_CHARS: Final = 500
MAX_DESCRIPTION_CHARS: Final = 4000

Category = Literal["positive", "negative", "disputed", "investigation_seed"]
Classification = Literal["baseline", "A1", "A2", "B1", "B2"]
Opinion = Literal["confirm", "dispute"]

#: python-threatexchange's opinion categories and Cordon's, both ways. pytx has no "disputed":
#: such entries are written with an empty category.
PYTX_CATEGORY_IN: Final = {
    "POSITIVE_CLASS": "positive",
    "NEGATIVE_CLASS": "negative",
    "INVESTIGATION_SEED": "investigation_seed",
}
PYTX_CATEGORY_OUT: Final = {v: k for k, v in PYTX_CATEGORY_IN.items()}


def check_name(name: str) -> str:
    """A valid bank name, unchanged; ``ValueError`` says what is wrong."""
    if not isinstance(name, str) or not name:
        raise ValueError("a bank name is required")
    if len(name) > NAME_MAX:
        raise ValueError(f"a bank name has at most {NAME_MAX} characters, not {len(name)}")
    if not NAME_RE.fullmatch(name):
        raise ValueError(
            f"bank name {name!r} must be an upper-case letter followed by upper-case letters, "
            "digits and underscores (as HMA names banks)"
        )
    return name


def check_signal_types(values: list[str]) -> list[str]:
    """A non-empty, duplicate-free list of bank signal types, in canonical order."""
    if not values:
        raise ValueError(f"a bank holds at least one signal type ({', '.join(BANK_SIGNAL_TYPES)})")
    for v in values:
        if v not in BANK_SIGNAL_TYPES:
            raise ValueError(
                f"unknown signal type {v!r} for a bank (one of {', '.join(BANK_SIGNAL_TYPES)})"
            )
    return [t for t in BANK_SIGNAL_TYPES if t in values]


def check_threshold(value: int) -> int:
    """A PDQ match threshold within 0..:data:`MAX_PDQ_THRESHOLD`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("pdq_threshold is a whole number")
    if not 0 <= value <= MAX_PDQ_THRESHOLD:
        raise ValueError(
            f"pdq_threshold must be between 0 and {MAX_PDQ_THRESHOLD} (bits of 256), not {value}"
        )
    return value


def check_classification(value: str | None) -> str | None:
    """``None`` or one of :data:`CLASSIFICATIONS` (``a1`` is read as ``A1``)."""
    if value is None or value == "":
        return None
    for c in CLASSIFICATIONS:
        if value.strip().lower() == c.lower():
            return c
    raise ValueError(f"unknown classification {value!r} (one of {', '.join(CLASSIFICATIONS)})")


def check_category(value: str) -> str:
    """One of :data:`CATEGORIES`; python-threatexchange's names are accepted too."""
    text = value.strip()
    if text in PYTX_CATEGORY_IN:
        return PYTX_CATEGORY_IN[text]
    low = text.lower().replace("-", "_").replace(" ", "_")
    if low in CATEGORIES:
        return low
    raise ValueError(f"unknown category {value!r} (one of {', '.join(CATEGORIES)})")


def check_tags(values: list[str] | tuple[str, ...]) -> list[str]:
    """Tags without duplicates, in the given order; each a short word."""
    out = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags, not {len(out)}")
    for t in out:
        if not TAG_RE.fullmatch(t):
            raise ValueError(
                f"tag {t!r} must be 1-64 letters, digits or _.:- starting with a letter or digit"
            )
    return out


def check_source(value: str) -> str:
    """A source note of at most :data:`MAX_SOURCE_CHARS` characters, one line."""
    text = value.strip()
    if len(text) > MAX_SOURCE_CHARS:
        raise ValueError(f"source has at most {MAX_SOURCE_CHARS} characters, not {len(text)}")
    if "\n" in text or "\r" in text:
        raise ValueError("source is one line")
    return text


def normalise_signal(signal_type: str, signal: str) -> str:
    """The canonical signal of a bank signal type; ``ValueError`` says what is wrong."""
    if signal_type not in BANK_SIGNAL_TYPES:
        raise ValueError(
            f"unknown signal type {signal_type!r} for a bank "
            f"(one of {', '.join(BANK_SIGNAL_TYPES)})"
        )
    return types.get(signal_type).validate(signal)


def effective_classification(entry: str | None, bank_default: str | None) -> str | None:
    """The classification a match inherits: the entry's own, else its bank's default."""
    return entry if entry is not None else bank_default


def default_category(negative_bank: bool) -> str:
    """The category of an entry added without one: ``negative`` in a negative bank."""
    return "negative" if negative_bank else "positive"


# ------------------------------------------------------------------------------ API shapes


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BankIn(_In):
    """A new bank."""

    name: Annotated[str, Field(description="HMA-style name: `[A-Z][A-Z0-9_]*`, at most 64")]
    tlp: Tlp = Tlp.AMBER
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS)] = ""
    signal_types: list[str] = Field(default_factory=lambda: ["pdq"])
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD
    negative: bool = False
    default_classification: str | None = None
    match_dihedral: bool = False
    match_trimmed: bool = False
    match_low_quality: bool = False
    share_with: list[int] = Field(default_factory=list, description="AMBER: organisation ids")
    share_groups: list[int] = Field(default_factory=list, description="AMBER: sharing groups")
    red_users: list[int] = Field(default_factory=list, description="RED: named user ids")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("signal_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return check_signal_types(v)

    @field_validator("pdq_threshold")
    @classmethod
    def _threshold(cls, v: int) -> int:
        return check_threshold(v)

    @field_validator("default_classification")
    @classmethod
    def _cls(cls, v: str | None) -> str | None:
        return check_classification(v)


class BankUpdate(_In):
    """Changes to a bank's settings; fields left out stay as they are."""

    description: Annotated[str | None, Field(max_length=MAX_DESCRIPTION_CHARS)] = None
    tlp: Tlp | None = None
    signal_types: list[str] | None = None
    pdq_threshold: int | None = None
    negative: bool | None = None
    default_classification: str | None = Field(
        None, description="A classification, or an empty string to remove the default"
    )
    match_dihedral: bool | None = None
    match_trimmed: bool | None = None
    match_low_quality: bool | None = None
    enabled: bool | None = None
    share_with: list[int] | None = None
    share_groups: list[int] | None = None
    red_users: list[int] | None = None

    @field_validator("signal_types")
    @classmethod
    def _types(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_signal_types(v)

    @field_validator("pdq_threshold")
    @classmethod
    def _threshold(cls, v: int | None) -> int | None:
        return None if v is None else check_threshold(v)

    @field_validator("default_classification")
    @classmethod
    def _cls(cls, v: str | None) -> str | None:
        # "" clears the default; it is kept as "" so that "not given" (None) differs from it.
        return v if v in (None, "") else check_classification(v)

    @model_validator(mode="after")
    def _something(self) -> BankUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give at least one setting")
        return self


class EntryIn(_In):
    """One signal to add to a bank."""

    signal_type: str
    signal: str
    category: str | None = None
    classification: str | None = None
    source: str = ""
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> EntryIn:
        self.signal = normalise_signal(self.signal_type, self.signal)
        if self.category is not None:
            self.category = check_category(self.category)
        self.classification = check_classification(self.classification)
        self.source = check_source(self.source)
        self.tags = check_tags(self.tags)
        return self


class EntriesIn(_In):
    entries: Annotated[list[EntryIn], Field(min_length=1, max_length=10_000)]


class EntryIdsIn(_In):
    entry_ids: Annotated[list[int], Field(min_length=1, max_length=10_000)]


class OpinionIn(_In):
    opinion: Opinion
    note: Annotated[str, Field(max_length=2000)] = ""


class ReleaseIn(_In):
    note: Annotated[str, Field(max_length=2000)] = ""

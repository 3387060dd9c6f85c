"""Signal types: the hash algorithms Cordon exchanges and matches, and where new ones plug in.

A signal type has a name (as partners spell it), the kind of content it describes, a validator
that normalises a signal string or says what is wrong with it, and a comparison. Names follow
python-threatexchange and HMA (``pdq``, ``video_md5``); the photo digests ``photo_md5`` and
``photo_sha256`` are Cordon's own (python-threatexchange has no photo digest types, so the names
do not clash).

A new signal type (for example ``vpdq`` for video) is one :func:`register` call with a
:class:`SignalType`; banks, formats and the match API look types up here by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from cordon.signals import pdq

ContentKind = Literal["photo", "video"]
MatchKind = Literal["hamming", "exact"]


class UnknownSignalType(ValueError):
    """A signal type name Cordon does not know."""


class InvalidSignal(ValueError):
    """A signal string that is not valid for its type; the message says why."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing two signals: whether they match, and their distance."""

    matched: bool
    distance: int


@dataclass(frozen=True, slots=True)
class SignalType:
    """One hash algorithm: how to validate, normalise and compare its signals."""

    name: str
    content: ContentKind
    description: str
    match: MatchKind
    """``hamming``: matched by bit distance up to a threshold; ``exact``: by equality."""
    default_threshold: int
    normalise: Callable[[str], str]
    """Returns the canonical form of a signal or raises :class:`InvalidSignal`."""

    def validate(self, signal: str) -> str:
        """The canonical form of ``signal`` (lowercase hexadecimal); :class:`InvalidSignal` else."""
        return self.normalise(signal)

    def compare(self, a: str, b: str, threshold: int | None = None) -> Comparison:
        """Compare two valid signals of this type (``threshold`` defaults to the type's)."""
        left, right = self.normalise(a), self.normalise(b)
        if self.match == "exact":
            return Comparison(left == right, 0 if left == right else 1)
        dist = (int(left, 16) ^ int(right, 16)).bit_count()
        limit = self.default_threshold if threshold is None else threshold
        return Comparison(dist <= limit, dist)


def _hex_normaliser(digits: int, label: str) -> Callable[[str], str]:
    pattern = re.compile(rf"[0-9a-f]{{{digits}}}")

    def normalise(signal: str) -> str:
        if not isinstance(signal, str):
            raise InvalidSignal(f"a {label} is text, not {type(signal).__name__}")
        text = signal.strip().lower()
        if len(text) != digits:
            raise InvalidSignal(f"a {label} has {digits} hexadecimal digits, not {len(text)}")
        if not pattern.fullmatch(text):
            raise InvalidSignal(f"a {label} has only hexadecimal digits (0-9, a-f)")
        return text

    return normalise


PDQ: Final = SignalType(
    name="pdq",
    content="photo",
    description="PDQ perceptual photo hash: 256 bits as 64 hex digits, matched by Hamming "
    "distance (31 by default); hashes of quality below 50 are not matched by default.",
    match="hamming",
    default_threshold=pdq.MATCH_THRESHOLD,
    normalise=_hex_normaliser(64, "PDQ hash"),
)
PHOTO_MD5: Final = SignalType(
    name="photo_md5",
    content="photo",
    description="MD5 of a picture file's bytes (Cordon's extension), matched exactly.",
    match="exact",
    default_threshold=0,
    normalise=_hex_normaliser(32, "MD5 digest"),
)
PHOTO_SHA256: Final = SignalType(
    name="photo_sha256",
    content="photo",
    description="SHA-256 of a picture file's bytes (Cordon's extension), matched exactly.",
    match="exact",
    default_threshold=0,
    normalise=_hex_normaliser(64, "SHA-256 digest"),
)
VIDEO_MD5: Final = SignalType(
    name="video_md5",
    content="video",
    description="MD5 of a video file's bytes (as python-threatexchange's video_md5), matched "
    "exactly.",
    match="exact",
    default_threshold=0,
    normalise=_hex_normaliser(32, "MD5 digest"),
)

_REGISTRY: dict[str, SignalType] = {}


def register(signal_type: SignalType) -> None:
    """Make a signal type known by its name; a name can be registered once."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", signal_type.name):
        raise ValueError(f"signal type names are lowercase words: {signal_type.name!r}")
    if signal_type.name in _REGISTRY:
        raise ValueError(f"signal type {signal_type.name!r} is already registered")
    _REGISTRY[signal_type.name] = signal_type


for _builtin in (PDQ, PHOTO_MD5, PHOTO_SHA256, VIDEO_MD5):
    register(_builtin)


def get(name: str) -> SignalType:
    """The signal type called ``name``; :class:`UnknownSignalType` lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownSignalType(f"unknown signal type {name!r} (known: {known})") from None


def names() -> list[str]:
    """Names of the registered signal types, sorted."""
    return sorted(_REGISTRY)


def all_types() -> Iterator[SignalType]:
    """The registered signal types, by name."""
    for name in names():
        yield _REGISTRY[name]

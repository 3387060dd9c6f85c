"""Hashing pictures in memory: PDQ with its quality, MD5 and SHA-256.

Two PDQ paths, one function:

- ``fast`` (for matching): JPEGs are decoded at reduced DCT scale and hashed with Cordon's exact
  compiled PDQ. On the reference conformance set every fast hash lies within 6 bits of the
  reference hash (median 0). Other formats are decoded in full, where the fast hash *is* the
  reference hash.
- ``reference`` (for anything that enters a bank or leaves Cordon): full decode, converted to RGB
  properly, hashed by ``pdqhash`` (the binding of Meta's C++ reference), so the hash agrees with
  what partners compute.

The caller drops the bytes after the call; this module keeps nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pdqhash

from cordon.signals.pdq import DIHEDRAL_NAMES, PdqHash, pdq_from_pixels, pdq_of_turned_pixels
from cordon.signals.pictures import (
    BORDER_MAX_RANGE,
    Box,
    DecodedPicture,
    PictureError,
    border_box,
    border_luma,
    crop,
    decode,
)

HashPath = Literal["fast", "reference"]

MAX_PICTURE_BYTES: Final = 256 * 1024 * 1024
"""Largest encoded picture accepted (the pixel limit bounds the decoded size)."""


@dataclass(frozen=True, slots=True)
class PdqVariant:
    """An extra PDQ hash of the same picture, searched besides the plain one when asked.

    ``name`` is a dihedral name (``rotate90``, ``flipx``…), ``trimmed``, or ``trimmed/<dihedral
    name>``.
    """

    name: str
    pdq: PdqHash


@dataclass(frozen=True, slots=True)
class PictureSignals:
    """The signals of one picture. ``pdq`` is the plain hash from ``path``."""

    pdq: PdqHash
    path: HashPath
    md5: str
    sha256: str
    format: str
    width: int
    height: int
    mode: str
    variants: tuple[PdqVariant, ...] = ()
    """Dihedral and border-trimmed hashes (empty unless asked for)."""
    trimmed: Box | None = None
    """The content box hashed as ``trimmed``, in decoded pixels, when a border was found."""

    def pdq_hashes(self) -> list[tuple[str, PdqHash]]:
        """Every PDQ hash to search, the plain one first (named ``original``)."""
        return [("original", self.pdq), *((v.name, v.pdq) for v in self.variants)]


def _decode(data: bytes, *, reduced: bool, max_pixels: int | None) -> DecodedPicture:
    if len(data) > MAX_PICTURE_BYTES:
        raise PictureError(
            f"the picture is {len(data):,} bytes, more than the limit of {MAX_PICTURE_BYTES:,}"
        )
    return decode(data, reduced=reduced, max_pixels=max_pixels)


def _one_reference(pixels: npt.NDArray[np.uint8]) -> PdqHash:
    if pixels.shape[0] < 5 or pixels.shape[1] < 5:
        # The reference's answer for pictures too small to hash.
        return PdqHash(bytes(32), 0)
    vector, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return PdqHash(np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes(), int(quality))


# The picture turned and flipped in each of PDQ's eight dihedral variants (in DIHEDRAL_NAMES
# order; rotations are counter-clockwise, flipx mirrors top to bottom, flip_plus1 transposes).
_DIHEDRAL_PIXELS: tuple[Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]], ...] = (
    lambda a: a,
    lambda a: np.rot90(a, 1),
    lambda a: np.rot90(a, 2),
    lambda a: np.rot90(a, 3),
    lambda a: a[::-1],
    lambda a: a[:, ::-1],
    lambda a: a.transpose(1, 0, 2),
    lambda a: np.rot90(a, 2).transpose(1, 0, 2),
)


def _pdq(pixels: npt.NDArray[np.uint8], path: HashPath, dihedral: bool) -> list[PdqHash]:
    # Variants are the hashes of the turned pictures, as python-threatexchange's rotations
    # compute them: the reference's shortcut of turning the DCT is exact only for sizes that
    # are multiples of 64 and otherwise lands up to about 30 bits away. The fast path samples
    # the turned pictures from one filtered luma (within a few bits of turning the pixels, at
    # little more than the cost of one hash); the reference path turns the pixels.
    if not dihedral:
        return [_one_reference(pixels) if path == "reference" else pdq_from_pixels(pixels)[0]]
    if path == "fast":
        return pdq_of_turned_pixels(pixels)
    return [_one_reference(view(pixels)) for view in _DIHEDRAL_PIXELS]


def _edges_uneven(pixels: npt.NDArray[np.uint8]) -> bool:
    # A border line is flat, so the spread of its brightness is at most BORDER_MAX_RANGE. When
    # each of the four outermost lines spreads further, none of them is a border line and
    # border_box would find no border: the answer, exactly (the same luma, line by line),
    # without its full scan of every row and column (most of the trimming cost on borderless
    # pictures).
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        return False
    for line in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]):
        luma = border_luma(line[None, ...] if line.ndim == 2 else line[None, :])
        if int(luma.max()) - int(luma.min()) <= BORDER_MAX_RANGE:
            return False
    return True


def hash_picture(
    data: bytes,
    *,
    path: HashPath = "fast",
    dihedral: bool = False,
    trim_borders: bool = False,
    max_pixels: int | None = None,
) -> PictureSignals:
    """Hash one picture given as encoded bytes (JPEG, PNG, GIF first frame, WebP, BMP).

    ``dihedral`` adds the hashes of the picture's seven rotations and flips; ``trim_borders``
    adds the hash of the picture without uniform borders of any colour (and its rotations and
    flips when both are asked), when it has such borders. Raises :class:`PictureError`
    subclasses with a clear message for anything that cannot be hashed; ``max_pixels`` defaults
    to Pillow's limit.
    """
    if path not in ("fast", "reference"):
        raise ValueError(f"unknown hash path {path!r}")
    decoded = _decode(data, reduced=path == "fast", max_pixels=max_pixels)
    hashes = _pdq(decoded.pixels, path, dihedral)
    variants = [
        PdqVariant(name, h) for name, h in zip(DIHEDRAL_NAMES[1:], hashes[1:], strict=False)
    ]
    trimmed: Box | None = None
    if trim_borders and not _edges_uneven(decoded.pixels):
        box = border_box(decoded.pixels)
        rows, cols = decoded.pixels.shape[:2]
        if (box.width, box.height) != (cols, rows):
            trimmed = box
            inner = _pdq(crop(decoded.pixels, box), path, dihedral)
            variants.append(PdqVariant("trimmed", inner[0]))
            variants.extend(
                PdqVariant(f"trimmed/{name}", h)
                for name, h in zip(DIHEDRAL_NAMES[1:], inner[1:], strict=False)
            )
    return PictureSignals(
        pdq=hashes[0],
        path=path,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        mode=decoded.mode,
        variants=tuple(variants),
        trimmed=trimmed,
    )


def reference_pdq(data: bytes, *, max_pixels: int | None = None) -> PdqHash:
    """The reference PDQ hash of a picture (full decode, ``pdqhash``): what enters a bank."""
    decoded = _decode(data, reduced=False, max_pixels=max_pixels)
    return _one_reference(decoded.pixels)


def fast_pdq(data: bytes, *, max_pixels: int | None = None) -> PdqHash:
    """The fast-path PDQ hash of a picture (reduced-scale JPEG decode): what matching uses."""
    decoded = _decode(data, reduced=True, max_pixels=max_pixels)
    return pdq_from_pixels(decoded.pixels)[0]

"""Decoding pictures for hashing: allowed formats, the pixel limit, reduced-scale decoding,
conversion of every image mode to RGB, and trimming of uniform borders.

Pictures arrive as bytes and stay in memory; nothing here writes them anywhere.

EXIF orientation is deliberately ignored: partners' hash lists are computed on the stored pixels,
so a picture is hashed as stored. Embedded colour profiles are ignored for the same reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
"""Formats Cordon decodes (Pillow's names). Anything else is refused before decoding."""

# Pillow reports JPEG files carrying a multi-picture (MPO) extension as "MPO"; they are JPEGs.
_FORMAT_ALIASES: Final = {"MPO": "JPEG"}

FAST_SHORT_SIDE: Final = 384
"""The fast path decodes JPEGs at the smallest DCT scale whose short side stays at least this.

On the reference conformance set this keeps every fast hash within 6 bits of the full-decode
hash (median 0); 256 would let one reach 12.
"""


class PictureError(ValueError):
    """A picture that cannot be hashed; the message says why."""


class UnsupportedPicture(PictureError):
    """Not a picture, or a format outside the allow-list."""


class PictureTooLarge(PictureError):
    """More pixels than the decoder's limit (Pillow's ``MAX_IMAGE_PIXELS``)."""


class BrokenPicture(PictureError):
    """A picture in an allowed format that does not decode (truncated or corrupt)."""


@dataclass(frozen=True, slots=True)
class DecodedPicture:
    """Pixels ready for hashing (``uint8``, RGB ``(rows, cols, 3)``) and what was decoded."""

    pixels: npt.NDArray[np.uint8]
    format: str
    width: int
    """Width of the stored picture (before any reduced-scale decode)."""
    height: int
    mode: str
    """Pillow's mode of the stored picture (before conversion to RGB)."""


def pixel_limit() -> int | None:
    """The largest number of pixels Cordon decodes: Pillow's ``Image.MAX_IMAGE_PIXELS``."""
    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else int(limit)


def open_picture(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """Identify ``data`` as an allowed picture and check its size, without decoding pixels.

    ``max_pixels`` defaults to :func:`pixel_limit`. Raises :class:`UnsupportedPicture` or
    :class:`PictureTooLarge`.
    """
    limit = pixel_limit() if max_pixels is None else max_pixels
    try:
        picture = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise UnsupportedPicture(
            "not a picture in an allowed format (" + ", ".join(ALLOWED_FORMATS) + ")"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureTooLarge(
            f"the picture has more pixels than the limit of {limit:,}"
            if limit is not None
            else "the picture has more pixels than Pillow allows"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise BrokenPicture(f"the picture's header does not decode: {exc}") from None
    fmt = _FORMAT_ALIASES.get(picture.format or "", picture.format or "")
    if fmt not in ALLOWED_FORMATS:
        raise UnsupportedPicture(f"pictures in format {fmt or 'unknown'} are not accepted")
    width, height = picture.size
    if width < 1 or height < 1:
        raise BrokenPicture("the picture has no pixels")
    if limit is not None and width * height > limit:
        raise PictureTooLarge(
            f"the picture has {width * height:,} pixels ({width}×{height}), more than the limit "
            f"of {limit:,}"
        )
    return picture


def to_rgb(picture: Image.Image) -> npt.NDArray[np.uint8]:
    """The picture's pixels as ``uint8`` RGB ``(rows, cols, 3)``, correctly for every mode.

    Palette pictures are looked up in their palette, CMYK and YCbCr, HSV and LAB are converted,
    alpha is dropped (the colour under it is kept, as the reference tools do with RGBA),
    premultiplied alpha is undone first, integer greys (16 or 32 bits) are read as 16-bit and
    scaled down to 8 bits rather than clipped when any value exceeds 255 (else they are 8-bit
    values in a wider container and kept), and floats are clipped to 0–255.
    """
    mode = picture.mode
    if mode == "RGB":
        return np.asarray(picture, dtype=np.uint8)
    if mode.startswith("I;16") or mode == "I":
        grey = np.asarray(picture).astype(np.int64)
        if grey.size and int(grey.max()) <= 255:
            grey8 = grey.clip(0, 255)
        else:
            grey8 = (grey.clip(0, 65535) * 255 + 32767) // 65535
        return _grey_to_rgb(grey8.astype(np.uint8))
    if mode == "F":
        grey_f = np.asarray(picture, dtype=np.float32)
        return _grey_to_rgb(np.rint(np.nan_to_num(grey_f).clip(0, 255)).astype(np.uint8))
    if mode == "La":
        picture = picture.convert("LA")
    elif mode == "RGBa":
        picture = picture.convert("RGBA")
    return np.asarray(picture.convert("RGB"), dtype=np.uint8)


def _grey_to_rgb(grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.repeat(grey[:, :, None], 3, axis=2)


def decode(data: bytes, *, reduced: bool, max_pixels: int | None = None) -> DecodedPicture:
    """Decode ``data`` to RGB pixels for hashing.

    With ``reduced``, a JPEG is decoded at the smallest DCT scale (1/2, 1/4 or 1/8) that keeps
    its short side at least :data:`FAST_SHORT_SIDE`; other formats, and ``reduced=False``, decode
    at full size. GIFs and animations give their first frame. EXIF orientation is not applied.
    """
    picture = open_picture(data, max_pixels)
    fmt = _FORMAT_ALIASES.get(picture.format or "", picture.format or "")
    width, height = picture.size
    mode = picture.mode
    try:
        if reduced and fmt == "JPEG":
            picture.draft(None, (FAST_SHORT_SIDE, FAST_SHORT_SIDE))
        picture.load()
        pixels = to_rgb(picture)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureTooLarge("the picture has more pixels than the limit") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise BrokenPicture(f"the picture does not decode: {exc}") from None
    finally:
        picture.close()
    return DecodedPicture(pixels, fmt, width, height, mode)


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle of a picture: ``left``/``top`` inclusive, ``right``/``bottom`` exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        """Columns in the box."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Rows in the box."""
        return self.bottom - self.top


BORDER_MAX_STD: Final = 4.0
"""Largest standard deviation of a channel along a border line (flat, up to JPEG noise)."""
BORDER_MAX_RANGE: Final = 48
"""Largest spread of a channel along a border line (tolerates isolated ringing)."""
BORDER_MAX_STEP: Final = 16
"""Largest difference of a border line's mean colour from the side's outermost line."""

BORDER_RINGING_LINES: Final = 3
"""Uneven lines next to a border that are still trimmed when their mean colour is the border's."""
BORDER_RINGING_STEP: Final = 16
"""Largest difference of such a line's mean colour from the border's."""

MIN_CONTENT_SHARE: Final = 0.2
"""Trimming never leaves less than this share of either side (a nearly uniform picture is left
as it is)."""

_Stats = tuple[
    npt.NDArray[np.int16], npt.NDArray[np.int16], npt.NDArray[np.float32], npt.NDArray[np.float32]
]


def border_luma(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The brightness (ITU-R BT.601 luma, rounded) of each pixel, as borders are judged by it.

    JPEG keeps colour at half resolution, so a border's colour bleeds a line or two into the
    content and the content's into the border, while brightness stays sharp: judged by colour,
    the last border lines look uneven and are left behind, and a line or two of border left
    behind moves PDQ by many bits. Elementwise, so a line's luma is the same computed alone or
    with the whole picture.
    """
    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 1:
        return pixels[:, :, 0]
    rgb = pixels[..., :3].astype(np.int32)
    luma = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000
    return luma.astype(np.uint8)


def _line_stats(planes: npt.NDArray[np.uint8], axis: int) -> _Stats:
    # ``planes`` is channel-first (channels, rows, cols): numpy reduces contiguous axes quickly,
    # and interleaved RGB along a middle axis about a hundred times slower.
    as16 = planes.astype(np.int16)
    as32 = planes.astype(np.float32)
    stats = as16.min(axis=axis), as16.max(axis=axis), as32.mean(axis=axis), as32.std(axis=axis)
    return stats[0].T, stats[1].T, stats[2].T, stats[3].T


def _flat_run(stats: _Stats) -> int:
    # Length of the leading run of lines that are flat and of the outermost line's colour.
    lo, hi, mean, std = stats
    flat = ((hi - lo).max(axis=1) <= BORDER_MAX_RANGE) & (std.max(axis=1) <= BORDER_MAX_STD)
    close = np.abs(mean - mean[0]).max(axis=1) <= BORDER_MAX_STEP
    good = flat & close
    if not good.shape[0] or not good[0]:
        return 0
    bad = np.nonzero(~good)[0]
    if not bad.shape[0]:
        return int(good.shape[0])
    run = int(bad[0])
    # JPEG ringing makes the last border lines before the content uneven, though their mean
    # colour stays the border's; a line or two of border left behind moves PDQ by many bits.
    step = np.abs(mean - mean[0]).max(axis=1)
    for _ in range(BORDER_RINGING_LINES):
        if run < step.shape[0] and step[run] <= BORDER_RINGING_STEP:
            run += 1
        else:
            break
    return run


def _reverse(stats: _Stats) -> _Stats:
    return stats[0][::-1], stats[1][::-1], stats[2][::-1], stats[3][::-1]


def border_box(pixels: npt.NDArray[np.uint8]) -> Box:
    """The picture's content without uniform borders of any colour (each side on its own).

    Lines are judged by their brightness (:func:`border_luma`). A border line is a row or
    column that is flat (standard deviation at most :data:`BORDER_MAX_STD`, spread at most
    :data:`BORDER_MAX_RANGE`) and whose mean is within :data:`BORDER_MAX_STEP` of the side's
    outermost line. Returns the whole picture when
    there is no border, or when trimming would leave less than :data:`MIN_CONTENT_SHARE` of a
    side.
    """
    rows, cols = pixels.shape[:2]
    whole = Box(0, 0, cols, rows)
    if rows < 3 or cols < 3:
        return whole
    planes = np.ascontiguousarray(border_luma(pixels)[None, :, :])
    row_stats = _line_stats(planes, 2)
    top = _flat_run(row_stats)
    if top >= rows:
        return whole
    bottom = rows - _flat_run(_reverse(row_stats))
    col_stats = _line_stats(planes[:, top:bottom], 1)
    left = _flat_run(col_stats)
    right = cols - _flat_run(_reverse(col_stats))
    box = Box(left, top, right, bottom)
    if box.width < MIN_CONTENT_SHARE * cols or box.height < MIN_CONTENT_SHARE * rows:
        return whole
    return box


def crop(pixels: npt.NDArray[np.uint8], box: Box) -> npt.NDArray[np.uint8]:
    """The pixels inside ``box`` (a contiguous copy)."""
    return np.ascontiguousarray(pixels[box.top : box.bottom, box.left : box.right])

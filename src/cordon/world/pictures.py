"""The world's pictures: harmless images drawn by code, their altered copies, and their hashes.

A picture is a gradient with coloured shapes and a little noise, drawn from a seed; no picture
is ever read from or written to disk. The same seed and picture record always give the same
bytes, so the hashes computed at build match what the world serves.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from cordon.world.model import Picture, PictureFormat
from cordon.world.spec import derive

SIZES = ((320, 240), (256, 256), (240, 320), (288, 288), (300, 225))
ORIGINAL_QUALITY = 90
ALTERED_QUALITY = 85
CONTENT_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXTENSIONS: dict[str, str] = {"jpeg": "jpg", "png": "png", "webp": "webp"}


@dataclass(frozen=True)
class Hashes:
    """The signals of one encoded picture."""

    pdq: str
    pdq_quality: int
    md5: str
    sha256: str


def original_size(seed: int, picture_id: str, salt: int = 0) -> tuple[int, int]:
    """Width and height of an original picture, without drawing it."""
    return SIZES[derive(seed, "picture-size", picture_id, salt) % len(SIZES)]


@functools.lru_cache(maxsize=256)
def draw_original(seed: int, picture_id: str, salt: int = 0) -> Image.Image:
    """Draw the original picture ``picture_id`` of world ``seed`` (``salt`` redraws it).

    The result is cached and shared: callers must not modify it in place.
    """
    rng = np.random.default_rng(derive(seed, "picture", picture_id, salt))
    width, height = original_size(seed, picture_id, salt)
    # Drawn at half size and scaled up: soft, photograph-like edges (PDQ quality well above 50)
    # at a fraction of the cost of a blur.
    w2, h2 = width // 2, height // 2
    low, high = (tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2))
    ramp = Image.linear_gradient("L").rotate(float(rng.uniform(0, 360))).resize((w2, h2))
    img = ImageOps.colorize(ramp, low, high)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(10, 20))):
        x0, y0 = int(rng.integers(-w2 // 8, w2)), int(rng.integers(-h2 // 8, h2))
        w = int(rng.integers(w2 // 8, w2 // 3))
        h = int(rng.integers(h2 // 8, h2 // 3))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            points = [
                (x0 + int(rng.integers(0, w)), y0 + int(rng.integers(0, h))) for _ in range(3)
            ]
            draw.polygon(points, fill=colour)
    img = img.resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.integers(-8, 9, (height, width, 1), dtype=np.int16)
    pixels = np.clip(np.asarray(img, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def encode(img: Image.Image, fmt: PictureFormat, quality: int = ORIGINAL_QUALITY) -> bytes:
    """Encode ``img`` as ``fmt``; deterministic for a given Pillow build."""
    out = io.BytesIO()
    if fmt == "jpeg":
        img.save(out, "JPEG", quality=quality)
    elif fmt == "png":
        img.save(out, "PNG", optimize=False)
    else:
        img.save(out, "WEBP", quality=quality, method=4)
    return out.getvalue()


def alter(img: Image.Image, alteration: str, params: dict[str, float | int | str]) -> Image.Image:
    """Apply one named alteration to an original picture (see :data:`ALTERATIONS`)."""
    width, height = img.size
    if alteration in ("jpeg_quality", "png", "webp"):
        return img
    if alteration == "resize":
        scale = float(params["scale"])
        return img.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    if alteration == "grey":
        return img.convert("L")
    if alteration == "blur":
        return img.filter(ImageFilter.GaussianBlur(float(params["radius"])))
    if alteration == "crop":
        dx, dy = round(width * float(params["fraction"])), round(height * float(params["fraction"]))
        return img.crop((dx, dy, width - dx, height - dy))
    if alteration == "flip":
        return ImageOps.mirror(img) if params["axis"] == "horizontal" else ImageOps.flip(img)
    if alteration == "rotate":
        return img.rotate(int(params["degrees"]), expand=True)
    if alteration == "border":
        return ImageOps.expand(img, int(params["width"]), fill=str(params["colour"]))
    raise ValueError(f"unknown alteration {alteration!r}")


ALTERATIONS = (
    "jpeg_quality",
    "resize",
    "png",
    "webp",
    "grey",
    "blur",
    "crop",
    "flip",
    "rotate",
    "border",
)


def render(seed: int, picture: Picture, original: Picture | None) -> bytes:
    """The exact bytes the world serves for ``picture`` (``original``: the one it alters)."""
    if picture.kind != "altered":
        img = draw_original(seed, picture.id, int(picture.params.get("salt", 0)))
        return encode(img, picture.format)
    if original is None:
        raise ValueError(f"altered picture {picture.id} needs its original")
    base = draw_original(seed, original.id, int(original.params.get("salt", 0)))
    img = alter(base, str(picture.alteration), picture.params)
    quality = int(picture.params.get("quality", ALTERED_QUALITY))
    return encode(img, picture.format, quality)


def pdq_hex(bits: np.ndarray) -> str:
    """PDQ bits as 64 lowercase hex digits, most significant bit first (python-threatexchange)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hash_picture(data: bytes) -> Hashes:
    """PDQ (on a full decode converted to RGB), MD5 and SHA-256 of encoded picture bytes."""
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
    bits, quality = pdqhash.compute(np.asarray(rgb))
    return Hashes(
        pdq=pdq_hex(bits),
        pdq_quality=int(quality),
        md5=hashlib.md5(data).hexdigest(),  # noqa: S324 - a content digest, not security
        sha256=hashlib.sha256(data).hexdigest(),
    )


def hamming(a: str, b: str) -> int:
    """Hamming distance between two PDQ hashes in hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()

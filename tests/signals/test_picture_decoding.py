"""Decoding for hashing: the format allow-list, the pixel limit, modes, frames, borders."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cordon.signals.hashing import hash_picture
from cordon.signals.pdq import distance, pdq_from_pixels
from cordon.signals.pictures import (
    FAST_SHORT_SIDE,
    Box,
    BrokenPicture,
    PictureTooLarge,
    UnsupportedPicture,
    border_box,
    decode,
    open_picture,
    pixel_limit,
    to_rgb,
)
from cordon.signals.synthetic import encode, photo_like


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` (pixels never decoded)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_every_allowed_format_decodes(fmt: str) -> None:
    picture = photo_like(1, 200, 150)
    decoded = decode(encode(picture, fmt), reduced=False)
    assert decoded.format == fmt
    assert decoded.pixels.shape == (150, 200, 3)


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM", "TGA"])
def test_formats_outside_the_allow_list_are_refused_before_decoding(fmt: str) -> None:
    data = encode(photo_like(2, 64, 64), fmt)
    with pytest.raises(UnsupportedPicture, match="allowed format"):
        hash_picture(data)


def test_bytes_that_are_no_picture_are_refused() -> None:
    with pytest.raises(UnsupportedPicture):
        hash_picture(b"<html><body>not a picture</body></html>")
    with pytest.raises(UnsupportedPicture):
        hash_picture(b"")


def test_a_truncated_jpeg_is_reported_as_broken() -> None:
    data = encode(photo_like(3, 400, 300))
    with pytest.raises(BrokenPicture, match="does not decode"):
        hash_picture(data[: len(data) // 3])


def test_the_pixel_limit_is_pillows_and_is_enforced_from_the_header() -> None:
    assert pixel_limit() == Image.MAX_IMAGE_PIXELS
    with pytest.raises(PictureTooLarge, match="limit"):
        open_picture(png_header_only(20_000, 20_000))
    small = encode(photo_like(4, 100, 100), "PNG")
    with pytest.raises(PictureTooLarge, match=r"10,000 pixels .*100×100.*limit of 9,999"):
        hash_picture(small, max_pixels=9_999)
    assert hash_picture(small, max_pixels=10_000).width == 100


def test_a_gif_gives_its_first_frame() -> None:
    frames = [photo_like(10, 120, 90), photo_like(11, 120, 90)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as gif:
        first = np.asarray(gif.convert("RGB"))
        gif.seek(1)
        second = np.asarray(gif.convert("RGB"))
    decoded = decode(data, reduced=True)
    assert np.array_equal(decoded.pixels, first)
    assert not np.array_equal(decoded.pixels, second)


def test_jpegs_decode_at_reduced_scale_on_the_fast_path_only() -> None:
    data = encode(photo_like(5, 1600, 1200))
    fast = decode(data, reduced=True)
    full = decode(data, reduced=False)
    assert full.pixels.shape == (1200, 1600, 3)
    assert fast.pixels.shape == (600, 800, 3)  # 1/2: 1/4 would leave a short side under 384
    assert min(fast.pixels.shape[:2]) >= FAST_SHORT_SIDE
    assert (fast.width, fast.height) == (1600, 1200)
    small = encode(photo_like(6, 500, 400))
    assert decode(small, reduced=True).pixels.shape == (400, 500, 3)


def test_sixteen_bit_greys_are_scaled_not_clipped_and_eight_bit_values_kept() -> None:
    ramp = np.linspace(0, 65535, 256 * 32).reshape(32, 256).astype(np.uint16)
    picture = Image.fromarray(ramp)
    assert picture.mode.startswith("I;16")
    rgb = to_rgb(picture)
    assert rgb[0, 0, 0] == 0
    assert rgb[-1, -1, 0] == 255
    middle = rgb[16, 128, 0]
    assert 120 <= middle <= 135
    assert np.all(np.diff(rgb[:, :, 0].ravel().astype(int)) >= 0)
    # Values that never exceed 255 (an 8-bit grey in a wider container) are kept as they are.
    eight_bit = Image.fromarray(np.arange(256, dtype=np.uint16).reshape(16, 16))
    assert np.array_equal(to_rgb(eight_bit)[:, :, 1].ravel(), np.arange(256))


@pytest.mark.parametrize(
    "mode",
    [
        "1",
        "L",
        "LA",
        "La",
        "P",
        "PA",
        "RGBA",
        "RGBa",
        "RGBX",
        "CMYK",
        "YCbCr",
        "HSV",
        "LAB",
        "I",
        "I;16",
        "F",
    ],
)
def test_every_mode_converts_to_rgb_near_the_original(mode: str) -> None:
    original = photo_like(7, 320, 240)
    reference = pdq_from_pixels(np.asarray(original))[0]
    if mode in ("I", "I;16", "F"):
        converted = original.convert("L").convert(mode)
    elif mode == "La":
        converted = original.convert("LA").convert(mode)
    else:
        converted = original.convert(mode)
    rgb = to_rgb(converted)
    assert rgb.shape == (240, 320, 3)
    assert rgb.dtype == np.uint8
    limit = 40 if mode == "1" else 10  # a bilevel picture keeps only the coarse structure
    assert distance(pdq_from_pixels(rgb)[0].digest, reference.digest) <= limit, mode


def bordered(
    picture: Image.Image, colour: tuple[int, int, int], sides: tuple[int, int, int, int]
) -> Image.Image:
    left, top, right, bottom = sides
    canvas = Image.new("RGB", (picture.width + left + right, picture.height + top + bottom), colour)
    canvas.paste(picture, (left, top))
    return canvas


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (200, 30, 60)])
def test_uniform_borders_of_any_colour_are_found(colour: tuple[int, int, int]) -> None:
    content = photo_like(8, 300, 200)
    framed = bordered(content, colour, (40, 25, 10, 60))
    pixels = decode(encode(framed, quality=95), reduced=False).pixels
    box = border_box(pixels)
    assert abs(box.left - 40) <= 2
    assert abs(box.top - 25) <= 2
    assert abs(box.right - 340) <= 2
    assert abs(box.bottom - 225) <= 2


def test_pictures_without_borders_or_all_uniform_are_left_whole() -> None:
    pixels = np.asarray(photo_like(9, 300, 200))
    assert border_box(pixels) == Box(0, 0, 300, 200)
    flat = np.full((100, 100, 3), 128, np.uint8)
    assert border_box(flat) == Box(0, 0, 100, 100)
    stripe = flat.copy()
    stripe[:, 50] = 0  # content narrower than a fifth of the picture
    assert border_box(stripe) == Box(0, 0, 100, 100)

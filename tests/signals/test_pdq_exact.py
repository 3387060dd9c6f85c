"""Cordon's compiled PDQ gives the reference's hash and quality for the same pixels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pdqhash
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordon.signals.pdq import PdqHash, distance, parse_hex, pdq_from_pixels, pdq_of_turned_pixels
from cordon.signals.synthetic import photo_like


def reference(pixels: npt.NDArray[np.uint8], dihedral: bool = False) -> list[PdqHash]:
    if dihedral:
        vectors, quality = pdqhash.compute_dihedral(pixels)
    else:
        vector, quality = pdqhash.compute(pixels)
        vectors = [vector]
    return [PdqHash(np.packbits(np.asarray(v, dtype=np.uint8)).tobytes(), quality) for v in vectors]


def pixels_for(seed: int, rows: int, cols: int, kind: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    if kind == 0:
        return rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8)
    if kind == 1:
        return np.asarray(photo_like(seed, cols, rows))
    ys, xs = np.mgrid[0:rows, 0:cols]
    wave = np.sin(xs / rng.uniform(3, 60)) * np.cos(ys / rng.uniform(3, 60)) * 120 + 128
    return np.stack([wave, 255 - wave, wave / 2], axis=2).clip(0, 255).astype(np.uint8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(5, 700),
    cols=st.integers(5, 700),
    kind=st.integers(0, 2),
)
def test_hash_and_quality_equal_pdqhash_for_any_size(
    seed: int, rows: int, cols: int, kind: int
) -> None:
    pixels = pixels_for(seed, rows, cols, kind)
    assert pdq_from_pixels(pixels, dihedral=True) == reference(pixels, dihedral=True)


@pytest.mark.parametrize(("rows", "cols"), [(64, 64), (5, 5), (5, 900), (1200, 7), (128, 64)])
def test_edge_sizes_equal_pdqhash(rows: int, cols: int) -> None:
    pixels = pixels_for(rows * 1000 + cols, rows, cols, 2)
    assert pdq_from_pixels(pixels) == reference(pixels)


def test_pictures_under_five_pixels_hash_to_zero_with_quality_zero() -> None:
    tiny = np.full((4, 40, 3), 200, dtype=np.uint8)
    assert pdq_from_pixels(tiny) == [PdqHash(bytes(32), 0)]


def test_grey_pixels_hash_as_the_same_grey_in_rgb() -> None:
    grey = np.asarray(photo_like(3, 300, 200).convert("L"))
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert pdq_from_pixels(grey) == pdq_from_pixels(rgb)


def test_non_contiguous_and_rgba_pixels_hash_like_their_rgb() -> None:
    rgb = np.asarray(photo_like(4, 320, 240))
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
    assert pdq_from_pixels(rgba) == pdq_from_pixels(rgb)
    flipped = rgb[:, ::-1]
    assert pdq_from_pixels(flipped) == reference(np.ascontiguousarray(flipped))


def test_bad_pixel_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        pdq_from_pixels(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="rows, cols"):
        pdq_from_pixels(np.zeros((10, 10, 2), dtype=np.uint8))


def test_hex_parsing_accepts_either_case_and_names_the_problem() -> None:
    text = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    assert parse_hex(text.upper()).hex() == text
    with pytest.raises(ValueError, match="64 hexadecimal digits, not 63"):
        parse_hex(text[:-1])
    with pytest.raises(ValueError, match="only hexadecimal"):
        parse_hex("g" + text[1:])


def test_distance_counts_differing_bits() -> None:
    a = bytes(32)
    b = bytes([0xFF]) + bytes(30) + bytes([0x01])
    assert distance(a, b) == 9
    assert distance(b, b) == 0


TURNS = (
    lambda a: a,
    lambda a: np.rot90(a, 1),
    lambda a: np.rot90(a, 2),
    lambda a: np.rot90(a, 3),
    lambda a: a[::-1],
    lambda a: a[:, ::-1],
    lambda a: a.transpose(1, 0, 2),
    lambda a: np.rot90(a, 2).transpose(1, 0, 2),
)


@pytest.mark.parametrize(
    ("cols", "rows"), [(640, 480), (333, 517), (320, 240), (64, 64), (100, 37)]
)
def test_turned_variants_are_within_a_few_bits_of_hashing_the_turned_pixels(
    cols: int, rows: int
) -> None:
    for seed in range(3):
        pixels = np.asarray(photo_like(seed + cols, cols, rows))
        turned = pdq_of_turned_pixels(pixels)
        assert turned[0] == pdq_from_pixels(pixels)[0]
        for variant, turn in zip(turned, TURNS, strict=True):
            exact = pdq_from_pixels(np.ascontiguousarray(turn(pixels)))[0]
            assert distance(variant.digest, exact.digest) <= 6
            assert variant.quality == turned[0].quality

"""PDQ conformance on the reference pictures published with the algorithm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from cordon.signals.hashing import HashPath, hash_picture
from cordon.signals.pdq import PdqHash, distance, pdq_from_pixels

PICTURE_SUFFIXES = {".jpg", ".png", ".webp", ".gif", ".bmp"}


def pictures(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in PICTURE_SUFFIXES)


def reference(path: Path) -> PdqHash:
    """The reference implementation on a full decode converted to RGB (as the criterion says)."""
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("RGB"))
    vector, quality = pdqhash.compute(pixels)
    return PdqHash(np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes(), int(quality))


@pytest.fixture(scope="module")
def references(pdq_conformance: Path) -> dict[Path, tuple[str, PdqHash]]:
    """Each conformance picture's stored mode and reference hash, computed once."""
    out: dict[Path, tuple[str, PdqHash]] = {}
    for path in pictures(pdq_conformance):
        with Image.open(path) as picture:
            mode = picture.mode
        out[path] = (mode, reference(path))
    assert len(out) >= 40
    return out


def test_the_reference_path_is_the_reference_and_within_10_on_every_quality_picture(
    references: dict[Path, tuple[str, PdqHash]],
) -> None:
    for path, (mode, ref) in references.items():
        ours = hash_picture(path.read_bytes(), path="reference").pdq
        if mode == "RGB":
            assert ours == ref, path.name
        if ref.quality >= 80:
            assert distance(ours.digest, ref.digest) <= 10, path.name


def test_the_fast_path_is_within_10_of_the_reference_on_every_quality_picture(
    references: dict[Path, tuple[str, PdqHash]],
) -> None:
    checked = 0
    for path, (_, ref) in references.items():
        if ref.quality < 80:
            continue
        ours = hash_picture(path.read_bytes(), path="fast").pdq
        assert distance(ours.digest, ref.digest) <= 10, path.name
        checked += 1
    assert checked >= 35


def test_the_compiled_pdq_equals_pdqhash_bit_for_bit_on_the_same_pixels(
    pdq_conformance: Path,
) -> None:
    # Pictures up to 2 megapixels (the 12-megapixel ones add time, not coverage).
    compared = 0
    for path in pictures(pdq_conformance):
        with Image.open(path) as picture:
            if picture.width * picture.height > 2_000_000:
                continue
            pixels = np.asarray(picture.convert("RGB"))
        vectors, quality = pdqhash.compute_dihedral(pixels)
        ours = pdq_from_pixels(pixels, dihedral=True)
        for got, vector in zip(ours, vectors, strict=True):
            assert got.digest == np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes()
            assert got.quality == quality
        compared += 1
    assert compared >= 40


@pytest.mark.parametrize("path_kind", ["fast", "reference"])
def test_every_altered_bridge_is_within_31_of_the_original(
    pdq_conformance: Path, path_kind: HashPath
) -> None:
    folder = pdq_conformance / "bridge-mods"
    original = hash_picture((folder / "aaa-orig.jpg").read_bytes(), path=path_kind).pdq
    altered = [p for p in pictures(folder) if p.name != "aaa-orig.jpg"]
    assert len(altered) >= 10
    for path in altered:
        copy = hash_picture(path.read_bytes(), path=path_kind).pdq
        assert distance(copy.digest, original.digest) <= 31, path.name


@pytest.mark.parametrize("path_kind", ["fast", "reference"])
def test_every_image_mode_copy_is_within_10_of_the_original(
    pdq_conformance: Path, path_kind: HashPath
) -> None:
    folder = pdq_conformance / "misc-images" / "modes"
    original = hash_picture((folder / "original.jpg").read_bytes(), path=path_kind).pdq
    copies = pictures(folder)
    assert len(copies) >= 12
    for path in copies:
        copy = hash_picture(path.read_bytes(), path=path_kind).pdq
        assert distance(copy.digest, original.digest) <= 10, path.name


def test_cmyk_and_palette_pictures_are_converted_not_hashed_raw(pdq_conformance: Path) -> None:
    # Hashing the raw CMYK channels or palette indices (as python-threatexchange does) lands far
    # away; Cordon converts to RGB first and lands next to the original.
    folder = pdq_conformance / "misc-images" / "modes"
    original = hash_picture((folder / "original.jpg").read_bytes(), path="reference").pdq
    for name, raw_distance_at_least in (("CMYK.jpg", 200), ("P.png", 20)):
        with Image.open(folder / name) as picture:
            raw = np.asarray(picture)
        if raw.ndim == 2:
            raw = np.repeat(raw[:, :, None], 3, axis=2)
        vector, _ = pdqhash.compute(np.ascontiguousarray(raw[:, :, :3]))
        raw_hash = np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes()
        assert distance(raw_hash, original.digest) >= raw_distance_at_least
        ours = hash_picture((folder / name).read_bytes(), path="reference").pdq
        assert distance(ours.digest, original.digest) <= 2


def test_exif_orientation_is_not_applied(pdq_conformance: Path) -> None:
    path = pdq_conformance / "reg-test-input" / "exif-rotn" / "exif-rotn-6.jpg"
    with Image.open(path) as picture:
        stored = np.asarray(picture.convert("RGB"))
        upright = np.asarray(ImageOps.exif_transpose(picture).convert("RGB"))
    assert stored.shape != upright.shape
    ours = hash_picture(path.read_bytes(), path="reference").pdq
    assert ours == pdq_from_pixels(stored)[0]
    assert ours != pdq_from_pixels(upright)[0]


def test_each_rotation_and_flip_matches_its_dihedral_variant(pdq_conformance: Path) -> None:
    folder = pdq_conformance / "reg-test-input" / "dih"
    original = hash_picture((folder / "bridge-1-original.jpg").read_bytes(), dihedral=True)
    variants = dict(original.pdq_hashes())
    names = {
        "bridge-2-rotate-90.jpg": "rotate90",
        "bridge-3-rotate-180.jpg": "rotate180",
        "bridge-4-rotate-270.jpg": "rotate270",
        "bridge-5-flipx.jpg": "flipx",
        "bridge-6-flipy.jpg": "flipy",
        "bridge-7-flip-plus-1.jpg": "flip_plus1",
        "bridge-8-flip-minus-1.jpg": "flip_minus1",
    }
    for file_name, variant in names.items():
        copy = hash_picture((folder / file_name).read_bytes()).pdq
        assert distance(copy.digest, variants[variant].digest) <= 31, file_name
        assert distance(copy.digest, original.pdq.digest) > 31, file_name


def test_low_quality_pictures_are_flagged(pdq_conformance: Path) -> None:
    low = hash_picture((pdq_conformance / "misc-images" / "small.jpg").read_bytes()).pdq
    assert low.quality < 50
    assert low.low_quality
    good = hash_picture((pdq_conformance / "bridge-mods" / "aaa-orig.jpg").read_bytes()).pdq
    assert not good.low_quality

"""Hashing pictures in memory: digests, the two PDQ paths, rotations, flips and borders."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pdqhash
import pytest
from PIL import Image

from cordon.signals.hashing import PictureSignals, hash_picture, reference_pdq
from cordon.signals.pdq import DIHEDRAL_NAMES, distance
from cordon.signals.synthetic import encode, photo_like


def test_digests_are_of_the_exact_bytes() -> None:
    data = encode(photo_like(20, 300, 200))
    signals = hash_picture(data)
    assert signals.md5 == hashlib.md5(data).hexdigest()
    assert signals.sha256 == hashlib.sha256(data).hexdigest()
    assert (signals.format, signals.width, signals.height, signals.mode) == (
        "JPEG",
        300,
        200,
        "RGB",
    )


def test_the_reference_path_is_pdqhash_on_the_full_decode() -> None:
    data = encode(photo_like(21, 1400, 900))
    with Image.open(io.BytesIO(data)) as picture:
        vector, quality = pdqhash.compute(np.asarray(picture.convert("RGB")))
    expected = np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes()
    signals = hash_picture(data, path="reference")
    assert signals.path == "reference"
    assert signals.pdq.digest == expected
    assert signals.pdq.quality == quality
    assert reference_pdq(data) == signals.pdq


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (3000, 2000), (900, 1600)])
def test_the_fast_path_stays_close_to_the_reference(width: int, height: int) -> None:
    data = encode(photo_like(width + height, width, height))
    fast = hash_picture(data, path="fast").pdq
    ref = hash_picture(data, path="reference").pdq
    assert ref.quality >= 80
    assert distance(fast.digest, ref.digest) <= 10


def test_pngs_get_the_reference_hash_on_the_fast_path_too() -> None:
    data = encode(photo_like(22, 700, 500), "PNG")
    assert hash_picture(data, path="fast").pdq == hash_picture(data, path="reference").pdq


def test_hex_form_is_64_lowercase_digits() -> None:
    signals = hash_picture(encode(photo_like(23, 200, 200)))
    assert len(signals.pdq.hex) == 64
    assert signals.pdq.hex == signals.pdq.hex.lower()
    assert bytes.fromhex(signals.pdq.hex) == signals.pdq.digest


def test_flat_pictures_are_low_quality() -> None:
    flat = Image.new("RGB", (300, 300), (90, 120, 150))
    signals = hash_picture(encode(flat, "PNG"))
    assert signals.pdq.quality < 50
    assert signals.pdq.low_quality


def test_unknown_hash_path_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hash path"):
        hash_picture(encode(photo_like(24, 64, 64)), path="quick")  # type: ignore[arg-type]  # deliberately wrong


TRANSFORMS = {
    "rotate90": Image.Transpose.ROTATE_90,
    "rotate180": Image.Transpose.ROTATE_180,
    "rotate270": Image.Transpose.ROTATE_270,
    "flip_left_right": Image.Transpose.FLIP_LEFT_RIGHT,
    "flip_top_bottom": Image.Transpose.FLIP_TOP_BOTTOM,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def best_distance(stored: PictureSignals, query: PictureSignals) -> int:
    """Smallest distance between the stored plain hash and any of the query's hashes."""
    return min(distance(stored.pdq.digest, h.digest) for _, h in query.pdq_hashes())


def test_rotated_and_flipped_copies_match_only_with_dihedral_matching() -> None:
    for seed in range(4):
        original = photo_like(100 + seed, 480, 360)
        stored = hash_picture(encode(original), path="reference")
        for name, op in TRANSFORMS.items():
            copy = encode(original.transpose(op))
            plain = hash_picture(copy)
            assert best_distance(stored, plain) > 31, name
            turned = hash_picture(copy, dihedral=True)
            assert [v.name for v in turned.variants] == list(DIHEDRAL_NAMES[1:])
            assert best_distance(stored, turned) <= 31, name


def test_bordered_copies_match_only_with_border_trimming() -> None:
    for seed, colour in enumerate([(0, 0, 0), (255, 255, 255), (30, 140, 70)]):
        original = photo_like(200 + seed, 480, 360)
        stored = hash_picture(encode(original), path="reference")
        canvas = Image.new("RGB", (480 + 2 * 120, 360 + 2 * 90), colour)
        canvas.paste(original, (120, 90))
        copy = encode(canvas)
        assert best_distance(stored, hash_picture(copy)) > 31
        trimmed = hash_picture(copy, trim_borders=True)
        assert trimmed.trimmed is not None
        assert [v.name for v in trimmed.variants] == ["trimmed"]
        assert best_distance(stored, trimmed) <= 31
        both = hash_picture(copy, trim_borders=True, dihedral=True)
        assert len(both.variants) == 7 + 1 + 7


def test_variants_make_no_false_matches_between_unrelated_pictures() -> None:
    signals = [
        hash_picture(encode(photo_like(300 + seed, 400, 300)), dihedral=True, trim_borders=True)
        for seed in range(24)
    ]
    for i, a in enumerate(signals):
        for b in signals[i + 1 :]:
            assert best_distance(a, b) > 31


def test_a_picture_without_borders_gets_no_trimmed_variant() -> None:
    signals = hash_picture(encode(photo_like(400, 300, 200)), trim_borders=True)
    assert signals.trimmed is None
    assert signals.variants == ()

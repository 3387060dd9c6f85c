"""The world's pictures and its hash list, checked against python-threatexchange."""

from __future__ import annotations

import hashlib
from pathlib import Path

from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes, pdq_from_file
from threatexchange.signal_type.pdq.signal import PdqSignal

from cordon.world import GroundTruth
from cordon.world.pictures import hamming, hash_picture, render


def test_pdq_hex_is_packed_as_python_threatexchange_packs_it(pdq_conformance: Path) -> None:
    reference = pdq_conformance / "bridge-mods" / "aaa-orig.jpg"
    expected, quality = pdq_from_file(reference)
    ours = hash_picture(reference.read_bytes())
    assert ours.pdq == expected
    assert ours.pdq_quality == quality


def test_known_hashes_are_those_of_the_served_bytes(built_world: tuple[Path, GroundTruth]) -> None:
    _, truth = built_world
    for picture in truth.known()[:15]:
        data = render(truth.spec.seed, picture, None)
        assert pdq_from_bytes(data) == (picture.pdq, picture.pdq_quality)
        assert hashlib.md5(data).hexdigest() == picture.md5
        assert hashlib.sha256(data).hexdigest() == picture.sha256


def test_hash_list_is_in_python_threatexchange_file_format(
    built_world: tuple[Path, GroundTruth],
) -> None:
    folder, truth = built_world
    lines = (folder / "known.txt").read_text().splitlines()
    known = truth.known()
    assert len(lines) == 3 * len(known)
    by_type: dict[str, list[str]] = {}
    for line in lines:
        signal_type, _, signal = line.partition(" ")
        by_type.setdefault(signal_type, []).append(signal)
    assert set(by_type) == {"pdq", "photo_md5", "photo_sha256"}
    assert PdqSignal.get_name() == "pdq"
    for signal in by_type["pdq"]:
        assert PdqSignal.validate_signal_str(signal) == signal
    assert by_type["pdq"] == [p.pdq for p in known]
    assert by_type["photo_md5"] == [p.md5 for p in known]


def test_known_originals_are_hashable_and_far_apart(built_world: tuple[Path, GroundTruth]) -> None:
    _, truth = built_world
    known = truth.known()
    assert all((p.pdq_quality or 0) >= 50 for p in known)
    hashes = [str(p.pdq) for p in known]
    closest = min(hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :])
    assert closest >= 64


def test_altered_copies_record_their_true_distance(built_world: tuple[Path, GroundTruth]) -> None:
    _, truth = built_world
    altered = [p for p in truth.pictures if p.kind == "altered"]
    assert {p.alteration for p in altered} == {
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
    }
    seen = set()
    for picture in altered:
        if picture.alteration in seen:
            continue
        seen.add(picture.alteration)
        original = truth.picture(str(picture.of))
        data = render(truth.spec.seed, picture, original)
        pdq, _ = pdq_from_bytes(data)
        assert pdq == picture.pdq
        assert hamming(pdq, str(original.pdq)) == picture.pdq_distance
    # Re-encodings and colour changes keep PDQ within the match threshold.
    for picture in altered:
        if picture.alteration in ("jpeg_quality", "png", "webp", "grey", "blur"):
            assert (picture.pdq_distance or 0) <= 31, picture


def test_unknown_pictures_do_not_match_any_known_one(
    built_world: tuple[Path, GroundTruth],
) -> None:
    _, truth = built_world
    known = [str(p.pdq) for p in truth.known()]
    unknown = [p for p in truth.pictures if p.kind == "unknown"][:60]
    for picture in unknown:
        pdq = hash_picture(render(truth.spec.seed, picture, None)).pdq
        assert min(hamming(pdq, k) for k in known) > 31

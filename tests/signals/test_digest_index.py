"""Exact digest lookup (photo_md5, photo_sha256, video_md5)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from cordon.signals.index import DigestIndex, IndexFileError, MatchIndexError, PdqIndex


def md5(i: int) -> str:
    return hashlib.md5(str(i).encode()).hexdigest()


def test_lookup_finds_every_id_holding_the_digest_and_nothing_else() -> None:
    index = DigestIndex(16)
    index.add(range(1000), [md5(i % 400) for i in range(1000)])
    found = index.lookup([md5(7), md5(399), md5(5000), "00" * 16])
    assert found[0].tolist() == [7, 407, 807]
    assert found[1].tolist() == [399, 799]
    assert found[2].tolist() == []
    assert found[3].tolist() == []


def test_digests_ending_in_zero_bytes_are_told_apart() -> None:
    index = DigestIndex(16)
    index.add([1, 2, 3], ["ab" + "00" * 15, "ab" + "00" * 14 + "01", "00" * 16])
    assert [
        f.tolist() for f in index.lookup(["ab" + "00" * 15, "00" * 16, "ab" + "00" * 14 + "02"])
    ] == [
        [1],
        [3],
        [],
    ]


def test_adds_disables_and_replacements_are_incremental() -> None:
    index = DigestIndex(32)
    digests = [hashlib.sha256(bytes([i])).hexdigest() for i in range(200)]
    for start in range(0, 200, 7):
        index.add(range(start, min(start + 7, 200)), digests[start : start + 7])
    assert len(index) == 200
    assert index.disable([3, 4, 999]) == 2
    assert index.lookup([digests[3]])[0].tolist() == []
    index.add([5], [digests[3]])  # id 5 now holds another digest
    assert index.lookup([digests[3]])[0].tolist() == [5]
    assert index.lookup([digests[5]])[0].tolist() == []
    assert len(index) == 198


def test_bad_digests_change_nothing() -> None:
    index = DigestIndex(16)
    with pytest.raises(MatchIndexError, match="digest 1: expected 16 bytes"):
        index.add([1, 2], [md5(1), "ab" * 20])
    with pytest.raises(MatchIndexError, match="not hexadecimal"):
        index.add([1], ["xy" * 16])
    assert len(index) == 0
    with pytest.raises(MatchIndexError, match="unsupported digest width"):
        DigestIndex(17)


def test_digest_index_files_round_trip_and_are_not_pdq_files(tmp_path: Path) -> None:
    index = DigestIndex(16)
    index.add(np.arange(50), [md5(i) for i in range(50)], checkpoint=7)
    path = tmp_path / "md5.idx"
    index.save(path)
    loaded = DigestIndex.load(path)
    assert loaded.checkpoint == 7
    assert loaded.width == 16
    assert loaded.lookup([md5(42)])[0].tolist() == [42]
    with pytest.raises(IndexFileError, match="another kind"):
        PdqIndex.load(path)

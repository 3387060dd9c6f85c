"""The PDQ match index returns exactly what brute force returns, and lives incrementally."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordon.signals.index import (
    GUARANTEED_THRESHOLD,
    SCAN_BELOW,
    IndexFileError,
    IndexReader,
    MatchIndexError,
    PdqIndex,
    SearchResult,
    read_header,
)

Hashes = npt.NDArray[np.uint8]


def random_hashes(rng: np.random.Generator, n: int) -> Hashes:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def flip(rng: np.random.Generator, h: Hashes, bits: int) -> Hashes:
    """``h`` with exactly ``bits`` distinct bits flipped."""
    out = h.copy()
    for b in rng.choice(256, bits, replace=False):
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def brute(
    stored_ids: npt.NDArray[np.int64], stored: Hashes, query: Hashes, t: int
) -> list[tuple[int, int]]:
    dist = np.bitwise_count(stored ^ query[None, :]).sum(axis=1)
    keep = dist <= t
    return sorted(zip(dist[keep].tolist(), stored_ids[keep].tolist(), strict=True))


def as_pairs(result: SearchResult, i: int) -> list[tuple[int, int]]:
    ids, dist = result[i]
    return list(zip(dist.tolist(), ids.tolist(), strict=True))


@pytest.fixture(scope="module")
def planted() -> tuple[npt.NDArray[np.int64], Hashes, Hashes]:
    """60,000 stored hashes and queries planted at every distance 0–40 (31 and 32 many times)."""
    rng = np.random.default_rng(31)
    stored = random_hashes(rng, 60_000)
    ids = (np.arange(60_000, dtype=np.int64) * 7) + 1_000_000_000_000
    queries = []
    for d in [*range(41), *([31] * 40), *([32] * 40), *([30] * 20)]:
        queries.append(flip(rng, stored[rng.integers(0, 60_000)], d))
    # A family of near duplicates: many stored hashes near one query.
    root = stored[5]
    family = np.stack([flip(rng, root, int(rng.integers(0, 40))) for _ in range(300)])
    stored[100:400] = family
    queries.append(root.copy())
    queries.extend(random_hashes(rng, 40))
    return ids, stored, np.stack(queries)


@pytest.mark.parametrize("threshold", [0, 10, 11, 21, 22, 31, 32, 33, 40])
def test_recall_is_one_against_brute_force(
    planted: tuple[npt.NDArray[np.int64], Hashes, Hashes], threshold: int
) -> None:
    ids, stored, queries = planted
    index = PdqIndex.from_entries(ids, stored)
    result = index.search(queries, threshold)
    assert len(result) == queries.shape[0]
    for i, query in enumerate(queries):
        assert as_pairs(result, i) == brute(ids, stored, query, threshold), i


def test_distance_31_matches_and_32_does_not_at_threshold_31() -> None:
    rng = np.random.default_rng(3132)
    stored = random_hashes(rng, 20_000)
    ids = np.arange(20_000, dtype=np.int64)
    index = PdqIndex.from_entries(ids, stored)
    assert index.segment_sizes == [20_000]
    for target in range(0, 20_000, 500):
        at31 = flip(rng, stored[target], 31)
        at32 = flip(rng, stored[target], 32)
        result = index.search(np.stack([at31, at32]), 31)
        assert (target, 31) in zip(result[0][0].tolist(), result[0][1].tolist(), strict=True)
        assert target not in result[1][0].tolist()
    assert GUARANTEED_THRESHOLD == 32


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 9000),
    threshold=st.integers(0, 48),
)
def test_any_index_agrees_with_brute_force(seed: int, n: int, threshold: int) -> None:
    rng = np.random.default_rng(seed)
    stored = random_hashes(rng, n)
    if n:
        stored[: n // 3] = stored[0]  # identical hashes under different ids
    ids = rng.permutation(n * 3)[:n].astype(np.int64)
    queries = [random_hashes(rng, 1)[0]]
    if n:
        queries += [
            flip(rng, stored[int(rng.integers(0, n))], int(rng.integers(0, 49))) for _ in range(8)
        ]
    index = PdqIndex.from_entries(ids, stored)
    result = index.search(np.stack(queries), threshold)
    for i, query in enumerate(queries):
        assert as_pairs(result, i) == brute(ids, stored, query, threshold)


def test_incremental_adds_and_disables_match_a_fresh_build() -> None:
    rng = np.random.default_rng(77)
    stored = random_hashes(rng, 30_000)
    ids = np.arange(30_000, dtype=np.int64) + 10
    queries = np.stack(
        [flip(rng, stored[i], int(rng.integers(0, 36))) for i in range(0, 30_000, 97)]
    )
    index = PdqIndex()
    for start in range(0, 30_000, 1_111):
        index.add(ids[start : start + 1_111], stored[start : start + 1_111])
    assert len(index) == 30_000
    assert len(index.segment_sizes) < 12  # merged geometrically, not one segment per add
    gone = ids[::3]
    assert index.disable(gone) == gone.shape[0]
    assert index.disable(gone) == 0  # already disabled
    keep = np.ones(30_000, dtype=bool)
    keep[::3] = False
    result = index.search(queries, 31)
    for i, query in enumerate(queries):
        assert as_pairs(result, i) == brute(ids[keep], stored[keep], query, 31)
    # Re-adding a disabled id brings it back; re-adding a live id replaces its hash.
    index.add(ids[:1], stored[:1])
    index.add(ids[1:2], stored[3:4])
    assert index.search(stored[:1], 0)[0][0].tolist() == [ids[0]]
    assert ids[1] in index.search(stored[3:4], 0)[0][0].tolist()
    assert ids[1] not in index.search(stored[1:2], 0)[0][0].tolist()


def test_an_added_entry_is_matchable_at_once_without_a_rebuild() -> None:
    rng = np.random.default_rng(5)
    stored = random_hashes(rng, 2 * SCAN_BELOW)
    index = PdqIndex.from_entries(np.arange(2 * SCAN_BELOW), stored)
    big = index.segment_sizes
    new = random_hashes(rng, 1)
    index.add([999_999], new)
    assert index.segment_sizes == [*big, 1]  # the big segment was not rebuilt
    assert index.search(flip(rng, new[0], 31)[None, :], 31)[0][0].tolist() == [999_999]


def test_checkpoints_only_grow_and_bad_input_changes_nothing() -> None:
    index = PdqIndex()
    index.add([1], ["00" * 32], checkpoint=10)
    assert index.checkpoint == 10
    index.disable([1])
    assert index.checkpoint == 11
    with pytest.raises(MatchIndexError, match="older"):
        index.add([2], ["11" * 32], checkpoint=5)
    with pytest.raises(MatchIndexError, match="hash 1: a PDQ hash is 32 bytes"):
        index.add([3, 4], ["22" * 32, "33" * 31])
    with pytest.raises(MatchIndexError, match="2 ids for 1 hashes"):
        index.add([5, 6], ["44" * 32])
    with pytest.raises(MatchIndexError, match="not hexadecimal"):
        index.search(["zz" * 32])
    with pytest.raises(MatchIndexError, match="threshold"):
        index.search(["00" * 32], 300)
    assert len(index) == 0
    assert index.checkpoint == 11


def test_save_and_load_round_trip_with_the_checkpoint(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    stored = random_hashes(rng, 6000)
    index = PdqIndex.from_entries(np.arange(6000) * 2, stored, checkpoint=41)
    index.disable([0, 2, 4])
    path = tmp_path / "pdq.idx"
    index.save(path)
    header = read_header(path)
    assert (header.checkpoint, header.count, header.width) == (42, 5997, 32)
    loaded = PdqIndex.load(path)
    assert loaded.checkpoint == 42
    ids, hashes = loaded.entries()
    expected_ids, expected_hashes = index.entries()
    assert np.array_equal(ids, expected_ids)
    assert np.array_equal(hashes, expected_hashes)
    assert path.read_bytes()[:8] == b"CRDNIDX\x00"


def test_damaged_or_foreign_files_are_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "pdq.idx"
    PdqIndex.from_entries([1, 2], ["ab" * 32, "cd" * 32]).save(path)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    damaged = tmp_path / "damaged.idx"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(IndexFileError, match="damaged"):
        PdqIndex.load(damaged)
    truncated = tmp_path / "truncated.idx"
    truncated.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(IndexFileError, match="truncated"):
        PdqIndex.load(truncated)
    foreign = tmp_path / "foreign.idx"
    foreign.write_bytes(b"\x80\x04pickle data would go here and is never read" * 2)
    with pytest.raises(IndexFileError, match="not a Cordon index file"):
        PdqIndex.load(foreign)
    with pytest.raises(IndexFileError, match="cannot read"):
        PdqIndex.load(tmp_path / "missing.idx")


def test_a_reader_refreshes_when_the_checkpoint_moves(tmp_path: Path) -> None:
    path = tmp_path / "pdq.idx"
    writer = PdqIndex.from_entries([1], ["ab" * 32], checkpoint=1)
    writer.save(path)
    reader = IndexReader(path)
    first = reader.current()
    assert reader.checkpoint == 1
    assert reader.current() is first  # same checkpoint: no reload
    writer.add([2], ["cd" * 32])
    writer.save(path)
    second = reader.current()
    assert second is not first
    assert reader.checkpoint == 2
    assert second.search(["cd" * 32], 0)[0][0].tolist() == [2]


def test_searches_from_several_threads_agree() -> None:
    rng = np.random.default_rng(12)
    stored = random_hashes(rng, 20_000)
    index = PdqIndex.from_entries(np.arange(20_000), stored)
    queries = np.stack([flip(rng, stored[i], 20) for i in range(0, 20_000, 200)])
    expected = index.search(queries, 31)
    failures: list[str] = []

    def work() -> None:
        for _ in range(5):
            got = index.search(queries, 31)
            if not np.array_equal(got.ids, expected.ids):
                failures.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert all(len(expected[i][0]) >= 1 for i in range(len(expected)))


def test_a_query_near_a_large_family_gets_every_member() -> None:
    rng = np.random.default_rng(1000)
    stored = random_hashes(rng, 12_000)
    root = stored[0].copy()
    stored[:3000] = np.stack([flip(rng, root, int(rng.integers(0, 12))) for _ in range(3000)])
    ids = np.arange(12_000, dtype=np.int64)
    index = PdqIndex.from_entries(ids, stored)
    # More queries than one chunk, with over-full queries in the first and the second chunk.
    queries = random_hashes(rng, 4200)
    queries[0] = root
    queries[4100] = root
    queries[4101] = flip(rng, root, 20)
    result = index.search(queries, 31)
    first = as_pairs(result, 0)
    assert len(first) == 3000
    assert first == brute(ids, stored, root, 31)
    assert as_pairs(result, 4100) == first
    for i in (1, 4099, 4101, 4199):
        assert as_pairs(result, i) == brute(ids, stored, queries[i], 31)


def test_serial_and_parallel_searches_agree() -> None:
    rng = np.random.default_rng(21)
    stored = random_hashes(rng, 9000)
    index = PdqIndex.from_entries(np.arange(9000), stored)
    queries = np.stack([flip(rng, stored[i], int(rng.integers(0, 40))) for i in range(0, 9000, 90)])
    a = index.search(queries, 31, parallel=True)
    b = index.search(queries, 31, parallel=False)
    assert np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.ids, b.ids)
    assert np.array_equal(a.distances, b.distances)

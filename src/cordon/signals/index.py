"""Match indexes: exact PDQ search by Hamming distance, and exact digest lookup.

The indexes hold integer ids (the database's entry ids) and hashes, nothing else: metadata stays
in the database. Both are incremental (``add`` and ``disable`` never rebuild everything), are
saved with their own file format (never pickle) carrying a checkpoint, and answer every query
exactly.

PDQ search is multi-index hashing with the pigeonhole principle. The 256 bits are cut into 11
substrings (eight of 23 bits, three of 24). If two hashes are within distance ``t``, at least one
substring differs in at most ``t // 11`` bits (else the distance would be at least
``11 * (t // 11 + 1) > t``); for ``t`` up to 32 that is 2 bits. So each substring has a table
(a counting-sorted array of positions, addressed directly by the substring's leading bits), a
query probes in every table each address within 2 bits of its own, and every candidate is
verified against the full 256 bits. A candidate is reported from the first table whose substring
lies within the radius, so each match is reported once without a set. Entries live in segments
that merge geometrically as entries are added (a log-structured layout); tiny segments are
scanned.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Final

import numba
import numpy as np
import numpy.typing as npt

from cordon.signals.bits import popcount64

PDQ_BYTES: Final = 32
MAX_PDQ_DISTANCE: Final = 256

SUBSTRING_LENGTHS: Final = (23, 23, 23, 23, 23, 23, 23, 23, 24, 24, 24)
_LENS = np.array(SUBSTRING_LENGTHS, dtype=np.int64)
_OFFS = np.concatenate([[0], np.cumsum(_LENS)[:-1]]).astype(np.int64)
_TABLES: Final = len(SUBSTRING_LENGTHS)
_MAX_RADIUS: Final = 2
GUARANTEED_THRESHOLD: Final = _TABLES * (_MAX_RADIUS + 1) - 1
"""Largest threshold the tables answer (32); above it a segment is scanned, still exactly."""

SCAN_BELOW: Final = 4096
"""Segments smaller than this are scanned rather than indexed."""

SERIAL_BELOW: Final = 4
"""Batches up to this many queries run on the calling thread (latency); larger use all cores."""

MAX_ADDRESS_BITS: Final = 24
MERGE_FACTOR: Final = 4

IdArray = npt.NDArray[np.int64]
DistArray = npt.NDArray[np.int32]

# Numba's parallel kernels are not meant to be entered from several threads at once.
_KERNEL_LOCK = threading.Lock()


class MatchIndexError(ValueError):
    """Bad input to an index; the message says what is wrong."""


class IndexFileError(MatchIndexError):
    """An index file that cannot be read: missing, foreign, of another version or damaged."""


# ----------------------------------------------------------------------------------------------
# compiled kernels


@numba.njit(inline="always")
def _substring(words: Any, offset: int, length: int) -> Any:  # pragma: no cover - compiled
    word = offset >> 6
    bit = offset & 63
    value = words[word] >> np.uint64(bit)
    if bit + length > 64:
        value |= words[word + 1] << np.uint64(64 - bit)
    return value & np.uint64((1 << length) - 1)


@numba.njit(inline="always")
def _distance(a: Any, b: Any) -> int:  # pragma: no cover - compiled
    return int(
        popcount64(a[0] ^ b[0])
        + popcount64(a[1] ^ b[1])
        + popcount64(a[2] ^ b[2])
        + popcount64(a[3] ^ b[3])
    )


@numba.njit(parallel=True, cache=True)
def _build_tables(  # pragma: no cover - compiled
    words: Any, lens: Any, offs: Any, abits: Any, starts: Any, offsets: Any, buckets: Any
) -> None:
    # Counting sort of positions by address, one table per thread at a time. The arrays come
    # from numpy, whose large allocations are backed by huge pages (fewer TLB misses).
    n = words.shape[0]
    m = lens.shape[0]
    for t in numba.prange(m):
        length = lens[t]
        shift = np.uint64(length - abits[t])
        count = offsets[starts[t] : starts[t + 1]]
        address = np.empty(n, np.uint32)
        for i in range(n):
            a = np.uint32(_substring(words[i], offs[t], length) >> shift)
            address[i] = a
            count[a + 1] += 1
        for slot in range(1, count.shape[0]):
            count[slot] += count[slot - 1]
        fill = count[:-1].copy()
        for i in range(n):
            a = address[i]
            buckets[t, fill[a]] = i
            fill[a] += 1


@numba.njit(inline="always")
def _probe_count(bits: int, radius: int) -> int:  # pragma: no cover - compiled
    count = 1
    if radius >= 1:
        count += bits
    if radius >= 2:
        count += bits * (bits - 1) // 2
    return count


@numba.njit(inline="always")
def _keep(found: int, pos: Any, dist: Any, p: int, d: int) -> Any:  # pragma: no cover
    # Append one match to a query's growable result buffers.
    if found == pos.shape[0]:
        bigger_pos = np.empty(found * 2, np.int64)
        bigger_pos[:found] = pos[:found]
        pos = bigger_pos
        bigger_dist = np.empty(found * 2, np.int32)
        bigger_dist[:found] = dist[:found]
        dist = bigger_dist
    pos[found] = p
    dist[found] = d
    return pos, dist


@numba.njit(nogil=True)
def _search_one(  # pragma: no cover - compiled
    q: Any,
    words: Any,
    alive: Any,
    offsets: Any,
    starts: Any,
    buckets: Any,
    lens: Any,
    offs: Any,
    abits: Any,
    masks: Any,
    mask_starts: Any,
    occupied: Any,
    occupied_starts: Any,
    threshold: int,
    radius: int,
) -> Any:
    m = lens.shape[0]
    qsub = np.empty(m, np.uint64)
    for t in range(m):
        qsub[t] = _substring(q, offs[t], lens[t])
    probed = np.empty(512, np.uint32)
    lo = np.empty(512, np.uint32)
    hi = np.empty(512, np.uint32)
    cand = np.empty(1024, np.uint32)
    pos = np.empty(16, np.int64)
    dist = np.empty(16, np.int32)
    found = 0
    for t in range(m):
        qa = np.uint32(qsub[t] >> np.uint64(lens[t] - abits[t]))
        base = starts[t]
        first_mask = mask_starts[abits[t]]
        probes = _probe_count(abits[t], radius)
        # Stage 1: keep the probed addresses whose bucket is not empty (a bitmap small enough to
        # stay in cache; most buckets are empty), without branches.
        occ = occupied_starts[t]
        kept = 0
        for j in range(probes):
            a = qa ^ masks[first_mask + j]
            probed[kept] = a
            kept += (occupied[occ + (a >> 6)] >> np.uint64(a & 63)) & np.uint64(1)
        # Stage 2: read those buckets' bounds (independent loads, overlapped by the CPU).
        for j in range(kept):
            a = probed[j]
            lo[j] = offsets[base + a]
            hi[j] = offsets[base + a + 1]
        # Stage 3: gather candidate positions.
        nc = 0
        for j in range(kept):
            for k in range(lo[j], hi[j]):
                if nc == cand.shape[0]:
                    bigger = np.empty(cand.shape[0] * 2, np.uint32)
                    bigger[:nc] = cand[:nc]
                    cand = bigger
                cand[nc] = buckets[t, k]
                nc += 1
        # Stage 4: verify candidates on all 256 bits; report each from its first close table.
        for c in range(nc):
            p = cand[c]
            w = words[p]
            d = _distance(w, q)
            if d <= threshold and alive[p]:
                first = -1
                for tt in range(t + 1):
                    if popcount64(_substring(w, offs[tt], lens[tt]) ^ qsub[tt]) <= radius:
                        first = tt
                        break
                if first == t:
                    pos, dist = _keep(found, pos, dist, p, d)
                    found += 1
    return found, pos, dist


@numba.njit(nogil=True)
def _scan_one(q: Any, words: Any, alive: Any, threshold: int) -> Any:  # pragma: no cover
    pos = np.empty(16, np.int64)
    dist = np.empty(16, np.int32)
    found = 0
    for p in range(words.shape[0]):
        d = _distance(words[p], q)
        if d <= threshold and alive[p]:
            pos, dist = _keep(found, pos, dist, p, d)
            found += 1
    return found, pos, dist


@numba.njit(inline="always")
def _arenas(count: int) -> Any:  # pragma: no cover - compiled
    # Growable (query, position, distance) arenas, one per block of queries.
    queries = [np.empty(256, np.int64) for _ in range(count)]
    positions = [np.empty(256, np.int64) for _ in range(count)]
    distances = [np.empty(256, np.int32) for _ in range(count)]
    return queries, positions, distances, np.zeros(count, np.int64)


@numba.njit(inline="always")
def _into_arena(  # pragma: no cover - compiled
    queries: Any,
    positions: Any,
    distances: Any,
    fill: Any,
    tid: int,
    qi: int,
    found: int,
    pos: Any,
    dist: Any,
) -> None:
    start = fill[tid]
    if start + found > queries[tid].shape[0]:
        size = max(2 * queries[tid].shape[0], start + found)
        grown_q = np.empty(size, np.int64)
        grown_q[:start] = queries[tid][:start]
        queries[tid] = grown_q
        grown_p = np.empty(size, np.int64)
        grown_p[:start] = positions[tid][:start]
        positions[tid] = grown_p
        grown_d = np.empty(size, np.int32)
        grown_d[:start] = distances[tid][:start]
        distances[tid] = grown_d
    for i in range(found):
        queries[tid][start + i] = qi
        positions[tid][start + i] = pos[i]
        distances[tid][start + i] = dist[i]
    fill[tid] = start + found


@numba.njit(inline="always")
def _flatten(queries: Any, positions: Any, distances: Any, fill: Any) -> Any:  # pragma: no cover
    total = fill.sum()
    out_q = np.empty(total, np.int64)
    out_p = np.empty(total, np.int64)
    out_d = np.empty(total, np.int32)
    k = 0
    for t in range(fill.shape[0]):
        f = fill[t]
        out_q[k : k + f] = queries[t][:f]
        out_p[k : k + f] = positions[t][:f]
        out_d[k : k + f] = distances[t][:f]
        k += f
    return out_q, out_p, out_d


@numba.njit(parallel=True, cache=True)
def _search_tables(  # pragma: no cover - compiled
    queries: Any,
    words: Any,
    alive: Any,
    offsets: Any,
    starts: Any,
    buckets: Any,
    lens: Any,
    offs: Any,
    abits: Any,
    masks: Any,
    mask_starts: Any,
    occupied: Any,
    occupied_starts: Any,
    threshold: int,
    radius: int,
    blocks: int,
) -> Any:
    # Queries are cut into contiguous blocks, one arena each, taken by the threads in turn:
    # results come out in query order and of any size, without locks or a second pass.
    nq = queries.shape[0]
    # Unpacked: a tuple of arenas would be copied into the parallel loop, not shared.
    aq, ap, ad, fill = _arenas(blocks)
    for block in numba.prange(blocks):
        for qi in range(block * nq // blocks, (block + 1) * nq // blocks):
            found, pos, dist = _search_one(
                queries[qi],
                words,
                alive,
                offsets,
                starts,
                buckets,
                lens,
                offs,
                abits,
                masks,
                mask_starts,
                occupied,
                occupied_starts,
                threshold,
                radius,
            )
            if found:
                _into_arena(aq, ap, ad, fill, block, qi, found, pos, dist)
    return _flatten(aq, ap, ad, fill)


@numba.njit(cache=True, nogil=True)
def _search_tables_serial(  # pragma: no cover - compiled
    queries: Any,
    words: Any,
    alive: Any,
    offsets: Any,
    starts: Any,
    buckets: Any,
    lens: Any,
    offs: Any,
    abits: Any,
    masks: Any,
    mask_starts: Any,
    occupied: Any,
    occupied_starts: Any,
    threshold: int,
    radius: int,
) -> Any:
    # The same as _search_tables on the calling thread: no wait for a team of threads, so a
    # single query's latency does not depend on how busy the other cores are.
    aq, ap, ad, fill = _arenas(1)
    for qi in range(queries.shape[0]):
        found, pos, dist = _search_one(
            queries[qi],
            words,
            alive,
            offsets,
            starts,
            buckets,
            lens,
            offs,
            abits,
            masks,
            mask_starts,
            occupied,
            occupied_starts,
            threshold,
            radius,
        )
        if found:
            _into_arena(aq, ap, ad, fill, 0, qi, found, pos, dist)
    return _flatten(aq, ap, ad, fill)


@numba.njit(parallel=True, cache=True)
def _scan(
    queries: Any, words: Any, alive: Any, threshold: int, blocks: int
) -> Any:  # pragma: no cover
    nq = queries.shape[0]
    # Unpacked: a tuple of arenas would be copied into the parallel loop, not shared.
    aq, ap, ad, fill = _arenas(blocks)
    for block in numba.prange(blocks):
        for qi in range(block * nq // blocks, (block + 1) * nq // blocks):
            found, pos, dist = _scan_one(queries[qi], words, alive, threshold)
            if found:
                _into_arena(aq, ap, ad, fill, block, qi, found, pos, dist)
    return _flatten(aq, ap, ad, fill)


@numba.njit(cache=True, nogil=True)
def _scan_serial(queries: Any, words: Any, alive: Any, threshold: int) -> Any:  # pragma: no cover
    aq, ap, ad, fill = _arenas(1)
    for qi in range(queries.shape[0]):
        found, pos, dist = _scan_one(queries[qi], words, alive, threshold)
        if found:
            _into_arena(aq, ap, ad, fill, 0, qi, found, pos, dist)
    return _flatten(aq, ap, ad, fill)


def _occupancy(
    offsets: npt.NDArray[np.uint32], starts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    # One bit per bucket of every table: set when the bucket holds an entry.
    words: list[npt.NDArray[np.uint64]] = []
    word_starts = np.zeros(_TABLES, dtype=np.int64)
    total = 0
    for t in range(_TABLES):
        table = offsets[starts[t] : starts[t + 1]]
        full = (table[1:] != table[:-1]).astype(np.uint8)
        packed = np.packbits(full, bitorder="little")
        padded = np.zeros((packed.shape[0] + 7) // 8 * 8, dtype=np.uint8)
        padded[: packed.shape[0]] = packed
        word_starts[t] = total
        words.append(padded.view(np.uint64))
        total += padded.shape[0] // 8
    return np.concatenate(words), word_starts


def _blocks(queries: int) -> int:
    # Enough blocks per thread to even out slow queries (near large families), few enough
    # that each block's arena is worth having.
    return max(1, min(queries, 16 * numba.get_num_threads()))


def _masks(radius: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    # For every address width 0..24: all masks of weight <= radius, by weight.
    flat: list[int] = []
    starts = np.zeros(MAX_ADDRESS_BITS + 2, dtype=np.int64)
    for bits in range(MAX_ADDRESS_BITS + 1):
        starts[bits] = len(flat)
        flat.append(0)
        if radius >= 1:
            flat.extend(1 << i for i in range(bits))
        if radius >= 2:
            flat.extend((1 << i) | (1 << j) for i, j in combinations(range(bits), 2))
    starts[MAX_ADDRESS_BITS + 1] = len(flat)
    return np.array(flat, dtype=np.uint32), starts


_MASKS, _MASK_STARTS = _masks(_MAX_RADIUS)


# ----------------------------------------------------------------------------------------------
# input normalisation


def as_pdq_array(hashes: Any) -> npt.NDArray[np.uint8]:
    """Hashes as a C-contiguous ``(n, 32)`` uint8 array.

    Accepts such an array, or a sequence of 32-byte ``bytes`` or 64-digit hexadecimal strings.
    Raises :class:`MatchIndexError` naming the first bad item.
    """
    if isinstance(hashes, np.ndarray):
        if hashes.ndim != 2 or hashes.shape[1] != PDQ_BYTES or hashes.dtype != np.uint8:
            raise MatchIndexError(f"PDQ hashes must be an (n, 32) uint8 array, not {hashes.shape}")
        return np.ascontiguousarray(hashes)
    items = list(hashes)
    out = np.empty((len(items), PDQ_BYTES), dtype=np.uint8)
    for i, item in enumerate(items):
        if isinstance(item, str):
            try:
                raw = bytes.fromhex(item)
            except ValueError:
                raise MatchIndexError(f"hash {i}: not hexadecimal") from None
        elif isinstance(item, bytes | bytearray | memoryview):
            raw = bytes(item)
        else:
            raise MatchIndexError(
                f"hash {i}: expected bytes or hexadecimal, not {type(item).__name__}"
            )
        if len(raw) != PDQ_BYTES:
            raise MatchIndexError(f"hash {i}: a PDQ hash is 32 bytes, not {len(raw)}")
        out[i] = np.frombuffer(raw, dtype=np.uint8)
    return out


def as_id_array(ids: Any, count: int | None = None) -> IdArray:
    """Entry ids as an int64 array (of ``count`` items when given)."""
    arr = np.asarray(ids)
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise MatchIndexError("ids must be a one-dimensional sequence of integers")
    if count is not None and arr.shape[0] != count:
        raise MatchIndexError(f"{arr.shape[0]} ids for {count} hashes")
    return arr.astype(np.int64, copy=False)


def _aligned_copy(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    # Hashes start on 64-byte boundaries so that no 32-byte hash straddles two cache lines.
    raw = np.empty(array.nbytes + 64, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64
    out = raw[start : start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def _unique(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # Sort-based (np.unique is far slower on large integer arrays in numpy 2.x).
    ordered = np.sort(values)
    if ordered.shape[0] < 2:
        return ordered
    keep = np.ones(ordered.shape[0], dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def _last_wins(ids: IdArray) -> npt.NDArray[np.int64]:
    # Index of the last occurrence of each id, in id order (a stable sort keeps equal ids in
    # their original order, so the last of each run is the latest).
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    last = np.ones(ordered.shape[0], dtype=bool)
    last[:-1] = ordered[1:] != ordered[:-1]
    return order[last].astype(np.int64)


# ----------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class SearchResult(Sequence[tuple[IdArray, DistArray]]):
    """Matches of a batch of queries: ``result[i]`` is ``(ids, distances)`` of query ``i``.

    Stored flat (``offsets`` has one more item than there are queries); within a query, matches
    are sorted by distance, then id.
    """

    offsets: npt.NDArray[np.int64]
    ids: IdArray
    distances: DistArray

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.ids[lo:hi], self.distances[lo:hi]

    def __iter__(self) -> Iterator[tuple[IdArray, DistArray]]:
        for i in range(len(self)):
            yield self[i]


def _assemble(nq: int, parts: list[tuple[IdArray, IdArray, DistArray]]) -> SearchResult:
    # parts: (query index, id, distance) triples from every segment.
    if parts:
        qidx = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        dist = np.concatenate([p[2] for p in parts])
    else:
        qidx = np.empty(0, np.int64)
        ids = np.empty(0, np.int64)
        dist = np.empty(0, np.int32)
    # One combined key (query, distance) instead of three sort keys: a third of the work.
    order = np.lexsort((ids, qidx * (MAX_PDQ_DISTANCE + 1) + dist))
    counts = np.bincount(qidx, minlength=nq)
    offsets = np.zeros(nq + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return SearchResult(offsets, ids[order], dist[order].astype(np.int32))


# ----------------------------------------------------------------------------------------------
# PDQ segments


class _PdqSegment:
    """Immutable hashes and ids with mutable alive flags; scanned or indexed.

    Entries are stored in the order of their first substring, so that near duplicates (which
    share it) sit together in memory and a family of them is verified with few cache misses;
    ``by_id`` orders positions by id for lookups.
    """

    def __init__(self, ids: IdArray, hashes: npt.NDArray[np.uint8]) -> None:
        if ids.shape[0] >= 2**32:
            raise MatchIndexError("one index segment holds fewer than 2**32 entries")
        first = np.ascontiguousarray(hashes).view(np.uint64)[:, 0] & np.uint64((1 << _LENS[0]) - 1)
        order = np.argsort(first, kind="stable")
        self.ids: IdArray = np.ascontiguousarray(ids[order])
        self.by_id = np.argsort(self.ids, kind="stable").astype(np.uint32)
        self.hashes: npt.NDArray[np.uint8] = _aligned_copy(hashes[order])
        self.words: npt.NDArray[np.uint64] = self.hashes.view(np.uint64)
        self.alive: npt.NDArray[np.uint8] = np.ones(self.ids.shape[0], dtype=np.uint8)
        self.live = int(self.ids.shape[0])
        self.indexed = self.ids.shape[0] >= SCAN_BELOW
        self.abits = np.zeros(_TABLES, dtype=np.int64)
        self.offsets = np.zeros(0, dtype=np.uint32)
        self.starts = np.zeros(_TABLES + 1, dtype=np.int64)
        self.buckets = np.zeros((_TABLES, 0), dtype=np.uint32)
        self.occupied = np.zeros(0, dtype=np.uint64)
        self.occupied_starts = np.zeros(_TABLES, dtype=np.int64)
        if self.indexed:
            # About four addresses per entry: most probes find an empty bucket, which costs one
            # read, while the candidates to verify stay few (measured best at 1M and 10M).
            wanted = int(np.ceil(np.log2(self.ids.shape[0]))) + 2
            self.abits = np.minimum(_LENS, min(wanted, MAX_ADDRESS_BITS)).astype(np.int64)
            self.starts = np.zeros(_TABLES + 1, dtype=np.int64)
            self.starts[1:] = np.cumsum((1 << self.abits) + 1)
            self.offsets = np.zeros(int(self.starts[-1]), dtype=np.uint32)
            self.buckets = np.empty((_TABLES, self.size), dtype=np.uint32)
            with _KERNEL_LOCK:
                _build_tables(
                    self.words, _LENS, _OFFS, self.abits, self.starts, self.offsets, self.buckets
                )
            self.occupied, self.occupied_starts = _occupancy(self.offsets, self.starts)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def nbytes(self) -> int:
        return int(
            self.ids.nbytes
            + self.by_id.nbytes
            + self.hashes.nbytes
            + self.alive.nbytes
            + self.offsets.nbytes
            + self.buckets.nbytes
            + self.occupied.nbytes
        )

    def positions(self, ids: IdArray) -> npt.NDArray[np.int64]:
        """Positions of the live entries among ``ids`` (each id at most once per segment)."""
        if self.size == 0:
            return np.empty(0, np.int64)
        rank = np.minimum(np.searchsorted(self.ids, ids, sorter=self.by_id), self.size - 1)
        where = self.by_id[rank].astype(np.int64)
        hit = (self.ids[where] == ids) & (self.alive[where] == 1)
        return _unique(where[hit])

    def kill(self, positions: npt.NDArray[np.int64]) -> None:
        self.alive[positions] = 0
        self.live -= int(positions.shape[0])

    def live_entries(self) -> tuple[IdArray, npt.NDArray[np.uint8]]:
        """Live ids and hashes, in id order."""
        keep = self.by_id[self.alive[self.by_id] == 1]
        return self.ids[keep], self.hashes[keep]

    def search(
        self, queries: npt.NDArray[np.uint64], threshold: int, serial: bool
    ) -> tuple[IdArray, IdArray, DistArray]:
        """``(query index, id, distance)`` of every live match in this segment."""
        radius = threshold // _TABLES
        if self.indexed and radius <= _MAX_RADIUS:
            args = (
                queries,
                self.words,
                self.alive,
                self.offsets,
                self.starts,
                self.buckets,
                _LENS,
                _OFFS,
                self.abits,
                _MASKS,
                _MASK_STARTS,
                self.occupied,
                self.occupied_starts,
                threshold,
                radius,
            )
            if serial:
                # Serial kernels release the GIL and need no lock: threads search side by side.
                result = _search_tables_serial(*args)
            else:
                with _KERNEL_LOCK:
                    result = _search_tables(*args, _blocks(queries.shape[0]))
        elif serial:
            result = _scan_serial(queries, self.words, self.alive, threshold)
        else:
            with _KERNEL_LOCK:
                result = _scan(
                    queries, self.words, self.alive, threshold, _blocks(queries.shape[0])
                )
        qidx, pos, dist = result
        return qidx, self.ids[pos], dist


# ----------------------------------------------------------------------------------------------
# the PDQ index


class PdqIndex:
    """Exact PDQ search over integer ids.

    - ``add(ids, hashes)``: put entries in (an id already present is replaced), incrementally.
    - ``disable(ids)``: take entries out of matching.
    - ``search(hashes, threshold)``: every live entry within ``threshold`` of each query, with its
      distance (recall 1.0 by construction; thresholds above 32 scan, still exactly).
    - ``save(path)`` / ``load(path)``: Cordon's own file format with the index's ``checkpoint``.

    The checkpoint is the owner's marker of what the index reflects (for example the last change
    applied from the database); it only ever grows. Each ``add`` or ``disable`` without an
    explicit checkpoint advances it by one.
    """

    def __init__(self) -> None:
        self._segments: list[_PdqSegment] = []
        self._lock = threading.RLock()
        self.checkpoint = 0

    # -- reading

    def __len__(self) -> int:
        """Number of live (matchable) entries."""
        return sum(s.live for s in self._segments)

    @property
    def segment_sizes(self) -> list[int]:
        """Sizes of the segments, oldest first (for status pages and tests)."""
        return [s.size for s in self._segments]

    def nbytes(self) -> int:
        """Memory held by the index's arrays, in bytes."""
        return sum(s.nbytes() for s in self._segments)

    def search(
        self, hashes: Any, threshold: int = 31, *, parallel: bool | None = None
    ) -> SearchResult:
        """All live entries within ``threshold`` (0–256) of each query hash, with distances.

        ``parallel``: spread the queries over all cores (the default for more than
        :data:`SERIAL_BELOW` queries) or search on the calling thread (``False``), which several
        threads can do side by side.
        """
        if not 0 <= threshold <= MAX_PDQ_DISTANCE:
            raise MatchIndexError(f"threshold must be between 0 and 256, not {threshold}")
        queries = as_pdq_array(hashes).view(np.uint64)
        nq = int(queries.shape[0])
        serial = nq <= SERIAL_BELOW if parallel is None else not parallel
        parts: list[tuple[IdArray, IdArray, DistArray]] = []
        # No lock: writers replace the list of segments whole, so a search sees the segments
        # before or after a change, and is never held up by a merge.
        for segment in self._segments:
            if segment.live:
                parts.append(segment.search(queries, threshold, serial))
        return _assemble(nq, parts)

    def entries(self) -> tuple[IdArray, npt.NDArray[np.uint8]]:
        """All live ``(ids, hashes)``, sorted by id."""
        with self._lock:
            pairs = [s.live_entries() for s in self._segments]
        if not pairs:
            return np.empty(0, np.int64), np.empty((0, PDQ_BYTES), np.uint8)
        ids = np.concatenate([p[0] for p in pairs])
        hashes = np.concatenate([p[1] for p in pairs])
        order = np.argsort(ids, kind="stable")
        return ids[order], hashes[order]

    # -- changing

    def _advance(self, checkpoint: int | None) -> None:
        if checkpoint is None:
            self.checkpoint += 1
        elif checkpoint < self.checkpoint:
            raise MatchIndexError(
                f"checkpoint {checkpoint} is older than the index's checkpoint {self.checkpoint}"
            )
        else:
            self.checkpoint = checkpoint

    def _kill(self, ids: IdArray) -> int:
        killed = 0
        for segment in self._segments:
            positions = segment.positions(ids)
            if positions.shape[0]:
                segment.kill(positions)
                killed += int(positions.shape[0])
        return killed

    def add(self, ids: Any, hashes: Any, *, checkpoint: int | None = None) -> None:
        """Add entries; an id already in the index gets the new hash (its old one stops matching).

        Validates everything first: on bad input nothing changes.
        """
        batch = as_pdq_array(hashes)
        id_arr = as_id_array(ids, batch.shape[0])
        if checkpoint is not None and checkpoint < self.checkpoint:
            self._advance(checkpoint)  # raises
        segment = None
        if id_arr.shape[0]:
            keep = _last_wins(id_arr)
            id_arr, batch = id_arr[keep], batch[keep]
            segment = _PdqSegment(id_arr, batch)  # built before taking the lock
        with self._lock:
            if checkpoint is not None and checkpoint < self.checkpoint:
                self._advance(checkpoint)  # raises
            if segment is not None:
                self._kill(id_arr)
                self._segments = [*self._segments, segment]
                self._merge()
            self._advance(checkpoint)

    def disable(self, ids: Any, *, checkpoint: int | None = None) -> int:
        """Stop matching these ids; returns how many were live. Unknown ids are ignored."""
        id_arr = as_id_array(ids)
        with self._lock:
            if checkpoint is not None and checkpoint < self.checkpoint:
                self._advance(checkpoint)  # raises
            killed = self._kill(_unique(id_arr))
            self._merge()
            self._advance(checkpoint)
            return killed

    def compact(self) -> None:
        """Merge every segment into one without dead entries (after a large import, say)."""
        with self._lock:
            ids, hashes = self.entries()
            self._segments = [_PdqSegment(ids, hashes)] if ids.shape[0] else []

    def _merge(self) -> None:
        # Geometric merging keeps the number of segments logarithmic in the number of entries,
        # so each entry is rebuilt O(log n) times over its life; mostly dead segments are rebuilt.
        segments = [s for s in self._segments if s.live]
        rebuilt: list[_PdqSegment] = []
        for s in segments:
            if s.live * 2 < s.size:
                ids, hashes = s.live_entries()
                rebuilt.append(_PdqSegment(ids, hashes))
            else:
                rebuilt.append(s)
        segments = rebuilt
        while len(segments) >= 2 and segments[-2].live <= MERGE_FACTOR * segments[-1].live:
            newer = segments.pop()
            older = segments.pop()
            a_ids, a_hashes = older.live_entries()
            b_ids, b_hashes = newer.live_entries()
            segments.append(
                _PdqSegment(np.concatenate([a_ids, b_ids]), np.concatenate([a_hashes, b_hashes]))
            )
        self._segments = segments

    # -- files

    def save(self, path: Path | str) -> None:
        """Write the live entries and the checkpoint to ``path`` atomically."""
        ids, hashes = self.entries()
        _write_index_file(Path(path), _KIND_PDQ, PDQ_BYTES, self.checkpoint, ids, hashes)

    @classmethod
    def load(cls, path: Path | str) -> PdqIndex:
        """Read an index written by :meth:`save` (tables are rebuilt in memory)."""
        checkpoint, ids, hashes = _read_index_file(Path(path), _KIND_PDQ, PDQ_BYTES)
        index = cls()
        if ids.shape[0]:
            index._segments = [_PdqSegment(ids, hashes)]
        index.checkpoint = checkpoint
        return index

    @classmethod
    def from_entries(cls, ids: Any, hashes: Any, checkpoint: int = 0) -> PdqIndex:
        """An index built in one go (the fast way to load a whole bank table)."""
        batch = as_pdq_array(hashes)
        id_arr = as_id_array(ids, batch.shape[0])
        index = cls()
        if id_arr.shape[0]:
            keep = _last_wins(id_arr)
            if keep.shape[0] != id_arr.shape[0]:
                id_arr, batch = id_arr[keep], batch[keep]
            index._segments = [_PdqSegment(id_arr, batch)]
        index.checkpoint = checkpoint
        return index


# ----------------------------------------------------------------------------------------------
# digests (md5, sha256): exact lookup


class _DigestSegment:
    def __init__(self, ids: IdArray, digests: npt.NDArray[np.uint8]) -> None:
        width = digests.shape[1]
        # Sort by digest bytes (lexicographic) so lookups are binary searches.
        keys = np.ascontiguousarray(digests).view(f"S{width}").ravel()
        order = np.argsort(keys, kind="stable")
        self.digests = np.ascontiguousarray(digests[order])
        self.keys = self.digests.view(f"S{width}").ravel()
        self.ids: IdArray = np.ascontiguousarray(ids[order])
        self.by_id = np.argsort(self.ids, kind="stable")
        self.alive = np.ones(self.ids.shape[0], dtype=bool)
        self.live = int(self.ids.shape[0])

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    def nbytes(self) -> int:
        return int(self.digests.nbytes + self.ids.nbytes + self.by_id.nbytes + self.alive.nbytes)

    def positions(self, ids: IdArray) -> npt.NDArray[np.int64]:
        if self.size == 0:
            return np.empty(0, np.int64)
        sorted_ids = self.ids[self.by_id]
        where = np.minimum(np.searchsorted(sorted_ids, ids), self.size - 1)
        hit = sorted_ids[where] == ids
        pos = self.by_id[where[hit]]
        return _unique(pos[self.alive[pos]].astype(np.int64))

    def kill(self, positions: npt.NDArray[np.int64]) -> None:
        self.alive[positions] = False
        self.live -= int(positions.shape[0])

    def live_entries(self) -> tuple[IdArray, npt.NDArray[np.uint8]]:
        return self.ids[self.alive], self.digests[self.alive]


class DigestIndex:
    """Exact lookup of fixed-width digests (16 bytes for MD5, 32 for SHA-256) to entry ids.

    Same life cycle as :class:`PdqIndex`: ``add`` (replacing an id's digest), ``disable``,
    ``lookup``, ``save``/``load`` with a checkpoint.
    """

    def __init__(self, width: int) -> None:
        if width not in (16, 20, 32, 64):
            raise MatchIndexError(f"unsupported digest width {width}")
        self.width = width
        self._segments: list[_DigestSegment] = []
        self._lock = threading.RLock()
        self.checkpoint = 0

    def __len__(self) -> int:
        return sum(s.live for s in self._segments)

    def nbytes(self) -> int:
        """Memory held by the index's arrays, in bytes."""
        return sum(s.nbytes() for s in self._segments)

    def _as_digests(self, digests: Any) -> npt.NDArray[np.uint8]:
        if isinstance(digests, np.ndarray):
            if digests.ndim != 2 or digests.shape[1] != self.width or digests.dtype != np.uint8:
                raise MatchIndexError(f"digests must be an (n, {self.width}) uint8 array")
            return np.ascontiguousarray(digests)
        items = list(digests)
        out = np.empty((len(items), self.width), dtype=np.uint8)
        for i, item in enumerate(items):
            try:
                raw = bytes.fromhex(item) if isinstance(item, str) else bytes(item)
            except (ValueError, TypeError):
                raise MatchIndexError(f"digest {i}: not hexadecimal or bytes") from None
            if len(raw) != self.width:
                raise MatchIndexError(f"digest {i}: expected {self.width} bytes, not {len(raw)}")
            out[i] = np.frombuffer(raw, dtype=np.uint8)
        return out

    def add(self, ids: Any, digests: Any, *, checkpoint: int | None = None) -> None:
        """Add entries; an id already present gets the new digest. Nothing changes on bad input."""
        batch = self._as_digests(digests)
        id_arr = as_id_array(ids, batch.shape[0])
        segment = None
        if id_arr.shape[0]:
            keep = _last_wins(id_arr)
            id_arr, batch = id_arr[keep], batch[keep]
            segment = _DigestSegment(id_arr, batch)
        with self._lock:
            if checkpoint is not None and checkpoint < self.checkpoint:
                raise MatchIndexError(f"checkpoint {checkpoint} is older than {self.checkpoint}")
            if segment is not None:
                self._kill(id_arr)
                self._segments = [*self._segments, segment]
                self._merge()
            self.checkpoint = self.checkpoint + 1 if checkpoint is None else checkpoint

    def disable(self, ids: Any, *, checkpoint: int | None = None) -> int:
        """Stop matching these ids; returns how many were live."""
        id_arr = _unique(as_id_array(ids))
        with self._lock:
            if checkpoint is not None and checkpoint < self.checkpoint:
                raise MatchIndexError(f"checkpoint {checkpoint} is older than {self.checkpoint}")
            killed = self._kill(id_arr)
            self._merge()
            self.checkpoint = self.checkpoint + 1 if checkpoint is None else checkpoint
            return killed

    def _kill(self, ids: IdArray) -> int:
        killed = 0
        for segment in self._segments:
            positions = segment.positions(ids)
            if positions.shape[0]:
                segment.kill(positions)
                killed += int(positions.shape[0])
        return killed

    def _merge(self) -> None:
        segments = [s for s in self._segments if s.live]
        while len(segments) >= 2 and segments[-2].live <= MERGE_FACTOR * segments[-1].live:
            newer = segments.pop()
            older = segments.pop()
            a_ids, a_d = older.live_entries()
            b_ids, b_d = newer.live_entries()
            segments.append(
                _DigestSegment(np.concatenate([a_ids, b_ids]), np.concatenate([a_d, b_d]))
            )
        self._segments = segments

    def lookup(self, digests: Any) -> list[IdArray]:
        """For each digest, the ids of the live entries holding exactly that digest (sorted)."""
        queries = self._as_digests(digests)
        keys = queries.view(f"S{self.width}").ravel()
        found: list[list[IdArray]] = [[] for _ in range(keys.shape[0])]
        for segment in self._segments:  # replaced whole by writers: no lock needed
            lo = np.searchsorted(segment.keys, keys, side="left")
            hi = np.searchsorted(segment.keys, keys, side="right")
            for i in np.nonzero(hi > lo)[0]:
                span = slice(int(lo[i]), int(hi[i]))
                found[i].append(segment.ids[span][segment.alive[span]])
        return [
            np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64) for parts in found
        ]

    def entries(self) -> tuple[IdArray, npt.NDArray[np.uint8]]:
        """All live ``(ids, digests)``, sorted by id."""
        with self._lock:
            pairs = [s.live_entries() for s in self._segments]
        if not pairs:
            return np.empty(0, np.int64), np.empty((0, self.width), np.uint8)
        ids = np.concatenate([p[0] for p in pairs])
        digests = np.concatenate([p[1] for p in pairs])
        order = np.argsort(ids, kind="stable")
        return ids[order], digests[order]

    def save(self, path: Path | str) -> None:
        """Write the live entries and the checkpoint to ``path`` atomically."""
        ids, digests = self.entries()
        _write_index_file(Path(path), _KIND_DIGEST, self.width, self.checkpoint, ids, digests)

    @classmethod
    def load(cls, path: Path | str) -> DigestIndex:
        """Read an index written by :meth:`save`."""
        checkpoint, width, ids, digests = _read_any(Path(path), _KIND_DIGEST)
        index = cls(width)
        if ids.shape[0]:
            index._segments = [_DigestSegment(ids, digests)]
        index.checkpoint = checkpoint
        return index


# ----------------------------------------------------------------------------------------------
# the file format
#
#   header  (little-endian, 48 bytes)
#     magic          8s   b"CRDNIDX\x00"
#     format         u32  1
#     kind           u32  1 = PDQ, 2 = digest
#     width          u32  bytes per hash
#     reserved       u32  0
#     checkpoint     u64
#     count          u64
#     crc32          u32  of the two arrays below, in order
#     reserved       u32  0
#   ids     count × i64 (sorted)
#   hashes  count × width bytes

_MAGIC: Final = b"CRDNIDX\x00"
_FORMAT: Final = 1
_KIND_PDQ: Final = 1
_KIND_DIGEST: Final = 2
_HEADER = struct.Struct("<8sIIIIQQII")


@dataclass(frozen=True)
class IndexFileHeader:
    """What an index file says about itself, read without loading it."""

    kind: int
    width: int
    checkpoint: int
    count: int


def _parse_header(raw: bytes, path: Path | str) -> tuple[IndexFileHeader, int]:
    if len(raw) != _HEADER.size:
        raise IndexFileError(f"{path} is not a Cordon index file (too short)")
    magic, fmt, kind, width, _, checkpoint, count, crc, _ = _HEADER.unpack(raw)
    if magic != _MAGIC:
        raise IndexFileError(f"{path} is not a Cordon index file")
    if fmt != _FORMAT:
        raise IndexFileError(f"{path} has index format {fmt}; this Cordon reads format {_FORMAT}")
    return IndexFileHeader(kind=kind, width=width, checkpoint=checkpoint, count=count), crc


def read_header(path: Path | str) -> IndexFileHeader:
    """The header of an index file (cheap: reads 48 bytes). Raises :class:`IndexFileError`."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_HEADER.size)
    except OSError as exc:
        raise IndexFileError(f"cannot read index file {path}: {exc.strerror}") from exc
    return _parse_header(raw, path)[0]


def _write_index_file(
    path: Path, kind: int, width: int, checkpoint: int, ids: IdArray, hashes: npt.NDArray[np.uint8]
) -> None:
    ids = np.ascontiguousarray(ids, dtype="<i8")
    hashes = np.ascontiguousarray(hashes, dtype=np.uint8)
    crc = zlib.crc32(ids.data)
    crc = zlib.crc32(hashes.data, crc)
    header = _HEADER.pack(
        _MAGIC, _FORMAT, kind, width, 0, checkpoint, ids.shape[0], crc & 0xFFFFFFFF, 0
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(header)
            fh.write(ids.data)
            fh.write(hashes.data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_any(path: Path, kind: int) -> tuple[int, int, IdArray, npt.NDArray[np.uint8]]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after several reads
    except OSError as exc:
        raise IndexFileError(f"cannot read index file {path}: {exc.strerror}") from exc
    with fh:
        header, stored_crc = _parse_header(fh.read(_HEADER.size), path)
        if header.kind != kind:
            raise IndexFileError(f"{path} holds another kind of index ({header.kind}, not {kind})")
        ids = np.fromfile(fh, dtype="<i8", count=header.count)
        hashes = np.fromfile(fh, dtype=np.uint8, count=header.count * header.width)
        trailing = fh.read(1)
    if ids.shape[0] != header.count or hashes.shape[0] != header.count * header.width or trailing:
        raise IndexFileError(f"{path} is truncated or has trailing data")
    crc = zlib.crc32(ids.data)
    crc = zlib.crc32(hashes.data, crc)
    if crc & 0xFFFFFFFF != stored_crc:
        raise IndexFileError(f"{path} is damaged (checksum mismatch)")
    return (
        header.checkpoint,
        header.width,
        ids.astype(np.int64),
        hashes.reshape(header.count, header.width),
    )


def _read_index_file(
    path: Path, kind: int, width: int
) -> tuple[int, IdArray, npt.NDArray[np.uint8]]:
    checkpoint, got_width, ids, hashes = _read_any(path, kind)
    if got_width != width:
        raise IndexFileError(f"{path} holds {got_width}-byte hashes, not {width}")
    return checkpoint, ids, hashes


class IndexReader:
    """Keeps the newest saved PDQ index of a file in memory, for a process that matches.

    :meth:`current` re-reads the file when its header shows a newer checkpoint, so every matcher
    process catches up with the writer without restarting.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._index: PdqIndex | None = None
        self._lock = threading.Lock()

    def current(self) -> PdqIndex:
        """The loaded index, refreshed first if the file holds a newer checkpoint."""
        self.refresh()
        assert self._index is not None
        return self._index

    def refresh(self) -> bool:
        """Load the file if its checkpoint is newer than the one in memory; True if it did."""
        header = read_header(self.path)
        with self._lock:
            if self._index is not None and header.checkpoint <= self._index.checkpoint:
                return False
            self._index = PdqIndex.load(self.path)
            return True

    @property
    def checkpoint(self) -> int | None:
        """Checkpoint of the index in memory (None before the first load)."""
        return None if self._index is None else self._index.checkpoint

"""Benchmark exact PDQ matching: Cordon's index against faiss, on uniform and clustered sets.

For 1 million and 10 million stored hashes and 10,000 queries (half planted at distances 0–40
from stored hashes, half unrelated) it prints, for each index:

- build time and the memory it added (resident set growth; Cordon also reports its arrays);
- queries per second (one batch, both cores) and p99 latency of single-query calls;
- recall at distance ≤ 31 against brute force, on a subset of the queries.

The indexes: Cordon's ``PdqIndex``; faiss ``IndexBinaryFlat`` (exact brute force; also the
truth); faiss ``IndexBinaryMultiHash(nhash=16)`` with ``nflip=0`` (as HMA uses it) and
``nflip=1``. The slow baselines run on the truth subset only. Targets: recall 1.0 always; at
10 million ≥ 2,000 queries/s with index memory under 2 GB; at 1 million ≥ 10,000 queries/s.

The clustered set is built of near-duplicate families (a root and copies within 0–24 bits of
it, family sizes skewed as in real lists), which fills some buckets far more than others.

    python benchmarks/bench_match.py [--sizes 1000000,10000000] [--queries 10000] [--truth 500]
    python benchmarks/bench_match.py --quick      # 100,000 and 1 million, fewer queries
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from cordon.signals.index import PdqIndex

THRESHOLD = 31
FAMILY_ZIPF = 2.0
FAMILY_MAX = 2000
Hashes = npt.NDArray[np.uint8]


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def uniform_set(rng: np.random.Generator, n: int) -> Hashes:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def flip_bits(rng: np.random.Generator, hashes: Hashes, counts: npt.NDArray[np.int64]) -> Hashes:
    """Each row with exactly ``counts[i]`` distinct random bits flipped."""
    out = hashes.copy()
    keys = rng.random((hashes.shape[0], 256))
    order = np.argsort(keys, axis=1)
    for i, count in enumerate(counts):
        for b in order[i, :count]:
            out[i, b >> 3] ^= np.uint8(1 << (b & 7))
    return out


def clustered_set(rng: np.random.Generator, n: int) -> Hashes:
    """Families of near duplicates: a random root and copies within about 0–24 bits of it.

    Family sizes follow a Zipf law (exponent 2, at most 2,000): most entries stand alone, a few
    families are large, as in shared lists.
    """
    sizes = np.minimum(rng.zipf(FAMILY_ZIPF, n), FAMILY_MAX)
    families = np.repeat(np.arange(sizes.shape[0]), sizes)[:n]
    roots = uniform_set(rng, int(families[-1]) + 1)
    out = np.empty((n, 32), dtype=np.uint8)
    chunk = 1_000_000
    for start in range(0, n, chunk):
        end = min(n, start + chunk)
        # Each bit flips with probability rate/256: about `rate` (0–24) bits per copy.
        rate = rng.integers(0, 25, end - start, dtype=np.uint8)[:, None]
        mask = rng.integers(0, 256, (end - start, 256), dtype=np.uint8) < rate
        out[start:end] = roots[families[start:end]] ^ np.packbits(mask, axis=1)
    return out[rng.permutation(n)]


def make_queries(rng: np.random.Generator, stored: Hashes, count: int) -> Hashes:
    planted = count // 2
    picks = stored[rng.integers(0, stored.shape[0], planted)]
    distances = rng.integers(0, 41, planted)
    return np.concatenate([flip_bits(rng, picks, distances), uniform_set(rng, count - planted)])


@dataclass
class Row:
    name: str
    build_s: float
    memory_mb: float
    qps: float
    p99_ms: float
    recall: float
    queries_timed: int


def timed_single(run: Callable[[Hashes], object], queries: Hashes, count: int) -> float:
    """p99 latency in ms of ``count`` single-query calls."""
    times = []
    for i in range(min(count, queries.shape[0])):
        start = time.perf_counter()
        run(queries[i : i + 1])
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 99) * 1000)


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    total = sum(len(t) for t in truth)
    hit = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    assert all(f <= t for f, t in zip(found, truth, strict=True)), "returned a non-match"
    return hit / total if total else 1.0


def faiss_sets(lims: npt.NDArray[np.int64], labels: npt.NDArray[np.int64]) -> list[set[int]]:
    return [set(labels[lims[i] : lims[i + 1]].tolist()) for i in range(lims.shape[0] - 1)]


def bench_cordon(stored: Hashes, queries: Hashes, truth_q: int, truth: list[set[int]]) -> Row:
    before = rss_bytes()
    start = time.perf_counter()
    index = PdqIndex.from_entries(np.arange(stored.shape[0], dtype=np.int64), stored)
    build = time.perf_counter() - start
    index.search(queries[:8], THRESHOLD)  # compiled code loaded, caches warm
    gc.collect()
    memory = max(rss_bytes() - before, index.nbytes())
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        result = index.search(queries, THRESHOLD)
        best = min(best, time.perf_counter() - start)
    found = [set(result[i][0].tolist()) for i in range(truth_q)]
    # One thread's CPU time per query: what a core does, whatever else runs on the machine.
    start_cpu = time.thread_time()
    index.search(queries, THRESHOLD, parallel=False)
    per_core = queries.shape[0] / (time.thread_time() - start_cpu)
    print(
        f"    cordon on one thread: {per_core:,.0f} queries per CPU-second "
        f"(× {os.cpu_count()} cores = {per_core * (os.cpu_count() or 1):,.0f} queries/s "
        "on an otherwise idle machine)"
    )
    p99 = timed_single(lambda q: index.search(q, THRESHOLD), queries, 1000)
    print(f"    cordon arrays: {index.nbytes() / 1e6:.0f} MB")
    row = Row(
        "cordon PdqIndex",
        build,
        memory / 1e6,
        queries.shape[0] / best,
        p99,
        recall(found, truth),
        queries.shape[0],
    )
    return row


def bench_faiss_flat(stored: Hashes, truth_queries: Hashes) -> tuple[Row, list[set[int]]]:
    before = rss_bytes()
    start = time.perf_counter()
    index = faiss.IndexBinaryFlat(256)
    index.add(stored)
    build = time.perf_counter() - start
    memory = rss_bytes() - before
    start = time.perf_counter()
    lims, _, labels = index.range_search(truth_queries, THRESHOLD + 1)  # faiss: distance < radius
    elapsed = time.perf_counter() - start
    truth = faiss_sets(lims, labels)
    p99 = timed_single(lambda q: index.range_search(q, THRESHOLD + 1), truth_queries, 50)
    row = Row(
        "faiss IndexBinaryFlat",
        build,
        memory / 1e6,
        truth_queries.shape[0] / elapsed,
        p99,
        1.0,
        truth_queries.shape[0],
    )
    return row, truth


def bench_faiss_multihash(
    stored: Hashes, truth_queries: Hashes, truth: list[set[int]]
) -> list[Row]:
    before = rss_bytes()
    start = time.perf_counter()
    index = faiss.IndexBinaryMultiHash(256, 16, 16)
    index.add(stored)
    build = time.perf_counter() - start
    memory = rss_bytes() - before
    rows = []
    for nflip in (0, 1):
        index.nflip = nflip
        start = time.perf_counter()
        lims, _, labels = index.range_search(truth_queries, THRESHOLD + 1)
        elapsed = time.perf_counter() - start
        p99 = timed_single(lambda q: index.range_search(q, THRESHOLD + 1), truth_queries, 50)
        rows.append(
            Row(
                f"faiss MultiHash nflip={nflip}",
                build,
                memory / 1e6,
                truth_queries.shape[0] / elapsed,
                p99,
                recall(faiss_sets(lims, labels), truth),
                truth_queries.shape[0],
            )
        )
    return rows


def run(kind: str, n: int, n_queries: int, n_truth: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    stored = uniform_set(rng, n) if kind == "uniform" else clustered_set(rng, n)
    queries = make_queries(rng, stored, n_queries)
    # The truth subset mixes planted and unrelated queries.
    pick = np.concatenate(
        [np.arange(n_truth // 2), n_queries // 2 + np.arange(n_truth - n_truth // 2)]
    )
    truth_queries = np.ascontiguousarray(queries[pick])
    queries = np.concatenate([truth_queries, np.delete(queries, pick, axis=0)])
    print(
        f"\n== {kind}, {n:,} stored, {n_queries:,} queries (truth on {n_truth}) "
        f"[data in {time.perf_counter() - start:.1f} s] =="
    )
    flat, truth = bench_faiss_flat(stored, truth_queries)
    matches = sum(len(t) for t in truth)
    print(f"    brute-force truth: {matches} matches ≤ {THRESHOLD} for {n_truth} queries")
    rows = [bench_cordon(stored, queries, n_truth, truth)]
    gc.collect()
    rows.append(flat)
    rows += bench_faiss_multihash(stored, truth_queries, truth)
    gc.collect()
    print(
        f"    {'index':<26} {'build s':>8} {'memory MB':>10} {'queries/s':>10} {'p99 ms':>8}"
        f" {'recall':>8} {'timed on':>9}"
    )
    for r in rows:
        print(
            f"    {r.name:<26} {r.build_s:8.1f} {r.memory_mb:10.0f} {r.qps:10,.0f} "
            f"{r.p99_ms:8.2f} {r.recall:8.4f} {r.queries_timed:9,}"
        )
    cordon = rows[0]
    print(f"    cordon vs IndexBinaryFlat: {cordon.qps / flat.qps:.0f}× the queries/s")
    if n >= 10_000_000:
        print(
            "    target at 10M ≥ 2,000 q/s, memory < 2 GB, recall 1: "
            + (
                "met"
                if cordon.qps >= 2000 and cordon.memory_mb < 2000 and cordon.recall == 1
                else "MISSED"
            )
        )
    elif n >= 1_000_000:
        print(
            f"    target at 1M ≥ 10,000 q/s, recall 1: "
            f"{'met' if cordon.qps >= 10000 and cordon.recall == 1 else 'MISSED'}"
        )
    del stored, queries
    gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000000,10000000", help="stored set sizes, comma-separated"
    )
    parser.add_argument("--queries", type=int, default=10_000, help="queries per run")
    parser.add_argument("--truth", type=int, default=500, help="queries checked by brute force")
    parser.add_argument("--kinds", default="uniform,clustered", help="uniform and/or clustered")
    parser.add_argument(
        "--quick", action="store_true", help="100,000 and 1,000,000 stored; 2,000 queries"
    )
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries, args.truth = "100000,1000000", 2000, 200
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    print(
        f"cores: {os.cpu_count()}; faiss {faiss.__version__}; threshold {THRESHOLD}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    started = time.perf_counter()
    for n in (int(s) for s in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            run(kind, n, args.queries, args.truth, args.seed + n)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Benchmark the crawler against a synthetic world (default 2,000 sites, 20,000 pictures).

Prints, for one run:

* the crawl: pages/s and pictures/s, and where the time went (thread-seconds in picture decoding,
  in hashing, in the network and parsing, and in the database);
* the ceiling beside it: the hash path alone (the same ``hash_picture`` call the crawler makes,
  dihedral and border-trimmed hashes included) on a sample of the same pictures, held in memory,
  with one thread per core, measured in the same run while the world serves;
* the crawl's share of that ceiling (target: at least 70% on 2 cores) and the hash path alone on
  800×600 JPEGs (target: at least 150 pictures/s on 2 cores).

Everything talks to loopback only and every loop is bounded.

    python benchmarks/bench_crawl.py [--sites 2000] [--folder DIR] [--sample 2000]
                                     [--concurrency 16] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
from sqlalchemy import Connection

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.crawl.fetcher import Fetcher, FetcherConfig
from cordon.crawl.worker import run_crawler
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.partners import repo as partners
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.signals.hashing import hash_picture
from cordon.signals.pictures import decode
from cordon.signals.synthetic import encode, photo_like
from cordon.store.db import make_engine, write
from cordon.store.migrate import upgrade
from cordon.world import WorldHandle, WorldSpec, running_world

TARGET_SHARE = 0.70
TARGET_JPEG_PER_SECOND = 150.0


def _hash(data: bytes) -> float:
    started = time.perf_counter()
    hash_picture(data, path="fast", dihedral=True, trim_borders=True)
    return time.perf_counter() - started


def _decode(data: bytes) -> float:
    started = time.perf_counter()
    decode(data, reduced=True)
    return time.perf_counter() - started


def hash_rate(pictures: list[bytes], threads: int) -> tuple[float, float, float]:
    """(pictures/s with ``threads`` threads, decode seconds, total seconds) on ``pictures``."""
    for data in pictures[:4]:
        _hash(data)  # compiled code is loaded once, outside the measurement
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(_hash, pictures))
    wall = time.perf_counter() - started
    decoding = sum(_decode(d) for d in pictures[: min(len(pictures), 300)])
    decoding *= len(pictures) / min(len(pictures), 300)
    return len(pictures) / wall, decoding, total


def fetch_sample(world: WorldHandle, limit: int) -> list[bytes]:
    """The bytes of up to ``limit`` pictures the world serves, fetched as the crawler does.

    Every picture is fetched once, so that the world has drawn it before the crawl (its
    pictures are then served from memory); only ``limit`` are kept."""
    urls: list[str] = []
    for site in world.truth.sites:
        for placement in site.pictures:
            if placement.embed != "data-uri":
                urls.append(world.url(placement.host, placement.path))
    fetcher = Fetcher(FetcherConfig.from_settings(world.settings()))
    out: list[bytes] = []

    async def run() -> None:
        limiter = anyio.Semaphore(16)

        async def one(url: str) -> None:
            async with limiter, fetcher.session() as session:
                result = await session.fetch(url, kind="media")
                if result.status == 200 and result.breach is None and len(out) < limit:
                    out.append(result.body)

        async with anyio.create_task_group() as group:
            for url in urls:
                group.start_soon(one, url)

    anyio.run(run)
    return out


def _hotline(conn: Connection, clock: FrozenClock) -> Principal:
    actor = Actor(source="cli")
    org = partners.create_org(conn, clock, actor, "Bench hotline", "hotline", "NL")
    user = partners.create_user(conn, clock, actor, "bench@hotline.test", "Bench", None)
    partners.add_membership(conn, clock, actor, user.id, org.id, "analyst")
    return partners.principal_for(conn, user.id, org.id)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--folder", type=Path, default=None, help="Build (or reuse) the world here."
    )
    parser.add_argument("--sample", type=int, default=2000, help="Pictures hashed for the ceiling.")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="Default: a new SQLite file.")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    spec = WorldSpec(seed=args.seed, sites=args.sites)
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        folder = args.folder or Path(tmp) / "world"
        started = time.perf_counter()
        with running_world(spec, folder=folder) as world:
            print(f"world: {args.sites} sites ready in {time.perf_counter() - started:.1f} s")
            url = args.database_url or f"sqlite:///{Path(tmp) / 'cordon.db'}"
            engine = make_engine(url)
            upgrade(engine)
            settings = world.settings().model_copy(update={"database_url": url})
            crawl = settings.crawl.model_copy(update={"concurrency": args.concurrency})
            settings = settings.model_copy(update={"crawl": crawl})
            clock = FrozenClock(world.now())
            pages = [world.url(s, p) for s in world.truth.sites for p in (s.pages or ["/"])]
            with write(engine) as conn:
                member = _hotline(conn, clock)
                for start in range(0, len(pages), 10_000):
                    reports.submit(
                        conn,
                        clock,
                        member,
                        Actor.of(member, source="cli"),
                        ReportIn(urls=pages[start : start + 10_000], tlp=Tlp.GREEN),
                        channel="cli",
                    )
            sample = fetch_sample(world, args.sample)
            ceiling, sample_decode, sample_total = hash_rate(sample, cores)
            decode_share = sample_decode / sample_total if sample_total else 0.0
            del sample
            started = time.perf_counter()
            stats = run_crawler(engine, settings, clock, once=True)
            wall = time.perf_counter() - started
            engine.dispose()
    jpegs = [encode(photo_like(i, 800, 600)) for i in range(120)]
    jpeg_rate, _, _ = hash_rate(jpegs, cores)
    pictures_per_second = stats.pictures / wall
    network = max(stats.capture_seconds - stats.hash_seconds, 0.0)
    spent = stats.hash_seconds + network + stats.store_seconds
    share = pictures_per_second / ceiling if ceiling else 0.0
    decode_seconds = stats.hash_seconds * decode_share
    rows = [
        ("decode", decode_seconds, ""),
        ("hash", stats.hash_seconds - decode_seconds, ""),
        ("network", network, "  (fetching and parsing, wall time per capture)"),
        ("database", stats.store_seconds, ""),
    ]
    print(f"crawl: {stats.captured} captures ({stats.live} live), {stats.pictures} pictures")
    print(f"  wall        {wall:8.1f} s")
    print(f"  pages/s     {stats.captured / wall:8.1f}")
    print(f"  pictures/s  {pictures_per_second:8.1f}")
    print("  time (thread-seconds, shares of their sum):")
    for name, seconds, note in rows:
        print(f"    {name:9s} {seconds:8.1f}  {seconds / spent:6.1%}{note}")
    print(f"hash path alone, same pictures, {cores} threads: {ceiling:8.1f} pictures/s (ceiling)")
    print(f"crawl / ceiling: {share:6.1%} (target {TARGET_SHARE:.0%})")
    print(
        f"hash path alone, 800x600 JPEGs, {cores} threads: {jpeg_rate:8.1f} pictures/s "
        f"(target {TARGET_JPEG_PER_SECOND:.0f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the synthetic world at scale: 2,000 sites and 20,000 pictures.

Prints the build time, the time from starting the server process to every server listening
(target: under 10 s) and page requests per second (target: 500) for three kinds of client:
plain HTTP with keep-alive, HTTPS with keep-alive, and HTTPS with a new connection (and TLS
handshake) per request, as a crawler visiting many sites does. The load comes from a separate
process; every loop is bounded in requests and time and talks to loopback only.

    python benchmarks/bench_world.py [--sites 2000] [--pictures 20000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import ssl
import sys
import tempfile
import time
from pathlib import Path

from cordon.world import WorldHandle, WorldSpec, build_world, load_truth
from cordon.world.build import TRUTH_FILE, read_spec
from cordon.world.harness import start_world_process, stop_world_process
from cordon.world.tls import CA_FILE

TARGET_START_SECONDS = 10.0
TARGET_PAGES_PER_SECOND = 500.0


Target = tuple[str, str, list[str], bool]


def site_targets(folder: Path, seed: int) -> list[Target]:
    """(address, host, page paths, https) of every live site with pages, in random order."""
    truth = load_truth(folder / TRUTH_FILE)
    sites = [
        (s.hosting.cdn_address or s.hosting.address, s.domain, s.pages, s.https)
        for s in truth.sites
        if not s.hops and s.pages
    ]
    random.Random(seed).shuffle(sites)
    return sites


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _load(
    targets: list[Target], ports: tuple[int, int], ca: str, mode: str, seconds: float
) -> tuple[int, int, float]:
    """Crawl sites: each of 32 workers takes a site and fetches all its pages, over one
    connection (keep-alive modes) or one connection per page (``https-new``)."""
    context = ssl.create_default_context(cafile=ca)
    deadline = time.perf_counter() + seconds
    queue = [t for t in reversed(targets) if t[3] or mode == "http"] * 20
    ok = failed = 0
    https = mode != "http"
    port = ports[1] if https else ports[0]

    async def connect(address: str, host: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(
            address, port, ssl=context if https else None, server_hostname=host if https else None
        )

    async def worker() -> None:
        nonlocal ok, failed
        while queue and time.perf_counter() < deadline:
            address, host, pages, _ = queue.pop()
            conn = None
            try:
                for path in pages:
                    if conn is None:
                        conn = await connect(address, host)
                    reader, writer = conn
                    keep = mode != "https-new"
                    writer.write(
                        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n"
                        f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n".encode()
                    )
                    if await _read_response(reader) in (200, 301):
                        ok += 1
                    else:
                        failed += 1
                    if not keep:
                        writer.close()
                        conn = None
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
                failed += 1
            if conn is not None:
                conn[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(32)))
    return ok, failed, time.perf_counter() - start


def _client(args: tuple[list[Target], tuple[int, int], str, str, float]) -> tuple[int, int, float]:
    return asyncio.run(_load(*args))


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--pictures", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each load run")
    parser.add_argument("--clients", type=int, default=2, help="load-generating processes")
    parser.add_argument(
        "--folder", type=Path, default=None, help="world folder (kept and reused between runs)"
    )
    args = parser.parse_args()
    spec = WorldSpec(seed=args.seed, sites=args.sites, pictures=args.pictures)
    temporary = args.folder is None
    folder = args.folder or Path(tempfile.mkdtemp(prefix="cordon-bench-")) / "world"
    try:
        try:
            reused = read_spec(folder) == spec
        except ValueError:
            reused = False
        if reused:
            print(f"world: reusing {folder}")
        else:
            began = time.perf_counter()
            truth = build_world(spec, folder, force=True)
            print(
                f"build: {len(truth.sites)} sites, {len(truth.pictures)} pictures "
                f"({len(truth.known())} known) in {time.perf_counter() - began:.1f} s"
            )
        began = time.perf_counter()
        proc, endpoints = start_world_process(folder)
        started = time.perf_counter() - began
        verdict = "ok" if started < TARGET_START_SECONDS else "SLOWER THAN TARGET"
        print(f"start: every server listening after {started:.2f} s (target < 10 s: {verdict})")
        try:
            ports = (endpoints.http_port, endpoints.https_port)
            ca = str(folder / CA_FILE)
            targets = site_targets(folder, args.seed)
            began = time.perf_counter()
            handle = WorldHandle(folder, endpoints)
            while not handle.status()["tls_ready"]:
                time.sleep(0.1)
            print(f"tls: every site certificate ready {time.perf_counter() - began:.2f} s later")
            handle.close()
            ctx = multiprocessing.get_context("spawn")
            for mode in ("http", "https", "https-new"):
                with ctx.Pool(args.clients) as pool:
                    cpu_before = _cpu_seconds(proc.pid)
                    job = (targets, ports, ca, mode, args.seconds)
                    results = pool.map(_client, [job] * args.clients)
                    cpu = _cpu_seconds(proc.pid) - cpu_before
                ok = sum(r[0] for r in results)
                failed = sum(r[1] for r in results)
                elapsed = max(r[2] for r in results)
                rate = ok / elapsed
                print(
                    f"pages {mode:>9}: {rate:7.0f} requests/s ({ok} ok, {failed} failed, "
                    f"{elapsed:.1f} s) = {rate / TARGET_PAGES_PER_SECOND:.1f}x the 500/s target; "
                    f"server busy {cpu / elapsed:.0%} of one core, "
                    f"{ok / cpu if cpu else 0:.0f} requests per server CPU second"
                )
        finally:
            stop_world_process(proc)
    finally:
        if temporary:
            shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

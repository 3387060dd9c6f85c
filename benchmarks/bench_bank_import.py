"""Benchmark a streamed bank import: a python-threatexchange signal file into a SQLite bank.

It writes a file of ``--lines`` random PDQ hashes (``pdq <hex>`` per line; random bits, not
pictures) in a temporary folder, then measures, each in a process of its own so that peak memory
is each one's own:

- ``pytx read``: python-threatexchange's ``LocalFileSignalExchangeAPI`` reading the file (the
  reference; it holds the whole file and a dict of every signal in memory), on at most
  ``--pytx-lines`` lines;
- ``cordon parse``: Cordon's reader validating every line, nothing stored (the floor);
- ``cordon import``: ``cordon.banks.repo.import_entries`` storing every line in a new SQLite
  bank in one transaction, in chunks;

and prints lines per second and peak resident memory (``getrusage``), then checks that the bank
holds every line. The import must stream: its peak memory stays flat as ``--lines`` grows.

    python benchmarks/bench_bank_import.py [--lines 10000000] [--pytx-lines 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_LINES = 10_000_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_file(path: Path, lines: int) -> None:
    with path.open("w", encoding="ascii") as out:
        block: list[str] = []
        for _ in range(lines):
            block.append(f"pdq {os.urandom(32).hex()}\n")
            if len(block) >= 100_000:
                out.writelines(block)
                block.clear()
        out.writelines(block)


def _pytx_read(path: str, queue: Any) -> None:
    from threatexchange.exchanges.impl.file_api import (
        FileCollaborationConfig,
        LocalFileSignalExchangeAPI,
    )
    from threatexchange.signal_type.pdq.signal import PdqSignal

    start, cpu = time.perf_counter(), time.process_time()
    api = LocalFileSignalExchangeAPI(FileCollaborationConfig(name="bench", filename=path))
    seen = 0
    for delta in api.fetch_iter([PdqSignal], None):
        seen += len(delta.updates)
    queue.put((seen, time.perf_counter() - start, time.process_time() - cpu, _peak_mb()))


def _cordon_parse(path: str, queue: Any) -> None:
    from cordon.banks import files

    start, cpu = time.perf_counter(), time.process_time()
    seen = 0
    with open(path, encoding="utf-8-sig", newline="") as stream:
        for item in files.read("pytx", stream):
            seen += 1
            assert isinstance(item, files.EntryRecord)
    queue.put((seen, time.perf_counter() - start, time.process_time() - cpu, _peak_mb()))


def _cordon_import(path: str, db_path: str, queue: Any) -> None:
    from cordon.audit.log import Actor
    from cordon.banks import files, model, repo
    from cordon.clock import SystemClock
    from cordon.partners import repo as partners
    from cordon.store.db import make_engine, write
    from cordon.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    clock = SystemClock()
    cli = Actor(source="cli")
    with write(engine) as conn:
        org = partners.create_org(conn, clock, cli, "Bench Lists", "technology", "NL")
        user = partners.create_user(conn, clock, cli, "bench@lists.test", "Bench", None)
        partners.add_membership(conn, clock, cli, user.id, org.id, "admin")
        principal = partners.principal_for(conn, user.id, org.id)
        actor = Actor.of(principal, source="cli")
        repo.create_bank(conn, clock, principal, actor, model.BankIn(name="BENCH", tlp="GREEN"))
    base = _peak_mb()
    start, cpu = time.perf_counter(), time.process_time()
    with write(engine) as conn, open(path, encoding="utf-8-sig", newline="") as stream:
        done = repo.import_entries(
            conn, clock, principal, actor, "BENCH", files.read("pytx", stream), fmt="pytx"
        )
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    with write(engine) as conn:
        stored = repo.count_entries(conn, principal, repo.EntryFilter(bank="BENCH"))
    engine.dispose()
    queue.put((done.added, elapsed, cpu, _peak_mb(), base, stored, len(done.changes)))


def _run(target: Any, *args: Any) -> tuple[Any, ...]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"{target.__name__} failed with exit code {proc.exitcode}")
    return tuple(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES)
    parser.add_argument("--pytx-lines", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cordon-bench-bank-") as tmp:
        folder = Path(tmp)
        path = folder / "list.txt"
        start = time.perf_counter()
        write_file(path, args.lines)
        size_mb = path.stat().st_size / 1e6
        print(
            f"wrote {args.lines:,} lines ({size_mb:,.0f} MB) in {time.perf_counter() - start:.1f} s"
        )
        pytx_lines = min(args.lines, args.pytx_lines)
        pytx_path = path
        if pytx_lines < args.lines:
            pytx_path = folder / "head.txt"
            with path.open() as src, pytx_path.open("w") as dst:
                for _, line in zip(range(pytx_lines), src, strict=False):
                    dst.write(line)
        # Wall time depends on what else the machine runs; CPU time of the process does less.
        print(
            f"{'path':<16} {'lines':>12} {'seconds':>9} {'lines/s':>11} "
            f"{'cpu s':>8} {'lines/cpu s':>12} {'peak MB':>9}"
        )

        def row(name: str, n: int, secs: float, cpu: float, peak: float) -> None:
            print(
                f"{name:<16} {n:>12,} {secs:>9.1f} {n / secs:>11,.0f} "
                f"{cpu:>8.1f} {n / cpu:>12,.0f} {peak:>9,.0f}"
            )

        n, secs, cpu, peak = _run(_pytx_read, str(pytx_path))
        row("pytx read", n, secs, cpu, peak)
        n, secs, cpu, peak = _run(_cordon_parse, str(path))
        parse_cpu_rate = n / cpu
        row("cordon parse", n, secs, cpu, peak)
        added, secs, cpu, peak, base, stored, changes = _run(
            _cordon_import, str(path), str(folder / "bench.db")
        )
        row("cordon import", added, secs, cpu, peak)
        print(
            f"import: {added / secs:,.0f} lines/s, peak memory {peak:,.0f} MB "
            f"({peak - base:+,.0f} MB over the process before the import), {changes} change "
            f"row(s), {added / cpu / parse_cpu_rate:.2f}x the parse-only rate per CPU second"
        )
        if stored != args.lines or added != args.lines:
            print(f"FAIL: {stored:,} stored, {added:,} added of {args.lines:,}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

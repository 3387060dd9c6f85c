"""A crawler killed with SIGKILL mid-run loses no URL and stores no crawl twice; crawler
processes sharing one database split the work; a crawler process stays under 512 MB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.tlp import Tlp
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from cordon.store.tables import work_item
from cordon.store.tables_crawl import capture
from cordon.world import WorldHandle
from crawl.servers import report_urls
from support import make_member

MAX_RSS_KIB = 512 * 1024


def _start(world: WorldHandle, database_url: str, log: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CORDON_DATABASE_URL": database_url,
        "CORDON_PIPELINE__LEASE_SECONDS": "2",
        "CORDON_PIPELINE__POLL_SECONDS": "0.2",
        "CORDON_CRAWL__CONCURRENCY": "6",
        "CORDON_CRAWL__CLOAKING_PROBES": "false",
    }
    command = [sys.executable, "-m", "cordon", "--config", str(world.config_file)]
    return subprocess.Popen(
        [*command, "crawl", "--once", "--quiet"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait(procs: list[subprocess.Popen[bytes]], timeout: float) -> int:
    peak = 0
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs):
        for p in procs:
            peak = max(peak, _peak_rss_kib(p.pid))
        assert time.monotonic() < deadline, "the crawler did not finish"
        time.sleep(0.1)
    return peak


def _count(engine: Engine) -> int:
    with read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(capture)).scalar_one())


@pytest.mark.slow
def test_sigkill_mid_run_loses_no_url_and_stores_no_crawl_twice(
    world: WorldHandle, engine: Engine, fresh_db: str, backend: str, tmp_path: Path
) -> None:
    urls = report_urls(world)[:20]
    clock = FrozenClock()
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        reports.submit(
            conn,
            clock,
            hotline,
            Actor.of(hotline, source="cli"),
            ReportIn(urls=urls, tlp=Tlp.GREEN),
            channel="cli",
        )
    log_path = tmp_path / "crawler.log"
    with log_path.open("ab") as log:
        _run(world, engine, fresh_db, backend, urls, log, log_path)


def _run(
    world: WorldHandle,
    engine: Engine,
    fresh_db: str,
    backend: str,
    urls: list[str],
    log: Any,
    log_path: Path,
) -> None:
    victim = _start(world, fresh_db, log)
    deadline = time.monotonic() + 60
    while _count(engine) < 5:
        assert victim.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = _count(engine)
    assert killed_at < len(urls), "the crawler finished before it could be killed"
    with read(engine) as conn:
        leased = conn.execute(
            select(func.count()).where(work_item.c.stage == "crawl", work_item.c.state == "leased")
        ).scalar_one()
    assert leased > 0, "nothing was in flight when the crawler was killed"
    time.sleep(2.5)  # the dead crawler's leases run out
    # Two crawler processes finish the work between them (one on SQLite is enough to show it).
    crawlers = [_start(world, fresh_db, log) for _ in range(2 if backend == "postgres" else 1)]
    peak = _wait(crawlers, 120)
    assert all(p.returncode == 0 for p in crawlers), log_path.read_text()[-3000:]
    with read(engine) as conn:
        first = conn.execute(select(capture.c.url_id).where(capture.c.reason == "first")).all()
        per_url = conn.execute(
            select(capture.c.url_id, capture.c.seq, func.count())
            .group_by(capture.c.url_id, capture.c.seq)
            .having(func.count() > 1)
        ).all()
        left = conn.execute(
            select(func.count()).where(
                work_item.c.stage == "crawl", work_item.c.state.in_(["leased", "dead"])
            )
        ).scalar_one()
    assert len(first) == len({r.url_id for r in first}) == len(urls)
    assert per_url == []
    assert left == 0
    assert 0 < peak < MAX_RSS_KIB, f"peak RSS {peak} KiB"
    print(
        f"\n[{backend}] killed after {killed_at} captures; peak crawler RSS {peak / 1024:.0f} MiB"
    )

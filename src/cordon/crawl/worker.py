"""``cordon crawl``: many captures in flight in one process, each stored in a short transaction.

Work is claimed from the ``crawl`` stage's queue with the pipeline's leases (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so any number of crawler processes, on any number of machines, share
one queue. A claimed URL is fetched and hashed outside any transaction; its capture and the
completion of its work item then commit together. A process killed at any point loses nothing:
its leased items are taken again when their lease runs out, and an item whose lease was taken
over is rolled back, so no crawl is stored twice.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio
from sqlalchemy import Engine

from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.config import Settings
from cordon.crawl import repo
from cordon.crawl.capture import CapturePlan, CaptureResult, hash_threads, take_capture
from cordon.crawl.stage import Crawler
from cordon.pipeline import repo as work
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import worker_id
from cordon.store.db import read, write

log = logging.getLogger(__name__)


@dataclass
class CrawlStats:
    """What one crawler process did."""

    captured: int = 0
    live: int = 0
    gone: int = 0
    failed: int = 0
    blocked: int = 0
    pictures: int = 0
    lost: int = 0
    errors: int = 0
    in_flight: int = 0
    capture_seconds: float = 0.0
    """Wall time of captures (network, parsing and hashing), summed over captures."""
    hash_seconds: float = 0.0
    """Time in picture decoding and hashing, summed over pictures."""
    store_seconds: float = 0.0
    """Wall time of the transactions that store captures, summed."""


class _LeaseLost(Exception):
    pass


def _claim(
    engine: Engine, clock: Clock, settings: Settings, owner: str, limit: int
) -> list[WorkItem]:
    with write(engine) as conn:
        repo.rearm_due(conn, clock.now())
        return work.claim(
            conn,
            repo.STAGE,
            owner,
            clock.now(),
            timedelta(seconds=settings.pipeline.lease_seconds),
            limit,
        )


def _extend(engine: Engine, clock: Clock, settings: Settings, item: WorkItem) -> bool:
    with write(engine) as conn:
        until = clock.now() + timedelta(seconds=settings.pipeline.lease_seconds)
        return repo.extend_lease(conn, item, until)


def _plan(engine: Engine, item: WorkItem) -> CapturePlan | None:
    with read(engine) as conn:
        return repo.plan_for(conn, item.subject_id)


def _store(
    engine: Engine,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    item: WorkItem,
    result: CaptureResult,
) -> repo.Stored:
    with write(engine) as conn:
        stored = repo.store_capture(conn, clock, actor, result, settings)
        if not work.complete(conn, item, clock.now()):
            raise _LeaseLost
        return stored


def _fail(
    engine: Engine, clock: Clock, settings: Settings, item: WorkItem, error: str, permanent: bool
) -> None:
    p = settings.pipeline
    delay = min(p.backoff_seconds * (2 ** max(item.attempts - 1, 0)), p.backoff_max_seconds)
    now = clock.now()
    with write(engine) as conn:
        work.fail(
            conn,
            item,
            now,
            error,
            max_attempts=p.max_attempts,
            retry_at=now + timedelta(seconds=delay),
            permanent=permanent,
        )


async def crawl(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    owner: str | None = None,
    on_capture: Callable[[CrawlStats], None] | None = None,
    max_captures: int | None = None,
) -> CrawlStats:
    """Crawl until ``stop`` is set (or, with ``once``, until no crawl is due).

    ``crawl.concurrency`` captures are in flight at once; ``on_capture`` is called after each.
    """
    owner = owner or worker_id()
    crawler = Crawler(settings)
    fetcher = crawler.fetcher.fresh()
    threads = hash_threads()
    stats = CrawlStats()
    actor = Actor(source="stage")
    concurrency = settings.crawl.concurrency
    stop = stop or threading.Event()
    slot_free = anyio.Event()
    claimed = 0

    async def keep_lease(item: WorkItem) -> None:
        interval = max(settings.pipeline.lease_seconds / 3, 0.1)
        while True:
            await anyio.sleep(interval)
            if not await anyio.to_thread.run_sync(_extend, engine, clock, settings, item):
                return

    async def run_item(item: WorkItem) -> None:
        nonlocal slot_free
        try:
            plan = await anyio.to_thread.run_sync(_plan, engine, item)
            if plan is None:
                await anyio.to_thread.run_sync(
                    _fail, engine, clock, settings, item, f"no URL with id {item.subject_id}", True
                )
                return
            started = time.perf_counter()
            async with anyio.create_task_group() as heartbeat:
                # A capture may outlast the lease: keep it while the capture is under way.
                heartbeat.start_soon(keep_lease, item)
                result = await take_capture(fetcher, plan, clock, crawler.options, threads=threads)
                heartbeat.cancel_scope.cancel()
            stored_at = time.perf_counter()
            await anyio.to_thread.run_sync(_store, engine, clock, settings, actor, item, result)
            stats.capture_seconds += stored_at - started
            stats.store_seconds += time.perf_counter() - stored_at
            stats.hash_seconds += sum(m.seconds for m in result.media)
            stats.captured += 1
            stats.pictures += sum(1 for m in result.media if m.status == "hashed")
            if result.outcome == "live":
                stats.live += 1
            elif result.outcome == "gone":
                stats.gone += 1
            elif result.outcome == "blocked":
                stats.blocked += 1
            else:
                stats.failed += 1
        except _LeaseLost:
            stats.lost += 1
            log.warning(
                "crawl of URL %s lost its lease; its capture was rolled back", item.subject_id
            )
        except Exception as exc:  # one URL's fault must not stop the crawler
            stats.errors += 1
            detail = "".join(traceback.format_exception_only(exc)).strip()
            log.exception("crawl of URL %s failed", item.subject_id)
            await anyio.to_thread.run_sync(_fail, engine, clock, settings, item, detail, False)
        finally:
            stats.in_flight -= 1
            if on_capture is not None:
                on_capture(stats)
            slot_free.set()

    poll = settings.pipeline.poll_seconds
    async with anyio.create_task_group() as group:
        while not stop.is_set():
            if max_captures is not None and claimed >= max_captures:
                if stats.in_flight == 0:
                    break
                items: list[WorkItem] = []
            else:
                free = concurrency - stats.in_flight
                if max_captures is not None:
                    free = min(free, max_captures - claimed)
                items = (
                    await anyio.to_thread.run_sync(_claim, engine, clock, settings, owner, free)
                    if free > 0
                    else []
                )
            for item in items:
                stats.in_flight += 1
                claimed += 1
                group.start_soon(run_item, item)
            if items and stats.in_flight < concurrency:
                continue
            if not items and stats.in_flight == 0 and once:
                break
            slot_free = anyio.Event()
            with anyio.move_on_after(poll):
                await slot_free.wait()
    return stats


def run_crawler(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    on_capture: Callable[[CrawlStats], None] | None = None,
    max_captures: int | None = None,
) -> CrawlStats:
    """:func:`crawl` in this thread's own event loop."""
    started = time.monotonic()
    stats = anyio.run(
        lambda: crawl(
            engine,
            settings,
            clock,
            once=once,
            stop=stop,
            on_capture=on_capture,
            max_captures=max_captures,
        )
    )
    log.info("crawler finished %d captures in %.1f s", stats.captured, time.monotonic() - started)
    return stats

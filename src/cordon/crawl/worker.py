"""``cordon crawl``: many captures in flight in one process, stored a few at a time.

Work is claimed from the ``crawl`` stage's queue with the pipeline's leases (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so any number of crawler processes, on any number of machines, share
one queue. A claimed URL is fetched and hashed outside any transaction; its capture and the
completion of its work item then commit together. Captures that finish while others are being
stored wait and are stored together, in one transaction with a savepoint each (one commit, one
disk flush, for several captures). A process killed at any point loses nothing: its leased items
are taken again when their lease runs out, and an item whose lease was taken over is rolled back
to its savepoint, so no crawl is stored twice.

The process's own writing transactions (claims, stores, lease extensions, failures) take turns
through one lock, so that on SQLite they queue in the process rather than in SQLite's busy
handler.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

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
from cordon.store.db import pooled, write

log = logging.getLogger(__name__)

STORE_BATCH: Final = 32
"""Most captures stored in one transaction."""
SWITCH_INTERVAL: Final = 0.0005
"""Seconds a thread may hold the interpreter lock while another waits for it, during a crawl."""


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
    """Wall time from a finished capture to its commit, summed over captures."""
    transactions: int = 0
    """Transactions that stored captures."""
    hash_cpu_seconds: float = 0.0
    """CPU time of picture decoding and hashing, summed over pictures."""
    database_cpu_seconds: float = 0.0
    """CPU time of the crawler's database work (claims, stores, leases), in its threads."""
    loop_cpu_seconds: float = 0.0
    """CPU time of the event loop's thread: fetching, TLS, parsing, evidence."""
    connections: int = 0
    """Connections opened."""


class _LeaseLost(Exception):
    pass


class _StoreFailed(Exception):
    pass


@dataclass
class _Finished:
    """A capture waiting to be stored, and what became of it."""

    item: WorkItem
    result: CaptureResult
    done: anyio.Event
    outcome: Literal["waiting", "stored", "lost", "error"] = "waiting"
    error: str = ""


def _claim(
    engine: Engine, clock: Clock, settings: Settings, owner: str, limit: int
) -> tuple[list[tuple[WorkItem, CapturePlan | None]], float]:
    cpu = time.thread_time()
    with write(engine) as conn:
        repo.rearm_due(conn, clock.now())
        items = work.claim(
            conn,
            repo.STAGE,
            owner,
            clock.now(),
            timedelta(seconds=settings.pipeline.lease_seconds),
            limit,
        )
        plans = repo.plans_for(conn, [item.subject_id for item in items])
        planned = [(item, plans.get(item.subject_id)) for item in items]
    return planned, time.thread_time() - cpu


def _extend(engine: Engine, clock: Clock, settings: Settings, item: WorkItem) -> tuple[bool, float]:
    cpu = time.thread_time()
    with write(engine) as conn:
        until = clock.now() + timedelta(seconds=settings.pipeline.lease_seconds)
        kept = repo.extend_lease(conn, item, until)
    return kept, time.thread_time() - cpu


def _store_batch(
    engine: Engine,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    batch: list[_Finished],
) -> float:
    """Store ``batch`` in one transaction, each capture (with the completion of its work item)
    under a savepoint of its own: a capture whose lease was lost, or that fails, is rolled back
    alone. Returns the CPU time spent."""
    cpu = time.thread_time()
    with write(engine) as conn:
        for entry in batch:
            savepoint = conn.begin_nested()
            try:
                repo.store_capture(conn, clock, actor, entry.result, settings)
                if work.complete(conn, entry.item, clock.now()):
                    savepoint.commit()
                    entry.outcome = "stored"
                else:
                    savepoint.rollback()
                    entry.outcome = "lost"
            except Exception as exc:
                if savepoint.is_active:
                    savepoint.rollback()
                log.exception("storing the capture of URL %s failed", entry.item.subject_id)
                entry.outcome = "error"
                entry.error = "".join(traceback.format_exception_only(exc)).strip()
    return time.thread_time() - cpu


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
    threads = hash_threads()
    stats = CrawlStats()
    actor = Actor(source="stage")
    concurrency = settings.crawl.concurrency
    # Claims wait for a quarter of the slots to be free, so that one claim serves several.
    claim_at = max(1, concurrency // 4)
    stop = stop or threading.Event()
    slot_free = anyio.Event()
    claimed = 0
    writing = anyio.Lock()
    pending: list[_Finished] = []
    wake = anyio.Event()
    loop_cpu = time.thread_time()

    async def extend(item: WorkItem) -> bool:
        async with writing:
            kept, cpu = await anyio.to_thread.run_sync(_extend, engine, clock, settings, item)
        stats.database_cpu_seconds += cpu
        return kept

    async def fail(item: WorkItem, error: str, permanent: bool) -> None:
        async with writing:
            await anyio.to_thread.run_sync(_fail, engine, clock, settings, item, error, permanent)

    async def keep_lease(item: WorkItem) -> None:
        interval = max(settings.pipeline.lease_seconds / 3, 0.1)
        while True:
            await anyio.sleep(interval)
            if not await extend(item):
                return

    async def store_pending() -> None:
        # One batch at a time: captures finishing meanwhile gather for the next.
        nonlocal wake
        while True:
            if not pending:
                wake = anyio.Event()
                await wake.wait()
                continue
            batch = pending[:STORE_BATCH]
            del pending[:STORE_BATCH]
            try:
                async with writing:
                    cpu = await anyio.to_thread.run_sync(
                        _store_batch, engine, clock, settings, actor, batch
                    )
                stats.database_cpu_seconds += cpu
                stats.transactions += 1
            except Exception as exc:  # the transaction failed: none of the batch is stored
                log.exception("storing %d captures failed", len(batch))
                detail = "".join(traceback.format_exception_only(exc)).strip()
                for entry in batch:
                    entry.outcome, entry.error = "error", detail
            for entry in batch:
                entry.done.set()

    async def run_item(item: WorkItem, plan: CapturePlan | None) -> None:
        nonlocal slot_free
        try:
            if plan is None:
                await fail(item, f"no URL with id {item.subject_id}", True)
                return
            started = time.perf_counter()
            async with anyio.create_task_group() as heartbeat:
                # A capture may outlast the lease: keep it while the capture is under way.
                heartbeat.start_soon(keep_lease, item)
                result = await take_capture(fetcher, plan, clock, crawler.options, threads=threads)
                heartbeat.cancel_scope.cancel()
            stored_at = time.perf_counter()
            entry = _Finished(item, result, anyio.Event())
            pending.append(entry)
            wake.set()
            await entry.done.wait()
            if entry.outcome == "lost":
                raise _LeaseLost
            if entry.outcome != "stored":
                raise _StoreFailed(entry.error)
            stats.capture_seconds += stored_at - started
            stats.store_seconds += time.perf_counter() - stored_at
            stats.hash_seconds += sum(m.seconds for m in result.media)
            stats.hash_cpu_seconds += sum(m.cpu_seconds for m in result.media)
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
            detail = (
                str(exc)
                if isinstance(exc, _StoreFailed)
                else "".join(traceback.format_exception_only(exc)).strip()
            )
            if not isinstance(exc, _StoreFailed):
                log.exception("crawl of URL %s failed", item.subject_id)
            await fail(item, detail, False)
        finally:
            stats.in_flight -= 1
            if on_capture is not None:
                on_capture(stats)
            slot_free.set()

    poll = settings.pipeline.poll_seconds
    async with crawler.fetcher.fresh(keep_connections=True) as fetcher:
        async with anyio.create_task_group() as storing:
            storing.start_soon(store_pending)
            async with anyio.create_task_group() as group:
                while not stop.is_set():
                    planned: list[tuple[WorkItem, CapturePlan | None]] = []
                    if max_captures is not None and claimed >= max_captures:
                        if stats.in_flight == 0:
                            break
                    else:
                        free = concurrency - stats.in_flight
                        if max_captures is not None:
                            free = min(free, max_captures - claimed)
                        if free > 0 and (free >= claim_at or stats.in_flight == 0):
                            async with writing:
                                planned, cpu = await anyio.to_thread.run_sync(
                                    _claim, engine, clock, settings, owner, free
                                )
                            stats.database_cpu_seconds += cpu
                    for item, plan in planned:
                        stats.in_flight += 1
                        claimed += 1
                        group.start_soon(run_item, item, plan)
                    if planned and stats.in_flight < concurrency:
                        continue
                    if not planned and stats.in_flight == 0 and once:
                        break
                    slot_free = anyio.Event()
                    with anyio.move_on_after(poll):
                        await slot_free.wait()
            storing.cancel_scope.cancel()
        assert fetcher.connections is not None  # kept connections were asked for
        stats.connections = fetcher.connections.opened
    stats.loop_cpu_seconds = time.thread_time() - loop_cpu
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
    """:func:`crawl` in this thread's own event loop (uvloop's).

    While it runs, threads take turns on the interpreter lock every half millisecond rather
    than every five: the event loop gives the lock up at every TLS read and write, and waiting
    up to five milliseconds each time to get it back from the hashing and database threads
    would leave the loop, which feeds them all, idle for most of the crawl.
    """
    started = time.monotonic()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, SWITCH_INTERVAL))
    try:
        stats = _run(engine, settings, clock, once, stop, on_capture, max_captures)
    finally:
        sys.setswitchinterval(switch)
    log.info("crawler finished %d captures in %.1f s", stats.captured, time.monotonic() - started)
    return stats


def _run(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    once: bool,
    stop: threading.Event | None,
    on_capture: Callable[[CrawlStats], None] | None,
    max_captures: int | None,
) -> CrawlStats:
    with pooled(engine) as own:
        return anyio.run(
            lambda: crawl(
                own,
                settings,
                clock,
                once=once,
                stop=stop,
                on_capture=on_capture,
                max_captures=max_captures,
            ),
            backend_options={"use_uvloop": True},
        )

"""Running stages: claim a batch, process each item in its own transaction, repeat.

A stage's work for one item, the audit event it writes, and the item's move to ``done`` commit
together or not at all. A worker killed at any point loses nothing: its leased items become
claimable again when their lease runs out, and since nothing of an unfinished item was
committed, each item's effect is committed exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine

from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.config import Settings
from cordon.pipeline import repo
from cordon.pipeline.repo import WorkItem
from cordon.store.db import write

log = logging.getLogger(__name__)


class Retry(Exception):
    """Raised by a stage to try the item again later without counting it as a fault."""

    def __init__(self, reason: str, after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Permanent(Exception):
    """Raised by a stage when retrying cannot help: the item goes to the dead-letter state."""


@dataclass(frozen=True)
class StageContext:
    """What a stage gets besides its item."""

    clock: Clock
    settings: Settings
    actor: Actor = field(default_factory=lambda: Actor(source="stage"))


class Stage(Protocol):
    """One arrow of the data flow."""

    name: str

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        """Do the work for ``item`` inside ``conn``'s transaction; never commit."""
        ...


def worker_id() -> str:
    """A name for this worker that is unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class RunStats:
    done: int = 0
    failed: int = 0
    dead: int = 0
    lost: int = 0


def _backoff(settings: Settings, attempts: int) -> timedelta:
    p = settings.pipeline
    seconds = min(p.backoff_seconds * (2 ** max(attempts - 1, 0)), p.backoff_max_seconds)
    return timedelta(seconds=seconds)


def run_batch(
    engine: Engine,
    stage: Stage,
    ctx: StageContext,
    owner: str,
    *,
    limit: int | None = None,
    on_item: Callable[[WorkItem, str], None] | None = None,
) -> RunStats:
    """Claim one batch of ``stage``'s due items and process them. Returns what happened."""
    settings, clock = ctx.settings, ctx.clock
    stats = RunStats()
    with write(engine) as conn:
        items = repo.claim(
            conn,
            stage.name,
            owner,
            clock.now(),
            timedelta(seconds=settings.pipeline.lease_seconds),
            limit or settings.pipeline.batch_size,
        )
    for item in items:
        outcome = _process_one(engine, stage, ctx, item)
        if outcome == "done":
            stats.done += 1
        elif outcome == "lost":
            stats.lost += 1
        elif outcome == "dead":
            stats.dead += 1
        else:
            stats.failed += 1
        if on_item is not None:
            on_item(item, outcome)
    return stats


class _LeaseLost(Exception):
    pass


def _process_one(engine: Engine, stage: Stage, ctx: StageContext, item: WorkItem) -> str:
    try:
        with write(engine) as conn:
            stage.process(conn, ctx, item)
            if not repo.complete(conn, item, ctx.clock.now()):
                raise _LeaseLost
        return "done"
    except _LeaseLost:
        log.warning(
            "stage %s lost the lease on item %s; its work was rolled back", stage.name, item.id
        )
        return "lost"
    except Retry as exc:
        after = exc.after or _backoff(ctx.settings, item.attempts)
        return _record_failure(
            engine, ctx, item, f"retry: {exc}", after, permanent=False, counts_attempt=False
        )
    except Permanent as exc:
        return _record_failure(engine, ctx, item, f"permanent: {exc}", timedelta(0), permanent=True)
    except Exception as exc:  # a stage's fault must not stop the worker
        detail = "".join(traceback.format_exception_only(exc)).strip()
        log.exception("stage %s failed on item %s", stage.name, item.id)
        return _record_failure(
            engine, ctx, item, detail, _backoff(ctx.settings, item.attempts), permanent=False
        )


def _record_failure(
    engine: Engine,
    ctx: StageContext,
    item: WorkItem,
    error: str,
    after: timedelta,
    *,
    permanent: bool,
    counts_attempt: bool = True,
) -> str:
    now = ctx.clock.now()
    max_attempts = ctx.settings.pipeline.max_attempts
    if not counts_attempt:
        max_attempts += item.attempts  # a requested retry never exhausts the attempts
    with write(engine) as conn:
        state = repo.fail(
            conn,
            item,
            now,
            error,
            max_attempts=max_attempts,
            retry_at=now + after,
            permanent=permanent,
        )
    return "dead" if state == repo.DEAD else "failed"


def run_until_idle(
    engine: Engine,
    stages: Sequence[Stage],
    ctx: StageContext,
    *,
    owner: str | None = None,
    max_rounds: int | None = None,
    on_item: Callable[[WorkItem, str], None] | None = None,
) -> RunStats:
    """Process every due item of every stage until none is due. For tests, the demo and
    ``cordon worker --once``."""
    owner = owner or worker_id()
    total = RunStats()
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        progressed = False
        for stage in stages:
            stats = run_batch(engine, stage, ctx, owner, on_item=on_item)
            total.done += stats.done
            total.failed += stats.failed
            total.dead += stats.dead
            total.lost += stats.lost
            progressed = progressed or bool(stats.done or stats.failed or stats.dead or stats.lost)
        if not progressed:
            break
    return total


def run_forever(
    engine: Engine,
    stages: Sequence[Stage],
    ctx: StageContext,
    stop: threading.Event,
    *,
    owner: str | None = None,
) -> None:
    """Work until ``stop`` is set, sleeping ``pipeline.poll_seconds`` whenever nothing is due."""
    owner = owner or worker_id()
    log.info("worker %s runs stages: %s", owner, ", ".join(s.name for s in stages) or "none")
    while not stop.is_set():
        try:
            stats = run_until_idle(engine, stages, ctx, owner=owner, max_rounds=1)
        except Exception:  # a database outage: wait and try again
            log.exception("worker %s could not claim work", owner)
            stats = RunStats()
        if not (stats.done or stats.failed or stats.dead or stats.lost):
            stop.wait(ctx.settings.pipeline.poll_seconds)


def due_at(engine: Engine, stages: Sequence[Stage]) -> datetime | None:
    """When the next pending item of these stages is due (None when there is none)."""
    with write(engine) as conn:
        return repo.next_due(conn, [s.name for s in stages])

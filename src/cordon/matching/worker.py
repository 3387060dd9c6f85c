"""``cordon matcher run``: the match stages with every refetch outside database transactions.

Through the generic stage runner (``cordon serve``, ``cordon worker``) a stage does all of an
item's work inside the item's transaction, so the fetch of a matched picture for its reference
hash holds that transaction open (on SQLite, the one writer's lock) for as long as the fetch
takes. This worker runs the ``match`` stage in three steps per capture instead:

1. in a read transaction, match the capture's pictures and list those whose matches would
   confirm (:func:`cordon.matching.flows.references_wanted`);
2. with no transaction open, fetch them again and compute their reference hashes;
3. in one short write transaction, record sightings and matches, confirm, and complete the work
   item (the same :func:`cordon.matching.flows.match_capture` as the stage, handed the hashes
   fetched in step 2; a picture that only matches by then is fetched there).

Work is claimed with the pipeline's leases like any stage, so it shares the queue with
``cordon worker`` processes; ``retro_match`` items run through the generic runner.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.config import Settings
from cordon.matching import flows
from cordon.matching.record import RefetchFn
from cordon.matching.reference import Reference, Wanted, reference_hashes
from cordon.matching.service import Matcher, shared_matcher
from cordon.matching.stage import MATCH_STAGE, RetroMatchStage
from cordon.pipeline import repo as work
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import StageContext, run_batch, worker_id
from cordon.store.db import read, write

log = logging.getLogger(__name__)


@dataclass
class MatchWorkerStats:
    """What one matcher process did."""

    captures: int = 0
    retro_changes: int = 0
    prefetched: int = 0
    failed: int = 0
    lost: int = 0


class _LeaseLost(Exception):
    pass


def prefetched(references: dict[int, Reference]) -> RefetchFn:
    """A refetch function answering from ``references`` and fetching only what they lack."""

    def refetch(settings: Settings, wanted: Sequence[Wanted]) -> dict[int, Reference]:
        missing = [w for w in wanted if w.media_sighting_id not in references]
        out = reference_hashes(settings, missing) if missing else {}
        for w in wanted:
            if w.media_sighting_id in references:
                out[w.media_sighting_id] = references[w.media_sighting_id]
        return out

    return refetch


def process_capture(
    engine: Engine,
    matcher: Matcher,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    item: WorkItem,
) -> int:
    """Match one claimed capture in the three steps above; returns the pictures prefetched.
    Raises :class:`flows.NothingToMatch` for a missing capture."""
    with read(engine) as conn:
        wanted = flows.references_wanted(conn, matcher, item.subject_id)
    references: dict[int, Reference] = {}
    if wanted and settings.matching.refetch_reference:
        references = reference_hashes(settings, wanted)
    with write(engine) as conn:
        flows.match_capture(
            conn, matcher, clock, actor, settings, item.subject_id, refetch=prefetched(references)
        )
        if not work.complete(conn, item, clock.now()):
            raise _LeaseLost
    return len(references)


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


def run_matcher(
    engine: Engine,
    settings: Settings,
    clock: Clock,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    owner: str | None = None,
    matcher: Matcher | None = None,
) -> MatchWorkerStats:
    """Run the ``match`` and ``retro_match`` stages until ``stop`` is set (with ``once``: until
    none of their items is due)."""
    owner = owner or worker_id()
    stop = stop or threading.Event()
    matcher = matcher or shared_matcher(engine, clock, settings)
    actor = Actor(source="stage")
    retro = RetroMatchStage()
    ctx = StageContext(clock=clock, settings=settings, actor=actor)
    stats = MatchWorkerStats()
    lease = timedelta(seconds=settings.pipeline.lease_seconds)
    while not stop.is_set():
        with write(engine) as conn:
            items = work.claim(
                conn, MATCH_STAGE, owner, clock.now(), lease, settings.pipeline.batch_size
            )
        for item in items:
            if item.subject_kind != "capture":
                _fail(engine, clock, settings, item, "the match stage takes captures", True)
                stats.failed += 1
                continue
            try:
                stats.prefetched += process_capture(engine, matcher, clock, settings, actor, item)
                stats.captures += 1
            except _LeaseLost:
                log.warning("lost the lease on match item %s; its work was rolled back", item.id)
                stats.lost += 1
            except flows.NothingToMatch as exc:
                _fail(engine, clock, settings, item, f"permanent: {exc}", True)
                stats.failed += 1
            except Exception as exc:  # a fault of one item must not stop the worker
                log.exception("matching capture %s failed", item.subject_id)
                detail = "".join(traceback.format_exception_only(exc)).strip()
                _fail(engine, clock, settings, item, detail, False)
                stats.failed += 1
        retro_stats = run_batch(engine, retro, ctx, owner)
        stats.retro_changes += retro_stats.done
        if items or retro_stats.done or retro_stats.failed or retro_stats.dead:
            continue
        if once:
            break
        stop.wait(settings.pipeline.poll_seconds)
    return stats

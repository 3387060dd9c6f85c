"""One run of the graph's work: ingest what is new, recompute networks, record their history
and score them. What the ``graph`` stage and ``cordon network recompute`` do."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.config import GraphSettings
from cordon.graph import ingest, networks, score
from cordon.graph.model import ClusterRule
from cordon.pipeline import repo as work
from cordon.store.db import write

STAGE = "graph"
SUBJECT = "graph"
#: The stage's two work items take turns: each run arms the other for the next run.
SUBJECTS = (1, 2)


@dataclass
class RunReport:
    """What one run did."""

    ingest: ingest.IngestStats = field(default_factory=ingest.IngestStats)
    recompute: networks.RecomputeStats | None = None
    history_events: int = 0
    scored: int = 0
    backlog: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ingest": self.ingest.as_dict(),
            "recompute": self.recompute.as_dict() if self.recompute else None,
            "history_events": self.history_events,
            "scored": self.scored,
            "backlog": self.backlog,
            "seconds": round(self.seconds, 3),
        }


def rule_from(settings: GraphSettings) -> ClusterRule:
    """The clustering rule the settings ask for."""
    return ClusterRule(
        medium_max_sites=settings.medium_max_sites, medium_threshold=settings.medium_threshold
    )


def ingest_pending(
    conn: Connection,
    clock: Clock,
    settings: GraphSettings,
    report: RunReport,
    *,
    max_batches: int | None = None,
) -> bool:
    """Ingest up to ``max_batches`` batches per source; True when nothing is left."""
    done = True
    for source in ingest.SOURCES:
        batches = 0
        while max_batches is None or batches < max_batches:
            if not ingest.ingest_batch(
                conn, clock, source, batch=settings.ingest_batch, stats=report.ingest
            ):
                break
            batches += 1
        else:
            done = False
    return done


def refresh_networks(
    conn: Connection, clock: Clock, actor: audit.Actor, settings: GraphSettings, report: RunReport
) -> None:
    """Recompute networks, record their history and score them, in the caller's transaction."""
    report.recompute = networks.recompute(conn, clock, actor, rule_from(settings))
    report.history_events = score.record_history(conn, clock)
    report.scored = score.score_networks(conn, clock)


def run(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: GraphSettings,
    *,
    max_batches: int | None = None,
) -> RunReport:
    """Ingest, recompute, record history and score, all in the caller's transaction."""
    started = time.perf_counter()
    report = RunReport()
    ingest_pending(conn, clock, settings, report, max_batches=max_batches)
    refresh_networks(conn, clock, actor, settings, report)
    report.backlog = ingest.pending(conn)
    report.seconds = time.perf_counter() - started
    return report


def run_all(engine: Engine, clock: Clock, actor: audit.Actor, settings: GraphSettings) -> RunReport:
    """Ingest everything pending (a transaction per batch), then recompute in one transaction.
    What ``cordon network recompute`` does; it also arms the stage."""
    started = time.perf_counter()
    report = RunReport()
    while True:
        with write(engine) as conn:
            if ingest_pending(conn, clock, settings, report, max_batches=1):
                break
    with write(engine) as conn:
        refresh_networks(conn, clock, actor, settings, report)
        report.backlog = ingest.pending(conn)
        arm(conn, clock)
    report.seconds = time.perf_counter() - started
    return report


def arm(conn: Connection, clock: Clock) -> None:
    """Make sure the stage has a work item (idempotent; an existing item is left alone)."""
    work.enqueue(conn, clock.now(), STAGE, SUBJECT, [SUBJECTS[0]])


def rearm_next(
    conn: Connection, clock: Clock, subject_id: int, settings: GraphSettings, *, soon: bool
) -> None:
    """Arm the other work item: at once when a backlog is left, else after the interval."""
    other = SUBJECTS[1] if subject_id == SUBJECTS[0] else SUBJECTS[0]
    now = clock.now()
    when = now if soon else now + timedelta(minutes=settings.recompute_minutes)
    work.enqueue(conn, now, STAGE, SUBJECT, [other], run_at=when, rearm=True)

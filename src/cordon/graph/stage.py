"""The ``graph`` pipeline stage: ingest new captures, attributions and sightings into the graph
and recompute the networks, then arm itself for the next run.

Two work items (subject kind ``graph``, ids 1 and 2) take turns, so that the stage runs every
``graph.recompute_minutes`` once armed; a run that leaves a backlog (more than ``_MAX_BATCHES``
batches of a source) arms the next one at once. The stage is armed by the first capture the
crawler stores and by ``cordon network recompute``.
"""

from __future__ import annotations

from sqlalchemy import Connection

from cordon.graph import service
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import Permanent, StageContext
from cordon.plugins import hookimpl

#: Batches per source in one run, so that one transaction stays short.
_MAX_BATCHES = 20


class GraphStage:
    """Keeps the entity graph and the networks up to date (stage ``graph``)."""

    name = service.STAGE

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != service.SUBJECT:
            raise Permanent(f"the graph stage takes graph items, not {item.subject_kind!r}")
        report = service.run(
            conn, ctx.clock, ctx.actor, ctx.settings.graph, max_batches=_MAX_BATCHES
        )
        backlog = any(report.backlog.values())
        service.rearm_next(conn, ctx.clock, item.subject_id, ctx.settings.graph, soon=backlog)


@hookimpl
def cordon_stages() -> list[GraphStage]:
    """Cordon's own stages from this package."""
    return [GraphStage()]

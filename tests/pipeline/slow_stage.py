"""A plugin with one slow stage, loaded by worker processes in the runner's tests.

Each item's effect is one audit event, so counting events per item shows whether an item was
done exactly once.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import StageContext
from cordon.plugins import hookimpl


class SlowStage:
    name = "test_slow"

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        audit.record(
            conn,
            ctx.clock,
            ctx.actor,
            "stage:test_slow:done",
            object_kind="thing",
            object_ids=[item.subject_id],
        )
        time.sleep(0.15)


@hookimpl
def cordon_stages() -> list[SlowStage]:
    return [SlowStage()]

"""The pipeline's queues, for operators."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from cordon.api.routing import CordonRouter
from cordon.api.state import app_state
from cordon.domain.permissions import Permission
from cordon.pipeline import repo as work

router = CordonRouter(prefix="/v1/work", tags=["pipeline"])


@router.get("", permission=Permission.WORK_READ, summary="Work items per stage and state")
def work_counts(request: Request) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        rows = work.counts(conn)
    return {
        "stages": [
            {
                "stage": c.stage,
                "pending": c.pending,
                "leased": c.leased,
                "done": c.done,
                "dead": c.dead,
            }
            for c in rows
        ]
    }

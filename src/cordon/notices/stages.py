"""The notice engine's stages: deliver one attempt, carry out one planned repeat.

Both are idempotent: a delivery that is no longer pending and a plan that was cancelled or
carried out do nothing. A delivery attempt that fails is recorded and retried as a new
attempt after the back-off, scheduled through the stage runner.
"""

from __future__ import annotations

from sqlalchemy import Connection

from cordon.notices import repo
from cordon.notices.policy import NoticePolicy
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import Permanent, Stage, StageContext
from cordon.plugins import hookimpl


class NoticeDeliveryStage:
    """Deliver one round of a notice on one channel (webhook or e-mail)."""

    name = repo.DELIVERY_STAGE

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != "notice_delivery":
            raise Permanent(f"{self.name} takes notice_delivery items, not {item.subject_kind}")
        repo.deliver(
            conn,
            ctx.clock,
            ctx.actor,
            NoticePolicy.from_settings(ctx.settings),
            repo.DeliveryContext(settings=ctx.settings, key_dir=ctx.settings.key_dir),
            item.subject_id,
        )


class NoticeRepeatStage:
    """Send an unanswered notice again when its repeat falls due; escalate when it is time."""

    name = repo.REPEAT_STAGE

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != "notice_schedule":
            raise Permanent(f"{self.name} takes notice_schedule items, not {item.subject_kind}")
        repo.run_repeat(
            conn, ctx.clock, ctx.actor, NoticePolicy.from_settings(ctx.settings), item.subject_id
        )


@hookimpl
def cordon_stages() -> list[Stage]:
    """The notice engine's stages."""
    return [NoticeDeliveryStage(), NoticeRepeatStage()]

"""The outcomes stages: list a confirmed URL, send a batch, verify a notice.

All idempotent: a URL already listed is not listed again, a notice no longer a draft is not
sent again, a verification plan replaced or carried out does nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection

from cordon.outcomes import compose, verify
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import Permanent, Retry, Stage, StageContext
from cordon.plugins import hookimpl

#: How long a confirmed URL waits for its attribution before it is looked at again.
ATTRIBUTION_WAIT = timedelta(minutes=5)


class OutcomeConfirmStage:
    """A confirmed URL goes into the draft notice of each party that must act on it."""

    name = compose.CONFIRM_STAGE

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != "url":
            raise Permanent(f"{self.name} takes url items, not {item.subject_kind}")
        try:
            compose.on_confirmed(conn, ctx.clock, ctx.actor, ctx.settings, item.subject_id)
        except compose.NotReady as exc:
            raise Retry(str(exc), after=ATTRIBUTION_WAIT) from None


class OutcomeSendStage:
    """When a batch window closes, its draft notice is composed and sent."""

    name = compose.SEND_STAGE

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != "notice":
            raise Permanent(f"{self.name} takes notice items, not {item.subject_kind}")
        compose.send_batch(conn, ctx.clock, ctx.actor, ctx.settings, item.subject_id)


class OutcomeVerifyStage:
    """A verification pass: re-crawl, verify removal, watch for reappearance."""

    name = compose.VERIFY_STAGE

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind == "notice":  # the engine: the recipient says it acted
            verify.run_pass(conn, ctx.clock, ctx.actor, ctx.settings, item.subject_id)
        elif item.subject_kind == verify.PLAN_SUBJECT:
            verify.run_plan(conn, ctx.clock, ctx.actor, ctx.settings, item.subject_id)
        else:
            raise Permanent(f"{self.name} takes notice or verify_plan items")


@hookimpl
def cordon_stages() -> list[Stage]:
    """The outcomes stages."""
    return [OutcomeConfirmStage(), OutcomeSendStage(), OutcomeVerifyStage()]

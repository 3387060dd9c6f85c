"""The stages of matching, registered through the plugin hooks like any partner's stage.

* ``match`` (subjects: ``capture``): the crawler queues every capture with a hashed picture; the
  stage records the pictures' sightings, matches them, and confirms the URL on a match
  (:func:`cordon.matching.flows.match_capture`).
* ``retro_match`` (subjects: ``bank_change``): the banks queue every change that adds entries;
  the stage matches past sightings against them (:func:`cordon.matching.flows.retro_match`).

Each process running these stages holds one matcher (:func:`shared_matcher`), refreshed from the
banks' change log before every item.
"""

from __future__ import annotations

from sqlalchemy import Connection

from cordon.matching import flows
from cordon.matching.service import Matcher, shared_matcher
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import Permanent, StageContext
from cordon.plugins import hookimpl

MATCH_STAGE = "match"
RETRO_STAGE = "retro_match"


class MatchStage:
    """Matches each queued capture's pictures (stage ``match``, subjects ``capture``)."""

    name = MATCH_STAGE

    def __init__(self, matcher: Matcher | None = None) -> None:
        self._matcher = matcher

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != "capture":
            raise Permanent(f"the match stage takes captures, not {item.subject_kind!r}")
        matcher = self._matcher or shared_matcher(conn.engine, ctx.clock, ctx.settings)
        try:
            flows.match_capture(conn, matcher, ctx.clock, ctx.actor, ctx.settings, item.subject_id)
        except flows.NothingToMatch as exc:
            raise Permanent(str(exc)) from None


class RetroMatchStage:
    """Matches past sightings against newly added bank entries (stage ``retro_match``,
    subjects ``bank_change``)."""

    name = RETRO_STAGE

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != "bank_change":
            raise Permanent(f"the retro_match stage takes bank changes, not {item.subject_kind!r}")
        try:
            flows.retro_match(conn, ctx.clock, ctx.actor, ctx.settings, item.subject_id)
        except flows.NothingToMatch as exc:
            raise Permanent(str(exc)) from None


@hookimpl
def cordon_stages() -> list[MatchStage | RetroMatchStage]:
    """Cordon's own stages from this package."""
    return [MatchStage(), RetroMatchStage()]

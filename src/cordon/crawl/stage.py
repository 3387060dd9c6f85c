"""The ``crawl`` stage (subjects: ``url``): capture a URL, store it, schedule its next crawl.

Two ways to run it, one result:

* through the generic stage runner (``cordon serve``, ``cordon worker``): :class:`CrawlStage`
  captures one URL inside the item's transaction;
* through ``cordon crawl`` (:mod:`cordon.crawl.worker`): many captures in flight at once, each
  fetched outside any transaction and stored, with its work item completed, in one short one.

Either way a capture and the completion of its work item commit together, so a crawler killed
at any point loses no URL (its lease runs out and another crawler takes the item) and never
stores one crawl twice (``capture`` is unique on URL and crawl number, and an item whose lease
was taken over is rolled back).

Schedules: the first crawl comes from the report; after each capture the URL's next crawl is
written on its schedule (live: ``crawl.recrawl_live_hours``; gone: ``recrawl_gone_hours``;
failed or refused: ``recrawl_failed_hours``) and :func:`cordon.crawl.repo.rearm_due` puts it
back on the queue; the notices engine asks for a verification crawl with
:func:`cordon.crawl.repo.request_crawl`.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import anyio
from sqlalchemy import Connection

from cordon.clock import Clock
from cordon.config import Settings
from cordon.crawl import repo
from cordon.crawl.capture import CaptureOptions, CapturePlan, CaptureResult, take_capture
from cordon.crawl.fetcher import CrawlConfigError, Fetcher, FetcherConfig
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import Permanent, Retry, StageContext
from cordon.plugins import hookimpl

CONFIG_RETRY_SECONDS = 300


class Crawler:
    """A fetcher and capture options made once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fetcher = Fetcher(FetcherConfig.from_settings(settings))
        self.options = CaptureOptions.from_settings(settings)

    async def capture(self, plan: CapturePlan, clock: Clock) -> CaptureResult:
        """Take one capture in its own event loop (see
        :func:`cordon.crawl.capture.take_capture`)."""
        return await take_capture(self.fetcher.fresh(), plan, clock, self.options)


class CrawlStage:
    """Captures each queued URL (stage ``crawl``, subjects ``url``)."""

    name = repo.STAGE

    def __init__(self) -> None:
        self._crawler: Crawler | None = None
        self._lock = threading.Lock()

    def crawler(self, settings: Settings) -> Crawler:
        """The crawler for these settings, made once."""
        with self._lock:
            if self._crawler is None or self._crawler.settings is not settings:
                self._crawler = Crawler(settings)
            return self._crawler

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        if item.subject_kind != repo.SUBJECT:
            raise Permanent(f"the crawl stage takes URLs, not {item.subject_kind!r}")
        repo.rearm_due(conn, ctx.clock.now())
        plan = repo.plan_for(conn, item.subject_id)
        if plan is None:
            raise Permanent(f"no URL with id {item.subject_id}")
        try:
            crawler = self.crawler(ctx.settings)
        except CrawlConfigError as exc:
            # A configuration error, not the item's fault: wait for it to be fixed.
            raise Retry(
                f"configuration: {exc}", after=timedelta(seconds=CONFIG_RETRY_SECONDS)
            ) from None
        result = anyio.run(crawler.capture, plan, ctx.clock)
        repo.store_capture(conn, ctx.clock, ctx.actor, result, ctx.settings)


@hookimpl
def cordon_stages() -> list[CrawlStage]:
    """Cordon's own stages from this package."""
    return [CrawlStage()]

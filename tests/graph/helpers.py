"""Building small graphs from real reports and captures (no crawl): a site's page showing
chosen indicators, stored through the crawler's own ``store_capture``."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import Connection

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.crawl import repo as captures
from cordon.crawl.capture import CapturePlan, CaptureResult, PageVersion
from cordon.crawl.evidence import PageRecord, build_warc
from cordon.crawl.extract import Indicator
from cordon.crawl.fetcher import FetchResult, Hop
from cordon.crawl.media import MediaOutcome
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn


def page_result(
    url_id: int,
    url: str,
    clock: FrozenClock,
    *,
    indicators: list[tuple[str, str]],
    pictures: list[str] = (),  # type: ignore[assignment]  # a default no one mutates
    address: str = "192.0.2.10",
) -> CaptureResult:
    """A live capture of ``url`` showing ``indicators`` ((kind, key) pairs) and ``pictures``
    (names standing for distinct synthetic pictures: only their digests are kept)."""
    now = clock.now()
    fetch = FetchResult(requested_url=url, outcome="ok", final_url=url, status=200)
    fetch.hops = [Hop(url, address, 443, 200)]
    fetch.address, fetch.port = address, 443
    fetch.headers = [("content-type", "text/html")]
    media = []
    for name in pictures:
        m = MediaOutcome(
            url=f"{url}{name}.jpg",
            embed="img",
            status="hashed",
            sha256=hashlib.sha256(name.encode()).hexdigest(),
        )
        m.md5 = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
        media.append(m)
    result = CaptureResult(
        plan=CapturePlan(url_id, url, "first"),
        started_at=now,
        finished_at=now + timedelta(seconds=1),
        outcome="live",
        outcome_reason=None,
        gone_reason=None,
        base=fetch,
        versions=[PageVersion("base", fetch, [("User-Agent", "test")])],
        resolved={},
        resolver="test",
        egress_profile=None,
        egress_proxy=None,
        media=media,
        indicators=[(Indicator(kind, key, key), ["base"]) for kind, key in indicators],
    )
    result.evidence, result.evidence_records = build_warc(
        at=now,
        info={"software": "test"},
        pages=[PageRecord("base", url, [], 200, "OK", "HTTP/1.1", [], b"<p>page</p>")],
        media=[m.hashes() for m in media],
        capture=result.summary(),
    )
    return result


def site_page(
    conn: Connection,
    clock: FrozenClock,
    settings: Settings,
    reporter: Principal,
    domain: str,
    indicators: list[tuple[str, str]],
    *,
    tlp: Tlp = Tlp.GREEN,
    pictures: list[str] = (),  # type: ignore[assignment]  # a default no one mutates
    share_with: list[int] = (),  # type: ignore[assignment]  # a default no one mutates
) -> int:
    """Report ``https://<domain>/`` and store a capture of it; returns the capture id."""
    url = f"https://{domain}/"
    done = reports.submit(
        conn,
        clock,
        reporter,
        Actor.of(reporter, source="cli"),
        ReportIn(urls=[url], tlp=tlp, share_with=list(share_with)),
        channel="cli",
    )
    url_id = done.report.urls[0].id
    stored = captures.store_capture(
        conn,
        clock,
        Actor(source="stage"),
        page_result(url_id, url, clock, indicators=indicators, pictures=list(pictures)),
        settings,
    )
    return int(stored.capture_id)

"""Hostile servers: every bomb and trick ends at its budget, with the budget and the reason
recorded, and the crawler's memory stays bounded."""

from __future__ import annotations

import resource
import time

import anyio
import pytest

from cordon.clock import FrozenClock
from cordon.crawl.capture import CaptureOptions, CapturePlan, take_capture
from cordon.crawl.fetcher import Fetcher, FetcherConfig, FetchResult
from crawl.servers import Loopback

BUDGETS = {
    "page_max_bytes": 4 * 1024 * 1024,
    "total_seconds": 3.0,
    "first_byte_seconds": 1.0,
    "idle_seconds": 1.0,
    "min_bytes_per_second": 2048.0,
    "slow_grace_seconds": 1.0,
    "max_decompression_ratio": 100.0,
    "max_image_pixels": 50_000_000,
    "cloaking_probes": False,
}

# (path, budget that ends it, words of the reason)
CASES = [
    ("/gzip-bomb", "decompression_ratio", "gzip expanded"),
    ("/deflate-bomb", "decompression_ratio", "deflate expanded"),
    ("/brotli-bomb", "decompression_ratio", "br expanded"),
    ("/endless", "body_size", "passed the limit of 4,194,304 bytes"),
    ("/drip", "slow_drip", "slower than 2,048 bytes/s"),
    ("/steady", "total_time", "longer than 3 s"),
    ("/lying-short", "content_length", "ended after 503 of 5,000 declared bytes"),
    ("/lying-stall", "idle", "stalled for 1 s after 503 of 5,000 declared bytes"),
    ("/big-declared", "body_size", "declared Content-Length of 1,000,000,000,000 bytes"),
    ("/slow-headers", "first_byte", "no response headers within 1 s"),
]


@pytest.fixture(scope="module")
def fetcher(loopback: Loopback) -> Fetcher:
    return Fetcher(FetcherConfig.from_settings(loopback.settings(**BUDGETS)))


def _fetch(fetcher: Fetcher, url: str) -> FetchResult:
    async def run() -> FetchResult:
        async with fetcher.session() as session:
            return await session.fetch(url)

    return anyio.run(run)


@pytest.mark.parametrize(("path", "budget", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_body_ends_at_its_budget_with_the_reason(
    loopback: Loopback, fetcher: Fetcher, path: str, budget: str, words: str
) -> None:
    started = time.monotonic()
    result = _fetch(fetcher, f"http://hostile.test:{loopback.hostile.port}{path}")
    elapsed = time.monotonic() - started
    assert result.breach is not None, (path, result.outcome, result.reason)
    assert result.breach.budget == budget, result.breach
    assert words in result.breach.reason, result.breach.reason
    # Ended at the budget: within the total time, and never holding more than the page limit.
    assert elapsed < BUDGETS["total_seconds"] + 1.5
    assert len(result.body) <= BUDGETS["page_max_bytes"]


def test_a_pixel_flood_is_refused_before_decoding_and_recorded(loopback: Loopback) -> None:
    settings = loopback.settings(**BUDGETS)
    fetcher = Fetcher(FetcherConfig.from_settings(settings))
    options = CaptureOptions.from_settings(settings)
    plan = CapturePlan(1, f"http://hostile.test:{loopback.hostile.port}/flood.html", "first")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = anyio.run(take_capture, fetcher, plan, FrozenClock(), options)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.outcome == "live"
    (picture,) = result.media
    assert picture.status == "budget"
    assert picture.breach is not None
    assert picture.breach["budget"] == "pixels"
    assert "more pixels than the limit" in (picture.reason or "")
    assert picture.sha256 is not None
    assert picture.pdq is None
    assert [b["budget"] for b in result.breaches] == ["pixels"]
    # 1.6 billion RGB pixels would be 4.8 GB; nothing near that was ever allocated (KiB).
    assert rss_after - rss_before < 200 * 1024


def test_a_capture_of_a_bomb_page_records_the_breach(loopback: Loopback) -> None:
    settings = loopback.settings(**BUDGETS)
    fetcher = Fetcher(FetcherConfig.from_settings(settings))
    options = CaptureOptions.from_settings(settings)
    plan = CapturePlan(1, f"http://hostile.test:{loopback.hostile.port}/gzip-bomb", "first")
    result = anyio.run(take_capture, fetcher, plan, FrozenClock(), options)
    assert [b["budget"] for b in result.breaches] == ["decompression_ratio"]
    assert result.breaches[0]["fetch"] == "base"
    assert result.summary()["budget"][0]["reason"].startswith("gzip expanded")

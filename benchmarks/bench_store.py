"""Benchmark storing captures: CPU of ``cordon.crawl.repo.store_capture`` per capture.

Builds reported URLs and synthetic captures of them with code (pages run through the crawler's
own extractor, so indicators, payment identifiers and links are what the crawler would find;
pictures are hash records only, with no picture bytes anywhere), then stores them as the
crawler does: a few per transaction, each under a savepoint, followed by the completion of its
work item. Prints the CPU milliseconds of the storing thread per capture and per picture.

    python benchmarks/bench_store.py [--captures 400] [--pictures 4] [--batch 4]
                                     [--database-url URL] [--profile N]

``--profile N`` prints the N functions with the most cumulative time (cProfile) as well.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.crawl import repo
from cordon.crawl.capture import CapturePlan, CaptureResult, PageVersion
from cordon.crawl.extract import extract_page
from cordon.crawl.fetcher import FetchResult, Hop
from cordon.crawl.media import MediaOutcome
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.partners import repo as partners
from cordon.pipeline import repo as work
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import make_engine, pooled, write
from cordon.store.migrate import upgrade
from cordon.world.wallets import btc_address, eth_address

SITES_PER_PAGE_GROUP = 4
"""Pages per site: links between them are links to known URLs."""
IBANS = ("GB82WEST12345698765432", "DE89370400440532013000", "NL91ABNA0417164300")


def _page_url(i: int) -> str:
    return f"https://shop{i // SITES_PER_PAGE_GROUP}.bench.test/p{i % SITES_PER_PAGE_GROUP}"


def _html(i: int, rng: random.Random, wallets: list[str], pictures: int) -> str:
    site = i // SITES_PER_PAGE_GROUP
    links = [f"/p{k}" for k in range(SITES_PER_PAGE_GROUP) if k != i % SITES_PER_PAGE_GROUP]
    links += [f"https://partner{(site + k) % 50}.bench.test/" for k in (1, 2)]
    imgs = "".join(f'<img src="/img/{i}-{k}.jpg">' for k in range(pictures))
    anchors = "".join(f'<a href="{href}">link</a>' for href in links)
    # Wallets are shared between sites, as an operator's are, so that sightings repeat.
    return (
        f"<html><head><title>Shop {site}</title>"
        f"<script>gtag('config', 'G-BENCH{site % 7:04d}');</script></head><body>"
        f"<p>Pay to {wallets[site % len(wallets)]} or {IBANS[site % len(IBANS)]}</p>"
        f"<p>Contact sales{site}@bench.test</p>{imgs}{anchors}</body></html>"
    )


def _result(i: int, url_id: int, now: datetime, html: str, pictures: int) -> CaptureResult:
    page = _page_url(i)
    extract = extract_page(html, page)
    fetch = FetchResult(requested_url=page, outcome="ok", final_url=page, status=200)
    fetch.hops = [Hop(page, "192.0.2.10", 443, 200)]
    fetch.address, fetch.port, fetch.http_version = "192.0.2.10", 443, "HTTP/1.1"
    fetch.headers = [("content-type", "text/html"), ("server", "bench")]
    fetch.timings = {"connect": 0.001, "total": 0.01}
    media = []
    for position, ref in enumerate(extract.media[:pictures]):
        digest = hashlib.sha256(f"{i}:{position}".encode()).hexdigest()
        media.append(
            MediaOutcome(
                url=ref.url,
                embed=ref.embed,
                status="hashed",
                http_status=200,
                fetched_address="192.0.2.10",
                declared_type="image/jpeg",
                sniffed_type="image/jpeg",
                size=40_000 + position,
                width=800,
                height=600,
                pdq=digest,
                pdq_quality=100,
                pdq_variants={"rot90": digest[::-1]},
                md5=digest[:32],
                sha256=digest,
                variants_seen=["base", "probe-referrer"],
            )
        )
    result = CaptureResult(
        plan=CapturePlan(url_id, page, "first"),
        started_at=now,
        finished_at=now + timedelta(seconds=1),
        outcome="live",
        outcome_reason=None,
        gone_reason=None,
        base=fetch,
        versions=[PageVersion("base", fetch, [("User-Agent", "bench")], extract)],
        resolved={"bench.test": ["192.0.2.10"]},
        resolver="bench",
        egress_profile=None,
        egress_proxy=None,
        media=media,
        indicators=[(ind, ["base"]) for ind in extract.indicators],
        template_fingerprint=extract.template_fingerprint,
        page_bytes=len(html),
        links=extract.links,
    )
    result.page_sha256 = hashlib.sha256(html.encode()).digest()
    result.evidence = b"WARC/1.1 bench record " * 20
    result.evidence_records = 3
    return result


def _hotline(conn: Connection, clock: FrozenClock) -> Principal:
    actor = Actor(source="cli")
    org = partners.create_org(conn, clock, actor, "Bench hotline", "hotline", "NL")
    user = partners.create_user(conn, clock, actor, "bench@hotline.test", "Bench", None)
    partners.add_membership(conn, clock, actor, user.id, org.id, "analyst")
    return partners.principal_for(conn, user.id, org.id)


def prepare(
    engine: Engine, clock: FrozenClock, captures: int, pictures: int
) -> list[CaptureResult]:
    """Report the pages and build one capture of each (in memory)."""
    pages = [_page_url(i) for i in range(captures)]
    with write(engine) as conn:
        member = _hotline(conn, clock)
        done = reports.submit(
            conn,
            clock,
            member,
            Actor.of(member, source="cli"),
            ReportIn(urls=pages, tlp=Tlp.GREEN),
            channel="cli",
        )
    ids = [u.id for u in done.report.urls]
    rng = random.Random(7)
    wallets = [btc_address(rng, "p2wpkh") for _ in range(20)] + [eth_address(rng) for _ in range(5)]
    now = clock.now()
    return [
        _result(i, url_id, now, _html(i, rng, wallets, pictures), pictures)
        for i, url_id in enumerate(ids)
    ]


def store_all(
    engine: Engine,
    clock: FrozenClock,
    settings: Settings,
    results: list[CaptureResult],
    leases: dict[int, work.WorkItem],
    batch: int,
) -> float:
    """Store ``results`` as the crawler does; returns the CPU seconds of this thread."""
    actor = Actor(source="stage")
    cpu = time.thread_time()
    for start in range(0, len(results), batch):
        with write(engine) as conn:
            for result in results[start : start + batch]:
                savepoint = conn.begin_nested()
                repo.store_capture(conn, clock, actor, result, settings)
                if not work.complete(conn, leases[result.plan.url_id], clock.now()):
                    raise RuntimeError("lease lost")
                savepoint.commit()
    return time.thread_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--captures", type=int, default=400)
    parser.add_argument("--pictures", type=int, default=4, help="Pictures per capture.")
    parser.add_argument("--batch", type=int, default=4, help="Captures per transaction.")
    parser.add_argument("--database-url", default=None, help="Default: a new SQLite file.")
    parser.add_argument("--profile", type=int, default=0, help="Print the top N functions.")
    args = parser.parse_args()
    clock = FrozenClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'cordon.db'}"
        engine = make_engine(url)
        upgrade(engine)
        settings = load_settings(environ={}, overrides={"database_url": url})
        results = prepare(engine, clock, args.captures, args.pictures)
        with write(engine) as conn:
            items = work.claim(
                conn, repo.STAGE, "bench", clock.now(), timedelta(hours=1), len(results) + 10
            )
        leases = {item.subject_id: item for item in items}
        # The first captures warm SQLAlchemy's statement cache, as a running crawler's are.
        warm = min(len(results) // 10, 40)
        measured = results[warm:]
        profiler = cProfile.Profile() if args.profile else None
        # Through the crawler's own engine (on SQLite, one that keeps its connections open).
        with pooled(engine) as crawler_engine:
            store_all(crawler_engine, clock, settings, results[:warm], leases, args.batch)
            if profiler is not None:
                profiler.enable()
            cpu = store_all(crawler_engine, clock, settings, measured, leases, args.batch)
            if profiler is not None:
                profiler.disable()
        engine.dispose()
    pictures = sum(len(r.media) for r in measured)
    backend = url.split(":", 1)[0]
    print(
        f"{backend}: stored {len(measured)} captures ({pictures} pictures) in batches of "
        f"{args.batch}: {cpu * 1000 / len(measured):.2f} ms CPU per capture, "
        f"{cpu * 1000 / max(pictures, 1):.2f} ms per picture"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

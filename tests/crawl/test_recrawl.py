"""Re-crawls: a verification crawl finds a taken-down URL gone (404, NXDOMAIN or refused) and
records since when; a gone URL is looked at again later and found back; live URLs are crawled
again on their period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.crawl import repo as crawl_repo
from cordon.crawl.worker import run_crawler
from cordon.domain.tlp import Tlp
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from cordon.store.tables import url as url_table
from cordon.store.tables_crawl import capture
from cordon.world import WorldHandle
from support import make_member


@pytest.fixture
def taken_down(world: WorldHandle) -> Iterator[dict[str, str]]:
    """Three sites the test takes down, each a different way; all brought back afterwards."""
    sites = [s for s in world.truth.sites if s.role in ("noise", "unrelated", "storefront")]
    own_address = next(
        s
        for s in sites
        if s.hosting.cdn is None
        and sum(1 for o in world.truth.sites if o.hosting.address == s.hosting.address) == 1
    )
    by_registrar = next(s for s in sites if s.hosting.cdn is None and s.id != own_address.id)
    by_cdn = next(s for s in sites if s.hosting.cdn is not None)
    chosen = {"host": own_address.id, "registrar": by_registrar.id, "cdn": by_cdn.id}
    yield chosen
    for site in chosen.values():
        world.bring_back(site)


def test_a_verification_crawl_records_gone_urls_and_a_later_crawl_finds_them_back(
    world: WorldHandle, engine: Engine, fresh_db: str, taken_down: dict[str, str]
) -> None:
    clock = FrozenClock()
    urls = {how: world.url(site, "/") for how, site in taken_down.items()}
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        actor = Actor.of(hotline, source="cli")
        reports.submit(
            conn,
            clock,
            hotline,
            actor,
            ReportIn(urls=list(urls.values()), tlp=Tlp.GREEN),
            channel="cli",
        )
        ids = {
            how: int(conn.execute(select(url_table.c.id).where(url_table.c.url == u)).scalar_one())
            for how, u in urls.items()
        }
    settings = world.settings().model_copy(update={"database_url": fresh_db})
    run_crawler(engine, settings, clock, once=True)
    with read(engine) as conn:
        first = [crawl_repo.schedule_of(conn, i) for i in ids.values()]
    assert {s["state"] for s in first if s} == {"live"}
    # Notices were acted on: the host stopped the site, the registrar put the name on hold,
    # the CDN suspended it.
    for how, site in taken_down.items():
        world.take_down(site, by=how)  # type: ignore[arg-type]  # the three literal kinds
    clock.advance(timedelta(hours=2))
    with write(engine) as conn:
        crawl_repo.request_crawl(conn, clock, actor, list(ids.values()), reason="verify")
    run_crawler(engine, settings, clock, once=True)
    with read(engine) as conn:
        schedules = {how: crawl_repo.schedule_of(conn, i) for how, i in ids.items()}
        verify = {
            how: conn.execute(
                select(
                    capture.c.reason, capture.c.outcome, capture.c.status, capture.c.outcome_reason
                )
                .where(capture.c.url_id == i)
                .order_by(capture.c.seq.desc())
            ).first()
            for how, i in ids.items()
        }
    assert {v.reason for v in verify.values() if v} == {"verify"}
    host, registrar, cdn = schedules["host"], schedules["registrar"], schedules["cdn"]
    assert host is not None
    assert registrar is not None
    assert cdn is not None
    assert host["state"] == "gone"
    assert host["gone_reason"] in ("refused", "http_404")
    assert registrar["state"] == "gone"
    assert registrar["gone_reason"] == "nxdomain"
    assert host["gone_since"] == clock.now()
    assert registrar["gone_since"] == clock.now()
    assert host["last_live_at"] == clock.now() - timedelta(hours=2)
    # The CDN's 403 is not one of crawl.gone_statuses: recorded as it is, not as gone.
    assert cdn["state"] == "failed"
    assert verify["cdn"] is not None
    assert verify["cdn"].status == 403
    assert host["next_crawl_at"] == clock.now() + timedelta(hours=settings.crawl.recrawl_gone_hours)
    # Later, the sites are back: the next look finds them live again.
    for site in taken_down.values():
        world.bring_back(site)
    gone_at = host["gone_since"]
    clock.advance(timedelta(hours=settings.crawl.recrawl_gone_hours + 1))
    run_crawler(engine, settings, clock, once=True)
    with read(engine) as conn:
        back = {how: crawl_repo.schedule_of(conn, i) for how, i in ids.items()}
        gone_captures = (
            conn.execute(
                select(capture.c.finished_at).where(
                    capture.c.url_id == ids["host"], capture.c.outcome == "gone"
                )
            )
            .scalars()
            .all()
        )
    assert {s["state"] for s in back.values() if s} == {"live"}
    assert back["host"] is not None
    assert back["host"]["gone_since"] is None
    assert gone_captures == [gone_at]  # the removal stays on record with its time

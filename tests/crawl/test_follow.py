"""Following links: with `crawl.follow_links`, the links of a reported page are crawled too
(same site, other sites, or all), one step deep by default, and never beyond the depth set;
without it only what was reported is crawled."""

from __future__ import annotations

from typing import Literal

import pytest
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.crawl.extract import same_site
from cordon.crawl.worker import run_crawler
from cordon.domain.tlp import Tlp
from cordon.domain.urls import normalize_url
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from cordon.store.tables import url as url_table
from cordon.store.tables_crawl import capture, crawl_link
from cordon.world import WorldHandle
from support import make_member

Follow = Literal["none", "same_site", "outbound", "all"]


def _crawl(
    world: WorldHandle, engine: Engine, db: str, follow: Follow, role: str = "storefront"
) -> tuple[str, set[str]]:
    """Report the front page of the first site of ``role``, crawl with ``follow``; the
    reported URL and every URL captured."""
    clock = FrozenClock(world.now())
    site = next(s for s in world.truth.sites if s.role == role)
    reported = normalize_url(world.url(site, "/")).url
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        reports.submit(
            conn,
            clock,
            hotline,
            Actor.of(hotline, source="cli"),
            ReportIn(urls=[reported], tlp=Tlp.GREEN),
            channel="cli",
        )
    base = world.settings()
    settings = base.model_copy(
        update={
            "database_url": db,
            "crawl": base.crawl.model_copy(update={"follow_links": follow, "follow_depth": 1}),
        }
    )
    run_crawler(engine, settings, clock, once=True)
    with read(engine) as conn:
        captured = set(
            conn.execute(
                select(url_table.c.url).join(capture, capture.c.url_id == url_table.c.id)
            ).scalars()
        )
    return reported, captured


def _queued_from(engine: Engine, page: str) -> dict[str, bool]:
    """The URLs the crawl of ``page`` queued, each with whether it is on another site."""
    with read(engine) as conn:
        rows = conn.execute(
            select(url_table.c.url, crawl_link.c.cross_site)
            .join(crawl_link, crawl_link.c.to_url_id == url_table.c.id)
            .join(capture, capture.c.id == crawl_link.c.from_capture_id)
            .where(
                crawl_link.c.queued,
                capture.c.url_id
                == select(url_table.c.id).where(url_table.c.url == page).scalar_subquery(),
            )
        ).all()
    return {str(r.url): bool(r.cross_site) for r in rows}


def test_without_following_only_the_reported_url_is_crawled(
    world: WorldHandle, engine: Engine, fresh_db: str
) -> None:
    reported, captured = _crawl(world, engine, fresh_db, "none")
    assert captured == {reported}


@pytest.mark.parametrize(
    ("follow", "role"),
    [("same_site", "storefront"), ("outbound", "gateway"), ("all", "gateway")],
)
def test_the_reported_pages_links_are_crawled_one_step_deep(
    world: WorldHandle, engine: Engine, fresh_db: str, follow: Follow, role: str
) -> None:
    reported, captured = _crawl(world, engine, fresh_db, follow, role)
    queued = _queued_from(engine, reported)
    assert queued, f"the {role} links to other pages"
    assert all(cross == (not same_site(reported, link)) for link, cross in queued.items())
    if follow == "same_site":
        assert not any(queued.values())
    elif follow == "outbound":
        assert all(queued.values())
    else:
        assert any(queued.values()), f"the {role} links to other sites"
    # Every link the setting admits was crawled, and nothing beyond one step.
    assert captured == {reported} | set(queued)

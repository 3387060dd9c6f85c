"""What makes the crawler fast keeps it safe and exact: kept connections never outlive the pin
of the capture that uses them, several captures stored in one transaction are still each stored
exactly once, and the shortcut that skips the border scan gives exactly the border scan's
answer."""

from __future__ import annotations

from datetime import timedelta

import anyio
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine, func, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.crawl import repo as crawl_repo
from cordon.crawl.capture import CaptureOptions, take_capture
from cordon.crawl.fetcher import Fetcher, FetcherConfig, FetchResult
from cordon.crawl.worker import _claim, _Finished, _store_batch
from cordon.domain.tlp import Tlp
from cordon.pipeline import repo as work
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.signals.hashing import _edges_uneven, hash_picture
from cordon.signals.pictures import Box, border_box
from cordon.signals.synthetic import encode, photo_like
from cordon.store.db import read, write
from cordon.store.tables_crawl import capture
from cordon.world import WorldHandle
from crawl.servers import Loopback, report_urls
from support import make_member


def test_kept_connections_are_reused_across_captures_of_a_host(world: WorldHandle) -> None:
    url = report_urls(world)[0]

    async def run() -> tuple[list[FetchResult], int]:
        config = FetcherConfig.from_settings(world.settings())
        async with Fetcher(config, keep_connections=True) as fetcher:
            results = []
            for _ in range(3):
                async with fetcher.session() as session:
                    results.append(await session.fetch(url))
            assert fetcher.connections is not None
            return results, fetcher.connections.opened

    results, opened = anyio.run(run)
    assert [r.outcome for r in results] == ["ok"] * 3
    assert len({r.address for r in results}) == 1
    # One connection served three captures, and each still records the certificate.
    assert opened == 1
    certificates = {r.tls.sha256 if r.tls is not None else None for r in results}
    assert len(certificates) == 1
    assert None not in certificates


def test_a_kept_connection_never_outlives_the_pin_it_was_made_for(loopback: Loopback) -> None:
    """rebind.test answers the allowed trap server once, then loopback (TTL 0). A second
    capture resolves again, is refused by the policy, and does not fall back on the connection
    the first capture left open."""
    settings = loopback.settings(total_seconds=5.0)
    url = f"http://rebind.test:{loopback.trap.port}/ok"
    canary_before = loopback.canary.connections

    async def run() -> tuple[FetchResult, FetchResult, int]:
        async with Fetcher(FetcherConfig.from_settings(settings), keep_connections=True) as f:
            async with f.session() as session:
                first = await session.fetch(url)
            async with f.session() as session:
                second = await session.fetch(url)
            assert f.connections is not None
            return first, second, f.connections.opened

    first, second, opened = anyio.run(run)
    assert first.address is not None
    assert first.address != "127.0.0.1"
    assert second.outcome == "blocked", second.reason
    assert opened == 1
    assert loopback.canary.connections == canary_before


def _report(engine: Engine, clock: FrozenClock, urls: list[str]) -> None:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        reports.submit(
            conn,
            clock,
            hotline,
            Actor.of(hotline, source="cli"),
            ReportIn(urls=urls, tlp=Tlp.GREEN),
            channel="cli",
        )


def test_a_batch_stores_each_capture_once_and_rolls_back_only_a_lost_lease(
    world: WorldHandle, engine: Engine, fresh_db: str
) -> None:
    clock = FrozenClock()
    urls = report_urls(world)[:3]
    _report(engine, clock, urls)
    settings = world.settings().model_copy(update={"database_url": fresh_db})
    lease = settings.pipeline.lease_seconds
    planned, _ = _claim(engine, clock, settings, "crawler-a", 3)
    assert len(planned) == 3
    options = CaptureOptions.from_settings(settings)

    async def capture_all() -> list[_Finished]:
        async with Fetcher(FetcherConfig.from_settings(settings), keep_connections=True) as f:
            out = []
            for item, plan in planned:
                assert plan is not None
                result = await take_capture(f, plan, clock, options)
                out.append(_Finished(item, result, anyio.Event()))
            return out

    batch = anyio.run(capture_all)
    # The second capture's lease runs out and another crawler takes its item over.
    clock.advance(timedelta(seconds=lease + 1))
    with write(engine) as conn:
        for item, _ in planned[:1] + planned[2:]:
            assert crawl_repo.extend_lease(conn, item, clock.now() + timedelta(seconds=lease))
        taken = work.claim(
            conn, crawl_repo.STAGE, "crawler-b", clock.now(), timedelta(seconds=lease), 10
        )
    assert [t.id for t in taken] == [planned[1][0].id]
    _store_batch(engine, clock, settings, Actor(source="stage"), batch)
    assert [e.outcome for e in batch] == ["stored", "lost", "stored"]
    with read(engine) as conn:
        stored = conn.execute(select(capture.c.url_id, func.count()).group_by(capture.c.url_id))
        per_url = {int(r[0]): int(r[1]) for r in stored}
    assert per_url == {planned[0][0].subject_id: 1, planned[2][0].subject_id: 1}
    # Storing the same batch again (a replay) stores nothing twice: the items are done.
    again = [_Finished(e.item, e.result, anyio.Event()) for e in batch]
    _store_batch(engine, clock, settings, Actor(source="stage"), again)
    assert [e.outcome for e in again] == ["lost", "lost", "lost"]
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(capture)).scalar_one() == 2


@pytest.mark.parametrize("seed", range(40))
def test_the_border_shortcut_gives_the_border_scans_answer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(3, 90)), int(rng.integers(3, 90))
    kind = seed % 4
    if kind == 0:  # noise everywhere: no border
        pixels = rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8)
    elif kind == 1:  # a flat picture with faint noise
        pixels = np.clip(120 + rng.normal(0, 3, (rows, cols, 3)), 0, 255).astype(np.uint8)
    else:  # content inside borders of one colour, on some sides only
        pixels = np.full((rows, cols, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        top, left = int(rng.integers(0, rows // 3 + 1)), int(rng.integers(0, cols // 3 + 1))
        inner = rng.integers(0, 256, (rows - top, cols - left, 3), dtype=np.uint8)
        pixels[top:, left:] = inner
        if kind == 3:
            pixels = pixels[:, :, 0].copy()  # grey
    box = border_box(pixels)
    if _edges_uneven(pixels):
        assert box == Box(0, 0, cols, rows)


def test_hashing_with_the_shortcut_keeps_every_variant() -> None:
    plain = encode(photo_like(11, 400, 300))
    signals = hash_picture(plain, dihedral=True, trim_borders=True)
    assert signals.trimmed is None
    assert len(signals.variants) == 7
    framed = np.full((340, 440, 3), 250, dtype=np.uint8)
    framed[20:320, 20:420] = np.asarray(photo_like(11, 400, 300))
    bordered = hash_picture(encode(Image.fromarray(framed)), dihedral=True, trim_borders=True)
    assert bordered.trimmed is not None
    assert [v.name for v in bordered.variants][7:] == [
        "trimmed",
        *(f"trimmed/{v.name}" for v in signals.variants),
    ]

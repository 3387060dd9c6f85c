"""A synthetic world crawled and matched end to end, once per backend: the world's hash list
imported into a bank with dihedral and border-trim matching, the match stage run on every
capture. Prints the share matched per alteration kind (plain and with variants); every known
picture and every copy PDQ survives matches, flipped and rotated copies match through the
dihedral option, bordered copies through trimming, and nothing matches a picture that is
not on the list (zero false matches at threshold 31)."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.banks import model as banks_model
from cordon.banks import repo as banks
from cordon.clock import FrozenClock
from cordon.crawl.worker import run_crawler
from cordon.domain.tlp import Tlp
from cordon.matching.service import Matcher
from cordon.matching.stage import MatchStage, RetroMatchStage
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.signals import formats
from cordon.store.db import make_engine, read, write
from cordon.store.tables_banks import bank_entry
from cordon.store.tables_crawl import media_sighting
from cordon.store.tables_matching import sighting, sighting_match
from cordon.store.tables_money import url_confirmation
from cordon.world import GroundTruth
from crawl.servers import report_urls
from support import make_member

ALTERED_PDQ_SURVIVES = ("jpeg_quality", "resize", "png", "webp", "grey", "blur")


@dataclass
class Matched:
    backend: str
    engine: Engine
    truth: GroundTruth
    seconds: float


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def matched(
    request: pytest.FixtureRequest,
    templates: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Matched]:
    import time

    import conftest as root
    from cordon.world import running_world
    from crawl.conftest import CRAWL_WORLD

    backend = str(request.param)
    folder = tmp_path_factory.mktemp(f"match-world-{backend}")
    if backend == "sqlite":
        path = folder / "cordon.db"
        shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    else:
        root.require_postgres()
        url = root.create_pg_database(template=root._pg_template(templates).pg_name)
    engine = make_engine(url)
    with running_world(CRAWL_WORLD, folder=folder / "w") as world:
        settings = world.settings().model_copy(update={"database_url": url})
        clock = FrozenClock(world.now())
        with write(engine) as conn:
            hotline = make_member(conn, clock, org_type="hotline")
            actor = Actor.of(hotline, source="cli")
            spec = banks_model.BankIn(
                name="WORLD_LIST",
                tlp=Tlp.GREEN,
                signal_types=["pdq", "photo_md5", "photo_sha256"],
                default_classification="B1",
                match_dihedral=True,
                match_trimmed=True,
            )
            banks.create_bank(conn, clock, hotline, actor, spec)
            with world.hash_list.open(encoding="utf-8") as fh:
                entries = [
                    banks_model.EntryIn(signal_type=r.signal_type, signal=r.signal)
                    for r in formats.read_signal_file(fh)
                    if isinstance(r, formats.SignalRecord)
                ]
            banks.add_entries(conn, clock, hotline, actor, "WORLD_LIST", entries)
            reports.submit(
                conn,
                clock,
                hotline,
                actor,
                ReportIn(urls=report_urls(world), tlp=Tlp.GREEN),
                channel="cli",
            )
        run_crawler(engine, settings, clock, once=True)
        started = time.monotonic()
        stats = run_until_idle(
            engine,
            [MatchStage(Matcher(clock)), RetroMatchStage()],
            StageContext(clock=clock, settings=settings),
        )
        seconds = time.monotonic() - started
        assert stats.failed == 0
        assert stats.dead == 0
        yield Matched(backend, engine, world.truth, seconds)
    engine.dispose()
    if backend == "postgres":
        root.drop_pg_database(url)


def _matches_by_sha256(conn: Any) -> dict[str, list[Any]]:
    rows = conn.execute(
        select(
            media_sighting.c.sha256,
            sighting_match.c.variant,
            sighting_match.c.status,
            sighting_match.c.reference_state,
            sighting_match.c.signal_type,
            bank_entry.c.signal,
        ).select_from(
            sighting_match.join(sighting, sighting.c.id == sighting_match.c.sighting_id)
            .join(media_sighting, media_sighting.c.id == sighting.c.media_sighting_id)
            .join(bank_entry, bank_entry.c.id == sighting_match.c.entry_id)
        )
    ).all()
    out: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        out[r.sha256].append(r)
    return out


def test_the_worlds_pictures_match_their_originals_and_nothing_else(matched: Matched) -> None:
    truth = matched.truth
    with read(matched.engine) as conn:
        seen = set(conn.execute(select(media_sighting.c.sha256)).scalars())
        by_sha = _matches_by_sha256(conn)
        confirmed = conn.execute(select(url_confirmation.c.match_summary)).scalars().all()
    shares: dict[str, list[bool]] = defaultdict(list)
    plain: dict[str, list[bool]] = defaultdict(list)
    false_matches = []
    references: dict[str, int] = defaultdict(int)
    for picture in truth.pictures:
        if picture.sha256 not in seen:
            continue
        rows = by_sha.get(picture.sha256 or "", [])
        for r in rows:
            references[r.reference_state] += 1
        if picture.kind == "unknown":
            false_matches += [(picture.id, r.signal) for r in rows]
            continue
        original = truth.picture(picture.of) if picture.of else picture
        allowed = {original.pdq, original.md5, original.sha256}
        false_matches += [(picture.id, r.signal) for r in rows if r.signal not in allowed]
        pdq_rows = [r for r in rows if r.signal_type == "pdq" and r.signal == original.pdq]
        kind = picture.alteration or "known original"
        shares[kind].append(bool(pdq_rows))
        plain[kind].append(any(r.variant == "original" for r in pdq_rows))
    lines = [f"\n[{matched.backend}] matched in {matched.seconds:.1f} s; share matched per kind:"]
    for kind in sorted(shares):
        lines.append(
            f"  {kind:16s} {sum(shares[kind]) / len(shares[kind]):6.1%} matched "
            f"({sum(plain[kind]) / len(plain[kind]):6.1%} plain), {len(shares[kind])} sighted"
        )
    lines.append(f"  false matches: {len(false_matches)}; reference hashes: {dict(references)}")
    lines.append(f"  URLs confirmed: {len(confirmed)}")
    print("\n".join(lines))
    assert not false_matches, false_matches[:10]
    assert shares["known original"]
    assert all(shares["known original"])
    for kind in (*ALTERED_PDQ_SURVIVES, "flip", "rotate", "border"):
        assert shares[kind], kind
        assert all(shares[kind]), kind
    assert not any(plain["flip"])  # only the dihedral option finds them
    assert sum(shares["border"]) > sum(plain["border"])  # and trimming the bordered ones
    assert confirmed
    assert {c["classification"] for c in confirmed} == {"B1"}
    assert references["computed"] > 0

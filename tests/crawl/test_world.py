"""A synthetic world crawled end to end, once per backend: every live site's pictures are
captured, every wallet and checkout id is extracted and no invalid one, gateway-only payment
pages are recorded as cloaking, PDQ distances to the known originals per alteration, and no
byte of any picture the world served is found on disk, in the database or in the logs."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.crawl import repo as crawl_repo
from cordon.crawl.extract import parse_data_uri
from cordon.crawl.worker import CrawlStats, run_crawler
from cordon.domain.payments import DEFAULT_CHECKOUT_REGISTRY, parse_crypto_address
from cordon.domain.tlp import Tlp
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.signals.pdq import distance
from cordon.store.db import make_engine, read, write
from cordon.store.tables_crawl import capture, capture_indicator, media_sighting
from cordon.world import GroundTruth, WorldHandle
from crawl.servers import report_urls as _report_urls
from support import make_member

ALTERED_PDQ_SURVIVES = ("jpeg_quality", "resize", "png", "webp", "grey", "blur")


@dataclass
class Served:
    """What the world served for the reported pages, held in this process's memory only."""

    by_site: dict[str, set[str]]  # site id -> sha256 of every picture on its pages
    pictures: dict[str, bytes]  # sha256 -> bytes


def _served(world: WorldHandle) -> Served:
    truth = world.truth
    by_site: dict[str, set[str]] = defaultdict(set)
    pictures: dict[str, bytes] = {}
    pages_with_inline: set[tuple[str, str]] = set()
    for site in truth.sites:
        for placement in site.pictures:
            if placement.embed == "data-uri":
                pages_with_inline.add((site.id, placement.page))
                continue
            body = world.fetch(world.url(placement.host, placement.path)).body
            digest = hashlib.sha256(body).hexdigest()
            pictures[digest] = body
            by_site[site.id].add(digest)
    for site_id, page in pages_with_inline:
        html = world.fetch(world.url(site_id, page)).text
        for uri in re.findall(r'src="(data:[^"]+)"', html):
            parsed = parse_data_uri(uri)
            assert parsed is not None
            digest = hashlib.sha256(parsed.data).hexdigest()
            pictures[digest] = parsed.data
            by_site[site_id].add(digest)
    return Served(dict(by_site), pictures)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Crawled:
    backend: str
    url: str
    engine: Engine
    folder: Path
    stats: CrawlStats
    seconds: float
    log: str
    settings: Settings
    began: float


_BACKEND: dict[int, str] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorldHandle]:
    """A world of its own per backend: a crawl's notices reach the world's abuse desks, which
    may act on them, so a second crawl of the same world would not see what the first saw."""
    from cordon.world import running_world
    from crawl.conftest import CRAWL_WORLD

    folder = tmp_path_factory.mktemp(f"world-{request.param}") / "w"
    with running_world(CRAWL_WORLD, folder=folder) as handle:
        _BACKEND[id(handle)] = str(request.param)
        yield handle


@pytest.fixture(scope="module")
def crawled(
    world: WorldHandle,
    templates: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Crawled]:
    import conftest as root  # the suite's database helpers

    backend = _BACKEND[id(world)]
    folder = tmp_path_factory.mktemp(f"crawl-{backend}")
    if backend == "sqlite":
        path = folder / "cordon.db"
        shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    else:
        root.require_postgres()
        url = root.create_pg_database(template=root._pg_template(templates).pg_name)
    engine = make_engine(url)
    settings = world.settings().model_copy(update={"database_url": url})
    clock = FrozenClock(world.now())
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        reports.submit(
            conn,
            clock,
            hotline,
            Actor.of(hotline, source="cli"),
            ReportIn(urls=_report_urls(world), tlp=Tlp.GREEN),
            channel="cli",
        )
    handler = _Collect()
    root_logger = logging.getLogger()
    old_level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG)
    # The crawl's temporary files go to a folder of its own, searched with the data folder.
    private_tmp = folder / "tmp"
    private_tmp.mkdir()
    old_tempdir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(private_tmp)
    os.environ["TMPDIR"] = str(private_tmp)
    started = time.monotonic()
    began = time.time()
    try:
        stats = run_crawler(engine, settings, clock, once=True)
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(old_level)
        tempfile.tempdir = old_tempdir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
    seconds = time.monotonic() - started
    yield Crawled(
        backend, url, engine, folder, stats, seconds, "\n".join(handler.lines), settings, began
    )
    engine.dispose()
    if backend == "postgres":
        root.drop_pg_database(url)


@pytest.fixture(scope="module")
def served(world: WorldHandle) -> Served:
    return _served(world)


def _hashed(conn: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = conn.execute(
        select(media_sighting, capture.c.url_id)
        .join(capture, capture.c.id == media_sighting.c.capture_id)
        .where(media_sighting.c.status == "hashed")
    ).all()
    for r in rows:
        out[r.sha256].append(dict(r._mapping))
    return out


def test_every_reported_url_is_captured_once(crawled: Crawled, world: WorldHandle) -> None:
    urls = _report_urls(world)
    with read(crawled.engine) as conn:
        first = conn.execute(select(capture.c.url_id).where(capture.c.seq == 1)).scalars().all()
        outcomes = dict(
            conn.execute(select(capture.c.outcome, capture.c.id).where(capture.c.seq == 1)).all()
        )
    assert len(first) == len(set(first)) == len(urls)
    assert crawled.stats.errors == 0
    assert "blocked" not in outcomes
    print(
        f"\n[{crawled.backend}] {crawled.stats.captured} captures, {crawled.stats.pictures} "
        f"pictures hashed in {crawled.seconds:.1f} s"
    )


def test_every_live_sites_pictures_are_captured(crawled: Crawled, served: Served) -> None:
    with read(crawled.engine) as conn:
        hashed = _hashed(conn)
    missing = {site: sorted(digests - set(hashed)) for site, digests in served.by_site.items()}
    missing = {site: d for site, d in missing.items() if d}
    assert not missing, missing
    assert len(served.pictures) >= 150


def test_every_wallet_and_checkout_id_is_extracted_and_none_is_invalid(
    crawled: Crawled, world: WorldHandle
) -> None:
    truth = world.truth
    with read(crawled.engine) as conn:
        rows = conn.execute(
            select(
                capture_indicator.c.kind,
                capture_indicator.c.key,
                capture_indicator.c.value,
                capture_indicator.c.detail,
            )
        ).all()
    crypto = {r.key for r in rows if r.kind == "crypto_address"}
    accounts = {
        (r.detail["provider"], r.detail["account_id"]) for r in rows if r.kind == "checkout_account"
    }
    expected_crypto: set[str] = set()
    expected_accounts: set[tuple[str, str]] = set()
    names = {
        psp.id: re.sub(r"[^a-z0-9_.-]+", "-", psp.name.lower()) for psp in truth.payment_providers
    }
    for site in truth.sites:
        if site.role == "redirector":
            continue
        for address in [*site.identifiers.btc, *site.identifiers.eth]:
            parsed = parse_crypto_address(address)
            expected_crypto.add(f"{parsed.chain}:{parsed.address}")
        for ref in site.identifiers.accounts:
            psp, account = ref.split(":", 1)
            expected_accounts.add((names[psp], account))
    assert expected_crypto
    assert expected_accounts
    assert expected_crypto <= crypto, sorted(expected_crypto - crypto)
    assert expected_accounts <= accounts, sorted(expected_accounts - accounts)
    # Nothing extracted is invalid, and nothing is made up.
    registry = DEFAULT_CHECKOUT_REGISTRY.extended_from_data(
        crawled.settings.payments.checkout_providers
    )
    for r in rows:
        if r.kind == "crypto_address":
            assert (
                f"{parse_crypto_address(r.value).chain}:{parse_crypto_address(r.value).address}"
                == r.key
            )
        elif r.kind == "checkout_account":
            assert registry.parse(r.value).key == r.key
    assert crypto == expected_crypto
    assert accounts == expected_accounts


def test_gateway_only_payment_pages_are_recorded_as_cloaking(
    crawled: Crawled, world: WorldHandle
) -> None:
    truth = world.truth
    gated = [s for s in truth.sites if s.gateway and s.payment_page]
    assert gated
    with read(crawled.engine) as conn:
        for site in gated:
            url = world.url(site, site.payment_page or "/")
            rows = conn.execute(
                select(capture.c.cloaking, capture.c.cloaking_detail).where(
                    capture.c.requested_url == url
                )
            ).all()
            cloaked = [r for r in rows if r.cloaking]
            assert cloaked, f"{url}: no capture recorded cloaking"
            probes = {d["probe"]: d for r in cloaked for d in r.cloaking_detail}
            assert probes["referrer"]["payments_only_in_probe"], probes
        ungated = [
            s for s in truth.sites if s.role == "storefront" and not s.gateway and s.payment_page
        ]
        for site in ungated:
            url = world.url(site, site.payment_page or "/")
            assert not any(
                conn.execute(
                    select(capture.c.cloaking).where(capture.c.requested_url == url)
                ).scalars()
            ), url


def test_share_of_altered_pictures_within_pdq_distance_31(
    crawled: Crawled, world: WorldHandle
) -> None:
    """Matching itself is the match stage's; here the distances to the world's originals are
    computed directly, plain and with the dihedral and border-trimmed hashes."""
    truth: GroundTruth = world.truth
    with read(crawled.engine) as conn:
        hashed = _hashed(conn)
    within: dict[str, list[bool]] = defaultdict(list)
    within_plain: dict[str, list[bool]] = defaultdict(list)
    for picture in truth.pictures:
        if picture.kind not in ("known", "altered") or picture.sha256 not in hashed:
            continue
        original = truth.picture(picture.of) if picture.of else picture
        assert original.pdq is not None
        target = bytes.fromhex(original.pdq)
        sighting = hashed[picture.sha256][0]
        plain = distance(bytes.fromhex(sighting["pdq"]), target)
        best = min(
            [
                plain,
                *(distance(bytes.fromhex(h), target) for h in sighting["pdq_variants"].values()),
            ]
        )
        kind = picture.alteration or "known original"
        within[kind].append(best <= 31)
        within_plain[kind].append(plain <= 31)
    lines = [f"\n[{crawled.backend}] share of pictures within PDQ distance 31 of their original:"]
    for kind in sorted(within):
        share = sum(within[kind]) / len(within[kind])
        plain_share = sum(within_plain[kind]) / len(within_plain[kind])
        lines.append(
            f"  {kind:16s} {share:6.1%} with variants, {plain_share:6.1%} plain "
            f"({len(within[kind])} sighted)"
        )
    print("\n".join(lines))
    assert all(within["known original"])
    for kind in (*ALTERED_PDQ_SURVIVES, "flip", "rotate", "border"):
        assert within[kind], kind
        assert all(within[kind]), kind
    # Bordered copies are found through their trimmed hash, not the plain one.
    assert sum(within["border"]) > sum(within_plain["border"])


# ------------------------------------------------------------------ no picture byte anywhere


def _needles(pictures: dict[str, bytes]) -> list[bytes]:
    out = []
    for data in pictures.values():
        size = len(data)
        for start in (min(256, size // 3), size // 2, max(0, size - 300)):
            out.append(data[start : start + 48])
    return out


_B64_RUN = re.compile(rb"[A-Za-z0-9+/]{64,}={0,2}")
_HEX_RUN = re.compile(rb"\\x([0-9a-fA-F]{128,})")


def _expand(blob: bytes, depth: int = 0) -> Iterator[bytes]:
    """The blob and what it holds: gzip members, zlib streams, base64 and hex runs."""
    yield blob
    if depth > 2:
        return
    for magic, wbits in ((rb"\x1f\x8b\x08", 31), (rb"\x78[\x01\x5e\x9c\xda]", 15)):
        for match in re.finditer(magic, blob):
            try:
                # One member or stream only: it ends where its own data ends.
                inner = zlib.decompressobj(wbits).decompress(blob[match.start() :], 64 << 20)
            except zlib.error:
                continue
            if inner:
                yield from _expand(inner, depth + 1)
    for match in _B64_RUN.finditer(blob):
        text = match.group(0)
        try:
            yield from _expand(base64.b64decode(text[: len(text) - len(text) % 4]), depth + 1)
        except (binascii.Error, ValueError):
            continue
    for match in _HEX_RUN.finditer(blob):
        text = match.group(1)
        yield from _expand(bytes.fromhex(text[: len(text) - len(text) % 2].decode()), depth + 1)


def _search(blob: bytes, needles: list[bytes], where: str) -> list[str]:
    found = []
    for part in _expand(blob):
        for needle in needles:
            if needle in part:
                found.append(where)
                break
    return found


def test_no_picture_byte_is_on_disk_in_the_database_or_in_the_logs(
    crawled: Crawled, served: Served
) -> None:
    needles = _needles(served.pictures)
    assert len(needles) >= 450
    # The control: the search finds a picture hidden in base64 of gzip.
    sample = next(iter(served.pictures.values()))
    assert _search(base64.b64encode(gzip.compress(sample)), needles, "control")
    hits: list[str] = []
    searched = 0
    # The data folder (the SQLite database and its WAL, and the crawl's own temporary folder),
    # and whatever the crawl wrote to the system's temporary folder while it ran.
    roots = [crawled.folder, Path(tempfile.gettempdir())]
    started, ended = crawled.began - 5, crawled.began + crawled.seconds + 5
    for root in roots:
        # os.walk, not rglob: other processes' temporary folders may vanish during the walk.
        found = (Path(d) / f for d, _, files in os.walk(root) for f in files)
        for path in found:
            if root != crawled.folder and any(p.startswith("pytest-of-") for p in path.parts):
                continue  # test folders: ours is the data folder, searched above
            try:
                if not path.is_file() or path.stat().st_size > 256 * 1024 * 1024:
                    continue
                if root != crawled.folder and not started <= path.stat().st_mtime <= ended:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            searched += 1
            hits += _search(data, needles, str(path))
    if crawled.backend == "postgres":
        dump = subprocess.run(
            ["pg_dump", "--no-owner", crawled.url.replace("postgresql+psycopg", "postgresql")],
            capture_output=True,
            check=True,
        ).stdout
        assert b"capture_evidence" in dump
        hits += _search(dump, needles, "pg_dump")
        searched += 1
    assert crawled.log
    hits += _search(crawled.log.encode(), needles, "the log")
    assert searched > 0
    assert not hits, hits


def test_the_evidence_keeps_pages_with_inline_pictures_as_hashes(crawled: Crawled) -> None:
    from cordon.store.tables_crawl import capture_evidence

    with read(crawled.engine) as conn:
        warcs = conn.execute(select(capture_evidence.c.warc)).scalars().all()
    texts = [gzip.decompress(bytes(w)) for w in warcs]
    assert any(b"data:image/" in t and b";sha256=" in t for t in texts)
    assert not any(b";base64," in t for t in texts)


def test_crawl_schedules_the_next_crawl_of_each_live_url(
    crawled: Crawled, world: WorldHandle
) -> None:
    with read(crawled.engine) as conn:
        url_ids = (
            conn.execute(select(capture.c.url_id).where(capture.c.outcome == "live"))
            .scalars()
            .all()
        )
        schedule = crawl_repo.schedule_of(conn, url_ids[0])
    assert schedule is not None
    assert schedule["state"] == "live"
    assert schedule["next_reason"] == "periodic"
    assert (schedule["next_crawl_at"] - schedule["last_crawled_at"]).total_seconds() == 24 * 3600

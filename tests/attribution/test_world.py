"""Attribution against the synthetic world: every site's provider, AS, country, abuse mailbox,
registrar and registrar mailbox match the ground truth; CDN-fronted sites name the CDN; every
scheduled move of a site is recorded as a hop with the right old and new provider."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine

from cordon.attribution import repo
from cordon.attribution.attributor import Attributor
from cordon.attribution.stage import AttributeStage, attribute_url
from cordon.audit.log import Actor
from cordon.config import Settings
from cordon.domain.tlp import Tlp
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from cordon.world import GroundTruth, WorldHandle, WorldSpec, running_world
from cordon.world.model import Site
from support import CLI_ACTOR, make_member

ACTOR = Actor(source="api")


def world_cdn_file(truth: GroundTruth, path: Path) -> Path:
    """A CDN data file for the world's CDN, as an operator adds a CDN Cordon does not ship:
    its AS number, its alias names and the header its edges send."""
    cdn = next(p for p in truth.providers if p.kind == "cdn")
    entry = {
        "id": "world-edge",
        "name": cdn.name,
        "asns": [cdn.asn],
        "cname_suffixes": [f"cdn.{cdn.domain}"],
        "nameserver_suffixes": [cdn.domain],
        "headers": [{"name": "x-edge-ray"}],
    }
    path.write_text(json.dumps({"format": "cordon-cdn/1", "cdns": [entry]}))
    return path


def settings_for(world: WorldHandle, folder: Path, database_url: str | None = None) -> Settings:
    base = world.settings()
    cdn_file = world_cdn_file(world.truth, folder / "world-cdn.json")
    update: dict[str, object] = {
        "rdap": base.rdap.model_copy(update={"rate_limit": "10000 per 1 second"}),
        "attribution": base.attribution.model_copy(update={"cdn_files": [cdn_file]}),
    }
    if database_url is not None:
        update["database_url"] = database_url
    return base.model_copy(update=update)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldHandle]:
    folder = tmp_path_factory.mktemp("attribution-world") / "w"
    with running_world(WorldSpec(seed=61, sites=100), folder=folder) as handle:
        yield handle


@pytest.fixture(scope="module")
def world_attributor(
    world: WorldHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Attributor]:
    """One attributor for the module, so that the second database reuses its caches."""
    settings = settings_for(world, tmp_path_factory.mktemp("settings"))
    with Attributor(settings, world.linked_clock()) as attributor:
        yield attributor


def _public_provider(truth: GroundTruth, site: Site) -> str:
    return site.hosting.cdn or site.hosting.provider


def test_every_site_matches_the_ground_truth(
    world: WorldHandle, world_attributor: Attributor, engine: Engine, fresh_db: str
) -> None:
    truth = world.truth
    clock = world.linked_clock()
    settings = world_attributor.settings.model_copy(update={"database_url": fresh_db})
    with write(engine) as conn:
        reporter = make_member(conn, clock, org_type="hotline")
        urls = [world.url(site) for site in truth.sites]
        done = reports.submit(
            conn, clock, reporter, CLI_ACTOR, ReportIn(urls=urls, tlp=Tlp.GREEN), channel="api"
        )
        url_ids = {u.url: u.id for u in done.report.urls}
        repo.request_attribution(conn, clock.now(), list(url_ids.values()))
    stage = AttributeStage(world_attributor)
    stats = run_until_idle(engine, [stage], StageContext(clock, settings))
    assert stats.done == len(truth.sites)
    assert stats.failed == 0
    mismatches: list[str] = []
    fronted = leaks = 0
    with read(engine) as conn:
        for site, url in zip(truth.sites, urls, strict=True):
            host = urlsplit(url).hostname
            found = repo.latest(conn, clock, reporter, ACTOR, next(
                i for u, i in url_ids.items() if urlsplit(u).hostname == host))  # fmt: skip
            assert found is not None
            party = truth.provider(_public_provider(truth, site))
            registrar = truth.registrar(site.registrar)
            public = site.hosting.cdn_address or site.hosting.address
            expected = {
                "status": "complete",
                "address": public,
                "provider": party.name,
                "asn": party.asn,
                "country": truth.block_of(public).country,
                "abuse_email": party.abuse_email,
                "registrar": registrar.name,
                "registrar_iana_id": registrar.iana_id,
                "registrar_abuse_email": registrar.abuse_email,
                "cdn": "world-edge" if site.hosting.cdn else None,
            }
            got = {k: getattr(found, k) for k in expected}
            if got != expected:
                mismatches.append(f"{site.id} {site.domain}: {got} != {expected}")
            if site.hosting.cdn:
                fronted += 1
                if site.hosting.origin_leak is None:
                    ok = found.origin_status == "unknown" and found.origin_address is None
                else:
                    leaks += 1
                    origin = truth.provider(site.hosting.provider)
                    ok = (
                        found.origin_status == "candidate"
                        and found.origin_address == site.hosting.address
                        and found.origin_provider == origin.name
                    )
                if not ok:
                    mismatches.append(
                        f"{site.id} origin: {found.origin_status} {found.origin_address}"
                    )
    assert mismatches == []
    assert fronted > 0
    assert leaks > 0


def test_cdn_evidence_against_the_world(world: WorldHandle, world_attributor: Attributor) -> None:
    truth = world.truth
    attributor = world_attributor
    site = next(s for s in truth.sites if s.hosting.cdn and not s.hosting.origin_leak)
    found = attributor.attribute(site.domain)
    assert found.cdn is not None
    assert found.cdn.evidence[0].startswith(f"AS{truth.provider(site.hosting.cdn).asn} is")
    www = attributor.attribute(f"www.{site.domain}")
    assert www.cdn is not None
    assert any(e.startswith("alias ") for e in www.cdn.evidence)
    fetched = world.fetch(world.url(site))
    with_headers = attributor.attribute(
        site.domain, address=fetched.address, headers=fetched.headers
    )
    assert any(e.startswith("response header x-edge-ray") for e in with_headers.cdn.evidence)  # type: ignore[union-attr]


@pytest.fixture
def hopping_world(tmp_path: Path) -> Iterator[WorldHandle]:
    """A world of the test's own: its clock and its sites move."""
    # Seed 62 schedules hops of both kinds (old name redirecting, old name gone), a site
    # hopping twice and a CDN-fronted site hopping away from its CDN.
    with running_world(WorldSpec(seed=62, sites=30), folder=tmp_path / "w") as handle:
        yield handle


def test_every_scheduled_move_and_an_origin_move_are_hops(
    hopping_world: WorldHandle,
    engine: Engine,
    fresh_db: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    world = hopping_world
    truth = world.truth
    clock = world.linked_clock()
    settings = settings_for(world, tmp_path, fresh_db)
    attributor = Attributor(settings, clock)
    request.addfinalizer(attributor.close)
    hoppers = [s for s in truth.sites if s.hops]
    assert {h.old_domain for s in hoppers for h in s.hops} == {"redirect", "gone"}
    with write(engine) as conn:
        reporter = make_member(conn, clock, org_type="hotline")
        ids: dict[str, int] = {}
        for site in hoppers:
            done = reports.submit(
                conn, clock, reporter, CLI_ACTOR,
                ReportIn(urls=[world.url(site)], tlp=Tlp.GREEN), channel="api",
            )  # fmt: skip
            ids[site.id] = done.report.urls[0].id
            attribute_url(conn, attributor, clock, ACTOR, ids[site.id])
    events = sorted(
        ((hop.at, site, n) for site in hoppers for n, hop in enumerate(site.hops)),
        key=lambda e: e[0],
    )
    expected: dict[str, list[tuple[str, str]]] = {s.id: [] for s in hoppers}
    for at, site, n in events:
        clock.set(at + timedelta(minutes=1))
        hop = site.hops[n]
        old_domain = site.domain if n == 0 else site.hops[n - 1].domain
        old_hosting = site.hosting if n == 0 else site.hops[n - 1].hosting
        old_party = truth.provider(old_hosting.cdn or old_hosting.provider).name
        new_party = truth.provider(hop.hosting.provider).name
        expected[site.id].append((old_party, new_party))
        if hop.old_domain == "redirect":
            # What a crawler sees: the old name answers with a redirect to the new one.
            scheme = "https" if site.https else "http"
            port = world.endpoints.https_port if site.https else world.endpoints.http_port
            answer = world.fetch(f"{scheme}://{old_domain}:{port}/")
            assert answer.status == 301
            new_host = urlsplit(answer.headers["location"]).hostname
        else:
            # The old name is gone: its observation fails, and the network graph (standing in
            # here as the ground truth) names the site's new domain.
            with write(engine) as conn:
                gone = attribute_url(conn, attributor, clock, ACTOR, ids[site.id])
                assert gone.hop_id is None
            new_host = hop.domain
        assert new_host == hop.domain
        with write(engine) as conn:
            stored = attribute_url(conn, attributor, clock, ACTOR, ids[site.id], host=new_host)
        assert stored.hop_id is not None, (site.id, n, stored)
    with read(engine) as conn:
        for site in hoppers:
            hops = repo.hops(conn, clock, reporter, ACTOR, url_id=ids[site.id])
            recorded = [(h.old_provider, h.new_provider) for h in reversed(hops)]
            assert recorded == expected[site.id], site.id
            assert all("domain" in h.changes for h in hops)

    # A site's origin moved to another provider under the same name is a hop too.
    site = next(s for s in truth.sites if not s.hosting.cdn and not s.hops)
    target = next(
        p for p in truth.providers if p.kind == "hosting" and p.id != site.hosting.provider
    )
    with write(engine) as conn:
        done = reports.submit(
            conn, clock, reporter, CLI_ACTOR,
            ReportIn(urls=[world.url(site)], tlp=Tlp.GREEN), channel="api",
        )  # fmt: skip
        url_id = done.report.urls[0].id
        attribute_url(conn, attributor, clock, ACTOR, url_id)
    world.move(site.id, target.id)
    clock.advance(timedelta(minutes=10))  # past the DNS answer's TTL
    with write(engine) as conn:
        stored = attribute_url(conn, attributor, clock, ACTOR, url_id)
    assert stored.hop_id is not None
    assert "provider" in stored.changes
    assert "domain" not in stored.changes
    with read(engine) as conn:
        (moved,) = repo.hops(conn, clock, reporter, ACTOR, url_id=url_id)
    assert (moved.old_provider, moved.new_provider) == (
        truth.provider(site.hosting.provider).name,
        target.name,
    )

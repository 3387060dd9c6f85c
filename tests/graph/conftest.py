"""A synthetic world crawled, attributed and turned into networks, once per backend, in two
phases: first as reported; then, a month later, after one site was taken down by its host and
every hopping site moved to its next domain and provider."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cordon.attribution.attributor import Attributor
from cordon.attribution.stage import AttributeStage
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.crawl import repo as crawl_repo
from cordon.crawl.worker import run_crawler
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.graph import service
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import make_engine, read, write
from cordon.store.tables import url
from cordon.store.tables_graph import graph_node, network_member
from cordon.world import GroundTruth, WorldHandle, WorldSpec, running_world
from support import make_member

#: Small, seeded: 4 networks of 7 to 15 sites, noise and unrelated sites, two hopping sites.
GRAPH_WORLD = WorldSpec(seed=61, sites=60)
ACTOR = Actor(source="cli")


@dataclass
class Phase:
    """Networks after one recompute: site domain -> network id, and the run's report."""

    network_of: dict[str, int]
    report: dict[str, Any]


@dataclass
class GraphWorld:
    backend: str
    world: WorldHandle
    engine: Engine
    clock: FrozenClock
    settings: Settings
    reporter: Principal
    taken_down: str
    phases: list[Phase] = field(default_factory=list)

    @property
    def truth(self) -> GroundTruth:
        return self.world.truth


def _settings(world: WorldHandle, folder: Path, database_url: str) -> Settings:
    cdn = next(p for p in world.truth.providers if p.kind == "cdn")
    cdn_file = folder / "world-cdn.json"
    entry = {
        "id": "world-edge",
        "name": cdn.name,
        "asns": [cdn.asn],
        "cname_suffixes": [f"cdn.{cdn.domain}"],
        "nameserver_suffixes": [cdn.domain],
        "headers": [{"name": "x-edge-ray"}],
    }
    cdn_file.write_text(json.dumps({"format": "cordon-cdn/1", "cdns": [entry]}))
    base = world.settings()
    return base.model_copy(
        update={
            "database_url": database_url,
            "rdap": base.rdap.model_copy(update={"rate_limit": "10000 per 1 second"}),
            "attribution": base.attribution.model_copy(update={"cdn_files": [cdn_file]}),
        }
    )


def networks_now(engine: Engine) -> dict[str, int]:
    """Each site in a network, with its network's id."""
    with read(engine) as conn:
        rows = conn.execute(
            select(graph_node.c.key, network_member.c.network_id)
            .join(network_member, network_member.c.node_id == graph_node.c.id)
            .where(network_member.c.until.is_(None))
        ).all()
    return {r.key: r.network_id for r in rows}


def _crawl_and_attribute(g: GraphWorld, attributor: Attributor) -> None:
    run_crawler(g.engine, g.settings, g.clock, once=True)
    run_until_idle(g.engine, [AttributeStage(attributor)], StageContext(g.clock, g.settings))


def _recompute(g: GraphWorld) -> None:
    report = service.run_all(g.engine, g.clock, ACTOR, g.settings.graph)
    g.phases.append(Phase(networks_now(g.engine), report.as_dict()))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def graph_world(
    request: pytest.FixtureRequest,
    templates: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GraphWorld]:
    import conftest as root  # the suite's database helpers

    backend = str(request.param)
    folder = tmp_path_factory.mktemp(f"graph-{backend}")
    if backend == "sqlite":
        path = folder / "cordon.db"
        shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
        database_url = f"sqlite:///{path}"
    else:
        root.require_postgres()
        database_url = root.create_pg_database(template=root._pg_template(templates).pg_name)
    with running_world(GRAPH_WORLD, folder=folder / "w") as world:
        engine = make_engine(database_url)
        clock = FrozenClock(world.now())
        settings = _settings(world, folder, database_url)
        truth = world.truth
        with write(engine) as conn:
            reporter = make_member(conn, clock, org_type="hotline")
            urls = [world.url(s, p) for s in truth.sites for p in (s.pages or ["/"])]
            reports.submit(
                conn, clock, reporter, ACTOR, ReportIn(urls=urls, tlp=Tlp.GREEN), channel="cli"
            )
        hopper = next(s for s in truth.sites if s.hops and s.role == "storefront")
        g = GraphWorld(backend, world, engine, clock, settings, reporter, hopper.domain)
        with Attributor(settings, clock) as attributor:
            _crawl_and_attribute(g, attributor)
            _recompute(g)
            # The host takes one hopping site down; a verification crawl finds it gone.
            world.take_down(hopper.id, by="host")
            with write(engine) as conn:
                ids = list(
                    conn.execute(
                        select(url.c.id).where(url.c.registrable_domain == hopper.domain)
                    ).scalars()
                )
                crawl_repo.request_crawl(conn, clock, ACTOR, ids)
            run_crawler(engine, settings, clock, once=True)
            # A month on: every hop has happened. The hotline reports the new domains too.
            world.advance(timedelta(days=30))
            clock.advance(timedelta(days=30))
            with write(engine) as conn:
                moved = [world.url(h.domain) for s in truth.sites for h in s.hops]
                reports.submit(
                    conn, clock, reporter, ACTOR, ReportIn(urls=moved, tlp=Tlp.GREEN), channel="cli"
                )
            _crawl_and_attribute(g, attributor)
            _recompute(g)
        yield g
        engine.dispose()
    if backend == "postgres":
        root.drop_pg_database(database_url)

"""Fixtures for the crawler's tests: loopback servers (canary, DNS, trap, hostile), settings
pointing the crawler at them, and a synthetic world crawled once per backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cordon.world import WorldHandle, WorldSpec, running_world
from crawl.servers import Loopback

#: The world the crawler's end-to-end tests crawl (read-only: no test changes it).
CRAWL_WORLD = WorldSpec(seed=23, sites=20)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldHandle]:
    with running_world(CRAWL_WORLD, folder=tmp_path_factory.mktemp("crawlworld") / "w") as handle:
        yield handle


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    servers = Loopback()
    yield servers
    servers.close()

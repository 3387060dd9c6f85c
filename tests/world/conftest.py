"""Fixtures for the world's tests; other test folders call ``running_world`` the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cordon.world import GroundTruth, WorldHandle, WorldSpec, build_world, running_world

READ_ONLY_SPEC = WorldSpec(seed=11, sites=100)
MUTABLE_SPEC = WorldSpec(seed=12, sites=60)


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    """A 100-site world built once per session (folder, ground truth)."""
    folder = tmp_path_factory.mktemp("world") / "w11"
    truth = build_world(READ_ONLY_SPEC, folder)
    return folder, truth


@pytest.fixture(scope="session")
def world(built_world: tuple[Path, GroundTruth]) -> Iterator[WorldHandle]:
    """The 100-site world, served for the whole session. Tests must not change it."""
    folder, _ = built_world
    with running_world(folder) as handle:
        yield handle


@pytest.fixture(scope="module")
def mutable_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldHandle]:
    """A world of its own for a module whose tests take sites down and move the clock."""
    with running_world(MUTABLE_SPEC, folder=tmp_path_factory.mktemp("mutable") / "w") as handle:
        yield handle

"""The synthetic world: a seeded, harmless slice of the internet, served on loopback.

Build a world with :func:`build_world` (or ``cordon world build``), serve it with
:func:`running_world` in tests (or ``cordon world serve``), and compare what Cordon finds with
its :class:`GroundTruth`. See docs/world.md.
"""

from cordon.world.build import BuildError, build_world
from cordon.world.harness import (
    Fetched,
    Mail,
    NameNotFound,
    WorldError,
    WorldHandle,
    WorldLinkedClock,
    running_world,
)
from cordon.world.model import GroundTruth, TruthError, load_truth
from cordon.world.server import Endpoints, ServeError, ServeOptions
from cordon.world.spec import WorldSpec

__all__ = [
    "BuildError",
    "Endpoints",
    "Fetched",
    "GroundTruth",
    "Mail",
    "NameNotFound",
    "ServeError",
    "ServeOptions",
    "TruthError",
    "WorldError",
    "WorldHandle",
    "WorldLinkedClock",
    "WorldSpec",
    "build_world",
    "load_truth",
    "running_world",
]

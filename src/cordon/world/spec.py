"""What a synthetic world is made of: the :class:`WorldSpec`, a handful of numbers and a seed.

The same spec always generates the same world, byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


class WorldSpec(BaseModel):
    """The parameters of a world. Everything not given is derived from ``sites``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(ge=0, le=2**63 - 1, description="Seed of every random choice.")
    sites: int = Field(
        100,
        ge=20,
        le=20_000,
        description="Web sites served (storefronts, gateways, media hosts, redirectors, noise and "
        "unrelated sites).",
    )
    networks: int | None = Field(
        None, ge=1, description="Networks (brands); default one per 15 sites, at least 2."
    )
    providers: int = Field(
        8, ge=4, le=60, description="Hosting providers, including one CDN; at least 4."
    )
    registrars: int = Field(4, ge=2, le=40, description="Domain registrars.")
    payment_providers: int = Field(3, ge=1, le=20, description="Payment-service providers.")
    pictures: int | None = Field(
        None, ge=1, description="Distinct pictures served; default ten per site."
    )
    known_pictures: int | None = Field(
        None,
        ge=1,
        description="Pictures on the hash list (known.txt); default one in ten pictures.",
    )
    start: datetime = Field(
        DEFAULT_START, description="The world's clock at start (UTC); scheduled events follow it."
    )

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start must carry a time zone (UTC)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.network_count * 3 > self.sites * 0.7:
            raise ValueError(
                f"{self.network_count} networks do not fit in {self.sites} sites "
                "(each network needs at least 3 sites and networks take at most 70% of sites)"
            )
        if self.picture_count < self.sites:
            raise ValueError(
                f"pictures ({self.picture_count}) must be at least sites ({self.sites})"
            )
        if self.known_count * 2 > self.picture_count:
            raise ValueError(
                f"known_pictures ({self.known_count}) must be at most half of the pictures "
                f"({self.picture_count})"
            )
        return self

    @property
    def network_count(self) -> int:
        """Networks in the world."""
        return self.networks if self.networks is not None else max(2, self.sites // 15)

    @property
    def picture_count(self) -> int:
        """Distinct pictures in the world."""
        return self.pictures if self.pictures is not None else self.sites * 10

    @property
    def known_count(self) -> int:
        """Pictures on the hash list."""
        if self.known_pictures is not None:
            return self.known_pictures
        return max(1, self.picture_count // 10)


def derive(seed: int, *parts: object) -> int:
    """A 64-bit number derived from ``seed`` and ``parts``; stable across runs and platforms.

    Each part of the world draws from its own stream, so that adding a choice in one part
    does not change the others.
    """
    text = "|".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")

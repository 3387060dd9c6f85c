"""What a report is made of, validated at the edge (API bodies, CSV and JSONL rows)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cordon.domain.tlp import Tlp
from cordon.domain.urls import MAX_URL_LENGTH, InvalidUrl, normalize_url

#: Hash signals a report may carry, with the syntax of each.
SIGNAL_SYNTAX: dict[str, re.Pattern[str]] = {
    "pdq": re.compile(r"^[0-9a-f]{64}$"),
    "photo_md5": re.compile(r"^[0-9a-f]{32}$"),
    "photo_sha256": re.compile(r"^[0-9a-f]{64}$"),
    "video_md5": re.compile(r"^[0-9a-f]{32}$"),
}

MAX_NOTE_LENGTH = 10_000


def _normalisable(raw: str) -> str:
    try:
        normalize_url(raw)
    except InvalidUrl as exc:
        raise PydanticCustomError("url", "{reason}", {"reason": str(exc)}) from None
    return raw


ReportedUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(_normalisable),
]
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]


class HashIn(BaseModel):
    """One hash signal carried by a report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal_type: str = Field(description="pdq, photo_md5, photo_sha256 or video_md5")
    signal: str = Field(description="The hash, lower-case hexadecimal")

    @field_validator("signal_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in SIGNAL_SYNTAX:
            raise PydanticCustomError(
                "signal_type",
                "unknown signal type {value}; use one of {allowed}",
                {"value": value, "allowed": ", ".join(SIGNAL_SYNTAX)},
            )
        return value

    @field_validator("signal")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @model_validator(mode="after")
    def _syntax(self) -> HashIn:
        if not SIGNAL_SYNTAX[self.signal_type].match(self.signal):
            raise PydanticCustomError(
                "signal",
                "{signal} is not a valid {kind} signal",
                {"signal": self.signal[:80], "kind": self.signal_type},
            )
        return self


class ReportIn(BaseModel):
    """A report: one or more URLs seen together, with a TLP marking."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[ReportedUrl] = Field(min_length=1, description="Reported URLs (http or https)")
    tlp: Tlp = Field(description="TLP 2.0 marking: CLEAR, GREEN, AMBER, AMBER+STRICT or RED")
    note: str | None = Field(None, max_length=MAX_NOTE_LENGTH, description="Free-text note")
    source_ref: str | None = Field(
        None, max_length=500, description="The reporter's own reference (a ticket number)"
    )
    hashes: list[HashIn] = Field(default_factory=list, description="Hashes seen at the URLs")
    share_with: list[int] = Field(
        default_factory=list, description="AMBER: ids of organisations the report is shared with"
    )
    share_with_groups: list[int] = Field(
        default_factory=list, description="AMBER: ids of your sharing groups to share it with"
    )
    red_users: list[int] = Field(
        default_factory=list, description="RED: ids of users named on the report (besides you)"
    )

    @field_validator("tlp", mode="before")
    @classmethod
    def _parse_tlp(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return Tlp.parse(value)
            except ValueError as exc:
                raise PydanticCustomError("tlp", "{reason}", {"reason": str(exc)}) from None
        return value

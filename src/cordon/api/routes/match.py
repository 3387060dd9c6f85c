"""Matching: match a batch of signals, read sightings and matches, the matcher's freshness."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query as QueryParam
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from cordon.api import paging
from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.matching import flows
from cordon.matching import repo as matching
from cordon.matching.model import Query
from cordon.matching.service import SIGNAL_TYPES, shared_matcher
from cordon.signals import types

router = CordonRouter(prefix="/v1", tags=["matching"])

MAX_SIGNALS = 1000


class SignalIn(BaseModel):
    """One signal to match."""

    model_config = ConfigDict(extra="forbid")

    signal_type: str = Field(description="`pdq`, `photo_md5`, `photo_sha256` or `video_md5`")
    signal: str = Field(description="The hash, in hexadecimal")
    quality: int | None = Field(
        None, ge=0, le=100, description="PDQ quality; below 50 only banks that ask match it"
    )


class MatchIn(BaseModel):
    """A batch of signals, recorded as sightings of your organisation under ``tlp``."""

    model_config = ConfigDict(extra="forbid")

    signals: Annotated[list[SignalIn], Field(min_length=1, max_length=MAX_SIGNALS)]
    tlp: Tlp = Field(Tlp.AMBER_STRICT, description="Marking of the sightings recorded")


def parse_queries(signals: list[SignalIn]) -> list[Query]:
    """Validate and normalise; a bad signal is a 422 naming its position and the problem."""
    out = []
    for n, s in enumerate(signals):
        if s.signal_type not in SIGNAL_TYPES:
            raise Problem(
                422,
                f"signals[{n}].signal_type: {s.signal_type!r} is not matched "
                f"(known: {', '.join(SIGNAL_TYPES)})",
            )
        try:
            signal = types.get(s.signal_type).validate(s.signal)
        except ValueError as exc:
            raise Problem(422, f"signals[{n}].signal: {exc}") from None
        out.append(Query(s.signal_type, signal, s.quality))
    return out


@router.post(
    "/match",
    permission=Permission.MATCH_QUERY,
    summary="Match a batch of signals against the banks you may read",
)
def match(request: Request, principal: CurrentPrincipal, body: MatchIn) -> dict[str, Any]:
    """Per signal, its matches: bank, entry id, distance, classification and whether a
    negative bank suppresses it. Matches are by each bank's own rules (docs/matching.md); only
    banks you may read are shown. The signals are recorded as sightings of your organisation,
    so that entries added later are matched against them."""
    queries = parse_queries(body.signals)
    state = app_state(request)
    matcher = shared_matcher(state.engine, state.clock, state.settings)
    with state.write() as conn:
        ids, answer = flows.match_for_member(
            conn,
            matcher,
            state.clock,
            actor_of(request, principal),
            state.settings,
            principal,
            queries,
            body.tlp,
        )
    return {
        "results": [
            {
                "signal_type": q.signal_type,
                "signal": q.signal,
                "sighting_id": sid,
                "matches": [matching.hit_dict(h) for h in hits],
            }
            for q, sid, hits in zip(queries, ids, answer, strict=True)
        ]
    }


@router.get(
    "/matcher/status",
    permission=Permission.MATCH_READ,
    summary="Freshness of this process's match index",
)
def matcher_status(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The index's checkpoint (the last bank change applied), the newest change, how many
    entries it holds, and when it last caught up. Reading it refreshes the index first."""
    state = app_state(request)
    matcher = shared_matcher(state.engine, state.clock, state.settings)
    with state.read() as conn:
        matcher.refresh(conn)
        return matcher.freshness(conn).as_dict(state.clock.now())


def _since(since: datetime | None) -> datetime | None:
    if since is not None and since.tzinfo is None:
        raise Problem(422, "since needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return since


_SOURCES = "^(capture|api)$"
_STATUSES = "^(active|suppressed|quarantined)$"


@router.get(
    "/match-sightings",
    permission=Permission.MATCH_READ,
    summary="List the sightings of hashes you may see",
)
def list_sightings(
    request: Request,
    principal: CurrentPrincipal,
    signal_type: str | None = None,
    signal: str | None = None,
    source: Annotated[str | None, QueryParam(pattern=_SOURCES)] = None,
    capture_id: int | None = None,
    matched: bool | None = None,
    since: datetime | None = None,
    limit: Annotated[int, QueryParam(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first. A capture's sightings are readable by who may read the capture; a match
    call's by its organisation, per its marking. Page on with ``before_id``."""
    f = matching.SightingFilter(signal_type, signal, source, capture_id, matched, _since(since))
    return paging.page(
        request,
        principal,
        matching.list_sightings,
        f,
        limit=limit,
        before_id=before_id,
        show=dict,
    )


@router.get(
    "/match-sightings/count",
    permission=Permission.MATCH_READ,
    summary="Count the sightings of hashes you may see",
)
def count_sightings(
    request: Request,
    principal: CurrentPrincipal,
    signal_type: str | None = None,
    signal: str | None = None,
    source: Annotated[str | None, QueryParam(pattern=_SOURCES)] = None,
    capture_id: int | None = None,
    matched: bool | None = None,
    since: datetime | None = None,
) -> dict[str, int]:
    f = matching.SightingFilter(signal_type, signal, source, capture_id, matched, _since(since))
    return paging.count(request, principal, matching.count_sightings, f)


@router.get(
    "/match-sightings/{sighting_id}",
    permission=Permission.MATCH_READ,
    summary="One sighting with the matches you may see",
)
def get_sighting(request: Request, principal: CurrentPrincipal, sighting_id: int) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = matching.get_sighting(
            conn, state.clock, principal, actor_of(request, principal), sighting_id
        )
    if found is None:
        raise not_found("sighting", sighting_id)
    return found


@router.get("/matches", permission=Permission.MATCH_READ, summary="List the matches you may see")
def list_matches(
    request: Request,
    principal: CurrentPrincipal,
    bank_id: int | None = None,
    entry_id: int | None = None,
    sighting_id: int | None = None,
    status: Annotated[str | None, QueryParam(pattern=_STATUSES)] = None,
    retroactive: bool | None = None,
    since: datetime | None = None,
    limit: Annotated[int, QueryParam(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first. A match is readable by who may read both its sighting and its bank."""
    f = matching.MatchFilter(bank_id, entry_id, sighting_id, status, retroactive, _since(since))
    return paging.page(
        request,
        principal,
        matching.list_matches,
        f,
        limit=limit,
        before_id=before_id,
        show=dict,
    )


@router.get(
    "/matches/count", permission=Permission.MATCH_READ, summary="Count the matches you may see"
)
def count_matches(
    request: Request,
    principal: CurrentPrincipal,
    bank_id: int | None = None,
    entry_id: int | None = None,
    sighting_id: int | None = None,
    status: Annotated[str | None, QueryParam(pattern=_STATUSES)] = None,
    retroactive: bool | None = None,
    since: datetime | None = None,
) -> dict[str, int]:
    f = matching.MatchFilter(bank_id, entry_id, sighting_id, status, retroactive, _since(since))
    return paging.count(request, principal, matching.count_matches, f)


@router.get("/matches/{match_id}", permission=Permission.MATCH_READ, summary="One match")
def get_match(request: Request, principal: CurrentPrincipal, match_id: int) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = matching.get_match(
            conn, state.clock, principal, actor_of(request, principal), match_id
        )
    if found is None:
        raise not_found("match", match_id)
    return found

"""Hosting attribution: who hosts a URL, who fronts it, who registered it, whom to tell."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request

from cordon.api import paging
from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.attribution import repo as attributions
from cordon.domain.permissions import Permission

router = CordonRouter(prefix="/v1", tags=["attribution"])


def _filter(
    country: str | None,
    asn: int | None,
    cdn: str | None,
    status: str | None,
    since: datetime | None,
) -> attributions.AttributionFilter:
    if since is not None and since.tzinfo is None:
        raise Problem(422, "since needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    if status is not None and status not in ("complete", "partial", "failed"):
        raise Problem(
            422,
            "status is complete, partial or failed",
            errors=[{"field": "status", "message": "unknown status"}],
        )
    return attributions.AttributionFilter(
        country=country, asn=asn, cdn=cdn, status=status, since=since
    )


@router.get(
    "/attributions",
    permission=Permission.ATTRIBUTION_READ,
    summary="Attributions you may see, newest first",
)
def list_attributions(
    request: Request,
    principal: CurrentPrincipal,
    country: str | None = None,
    asn: int | None = None,
    cdn: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    f = _filter(country, asn, cdn, status, since)
    return paging.page(
        request,
        principal,
        attributions.list_page,
        f,
        limit=limit,
        before_id=before_id,
        show=attributions.record_as_dict,
    )


@router.get(
    "/attributions/count",
    permission=Permission.ATTRIBUTION_READ,
    summary="Count attributions you may see",
)
def count_attributions(
    request: Request,
    principal: CurrentPrincipal,
    country: str | None = None,
    asn: int | None = None,
    cdn: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
) -> dict[str, int]:
    f = _filter(country, asn, cdn, status, since)
    return paging.count(request, principal, attributions.count, f)


@router.get(
    "/attributions/{attribution_id}",
    permission=Permission.ATTRIBUTION_READ,
    summary="One attribution",
)
def get_attribution(
    attribution_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = attributions.get(
            conn, state.clock, principal, actor_of(request, principal), attribution_id
        )
    if found is None:
        raise not_found("attribution", attribution_id)
    return attributions.record_as_dict(found)


@router.get(
    "/urls/{url_id}/attributions",
    permission=Permission.ATTRIBUTION_READ,
    summary="A URL's hosting over time, newest first",
)
def url_history(
    url_id: int,
    request: Request,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        items = attributions.history(
            conn, state.clock, principal, actor_of(request, principal), url_id, limit=limit
        )
    return {"items": [attributions.record_as_dict(r) for r in items]}


@router.get(
    "/captures/{capture_id}/attribution",
    permission=Permission.ATTRIBUTION_READ,
    summary="The attribution made from a capture (the address the crawler used)",
)
def capture_attribution(
    capture_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = attributions.for_capture(
            conn, state.clock, principal, actor_of(request, principal), capture_id
        )
    if found is None:
        raise not_found("attribution of capture", capture_id)
    return attributions.record_as_dict(found)


@router.get(
    "/hops",
    permission=Permission.ATTRIBUTION_READ,
    summary="Moves of hosting (provider, network, country), newest first",
)
def list_hops(
    request: Request,
    principal: CurrentPrincipal,
    url_id: int | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: int | None = None,
) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        raise Problem(422, "since needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    state = app_state(request)
    with state.write() as conn:
        items = attributions.hops(
            conn,
            state.clock,
            principal,
            actor_of(request, principal),
            url_id=url_id,
            since=since,
            limit=limit,
            before_id=before_id,
        )

    def as_json(h: attributions.HopRecord) -> dict[str, Any]:
        out = asdict(h)
        out["at"] = h.at.isoformat().replace("+00:00", "Z")
        out["tlp"] = h.tlp.value
        return out

    return {
        "items": [as_json(h) for h in items],
        "next_before_id": items[-1].id if len(items) == limit else None,
    }

"""Captures: read, count, search media sightings, download evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from cordon.api import paging
from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.crawl import repo as captures
from cordon.domain.permissions import Permission

router = CordonRouter(prefix="/v1", tags=["captures"])

_OUTCOMES = "^(live|gone|failed|blocked)$"


def _filter(
    url_id: int | None,
    domain: str | None,
    outcome: str | None,
    cloaking: bool | None,
    since: datetime | None,
) -> captures.CaptureFilter:
    if since is not None and since.tzinfo is None:
        raise Problem(422, "since needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return captures.CaptureFilter(
        url_id=url_id, domain=domain, outcome=outcome, cloaking=cloaking, since=since
    )


@router.get("/captures", permission=Permission.CAPTURE_READ, summary="List captures you may see")
def list_captures(
    request: Request,
    principal: CurrentPrincipal,
    url_id: int | None = None,
    domain: str | None = None,
    outcome: Annotated[str | None, Query(pattern=_OUTCOMES)] = None,
    cloaking: bool | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first, without pictures and indicators (read one capture for those). Page on with
    ``before_id`` set to ``next_before_id``."""
    f = _filter(url_id, domain, outcome, cloaking, since)
    return paging.page(
        request,
        principal,
        captures.list_page,
        f,
        limit=limit,
        before_id=before_id,
        show=dict,
    )


@router.get(
    "/captures/count", permission=Permission.CAPTURE_READ, summary="Count captures you may see"
)
def count_captures(
    request: Request,
    principal: CurrentPrincipal,
    url_id: int | None = None,
    domain: str | None = None,
    outcome: Annotated[str | None, Query(pattern=_OUTCOMES)] = None,
    cloaking: bool | None = None,
    since: datetime | None = None,
) -> dict[str, int]:
    f = _filter(url_id, domain, outcome, cloaking, since)
    return paging.count(request, principal, captures.count, f)


@router.get(
    "/captures/{capture_id}",
    permission=Permission.CAPTURE_READ,
    summary="One capture with its media sightings and indicators",
)
def get_capture(capture_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = captures.get(conn, state.clock, principal, actor_of(request, principal), capture_id)
    if found is None:
        raise not_found("capture", capture_id)
    return found


@router.get(
    "/captures/{capture_id}/evidence",
    permission=Permission.CAPTURE_EXPORT,
    summary="The capture's WARC file (gzip records; text only, pictures as hashes)",
    response_class=Response,
)
def capture_evidence(capture_id: int, request: Request, principal: CurrentPrincipal) -> Response:
    """Every download is written to the audit log first."""
    state = app_state(request)
    with state.write() as conn:
        found = captures.evidence(
            conn, state.clock, principal, actor_of(request, principal), capture_id
        )
    if found is None:
        raise not_found("capture", capture_id)
    warc, digest = found
    return Response(
        warc,
        media_type="application/warc",
        headers={
            "Content-Disposition": f'attachment; filename="capture-{capture_id}.warc.gz"',
            "Repr-Digest": f"sha-256=:{_b64(digest)}:",
        },
    )


@router.get(
    "/captures/{capture_id}/export",
    permission=Permission.CAPTURE_EXPORT,
    summary="The capture's self-verifying evidence bundle (zip)",
    response_class=Response,
)
def capture_export(capture_id: int, request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    with state.write() as conn:
        bundle = captures.export_bundle(
            conn, state.clock, principal, actor_of(request, principal), capture_id
        )
    if bundle is None:
        raise not_found("capture", capture_id)
    return Response(
        bundle,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="capture-{capture_id}.zip"'},
    )


@router.get(
    "/sightings",
    permission=Permission.CAPTURE_READ,
    summary="Media sightings with a digest or PDQ hash, in captures you may see",
)
def search_sightings(
    request: Request,
    principal: CurrentPrincipal,
    sha256: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{64}$")] = None,
    md5: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{32}$")] = None,
    pdq: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Exact lookups; PDQ near-matches are the ``match`` stage's work."""
    if not (sha256 or md5 or pdq):
        raise Problem(422, "name sha256, md5 or pdq")
    state = app_state(request)
    with state.write() as conn:
        items = captures.search_sightings(
            conn,
            state.clock,
            principal,
            actor_of(request, principal),
            sha256=sha256,
            md5=md5,
            pdq=pdq,
            limit=limit,
        )
    return {"items": items}


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")

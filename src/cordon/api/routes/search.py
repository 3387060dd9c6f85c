"""Search over every identifier Cordon knows, and batch screening."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.search import repo, screen

router = CordonRouter(prefix="/v1", tags=["search"])


@router.get(
    "/search",
    permission=Permission.SEARCH_READ,
    summary="Have we seen this wallet, domain, address, merchant id or hash?",
)
def search(
    request: Request,
    principal: CurrentPrincipal,
    q: str = Query(min_length=1, max_length=2048, description="What to look up"),
    kind: str | None = Query(
        None, description="The kind of q (domain, url, ip, iban, pdq, …); detected when absent"
    ),
) -> dict[str, Any]:
    """Every record you may read that holds `q`, per kind it could be and per table. The
    search is audited (a digest of the query, not the query)."""
    state = app_state(request)
    try:
        with state.write() as conn:
            found = repo.search(
                conn, state.clock, principal, actor_of(request, principal), q, kind=kind
            )
    except repo.SearchError as exc:
        raise Problem(422, str(exc), errors=[{"field": "q", "message": str(exc)}]) from None
    return found.as_dict()


class ScreenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[str] = Field(
        min_length=1,
        max_length=screen.MAX_ITEMS,
        description="URLs, domains, wallets, IBANs, card:BIN:MERCHANT_ID, hashes, …",
    )
    kind: str | None = Field(None, description="The kind of every item; detected when absent")


@router.post(
    "/screen",
    permission=Permission.SCREEN_RUN,
    summary="Screen up to 10,000 identifiers: known or not, and what you may be told",
)
def screen_batch(body: ScreenIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """For each item: `unknown`; `details` (records you may read); or `contact` (known to
    Cordon in records you may not read: whom to ask). A bad item refuses the whole batch. One
    audit event per batch."""
    state = app_state(request)
    try:
        with state.write() as conn:
            answers = screen.screen(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                body.items,
                kind=body.kind,
            )
    except screen.ScreenError as exc:
        raise Problem(
            422,
            str(exc),
            errors=[
                {"field": f"items[{e.index}]", "item": e.item, "message": e.message}
                for e in exc.errors
            ]
            or None,
        ) from None
    items = [a.as_dict() for a in answers]
    return {
        "count": len(items),
        "known": sum(1 for i in items if i["known"]),
        "items": items,
    }

"""One reported URL and its site: captures over time, media hashes, indicators, the hosting
chain, the network it belongs to, payment identifiers of the site and the notices about them.

A URL is opened only by a member who may read a report naming it; everything on the page comes
through the feature modules' own reads (captures, attributions, payment identifiers, notices),
which apply the access policy, and each part is shown only to members holding the permission
its API route asks for. Addresses are defanged and never links; captured text is escaped.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.attribution import repo as attributions
from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.crawl import repo as captures
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.graph import repo as graph
from cordon.matching import repo as matching
from cordon.money import repo as money
from cordon.notices import repo as notices
from cordon.web import repo
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render

router = ConsoleRouter()

CAPTURES_SHOWN = 50
HISTORY_SHOWN = 20
IDENTIFIERS_SHOWN = 100
MATCHED_SHOWN = 100


def _matches_of(
    conn: Connection, clock: Clock, principal: Principal, actor: Actor, capture_id: int
) -> list[dict[str, Any]]:
    """The capture's hashes that matched a bank the member may read, each with its matches
    (bank, distance, variant, status): through the matching feature's own reads."""
    found = matching.list_sightings(
        conn,
        clock,
        principal,
        actor,
        matching.SightingFilter(capture_id=capture_id, matched=True),
        limit=MATCHED_SHOWN,
    )
    for s in found:
        s["matches"] = matching.list_matches(
            conn, clock, principal, actor, matching.MatchFilter(sighting_id=s["id"])
        )
    return found


@router.get(
    "/urls/{url_id}",
    permission=Permission.REPORT_READ,
    summary="Console: one reported URL and its site (captures, hashes, hosting, money, notices)",
)
def url_page(
    url_id: int, request: Request, principal: CurrentPrincipal, capture: int | None = None
) -> Response:
    """``capture`` chooses which capture's pictures and indicators are shown (the newest by
    default)."""
    state = app_state(request)
    actor = actor_of(request, principal)
    context: dict[str, Any] = {}
    with state.write() as conn:
        found = repo.visible_url(conn, principal, url_id)
        if found is None:
            raise Problem(404, f"no URL with id {url_id}")
        context["u"] = found
        context["progress"] = repo.url_progress(conn, [url_id])[url_id]
        context["confirmation"] = repo.url_confirmation_of(conn, url_id)
        if principal.can(Permission.CAPTURE_READ.value):
            listed = captures.list_page(
                conn,
                state.clock,
                principal,
                actor,
                captures.CaptureFilter(url_id=url_id),
                limit=CAPTURES_SHOWN,
            )
            chosen_id = capture if capture is not None else (listed[0]["id"] if listed else None)
            chosen = None
            if chosen_id is not None:
                chosen = captures.get(conn, state.clock, principal, actor, chosen_id)
                if chosen is not None and chosen["url_id"] != url_id:
                    chosen = None
                if chosen is None and capture is not None:
                    raise Problem(404, f"no capture with id {capture} of this URL")
            if chosen is not None and principal.can(Permission.MATCH_READ.value):
                context["matches"] = _matches_of(conn, state.clock, principal, actor, chosen["id"])
            context["captures"] = listed
            context["capture_total"] = captures.count(
                conn, principal, captures.CaptureFilter(url_id=url_id)
            )
            context["chosen"] = chosen
        if principal.can(Permission.ATTRIBUTION_READ.value):
            history = attributions.history(
                conn, state.clock, principal, actor, url_id, limit=HISTORY_SHOWN
            )
            context["attribution"] = history[0] if history else None
            context["attribution_history"] = history
            context["hops"] = attributions.hops(
                conn, state.clock, principal, actor, url_id=url_id, limit=HISTORY_SHOWN
            )
        if principal.can(Permission.NETWORK_READ.value):
            network_id = graph.network_of_site(conn, principal, found.registrable_domain)
            context["network"] = (
                graph.get_network(conn, principal, network_id) if network_id is not None else None
            )
        identifiers: list[money.Identifier] = []
        if principal.can(Permission.MONEY_READ.value):
            identifiers = money.list_identifiers(
                conn,
                state.clock,
                principal,
                actor,
                money.IdentifierFilter(site=found.registrable_domain),
                limit=IDENTIFIERS_SHOWN,
            )
            context["identifiers"] = identifiers
            context["owners"] = money.org_names(conn, [i.owner_org_id for i in identifiers])
        if principal.can(Permission.NOTICE_READ.value):
            about: list[notices.Notice] = notices.list_page(
                conn,
                state.clock,
                principal,
                actor,
                notices.NoticeFilter(subject_kind="url", subject_id=url_id),
            )
            for ident in identifiers:
                about += notices.list_page(
                    conn,
                    state.clock,
                    principal,
                    actor,
                    notices.NoticeFilter(subject_kind="payment_identifier", subject_id=ident.id),
                )
            context["notices"] = sorted(about, key=lambda n: n.id, reverse=True)
            context["identifier_keys"] = {i.id: i.key for i in identifiers}
    return render(request, "urls/detail.html", context)

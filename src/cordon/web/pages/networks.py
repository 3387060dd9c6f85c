"""Networks (brands): the ranked list with the reasons for each score, one network with its
interactive graph (Cytoscape.js), sites, identifiers, brand and timeline, and "explain" between
two sites.

Everything comes through the graph feature's own reads (:mod:`cordon.graph.repo`), which show a
member only the sites, identifiers and links it may see; reads of a network are audited as the
API audits them. Sites and other addresses are defanged, in the page and in the graph.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.domain.urls import defang
from cordon.graph import repo as graph
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render

router = ConsoleRouter()

PAGE_SIZE = 50
STATUSES = ("active", "merged", "dissolved", "all")
#: Node kinds whose keys are names on the internet: shown defanged everywhere.
NAMED_KINDS = frozenset({"site", "url", "host"})


def shown(kind: str, text: str) -> str:
    """A node's text as the console shows it: names on the internet defanged."""
    return defang(text) if kind in NAMED_KINDS else text


@router.get(
    "/networks",
    permission=Permission.NETWORK_READ,
    summary="Console: networks you may see, highest score first, with the reasons",
)
def list_networks(
    request: Request,
    principal: CurrentPrincipal,
    status: str = "active",
    min_score: str = "",
    offset: int = 0,
) -> Response:
    errors: dict[str, str] = {}
    if status not in STATUSES:
        errors["status"] = f"{status!r} is not a status; use {', '.join(STATUSES)}"
    floor: float | None = None
    if min_score:
        try:
            floor = float(min_score)
        except ValueError:
            errors["min_score"] = f"{min_score!r} is not a number"
    items: list[graph.NetworkSummary] = []
    total = 0
    if not errors:
        wanted = None if status == "all" else status
        with app_state(request).read() as conn:
            items = graph.list_networks(
                conn,
                principal,
                status=wanted,
                min_score=floor,
                limit=PAGE_SIZE,
                offset=max(offset, 0),
            )
            total = graph.count_networks(conn, principal, status=wanted)
    return render(
        request,
        "networks/list.html",
        {
            "items": items,
            "total": total,
            "errors": errors,
            "status": status,
            "statuses": STATUSES,
            "min_score": min_score,
            "offset": max(offset, 0),
            "next_offset": offset + PAGE_SIZE if len(items) == PAGE_SIZE else None,
            "page_size": PAGE_SIZE,
        },
    )


@router.get(
    "/networks/explain",
    permission=Permission.NETWORK_READ,
    summary="Console: why two sites are linked, step by step with the records that prove it",
)
def explain(request: Request, principal: CurrentPrincipal, a: str = "", b: str = "") -> Response:
    from cordon.domain.urls import refang

    site_a, site_b = refang(a).strip().lower(), refang(b).strip().lower()
    found: dict[str, Any] | None = None
    error: str | None = None
    status = 200
    if site_a and site_b:
        state = app_state(request)
        with state.write() as conn:
            found = graph.explain(conn, principal, site_a, site_b)
            if found is None:
                error = "One of these sites is not one you may see (or not in the graph yet)."
                status = 404
            else:
                for site in (site_a, site_b):
                    nid = graph.network_of_site(conn, principal, site)
                    if nid is not None:
                        graph.audit_read(
                            conn,
                            state.clock,
                            principal,
                            actor_of(request, principal),
                            nid,
                            "explain",
                        )
    elif a or b:
        error = "Name two sites."
        status = 422
    return render(
        request,
        "networks/explain.html",
        {"a": a, "b": b, "found": found, "error": error, "shown": shown},
        status=status,
    )


@router.get(
    "/networks/{network_id}",
    permission=Permission.NETWORK_READ,
    summary="Console: one network with its graph, sites, identifiers, brand and timeline",
)
def network_page(network_id: int, request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    with state.write() as conn:
        found = graph.get_network(conn, principal, network_id)
        if found is None:
            raise Problem(404, f"no network with id {network_id}")
        graph.audit_read(
            conn, state.clock, principal, actor_of(request, principal), network_id, "read"
        )
        members = graph.members(conn, principal, network_id)
        identifiers = graph.identifiers(conn, principal, network_id)
        brand = graph.brand(conn, principal, network_id)
        timeline = graph.timeline(conn, principal, network_id)
        picture = graph.picture(conn, principal, network_id) or {"nodes": [], "edges": []}
        graph.audit_read(
            conn, state.clock, principal, actor_of(request, principal), network_id, "graph"
        )
    for n in picture["nodes"]:
        data = n["data"]
        data["label"] = shown(data["kind"], str(data.get("label") or data.get("key") or ""))
        data["key"] = shown(data["kind"], str(data.get("key") or ""))
    labels = {n["data"]["id"]: n["data"]["label"] for n in picture["nodes"]}
    links = [
        {
            "from": labels.get(e["data"]["source"], ""),
            "to": labels.get(e["data"]["target"], ""),
            "kind": e["data"]["kind"],
            "strength": e["data"]["strength"],
        }
        for e in picture["edges"]
    ]
    return render(
        request,
        "networks/detail.html",
        {
            "network": found,
            "members": members,
            "identifiers": identifiers,
            "brand": brand,
            "timeline": timeline,
            "elements": picture,
            "links": links,
            "shown": shown,
        },
    )

"""Networks (brands) and the entity graph: ranked list, one network with its sites, identifiers,
timeline and score, its picture for Cytoscape, why two sites are linked, a node's neighbourhood,
and the JSON export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.graph import repo as graph

router = CordonRouter(prefix="/v1", tags=["networks"])

_STATUSES = ("active", "merged", "dissolved", "all")


def _status(status: str) -> str | None:
    if status not in _STATUSES:
        raise Problem(
            422,
            "status is active, merged, dissolved or all",
            errors=[{"field": "status", "message": f"unknown status {status!r}"}],
        )
    return None if status == "all" else status


@router.get(
    "/networks",
    permission=Permission.NETWORK_READ,
    summary="Networks you may see, highest score first, with the reasons for each score",
)
def list_networks(
    request: Request,
    principal: CurrentPrincipal,
    status: str = "active",
    min_score: float | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    wanted = _status(status)
    with app_state(request).read() as conn:
        items = graph.list_networks(
            conn, principal, status=wanted, min_score=min_score, limit=limit, offset=offset
        )
    return {
        "items": [n.as_dict() for n in items],
        "next_offset": offset + limit if len(items) == limit else None,
    }


@router.get(
    "/networks/count",
    permission=Permission.NETWORK_READ,
    summary="Count networks you may see",
)
def count_networks(
    request: Request, principal: CurrentPrincipal, status: str = "active"
) -> dict[str, int]:
    wanted = _status(status)
    with app_state(request).read() as conn:
        return {"count": graph.count_networks(conn, principal, status=wanted)}


@router.get(
    "/networks/explain",
    permission=Permission.NETWORK_READ,
    summary="Why two sites are linked: the shortest chain of shared identifiers, with proofs",
)
def explain(request: Request, principal: CurrentPrincipal, a: str, b: str) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = graph.explain(conn, principal, a.strip(), b.strip())
        if found is None:
            raise Problem(404, f"no site {a!r} or {b!r} that you may see")
        for site in (a, b):
            nid = graph.network_of_site(conn, principal, site.strip())
            if nid is not None:
                graph.audit_read(
                    conn, state.clock, principal, actor_of(request, principal), nid, "explain"
                )
    return found


@router.get(
    "/networks/{network_id}",
    permission=Permission.NETWORK_READ,
    summary="One network: its sites, identifiers, brand over time, timeline and score",
)
def get_network(network_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = graph.get_network(conn, principal, network_id)
        if found is None:
            raise not_found("network", network_id)
        graph.audit_read(
            conn, state.clock, principal, actor_of(request, principal), network_id, "read"
        )
        return {
            **found.as_dict(),
            "members": graph.members(conn, principal, network_id),
            "identifiers": graph.identifiers(conn, principal, network_id),
            "brand": graph.brand(conn, principal, network_id),
            "timeline": graph.timeline(conn, principal, network_id),
        }


@router.get(
    "/networks/{network_id}/graph",
    permission=Permission.NETWORK_READ,
    summary="A network as Cytoscape elements: sites, hosts, payment identifiers, contacts",
)
def network_graph(network_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = graph.picture(conn, principal, network_id)
        if found is None:
            raise not_found("network", network_id)
        graph.audit_read(
            conn, state.clock, principal, actor_of(request, principal), network_id, "graph"
        )
    return {"elements": found}


@router.get(
    "/networks/{network_id}/export",
    permission=Permission.NETWORK_EXPORT,
    summary="A network with its sites, identifiers, edges and their evidence, as JSON",
)
def export_network(
    network_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = graph.export(conn, state.clock, principal, actor_of(request, principal), network_id)
    if found is None:
        raise not_found("network", network_id)
    return found


@router.get(
    "/graph/nodes/{node_id}/neighbours",
    permission=Permission.GRAPH_READ,
    summary="A node and everything within k edges of it (k = 1 to 3) that you may see",
)
def neighbours(
    node_id: int,
    request: Request,
    principal: CurrentPrincipal,
    hops: Annotated[int, Query(ge=1, le=graph.MAX_HOPS)] = 1,
    limit: Annotated[int, Query(ge=1, le=graph.MAX_NODES)] = 500,
) -> dict[str, Any]:
    with app_state(request).read() as conn:
        found = graph.neighbourhood(conn, principal, node_id, hops=hops, limit=limit)
    if found is None:
        raise not_found("graph node", node_id)
    return found


@router.get(
    "/graph/nodes",
    permission=Permission.GRAPH_READ,
    summary="Find a node by kind and key (e.g. kind=site&key=example.test)",
)
def find_node(request: Request, principal: CurrentPrincipal, kind: str, key: str) -> dict[str, Any]:
    with app_state(request).read() as conn:
        nid = graph.find_node(conn, principal, kind, key.strip())
        found = graph.node(conn, principal, nid) if nid is not None else None
    if found is None:
        raise Problem(404, f"no {kind} node {key!r} that you may see")
    return found

"""Reading the graph and the networks, under the access policy.

An edge is readable exactly when the record that proves it is (a capture, an attribution or a
payment sighting, each through its own module's clause of :func:`cordon.store.access.visible`). A
node is readable when one of its edges is; a network when one of its current sites is, and then
only with the sites, identifiers, edges and events the reader may read. A network a reader
cannot see is answered exactly as a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, func, or_, select

from cordon.attribution import repo as attribution_repo
from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.crawl import repo as crawl_repo
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp, strictest
from cordon.graph.model import EDGE_KINDS, NodeKind, Strength
from cordon.matching import repo as matching_repo
from cordon.money import repo as money_repo
from cordon.store.tables import attribution
from cordon.store.tables_banks import bank
from cordon.store.tables_crawl import capture
from cordon.store.tables_graph import graph_edge, graph_node, network, network_event, network_member
from cordon.store.tables_matching import sighting, sighting_match
from cordon.store.tables_money import payment_sighting

KIND = "network"
#: Edge kinds that tell something of who runs a site (strong and medium).
JOINING = tuple(k for k, v in EDGE_KINDS.items() if v.strength is not Strength.WEAK)
#: Edge kinds that join two sites alone: the links an explanation follows.
STRONG = tuple(k for k, v in EDGE_KINDS.items() if v.strength is Strength.STRONG)
#: Node kinds drawn in a network's picture (Cytoscape): sites, hosting, payment and contacts.
PICTURE_KINDS = (
    NodeKind.SITE.value,
    NodeKind.PAYMENT.value,
    NodeKind.ANALYTICS.value,
    NodeKind.EMAIL.value,
    NodeKind.MESSENGER.value,
    NodeKind.IP.value,
    NodeKind.PROVIDER.value,
    NodeKind.ASN.value,
    NodeKind.CDN.value,
    NodeKind.REGISTRAR.value,
)
MAX_HOPS = 3
MAX_NODES = 2000


def _iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t else None


# ---------------------------------------------------------------------------- access


def edge_visible(principal: Principal, edge: Any = graph_edge) -> ColumnElement[bool]:
    """Edges whose proving record the principal may read."""
    by_capture = and_(
        edge.c.proof_kind == "capture",
        exists(
            select(capture.c.id).where(
                capture.c.id == edge.c.proof_id, crawl_repo.visible_clause(principal)
            )
        ),
    )
    by_attribution = and_(
        edge.c.proof_kind == "attribution",
        exists(
            select(attribution.c.id).where(
                attribution.c.id == edge.c.proof_id,
                attribution_repo.visible_clause(principal, attribution.c.url_id),
            )
        ),
    )
    by_sighting = and_(
        edge.c.proof_kind == "payment_sighting",
        exists(
            select(payment_sighting.c.id).where(
                payment_sighting.c.id == edge.c.proof_id, money_repo.sighting_visible(principal)
            )
        ),
    )
    # A match is readable with both its capture and its bank (matching's rule), written with
    # uncorrelated IN lists: SQLite's parser limits how deeply the policy's clauses may nest.
    by_match = and_(
        edge.c.proof_kind == "sighting_match",
        edge.c.proof_id.in_(
            select(sighting_match.c.id)
            .join(sighting, sighting.c.id == sighting_match.c.sighting_id)
            .where(
                sighting.c.capture_id.in_(
                    select(capture.c.id).where(crawl_repo.visible_clause(principal))
                ),
                sighting_match.c.bank_id.in_(
                    select(bank.c.id).where(matching_repo.bank_visible(principal))
                ),
            )
        ),
    )
    return or_(by_capture, by_attribution, by_sighting, by_match)


def node_visible(principal: Principal, node_id: Any) -> ColumnElement[bool]:
    """Nodes with at least one edge the principal may read."""
    out_edge = graph_edge.alias("ve_out")
    in_edge = graph_edge.alias("ve_in")
    # Two EXISTS rather than one with OR: each can use its column's index.
    return or_(
        exists(
            select(out_edge.c.id).where(
                out_edge.c.src_id == node_id, edge_visible(principal, out_edge)
            )
        ),
        exists(
            select(in_edge.c.id).where(
                in_edge.c.dst_id == node_id, edge_visible(principal, in_edge)
            )
        ),
    )


def _visible_members(principal: Principal, network_id: Any) -> Any:
    return select(network_member.c.node_id).where(
        network_member.c.network_id == network_id,
        network_member.c.until.is_(None),
        node_visible(principal, network_member.c.node_id),
    )


def network_visible(principal: Principal) -> ColumnElement[bool]:
    """Networks with at least one current site the principal may read."""
    return exists(_visible_members(principal, network.c.id))


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class NetworkSummary:
    id: int
    label: str
    status: str
    score: float
    score_reasons: list[dict[str, Any]]
    size: int
    visible_sites: int
    created_at: datetime
    updated_at: datetime
    first_seen: datetime | None
    last_seen: datetime | None
    merged_into: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "status": self.status,
            "score": self.score,
            "score_reasons": self.score_reasons,
            "size": self.size,
            "visible_sites": self.visible_sites,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "merged_into": self.merged_into,
        }


def _summaries(conn: Connection, principal: Principal, rows: Sequence[Any]) -> list[NetworkSummary]:
    out = []
    for r in rows:
        visible = conn.execute(
            select(func.count()).select_from(_visible_members(principal, r.id).subquery())
        ).scalar_one()
        label = r.label
        if not conn.execute(
            select(graph_node.c.id).where(
                graph_node.c.kind == NodeKind.SITE.value,
                graph_node.c.key == r.label,
                node_visible(principal, graph_node.c.id),
            )
        ).first():
            # The label names a site; a reader who may not see that site sees the number only.
            label = f"network {r.id}"
        out.append(
            NetworkSummary(
                id=r.id,
                label=label,
                status=r.status,
                score=r.score,
                score_reasons=r.score_reasons,
                size=r.size,
                visible_sites=int(visible),
                created_at=r.created_at,
                updated_at=r.updated_at,
                first_seen=r.first_seen,
                last_seen=r.last_seen,
                merged_into=r.merged_into,
            )
        )
    return out


def list_networks(
    conn: Connection,
    principal: Principal,
    *,
    status: str | None = "active",
    min_score: float | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[NetworkSummary]:
    """Networks the principal may see, highest score first (then id)."""
    stmt = select(network).where(network_visible(principal))
    if status:
        stmt = stmt.where(network.c.status == status)
    if min_score is not None:
        stmt = stmt.where(network.c.score >= min_score)
    rows = conn.execute(
        stmt.order_by(network.c.score.desc(), network.c.id).limit(limit).offset(offset)
    ).all()
    return _summaries(conn, principal, rows)


def count_networks(conn: Connection, principal: Principal, *, status: str | None = "active") -> int:
    """How many networks the principal may see."""
    stmt = select(func.count()).select_from(network).where(network_visible(principal))
    if status:
        stmt = stmt.where(network.c.status == status)
    return int(conn.execute(stmt).scalar_one())


def get_network(conn: Connection, principal: Principal, network_id: int) -> NetworkSummary | None:
    """One network, or None when it does not exist or the principal may see none of it."""
    row = conn.execute(
        select(network).where(network.c.id == network_id, network_visible(principal))
    ).first()
    return _summaries(conn, principal, [row])[0] if row else None


def _node_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "key": r.key,
        "label": r.label or r.key,
        "first_seen": _iso(r.first_seen),
        "last_seen": _iso(r.last_seen),
    }


def _proof(r: Any) -> dict[str, Any]:
    return {
        "proof_kind": r.proof_kind,
        "proof_id": r.proof_id,
        "last_proof_id": r.last_proof_id,
        "capture_id": r.proof_id if r.proof_kind == "capture" else None,
    }


def _edge_dict(r: Any) -> dict[str, Any]:
    kind = EDGE_KINDS.get(r.kind)
    return {
        "id": r.id,
        "source": r.src_id,
        "target": r.dst_id,
        "kind": r.kind,
        "strength": kind.strength.value if kind else "weak",
        "weight": r.weight,
        "first_seen": _iso(r.first_seen),
        "last_seen": _iso(r.last_seen),
        "org_id": r.org_id,
        "tlp": r.tlp,
        **_proof(r),
    }


def members(
    conn: Connection, principal: Principal, network_id: int, *, include_past: bool = False
) -> list[dict[str, Any]]:
    """The network's sites the principal may read, with when each joined (and left)."""
    stmt = (
        select(
            network_member.c.node_id,
            network_member.c.since,
            network_member.c.until,
            graph_node.c.key,
            graph_node.c.first_seen,
            graph_node.c.last_seen,
        )
        .join(graph_node, graph_node.c.id == network_member.c.node_id)
        .where(
            network_member.c.network_id == network_id,
            node_visible(principal, graph_node.c.id),
        )
        .order_by(network_member.c.since, graph_node.c.key)
    )
    if not include_past:
        stmt = stmt.where(network_member.c.until.is_(None))
    return [
        {
            "node_id": r.node_id,
            "site": r.key,
            "since": _iso(r.since),
            "until": _iso(r.until),
            "first_seen": _iso(r.first_seen),
            "last_seen": _iso(r.last_seen),
        }
        for r in conn.execute(stmt)
    ]


def _member_ids(conn: Connection, principal: Principal, network_id: int) -> list[int]:
    return list(conn.execute(_visible_members(principal, network_id)).scalars())


def _visible_edges(
    conn: Connection,
    principal: Principal,
    *,
    src_ids: Iterable[int] | None = None,
    touching: Iterable[int] | None = None,
    kinds: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Any]:
    stmt = select(graph_edge).where(edge_visible(principal))
    if src_ids is not None:
        stmt = stmt.where(graph_edge.c.src_id.in_(list(src_ids)))
    if touching is not None:
        ids = list(touching)
        stmt = stmt.where(or_(graph_edge.c.src_id.in_(ids), graph_edge.c.dst_id.in_(ids)))
    if kinds is not None:
        stmt = stmt.where(graph_edge.c.kind.in_(list(kinds)))
    stmt = stmt.order_by(graph_edge.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(conn.execute(stmt).all())


def _nodes(conn: Connection, ids: Iterable[int]) -> dict[int, Any]:
    wanted = sorted(set(ids))
    out: dict[int, Any] = {}
    for i in range(0, len(wanted), 500):
        for r in conn.execute(select(graph_node).where(graph_node.c.id.in_(wanted[i : i + 500]))):
            out[r.id] = r
    return out


def identifiers(conn: Connection, principal: Principal, network_id: int) -> list[dict[str, Any]]:
    """The identifiers the network's visible sites share (strong and medium kinds), each with
    how many of its sites show it."""
    member_ids = _member_ids(conn, principal, network_id)
    if not member_ids:
        return []
    edges = _visible_edges(conn, principal, src_ids=member_ids, kinds=JOINING)
    sites: dict[int, set[int]] = {}
    for e in edges:
        if EDGE_KINDS[e.kind].target is NodeKind.SITE:
            continue
        sites.setdefault(e.dst_id, set()).add(e.src_id)
    nodes = _nodes(conn, sites)
    out = [{**_node_dict(nodes[nid]), "sites": len(s)} for nid, s in sites.items() if nid in nodes]
    return sorted(out, key=lambda d: (-d["sites"], d["kind"], d["key"]))


def picture(conn: Connection, principal: Principal, network_id: int) -> dict[str, Any] | None:
    """The network as nodes and edges for Cytoscape: its sites, and the payment identifiers,
    contacts and hosting they show (``{"nodes": [...], "edges": [...]}``)."""
    if get_network(conn, principal, network_id) is None:
        return None
    member_ids = set(_member_ids(conn, principal, network_id))
    edges = _visible_edges(conn, principal, src_ids=member_ids)
    nodes = _nodes(conn, {e.dst_id for e in edges} | member_ids)
    keep = [e for e in edges if e.dst_id in nodes and nodes[e.dst_id].kind in PICTURE_KINDS]
    used = member_ids | {e.dst_id for e in keep}
    return {
        "nodes": [
            {"data": {**_node_dict(nodes[n]), "id": str(n), "member": n in member_ids}}
            for n in sorted(used)
            if n in nodes
        ],
        "edges": [
            {
                "data": {
                    **_edge_dict(e),
                    "id": f"e{e.id}",
                    "source": str(e.src_id),
                    "target": str(e.dst_id),
                }
            }
            for e in keep
        ],
    }


def events(conn: Connection, principal: Principal, network_id: int) -> list[dict[str, Any]]:
    """The network's events, oldest first; events naming a site the reader may not see are
    left out."""
    visible_sites = {
        r.key
        for r in conn.execute(
            select(graph_node.c.key)
            .join(network_member, network_member.c.node_id == graph_node.c.id)
            .where(
                network_member.c.network_id == network_id,
                node_visible(principal, graph_node.c.id),
            )
        )
    }
    out = []
    for r in conn.execute(
        select(network_event)
        .where(network_event.c.network_id == network_id)
        .order_by(network_event.c.at, network_event.c.id)
    ):
        details = dict(r.details or {})
        named = [details.get(k) for k in ("site", "gone_site", "old_domain") if details.get(k)]
        if any(s not in visible_sites for s in named):
            continue
        out.append(
            {
                "id": r.id,
                "kind": r.kind,
                "other_network_id": r.other_network_id,
                "at": _iso(r.at),
                "details": details,
            }
        )
    return out


def timeline(conn: Connection, principal: Principal, network_id: int) -> list[dict[str, Any]]:
    """The brand over time, oldest first: events, sites joining and leaving, and each site's
    hosting provider and country as attribution saw them change."""
    items: list[dict[str, Any]] = []
    for e in events(conn, principal, network_id):
        items.append({"at": e["at"], "what": e["kind"], **e["details"]})
    site_keys = []
    for m in members(conn, principal, network_id, include_past=True):
        items.append({"at": m["since"], "what": "site_joined", "site": m["site"]})
        if m["until"]:
            items.append({"at": m["until"], "what": "site_left", "site": m["site"]})
        site_keys.append(m["site"])
    if site_keys:
        last: dict[str, tuple[Any, Any]] = {}
        for r in conn.execute(
            select(
                attribution.c.id,
                attribution.c.registrable_domain,
                attribution.c.observed_at,
                attribution.c.provider,
                attribution.c.country,
            )
            .where(
                attribution.c.registrable_domain.in_(sorted(set(site_keys))),
                attribution_repo.visible_clause(principal, attribution.c.url_id),
            )
            .order_by(attribution.c.observed_at, attribution.c.id)
        ):
            now = (r.provider, r.country)
            if last.get(r.registrable_domain) != now:
                last[r.registrable_domain] = now
                items.append(
                    {
                        "at": _iso(r.observed_at),
                        "what": "hosting",
                        "site": r.registrable_domain,
                        "provider": r.provider,
                        "country": r.country,
                        "attribution_id": r.id,
                    }
                )
    return sorted(items, key=lambda i: (i["at"] or "", i["what"]))


def brand(conn: Connection, principal: Principal, network_id: int) -> dict[str, Any]:
    """The network's domains, providers and countries, each with first and last seen."""
    ms = members(conn, principal, network_id, include_past=True)
    keys = sorted({m["site"] for m in ms})
    providers: dict[str, list[Any]] = {}
    countries: dict[str, list[Any]] = {}
    if keys:
        for r in conn.execute(
            select(attribution.c.provider, attribution.c.country, attribution.c.observed_at).where(
                attribution.c.registrable_domain.in_(keys),
                attribution_repo.visible_clause(principal, attribution.c.url_id),
            )
        ):
            for table, key in ((providers, r.provider), (countries, r.country)):
                if not key:
                    continue
                span = table.setdefault(key, [r.observed_at, r.observed_at])
                span[0], span[1] = min(span[0], r.observed_at), max(span[1], r.observed_at)

    def spans(t: dict[str, list[Any]]) -> list[dict[str, Any]]:
        return [
            {"name": k, "first_seen": _iso(v[0]), "last_seen": _iso(v[1])}
            for k, v in sorted(t.items(), key=lambda kv: kv[1][0])
        ]

    return {
        "domains": [
            {
                "site": m["site"],
                "since": m["since"],
                "until": m["until"],
                "first_seen": m["first_seen"],
                "last_seen": m["last_seen"],
            }
            for m in ms
        ],
        "providers": spans(providers),
        "countries": spans(countries),
    }


# ---------------------------------------------------------------------------- graph walks


def find_node(conn: Connection, principal: Principal, kind: str, key: str) -> int | None:
    """The id of the node ``kind``/``key`` when the principal may see it."""
    found = conn.execute(
        select(graph_node.c.id).where(
            graph_node.c.kind == kind,
            graph_node.c.key == key,
            node_visible(principal, graph_node.c.id),
        )
    ).first()
    return int(found[0]) if found else None


def node(conn: Connection, principal: Principal, node_id: int) -> dict[str, Any] | None:
    """One node, when the principal may see it."""
    r = conn.execute(
        select(graph_node).where(
            graph_node.c.id == node_id, node_visible(principal, graph_node.c.id)
        )
    ).first()
    return _node_dict(r) if r else None


def neighbourhood(
    conn: Connection, principal: Principal, node_id: int, *, hops: int = 1, limit: int = 500
) -> dict[str, Any] | None:
    """Everything within ``hops`` edges of a node (at most ``limit`` nodes), through edges the
    principal may read; None when the node is not visible. ``hops`` is 1 to 3."""
    if not 1 <= hops <= MAX_HOPS:
        raise ValueError(f"hops must be between 1 and {MAX_HOPS}")
    limit = max(1, min(limit, MAX_NODES))
    start = node(conn, principal, node_id)
    if start is None:
        return None
    depth = {node_id: 0}
    frontier = [node_id]
    seen_edges: dict[int, Any] = {}
    truncated = False
    for level in range(1, hops + 1):
        if not frontier:
            break
        nxt: list[int] = []
        for i in range(0, len(frontier), 500):
            for e in _visible_edges(conn, principal, touching=frontier[i : i + 500]):
                seen_edges[e.id] = e
                for end in (e.src_id, e.dst_id):
                    if end not in depth:
                        if len(depth) >= limit:
                            truncated = True
                            continue
                        depth[end] = level
                        nxt.append(end)
        frontier = nxt
    nodes = _nodes(conn, depth)
    return {
        "node": start,
        "hops": hops,
        "truncated": truncated,
        "nodes": [
            {**_node_dict(nodes[n]), "distance": d}
            for n, d in sorted(depth.items(), key=lambda kv: (kv[1], kv[0]))
            if n in nodes
        ],
        "edges": [
            _edge_dict(e) for e in seen_edges.values() if e.src_id in depth and e.dst_id in depth
        ],
    }


def explain(
    conn: Connection, principal: Principal, site_a: str, site_b: str, *, max_steps: int = 40
) -> dict[str, Any] | None:
    """The shortest chain of shared strong identifiers (and direct site links) joining two
    sites, through edges the principal may read; each step names the record that proves it.
    Pictures and templates both show are listed as ``corroborating``.

    Returns None when either site is not visible, and ``{"linked": False}`` when no chain of at
    most ``max_steps`` links exists.
    """
    a = find_node(conn, principal, NodeKind.SITE.value, site_a.lower())
    b = find_node(conn, principal, NodeKind.SITE.value, site_b.lower())
    if a is None or b is None:
        return None
    parent: dict[int, tuple[int, Any] | None] = {a: None}
    found = a == b
    frontier = [a]
    steps = 0
    while frontier and not found and steps < max_steps:
        steps += 1
        nxt: list[int] = []
        for i in range(0, len(frontier), 500):
            for e in _visible_edges(conn, principal, touching=frontier[i : i + 500], kinds=STRONG):
                for here, there in ((e.src_id, e.dst_id), (e.dst_id, e.src_id)):
                    if here in parent and there not in parent:
                        parent[there] = (here, e)
                        nxt.append(there)
                        if there == b:
                            found = True
        frontier = nxt
    if not found:
        return {"a": site_a, "b": site_b, "linked": False, "chain": []}
    path: list[tuple[int, Any]] = []
    cur = b
    while parent[cur] is not None:
        prev, e = parent[cur]  # type: ignore[misc]  # the loop condition excludes None
        path.append((cur, e))
        cur = prev
    path.reverse()
    nodes = _nodes(conn, [a, *(n for n, _ in path)])
    chain = []
    here = a
    for there, e in path:
        chain.append(
            {
                "from": _node_dict(nodes[here]),
                "to": _node_dict(nodes[there]),
                "edge": _edge_dict(e),
                "why": EDGE_KINDS[e.kind].why,
            }
        )
        here = there
    return {
        "a": site_a,
        "b": site_b,
        "linked": True,
        "chain": chain,
        "corroborating": _shared_medium(conn, principal, a, b),
    }


def _shared_medium(conn: Connection, principal: Principal, a: int, b: int) -> list[dict[str, Any]]:
    """Medium nodes (pictures, templates) both sites show: corroboration, never a link alone."""
    medium = [k for k, v in EDGE_KINDS.items() if v.strength is Strength.MEDIUM]
    seen: dict[int, set[int]] = {}
    for e in _visible_edges(conn, principal, src_ids=[a, b], kinds=medium):
        seen.setdefault(e.dst_id, set()).add(e.src_id)
    both = [n for n, srcs in seen.items() if srcs == {a, b}]
    return [_node_dict(r) for r in _nodes(conn, both).values()]


def export(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, network_id: int
) -> dict[str, Any] | None:
    """The network with its sites, identifiers, edges (each with its proving record), events
    and score, as the principal may see them; marked with the strictest marking of the edges
    it holds. The export is written to the audit log."""
    summary = get_network(conn, principal, network_id)
    if summary is None:
        return None
    member_ids = _member_ids(conn, principal, network_id)
    edges = _visible_edges(conn, principal, src_ids=member_ids)
    nodes = _nodes(conn, {e.dst_id for e in edges} | set(member_ids))
    markings = [Tlp(e.tlp) for e in edges if e.tlp]
    marking = strictest(markings) if markings else Tlp.AMBER
    record_sensitive_reads(conn, clock, actor, KIND, "export", [(network_id, marking)], always=True)
    return {
        "format": "cordon-network/1",
        "exported_at": _iso(clock.now()),
        "tlp": marking.value,
        "network": summary.as_dict(),
        "members": members(conn, principal, network_id, include_past=True),
        "identifiers": identifiers(conn, principal, network_id),
        "nodes": [_node_dict(n) for n in nodes.values()],
        "edges": [_edge_dict(e) for e in edges],
        "events": events(conn, principal, network_id),
        "brand": brand(conn, principal, network_id),
    }


def network_of_site(conn: Connection, principal: Principal, site: str) -> int | None:
    """The current network of a site the principal may see."""
    found = conn.execute(
        select(network_member.c.network_id)
        .join(graph_node, graph_node.c.id == network_member.c.node_id)
        .where(
            graph_node.c.kind == NodeKind.SITE.value,
            graph_node.c.key == site.lower(),
            network_member.c.until.is_(None),
            node_visible(principal, graph_node.c.id),
        )
    ).first()
    return int(found[0]) if found else None


def marking(conn: Connection, principal: Principal, network_id: int) -> Tlp:
    """The strictest marking of the network's edges the principal may read (a derived record
    takes the strictest marking of its inputs)."""
    member_ids = _member_ids(conn, principal, network_id)
    if not member_ids:
        return Tlp.CLEAR
    found = conn.execute(
        select(graph_edge.c.tlp)
        .where(graph_edge.c.src_id.in_(member_ids), graph_edge.c.tlp.is_not(None))
        .where(edge_visible(principal))
        .distinct()
    ).scalars()
    return strictest(Tlp(t) for t in found)


def audit_read(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    network_id: int,
    path: str,
) -> None:
    """Write the read of a network to the audit log when what it shows is AMBER+STRICT or RED."""
    record_sensitive_reads(
        conn, clock, actor, KIND, path, [(network_id, marking(conn, principal, network_id))]
    )

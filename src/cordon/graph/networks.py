"""Recomputing networks from the graph, with stable identity.

A recompute reads the strong and medium edges as arrays, clusters them
(:func:`cordon.graph.cluster.cluster`), and reconciles the components with the networks stored
before:

* each component is matched with the stored networks whose sites it holds, largest overlap
  first (ties: the larger network, then the older id); a network keeps its id in the component
  that holds most of its sites, and a component takes at most one id;
* a stored network that kept no id but whose sites are in a component that took another's id is
  **merged** into it (``merged_into``; an event on both);
* sites of a network that went to another component **split** from it (an event on both);
* a component that took no id is a new network (``created``);
* a network left with no component is ``dissolved``.

Memberships are opened and closed (``since``/``until``) rather than rewritten, so a network's
sites can be read as they were at any time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, case, func, insert, select, update

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.graph.cluster import MEDIUM_BY_CODE, STRONG_BY_CODE, Clustering, cluster
from cordon.graph.model import ALL_EDGE_KINDS, ClusterRule, NodeKind
from cordon.store.tables_graph import (
    graph_edge,
    graph_node,
    network,
    network_event,
    network_member,
)

_BLOCK = 200_000


@dataclass
class RecomputeStats:
    """What one recompute found and changed, and how long each part took."""

    sites: int = 0
    networks: int = 0
    created: int = 0
    merged: int = 0
    split: int = 0
    dissolved: int = 0
    grew: int = 0
    shrank: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sites": self.sites,
            "networks": self.networks,
            "created": self.created,
            "merged": self.merged,
            "split": self.split,
            "dissolved": self.dissolved,
            "grew": self.grew,
            "shrank": self.shrank,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


@dataclass(frozen=True)
class EdgeArrays:
    """The edges that can join sites, as arrays indexed by node id."""

    src: npt.NDArray[np.int64]
    dst: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int16]
    is_site: npt.NDArray[np.bool_]


def _raw_rows(conn: Connection, stmt: Any, width: int) -> npt.NDArray[np.int64]:
    """Run ``stmt`` on the driver's cursor (no row objects) and stack its integer columns."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        parts = []
        while True:
            block = cursor.fetchmany(_BLOCK)
            if not block:
                break
            parts.append(np.array(block, dtype=np.int64).reshape(-1, width))
    finally:
        cursor.close()
    if not parts:
        return np.zeros((0, width), dtype=np.int64)
    return np.concatenate(parts)


def load_edges(conn: Connection) -> EdgeArrays:
    """The strong and medium edges of the graph, and which node ids are sites."""
    joining = [
        (k.name, code)
        for code, k in enumerate(ALL_EDGE_KINDS)
        if STRONG_BY_CODE[code] or MEDIUM_BY_CODE[code] > 0
    ]
    code = case({name: c for name, c in joining}, value=graph_edge.c.kind, else_=-1)
    rows = _raw_rows(
        conn,
        select(graph_edge.c.src_id, graph_edge.c.dst_id, code).where(
            graph_edge.c.kind.in_([name for name, _ in joining])
        ),
        3,
    )
    top = conn.execute(select(func.max(graph_node.c.id))).scalar()
    n = int(top or 0) + 1
    sites = _raw_rows(
        conn, select(graph_node.c.id).where(graph_node.c.kind == NodeKind.SITE.value), 1
    )
    is_site = np.zeros(n, dtype=bool)
    is_site[sites[:, 0]] = True
    return EdgeArrays(rows[:, 0], rows[:, 1], rows[:, 2].astype(np.int16), is_site)


def _assign(
    comp_of_site: npt.NDArray[np.int64],
    old_net: npt.NDArray[np.int64],
    old_node_comp: npt.NDArray[np.int64],
    old_sizes: dict[int, int],
) -> tuple[dict[int, int], dict[int, list[tuple[int, int]]]]:
    """Which stored network id each component keeps, and each component's overlaps."""
    overlaps: dict[int, list[tuple[int, int]]] = defaultdict(list)
    keep = old_node_comp >= 0
    if keep.any():
        pairs, counts = np.unique(
            np.stack([old_node_comp[keep], old_net[keep]], axis=1), axis=0, return_counts=True
        )
        for (c, o), k in zip(pairs.tolist(), counts.tolist(), strict=True):
            overlaps[int(c)].append((int(o), int(k)))
    ranked = sorted(
        ((c, o, k) for c, items in overlaps.items() for o, k in items),
        key=lambda t: (-t[2], -old_sizes.get(t[1], 0), t[1]),
    )
    heir: dict[int, int] = {}
    taken: set[int] = set()
    for c, o, _ in ranked:
        if c in heir or o in taken:
            continue
        heir[c] = o
        taken.add(o)
    return heir, overlaps


def recompute(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    rule: ClusterRule | None = None,
) -> RecomputeStats:
    """Cluster the graph and store the networks, keeping ids stable; in the caller's
    transaction. Returns what changed."""
    stats = RecomputeStats()
    now = clock.now()
    t0 = time.perf_counter()
    edges = load_edges(conn)
    t1 = time.perf_counter()
    result: Clustering = cluster(edges.src, edges.dst, edges.kind, edges.is_site, rule)
    t2 = time.perf_counter()
    stats.seconds["load"] = t1 - t0
    stats.seconds["cluster"] = t2 - t1
    labels = result.labels
    site_nodes = np.flatnonzero(labels >= 0).astype(np.int64)
    comp_of_site = labels[site_nodes]
    stats.sites = int(site_nodes.size)

    members = _raw_rows(
        conn,
        select(network_member.c.network_id, network_member.c.node_id).where(
            network_member.c.until.is_(None)
        ),
        2,
    )
    old_net, old_node = members[:, 0], members[:, 1]
    in_range = old_node < labels.size
    old_node_comp = np.full(old_node.size, -1, dtype=np.int64)
    old_node_comp[in_range] = labels[old_node[in_range]]
    old_ids, old_counts = np.unique(old_net, return_counts=True)
    old_sizes = dict(zip(old_ids.tolist(), old_counts.tolist(), strict=True))
    active = set(conn.execute(select(network.c.id).where(network.c.status == "active")).scalars())
    heir, overlaps = _assign(comp_of_site, old_net, old_node_comp, old_sizes)

    # New networks for components that kept no id, labelled by their first site.
    comps, first_index = np.unique(comp_of_site, return_index=True)
    new_comps = [int(c) for c in comps.tolist() if int(c) not in heir]
    first_node = dict(zip(comps.tolist(), site_nodes[first_index].tolist(), strict=True))
    keys = _node_keys(conn, [first_node[c] for c in new_comps])
    final: dict[int, int] = dict(heir)
    if new_comps:
        rows: list[dict[str, Any]] = [
            {
                "label": keys.get(first_node[c], f"network {c}")[:255],
                "created_at": now,
                "updated_at": now,
                "merged_into": None,
                "score": 0.0,
                "score_reasons": [],
                "status": "active",
                "size": 0,
            }
            for c in new_comps
        ]
        ids = (
            conn.execute(
                insert(network).returning(network.c.id, sort_by_parameter_order=True), rows
            )
            .scalars()
            .all()
        )
        final.update(zip(new_comps, ids, strict=True))
    t3 = time.perf_counter()
    stats.seconds["match"] = t3 - t2

    # Memberships: open the new, close the gone.
    width = np.int64(max(int(labels.size), 1))
    comp_to_net = np.full(int(comps.max()) + 1 if comps.size else 1, -1, dtype=np.int64)
    for c, nid in final.items():
        comp_to_net[c] = nid
    new_net = comp_to_net[comp_of_site] if comp_of_site.size else np.zeros(0, dtype=np.int64)
    new_key = new_net * width + site_nodes
    old_key = old_net * width + old_node
    added = ~np.isin(new_key, old_key)
    removed = ~np.isin(old_key, new_key)
    if added.any():
        conn.execute(
            insert(network_member),
            [
                {"network_id": n, "node_id": s, "since": now, "until": None}
                for n, s in zip(new_net[added].tolist(), site_nodes[added].tolist(), strict=True)
            ],
        )
    if removed.any():
        conn.execute(
            update(network_member)
            .where(
                network_member.c.network_id == bindparam("b_net"),
                network_member.c.node_id == bindparam("b_node"),
                network_member.c.until.is_(None),
            )
            .values(until=now),
            [
                {"b_net": n, "b_node": s}
                for n, s in zip(old_net[removed].tolist(), old_node[removed].tolist(), strict=True)
            ],
        )
    t4 = time.perf_counter()
    stats.seconds["members"] = t4 - t3

    added_by = _count_by(new_net[added])
    removed_by = _count_by(old_net[removed])
    size_by = _count_by(new_net)
    events: list[dict[str, Any]] = []
    merged_into: dict[int, int] = {}

    def event(nid: int, kind: str, other: int | None = None, **details: Any) -> None:
        events.append(
            {
                "network_id": nid,
                "kind": kind,
                "other_network_id": other,
                "at": now,
                "details": details,
            }
        )

    kept = set(heir.values())
    for c, nid in final.items():
        for o, k in overlaps.get(c, []):
            if o == nid:
                continue
            if o not in kept:
                if o in merged_into:
                    continue
                merged_into[o] = nid
                event(nid, "merged", o, sites=k)
                event(o, "merged", nid, sites=k)
            else:
                event(o, "split", nid, sites=k)
                event(nid, "split", o, sites=k)
        if c not in heir:
            event(nid, "created", None, sites=size_by.get(nid, 0))
            stats.created += 1
            continue
        if added_by.get(nid):
            event(nid, "grew", None, sites_added=added_by[nid], size=size_by.get(nid, 0))
            stats.grew += 1
        if removed_by.get(nid):
            event(nid, "shrank", None, sites_removed=removed_by[nid], size=size_by.get(nid, 0))
            stats.shrank += 1
    stats.merged = len(merged_into)
    stats.split = sum(1 for e in events if e["kind"] == "split") // 2
    dissolved = sorted(active - set(final.values()) - set(merged_into))
    for o in dissolved:
        event(o, "shrank", None, sites_removed=removed_by.get(o, 0), size=0, dissolved=True)
    stats.dissolved = len(dissolved)
    if events:
        conn.execute(insert(network_event), events)

    touched = {nid for nid in final.values() if added_by.get(nid) or removed_by.get(nid)}
    sized = [
        {"b_id": nid, "b_size": size_by.get(nid, 0)}
        for nid in sorted(touched | (set(final.values()) - active))
    ]
    if sized:
        conn.execute(
            update(network)
            .where(network.c.id == bindparam("b_id"))
            .values(size=bindparam("b_size"), updated_at=now, status="active", merged_into=None),
            sized,
        )
    if merged_into:
        conn.execute(
            update(network)
            .where(network.c.id == bindparam("b_id"))
            .values(status="merged", merged_into=bindparam("b_into"), size=0, updated_at=now),
            [{"b_id": o, "b_into": n} for o, n in merged_into.items()],
        )
    if dissolved:
        conn.execute(
            update(network)
            .where(network.c.id.in_(dissolved))
            .values(status="dissolved", size=0, updated_at=now)
        )
    _refresh_seen(conn, sorted(touched | (set(final.values()) - active)))
    stats.networks = len(final)
    t5 = time.perf_counter()
    stats.seconds["store"] = t5 - t4
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:network:recompute",
        object_kind="network",
        details=stats.as_dict(),
    )
    return stats


def _count_by(values: npt.NDArray[np.int64]) -> dict[int, int]:
    if values.size == 0:
        return {}
    ids, counts = np.unique(values, return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist(), strict=True))


def _node_keys(conn: Connection, node_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(node_ids), 500):
        part = node_ids[i : i + 500]
        for r in conn.execute(
            select(graph_node.c.id, graph_node.c.key).where(graph_node.c.id.in_(part))
        ):
            out[int(r.id)] = str(r.key)
    return out


def _refresh_seen(conn: Connection, network_ids: list[int]) -> None:
    """A network's first and last sighting: the earliest and latest of its current sites."""
    for i in range(0, len(network_ids), 500):
        part = network_ids[i : i + 500]
        rows = conn.execute(
            select(
                network_member.c.network_id,
                func.min(graph_node.c.first_seen),
                func.max(graph_node.c.last_seen),
            )
            .join(graph_node, graph_node.c.id == network_member.c.node_id)
            .where(network_member.c.network_id.in_(part), network_member.c.until.is_(None))
            .group_by(network_member.c.network_id)
        ).all()
        if rows:
            conn.execute(
                update(network)
                .where(network.c.id == bindparam("b_id"))
                .values(first_seen=bindparam("b_first"), last_seen=bindparam("b_last")),
                [{"b_id": r[0], "b_first": r[1], "b_last": r[2]} for r in rows],
            )

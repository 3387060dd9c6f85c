"""The clustering step: sites into networks, on numpy arrays with scipy's sparse graph routines.

Input is the edge list as arrays (source node, target node, edge kind code), node ids used
directly as indices; output is a component label per node, ``-1`` for sites in no network. The
rule (``cordon.graph.model``): strong edges join their ends; medium nodes link two sites when the
weights of the medium nodes both show add up to the threshold, counting only medium nodes seen on
at most ``medium_max_sites`` sites; weak edges are ignored. A network is a component with at
least ``min_sites`` sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from cordon.graph.model import ALL_EDGE_KINDS, ClusterRule, Strength

IntArray = npt.NDArray[np.int64]

#: Per edge kind code: joins its ends alone.
STRONG_BY_CODE = np.array([k.strength is Strength.STRONG for k in ALL_EDGE_KINDS], dtype=bool)
#: Per edge kind code: the medium weight (0 for others).
MEDIUM_BY_CODE = np.array(
    [k.weight if k.strength is Strength.MEDIUM else 0.0 for k in ALL_EDGE_KINDS], dtype=np.float64
)


@dataclass(frozen=True)
class Clustering:
    """Per node index: its network's component label, or -1 (not a site, or a site alone)."""

    labels: IntArray
    networks: int
    strong_edges: int
    medium_links: int


def _medium_links(
    src: IntArray, dst: IntArray, weight: npt.NDArray[np.float64], rule: ClusterRule
) -> tuple[IntArray, IntArray]:
    """Pairs of sites whose shared medium nodes weigh at least the threshold."""
    if src.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    # One (site, node) pair once, whatever the number of scopes that saw it (one int64 key
    # per pair).
    span = int(dst.max()) + 1
    rows = int(src.max()) + 1
    keys = np.sort(src * np.int64(span) + dst)
    # Sort and drop repeats: numpy's hash-based unique is several times slower here.
    pair = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    site, node = pair // span, pair % span
    degree = np.bincount(node, minlength=span)
    keep = (degree[node] >= 2) & (degree[node] <= rule.medium_max_sites)
    if not keep.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    site, node = site[keep], node[keep]
    node_weight = np.zeros(span)
    node_weight[dst] = weight
    b = csr_matrix((np.ones(site.size), (site, node)), shape=(rows, span))
    weighted = csr_matrix((node_weight[node], (site, node)), shape=(rows, span))
    # Entry (i, j): the summed weight of the medium nodes sites i and j both show.
    shared: Any = (weighted @ b.T).tocoo()
    threshold = rule.medium_threshold if rule.medium_threshold is not None else np.inf
    hit = (shared.row < shared.col) & (shared.data >= threshold - 1e-9)
    return shared.row[hit].astype(np.int64), shared.col[hit].astype(np.int64)


def cluster(
    src: IntArray,
    dst: IntArray,
    kind: npt.NDArray[np.integer],
    is_site: npt.NDArray[np.bool_],
    rule: ClusterRule | None = None,
) -> Clustering:
    """Label every site node with its network's component (see the module's docstring)."""
    rule = rule or ClusterRule()
    n = int(is_site.size)
    strong = STRONG_BY_CODE[kind]
    medium_w = MEDIUM_BY_CODE[kind]
    medium = medium_w > 0
    if rule.medium_threshold is None:
        medium = np.zeros_like(medium)
    ms, md = _medium_links(src[medium], dst[medium], medium_w[medium], rule)
    rows = np.concatenate([src[strong], ms])
    cols = np.concatenate([dst[strong], md])
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    labels = labels.astype(np.int64, copy=False)
    site_labels = labels[is_site]
    sizes = np.bincount(site_labels, minlength=int(labels.max()) + 1 if n else 0)
    in_network = is_site & (sizes[labels] >= rule.min_sites)
    out = np.where(in_network, labels, -1)
    return Clustering(
        labels=out,
        networks=int(np.count_nonzero(sizes >= rule.min_sites)),
        strong_edges=int(np.count_nonzero(strong)),
        medium_links=int(ms.size),
    )

"""Networks against the synthetic world's ground truth: pairwise precision and recall (printed,
at least 0.98 and 0.95), noise and unrelated sites that share only hosting or the CDN never
merged, hopping sites kept in their network across moves with the hop recorded, ids stable
across recomputes, a takedown's reappearance recorded, and explanations that name captures."""

from __future__ import annotations

from itertools import combinations

from sqlalchemy import select

from cordon.graph import repo
from cordon.store.db import read, write
from cordon.store.tables_crawl import capture
from cordon.store.tables_graph import network, network_event
from cordon.world import GroundTruth
from graph.conftest import GraphWorld


def _site_of_domain(truth: GroundTruth) -> dict[str, str]:
    out = {}
    for site in truth.sites:
        out[site.domain] = site.id
        for hop in site.hops:
            out[hop.domain] = site.id
    return out


def pairwise(truth: GroundTruth, network_of: dict[str, int]) -> tuple[float, float, int, int]:
    """Pairwise precision and recall of sites grouped into networks against the ground truth.

    Every site of the world counts; a site on several domains counts once, in the network of
    its domains (they must agree, else the pairs disagree)."""
    site_of = _site_of_domain(truth)
    predicted: dict[str, set[int]] = {}
    for domain, nid in network_of.items():
        if domain in site_of:
            predicted.setdefault(site_of[domain], set()).add(nid)
    tp = fp = fn = 0
    for a, b in combinations(truth.sites, 2):
        same_truth = a.network is not None and a.network == b.network
        same_pred = bool(predicted.get(a.id, set()) & predicted.get(b.id, set()))
        if same_truth and same_pred:
            tp += 1
        elif same_pred:
            fp += 1
        elif same_truth:
            fn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tp + fn, fp


def test_networks_match_the_ground_truth(graph_world: GraphWorld) -> None:
    for n, phase in enumerate(graph_world.phases, 1):
        precision, recall, true_pairs, false_pairs = pairwise(graph_world.truth, phase.network_of)
        print(
            f"\n[{graph_world.backend}] phase {n}: pairwise precision {precision:.4f}, recall "
            f"{recall:.4f} ({true_pairs} true pairs, {false_pairs} false), "
            f"{len(set(phase.network_of.values()))} networks"
        )
        assert precision >= 0.98
        assert recall >= 0.95
        assert true_pairs > 100


def test_noise_and_unrelated_sites_are_never_merged(graph_world: GraphWorld) -> None:
    truth = graph_world.truth
    for phase in graph_world.phases:
        for site in truth.sites:
            if site.network is None:
                assert site.domain not in phase.network_of, (site.id, site.role)
    # They do share hosting with network sites: the test would mean nothing otherwise.
    shared = {s.hosting.address for s in truth.sites if s.network is None} & {
        s.hosting.address for s in truth.sites if s.network is not None
    }
    cdn_fronted = [s for s in truth.sites if s.network is None and s.hosting.cdn]
    assert shared or cdn_fronted


def test_hopping_sites_stay_in_their_network_and_the_hop_is_recorded(
    graph_world: GraphWorld,
) -> None:
    truth = graph_world.truth
    final = graph_world.phases[-1].network_of
    hoppers = [s for s in truth.sites if s.hops and s.network]
    assert hoppers
    with read(graph_world.engine) as conn:
        hops = conn.execute(
            select(network_event.c.network_id, network_event.c.details).where(
                network_event.c.kind.in_(["hop", "reappeared"])
            )
        ).all()
    for site in hoppers:
        domains = [site.domain, *(h.domain for h in site.hops)]
        nets = {final[d] for d in domains if d in final}
        assert len(nets) == 1, (site.id, domains, nets)
        peers = {s.domain for s in truth.sites if s.network == site.network}
        assert {final.get(d) for d in peers} == nets
        noted = [d for nid, d in hops if nid in nets and d.get("site") in domains]
        assert noted, f"no hop or reappearance recorded for {site.id}"
    # A move of provider, and a move of domain (the old one redirecting to the new).
    assert {d.get("move") for _, d in hops} >= {"hosting", "domain"}


def test_network_ids_are_stable_across_recomputes(graph_world: GraphWorld) -> None:
    first, last = graph_world.phases[0].network_of, graph_world.phases[-1].network_of
    assert set(first.values())
    for domain, nid in first.items():
        assert last.get(domain) == nid, domain
    # The second recompute found new domains joining, no new network, no merge or split.
    report = graph_world.phases[-1].report["recompute"]
    assert report["created"] == 0
    assert report["merged"] == report["split"] == report["dissolved"] == 0
    assert report["grew"] >= 1


def test_a_takedown_and_the_sites_return_are_on_the_timeline(graph_world: GraphWorld) -> None:
    gone = graph_world.taken_down
    nid = graph_world.phases[-1].network_of[gone]
    with write(graph_world.engine) as conn:
        timeline = repo.timeline(conn, graph_world.reporter, nid)
        row = conn.execute(select(network).where(network.c.id == nid)).one()
    whats = [t["what"] for t in timeline]
    assert "reappeared" in whats, whats
    for what in ("site_joined", "hosting"):
        assert what in whats
    reasons = {r["factor"]: r for r in row.score_reasons}
    assert reasons["hops"]["value"] >= 1
    assert row.score == round(sum(r["points"] for r in row.score_reasons), 1)
    assert reasons["live_sites"]["value"] >= 1
    assert reasons["payment_identifiers"]["value"] >= 1


def test_explain_gives_the_chain_of_shared_identifiers_with_captures(
    graph_world: GraphWorld,
) -> None:
    truth = graph_world.truth
    final = graph_world.phases[-1].network_of
    with write(graph_world.engine) as conn:
        for net in truth.networks:
            fronts = [truth.site(s) for s in net.sites if truth.site(s).role == "storefront"]
            a, b = fronts[0].domain, fronts[-1].domain
            if a not in final or b not in final:
                a, b = (s.domain for s in fronts[:2])
            found = repo.explain(conn, graph_world.reporter, a, b)
            assert found is not None
            assert found["linked"], (a, b)
            chain = found["chain"]
            assert chain[0]["from"]["key"] == a
            assert chain[-1]["to"]["key"] == b
            for step in chain:
                edge = step["edge"]
                assert edge["strength"] == "strong"
                assert edge["proof_kind"] == "capture"
                assert conn.execute(
                    select(capture.c.id).where(capture.c.id == edge["capture_id"])
                ).scalar_one()
        # Two sites of different networks are not linked.
        n1, n2 = truth.networks[0], truth.networks[1]
        far = repo.explain(
            conn,
            graph_world.reporter,
            truth.site(n1.sites[-1]).domain,
            truth.site(n2.sites[-1]).domain,
        )
        assert far is not None
        assert not far["linked"]

"""The clustering rule on arrays, network identity across recomputes (growth, merge, split,
dissolution), the stage that keeps them current, and access filtering of every graph query."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Connection, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import GraphSettings, Settings
from cordon.domain.tlp import Tlp
from cordon.graph import ingest, repo, service
from cordon.graph.cluster import cluster
from cordon.graph.model import EDGE_KIND_CODES, ClusterRule
from cordon.graph.networks import recompute
from cordon.graph.stage import GraphStage
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.store.db import write
from cordon.store.tables import audit_event, work_item
from cordon.store.tables_graph import graph_edge, network, network_event
from graph.helpers import site_page
from support import make_member

ACTOR = Actor(source="cli")


def _arrays(edges: list[tuple[int, int, str]], sites: int, nodes: int) -> tuple:  # type: ignore[type-arg]
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    kind = np.array([EDGE_KIND_CODES[e[2]] for e in edges], dtype=np.int16)
    is_site = np.zeros(nodes, dtype=bool)
    is_site[:sites] = True
    return src, dst, kind, is_site


def test_strong_identifiers_join_and_hosting_never_does() -> None:
    # Sites 0-4; node 5 a wallet, 6 an analytics id, 7 a provider, 8 an address, 9 a registrar.
    edges = [
        (0, 5, "pays_to"),
        (1, 5, "pays_to"),
        (1, 6, "tracks_with"),
        (2, 6, "tracks_with"),
        (3, 7, "hosted_by"),
        (4, 7, "hosted_by"),
        (0, 8, "resolves_to"),
        (3, 8, "resolves_to"),
        (4, 9, "registered_with"),
        (2, 9, "registered_with"),
    ]
    found = cluster(*_arrays(edges, 5, 10))
    labels = found.labels
    assert labels[0] == labels[1] == labels[2] >= 0
    assert labels[3] == labels[4] == -1  # hosting, addresses and registrars alone: no network
    assert (labels[5:] == -1).all()  # only sites are labelled
    assert found.networks == 1


def test_medium_nodes_corroborate_but_join_only_when_asked_and_not_when_common() -> None:
    # Sites 0-3 share pictures 10, 11, 12 and template 13; 13 is also on sites 4-25 (a kit).
    edges = [(s, n, "shows_media") for s in (0, 1) for n in (10, 11, 12)]
    edges += [(s, 13, "uses_template") for s in (0, 1, *range(4, 26))]
    arrays = _arrays(edges, 26, 30)
    assert (cluster(*arrays).labels[:2] == -1).all()  # the shipped rule: never alone
    joined = cluster(*arrays, ClusterRule(medium_threshold=1.0)).labels
    assert joined[0] == joined[1] >= 0  # three shared pictures weigh 1.02
    assert joined[4] == -1  # a template on 24 sites counts for nothing
    two = [(s, n, "shows_media") for s in (0, 1) for n in (10, 11)]
    assert (cluster(*_arrays(two, 2, 30), ClusterRule(medium_threshold=1.0)).labels == -1).all()


def _network_of(conn: Connection, principal, site: str) -> int | None:  # type: ignore[no-untyped-def]
    return repo.network_of_site(conn, principal, site)


def test_ids_are_stable_as_networks_grow_and_a_merge_keeps_the_larger_id(
    conn: Connection, clock: FrozenClock, settings: Settings
) -> None:
    hotline = make_member(conn, clock, org_type="hotline")
    big = ["a1-net.test", "a2-net.test", "a3-net.test"]
    for i, d in enumerate(big):
        site_page(
            conn,
            clock,
            settings,
            hotline,
            d,
            [("email", "sales@brand-a.test"), ("analytics_id", f"tly:A{i}")],
        )
    site_page(conn, clock, settings, hotline, "b1-net.test", [("email", "desk@brand-b.test")])
    site_page(conn, clock, settings, hotline, "b2-net.test", [("email", "desk@brand-b.test")])
    site_page(conn, clock, settings, hotline, "lonely-net.test", [("email", "me@lonely.test")])
    first = service.run(conn, clock, ACTOR, GraphSettings())
    assert first.recompute is not None
    assert first.recompute.created == 2
    a = _network_of(conn, hotline, "a1-net.test")
    b = _network_of(conn, hotline, "b1-net.test")
    assert a is not None
    assert b is not None
    assert a != b
    assert _network_of(conn, hotline, "lonely-net.test") is None
    # A new site of brand A: A keeps its id and grows.
    clock.advance(timedelta(days=1))
    site_page(conn, clock, settings, hotline, "a4-net.test", [("analytics_id", "tly:A0")])
    grown = service.run(conn, clock, ACTOR, GraphSettings())
    assert grown.recompute is not None
    assert (grown.recompute.created, grown.recompute.grew) == (0, 1)
    assert _network_of(conn, hotline, "a4-net.test") == a
    # A site showing both brands' e-mails joins them: the larger (A) keeps its id.
    clock.advance(timedelta(days=1))
    site_page(
        conn,
        clock,
        settings,
        hotline,
        "bridge-net.test",
        [("email", "sales@brand-a.test"), ("email", "desk@brand-b.test")],
    )
    merged = service.run(conn, clock, ACTOR, GraphSettings())
    assert merged.recompute is not None
    assert merged.recompute.merged == 1
    for d in (*big, "b1-net.test", "b2-net.test", "bridge-net.test"):
        assert _network_of(conn, hotline, d) == a
    row = conn.execute(select(network).where(network.c.id == b)).one()
    assert (row.status, row.merged_into) == ("merged", a)
    events = conn.execute(
        select(network_event.c.network_id, network_event.c.other_network_id).where(
            network_event.c.kind == "merged"
        )
    ).all()
    assert set(events) == {(a, b), (b, a)}
    # Recomputing with nothing new changes nothing.
    again = recompute(conn, clock, ACTOR)
    assert (again.created, again.merged, again.split, again.grew) == (0, 0, 0, 0)


def test_a_split_is_recorded_on_both_networks(
    conn: Connection, clock: FrozenClock, settings: Settings
) -> None:
    hotline = make_member(conn, clock, org_type="hotline")
    # Two pairs joined only by three shared pictures: one network while pictures may join.
    site_page(
        conn,
        clock,
        settings,
        hotline,
        "p1-split.test",
        [("email", "x@p.test")],
        pictures=["u", "v", "w"],
    )
    site_page(conn, clock, settings, hotline, "p2-split.test", [("email", "x@p.test")])
    site_page(
        conn,
        clock,
        settings,
        hotline,
        "q1-split.test",
        [("email", "y@q.test")],
        pictures=["u", "v", "w"],
    )
    site_page(conn, clock, settings, hotline, "q2-split.test", [("email", "y@q.test")])
    ingest_all = GraphSettings(medium_threshold=1.0)
    service.run(conn, clock, ACTOR, ingest_all)
    one = _network_of(conn, hotline, "p1-split.test")
    assert one is not None
    assert one == _network_of(conn, hotline, "q2-split.test")
    clock.advance(timedelta(hours=1))
    split = service.run(conn, clock, ACTOR, GraphSettings())  # pictures no longer join
    assert split.recompute is not None
    assert split.recompute.split == 1
    p, q = _network_of(conn, hotline, "p1-split.test"), _network_of(conn, hotline, "q1-split.test")
    assert one in (p, q)
    assert p != q
    other = q if p == one else p
    kinds = conn.execute(
        select(
            network_event.c.network_id, network_event.c.kind, network_event.c.other_network_id
        ).where(network_event.c.kind == "split")
    ).all()
    assert set(kinds) == {(one, "split", other), (other, "split", one)}


def test_ingest_is_incremental_and_idempotent(
    conn: Connection, clock: FrozenClock, settings: Settings
) -> None:
    hotline = make_member(conn, clock, org_type="hotline")
    site_page(conn, clock, settings, hotline, "i1-inc.test", [("email", "z@inc.test")])
    stats = ingest.IngestStats()
    assert ingest.ingest_batch(conn, clock, "capture", stats=stats) == 1
    assert ingest.ingest_batch(conn, clock, "capture", stats=stats) == 0
    edges = conn.execute(select(graph_edge.c.id)).all()
    # Re-reading the same capture (a crash before the checkpoint moved) adds nothing.
    conn.execute(ingest.graph_checkpoint.delete())
    again = ingest.IngestStats()
    ingest.ingest_batch(conn, clock, "capture", stats=again)
    assert (again.nodes_added, again.edges_added) == (0, 0)
    assert conn.execute(select(graph_edge.c.id)).all() == edges
    assert ingest.pending(conn)["capture"] == 0


def test_the_stage_is_armed_by_a_capture_and_re_arms_itself(
    engine,
    clock: FrozenClock,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        site_page(conn, clock, settings, hotline, "s1-stage.test", [("email", "s@stage.test")])
        site_page(conn, clock, settings, hotline, "s2-stage.test", [("email", "s@stage.test")])
        armed = conn.execute(
            select(work_item.c.subject_id, work_item.c.state).where(work_item.c.stage == "graph")
        ).all()
    assert armed == [(1, "pending")]
    stats = run_until_idle(engine, [GraphStage()], StageContext(clock, settings))
    assert stats.done == 1
    with write(engine) as conn:
        assert repo.network_of_site(conn, hotline, "s1-stage.test") is not None
        items = dict(
            conn.execute(
                select(work_item.c.subject_id, work_item.c.next_run_at).where(
                    work_item.c.stage == "graph", work_item.c.state == "pending"
                )
            ).all()
        )
        assert conn.execute(
            select(audit_event.c.action).where(audit_event.c.action == "stage:network:recompute")
        ).first()
    assert items == {2: clock.now() + timedelta(minutes=settings.graph.recompute_minutes)}
    clock.advance(timedelta(minutes=settings.graph.recompute_minutes))
    assert run_until_idle(engine, [GraphStage()], StageContext(clock, settings)).done == 1


@pytest.mark.parametrize("hidden_tlp", [Tlp.AMBER_STRICT, Tlp.RED])
def test_an_edge_whose_capture_a_reader_cannot_read_is_hidden_from_every_query(
    conn: Connection, clock: FrozenClock, settings: Settings, hidden_tlp: Tlp
) -> None:
    owner = make_member(conn, clock, org_type="law_enforcement")
    other = make_member(conn, clock, org_type="hotline")
    # Three sites share an e-mail; the third's page was reported under a strict marking.
    site_page(conn, clock, settings, owner, "v1-acl.test", [("email", "ops@acl.test")])
    site_page(
        conn,
        clock,
        settings,
        owner,
        "v2-acl.test",
        [("email", "ops@acl.test"), ("messenger", "telegram:aclops")],
    )
    secret = site_page(
        conn,
        clock,
        settings,
        owner,
        "v3-acl.test",
        [("messenger", "telegram:aclops")],
        tlp=hidden_tlp,
    )
    service.run(conn, clock, ACTOR, GraphSettings())
    nid = repo.network_of_site(
        conn, owner if hidden_tlp is Tlp.AMBER_STRICT else other, "v1-acl.test"
    )
    assert nid is not None
    if hidden_tlp is Tlp.AMBER_STRICT:
        sees_all = owner
        assert {m["site"] for m in repo.members(conn, owner, nid)} == {
            "v1-acl.test",
            "v2-acl.test",
            "v3-acl.test",
        }
    else:
        sees_all = None  # RED: only named users (none named here)
    seen = {m["site"] for m in repo.members(conn, other, nid)}
    assert seen == {"v1-acl.test", "v2-acl.test"}
    assert repo.find_node(conn, other, "site", "v3-acl.test") is None
    assert repo.explain(conn, other, "v1-acl.test", "v3-acl.test") is None
    hood = repo.neighbourhood(
        conn, other, repo.find_node(conn, other, "site", "v2-acl.test") or 0, hops=3
    )
    assert hood is not None
    assert "v3-acl.test" not in {n["key"] for n in hood["nodes"]}
    assert all(e["capture_id"] != secret for e in hood["edges"])
    exported = repo.export(conn, clock, other, ACTOR, nid)
    assert exported is not None
    assert all(e["proof_id"] != secret for e in exported["edges"])
    picture = repo.picture(conn, other, nid)
    assert picture is not None
    assert "v3-acl.test" not in {n["data"]["key"] for n in picture["nodes"]}
    if sees_all is not None:
        chain = repo.explain(conn, sees_all, "v1-acl.test", "v3-acl.test")
        assert chain is not None
        assert chain["linked"]
        assert any(s["edge"]["capture_id"] == secret for s in chain["chain"])
    # A payment provider never browses the graph, even where the marking would let it.
    payment = make_member(conn, clock, org_type="payment_provider")
    assert repo.get_network(conn, payment, nid) is None
    assert repo.list_networks(conn, payment) == []

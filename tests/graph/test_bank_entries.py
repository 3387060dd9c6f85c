"""Matches of captured pictures against a bank entry become edges to a ``bank_entry`` node:
medium (corroborating, never joining by default), and readable only by those who may read both
the capture and the bank."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import GraphSettings, Settings
from cordon.domain.tlp import Tlp
from cordon.graph import repo, service
from cordon.store.tables_graph import graph_edge, graph_node
from cordon.store.tables_matching import sighting, sighting_match
from graph.helpers import site_page
from matching.helpers import add_entries, make_bank
from support import make_member

ACTOR = Actor(source="cli")


def _match(conn: Connection, clock: FrozenClock, capture_id: int, bank_id: int, entry: int) -> None:
    from cordon.store.tables_crawl import capture

    url_id = conn.execute(select(capture.c.url_id).where(capture.c.id == capture_id)).scalar_one()
    digest = hashlib.sha256(b"entry").hexdigest()
    sighting_id = conn.execute(
        sighting.insert()
        .values(
            source="capture", capture_id=capture_id, url_id=url_id, tlp="GREEN",
            signal_type="photo_sha256", signal=digest, variants={}, seen_at=clock.now(),
        )
        .returning(sighting.c.id)
    ).scalar_one()  # fmt: skip
    conn.execute(
        sighting_match.insert().values(
            sighting_id=sighting_id, entry_id=entry, bank_id=bank_id, signal_type="photo_sha256",
            distance=0, variant="original", status="active", retroactive=False,
            matched_at=clock.now(), reference_state="not_needed", confirmed=False,
        )
    )  # fmt: skip


def test_matches_of_one_bank_entry_corroborate_and_follow_the_banks_readers(
    conn: Connection, clock: FrozenClock, settings: Settings
) -> None:
    hotline = make_member(conn, clock, org_type="hotline")
    bank_owner = make_member(conn, clock, org_type="technology")
    bank_id = make_bank(conn, clock, bank_owner, "STRICT_LIST", tlp=Tlp.AMBER_STRICT)
    (entry,) = add_entries(
        conn, clock, bank_owner, "STRICT_LIST", [("photo_sha256", hashlib.sha256(b"e").hexdigest())]
    )
    one = site_page(conn, clock, settings, hotline, "first-bank.test", [("email", "a@one.test")])
    two = site_page(conn, clock, settings, hotline, "second-bank.test", [("email", "b@two.test")])
    _match(conn, clock, one, bank_id, entry)
    _match(conn, clock, two, bank_id, entry)
    report = service.run(conn, clock, ACTOR, GraphSettings())
    assert report.ingest.records["sighting_match"] == 2
    edges = conn.execute(
        select(graph_edge.c.proof_kind, graph_node.c.kind, graph_node.c.ref_id)
        .join(graph_node, graph_node.c.id == graph_edge.c.dst_id)
        .where(graph_edge.c.kind == "matches_entry")
    ).all()
    assert edges == [("sighting_match", "bank_entry", entry)] * 2
    # One shared entry is corroboration: no network.
    assert repo.network_of_site(conn, hotline, "first-bank.test") is None
    node_id = repo.find_node(conn, bank_owner, "bank_entry", str(entry))
    # The bank's owner reads the bank and the (GREEN) captures: it sees the entry.
    assert node_id is not None
    # The hotline reads the captures, not the AMBER+STRICT bank: the entry is hidden from it.
    assert repo.find_node(conn, hotline, "bank_entry", str(entry)) is None
    hood = repo.neighbourhood(
        conn, hotline, repo.find_node(conn, hotline, "site", "first-bank.test") or 0
    )
    assert hood is not None
    assert "bank_entry" not in {n["kind"] for n in hood["nodes"]}

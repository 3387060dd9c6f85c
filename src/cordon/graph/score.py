"""Ranking networks, and the brand's history: hops and reappearances.

The score is a sum of points per factor, each listed beside the number with the count it came
from (``score_reasons``), so that a reader can check it by hand:

| factor | points | cap |
| --- | --- | --- |
| confirmed URLs (matched a hash list: ``url_confirmation``) | 10 each | 200 |
| live sites (a URL of the site last crawled live) | 5 each | 100 |
| payment identifiers (wallets, merchant accounts, ...) | 3 each | 60 |
| longevity (first to last sighting) | 1 per week | 52 |
| hops (moves of provider, country or domain; returns after a takedown) | 4 each | 40 |
| unanswered notices (about its identifiers or URLs) | 2 each | 40 |
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, insert, select, update

from cordon.clock import Clock
from cordon.store.tables import attribution_hop, url
from cordon.store.tables_crawl import capture, crawl_schedule
from cordon.store.tables_graph import graph_edge, graph_node, network, network_event, network_member
from cordon.store.tables_money import notice, url_confirmation


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    points_each: float
    cap: float
    why: str


FACTORS: tuple[Factor, ...] = (
    Factor("confirmed_urls", 10, 200, "URLs whose pictures matched a hash list"),
    Factor("live_sites", 5, 100, "sites live at their last crawl"),
    Factor("payment_identifiers", 3, 60, "payment identifiers seen on its sites"),
    Factor("longevity_weeks", 1, 52, "weeks between its first and last sighting"),
    Factor("hops", 4, 40, "moves of provider, country or domain, and returns after takedown"),
    Factor("unanswered_notices", 2, 40, "notices about it still unanswered"),
)


def _members() -> Any:
    return (
        select(network_member.c.network_id, graph_node.c.id.label("node_id"), graph_node.c.key)
        .join(graph_node, graph_node.c.id == network_member.c.node_id)
        .where(network_member.c.until.is_(None))
        .subquery()
    )


def _grouped(conn: Connection, stmt: Any) -> dict[int, int]:
    return {int(r[0]): int(r[1]) for r in conn.execute(stmt)}


def factor_values(conn: Connection, network_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """Each factor's count per network."""
    m = _members()
    ids = list(network_ids)
    within = m.c.network_id.in_(ids)
    confirmed = _grouped(
        conn,
        select(m.c.network_id, func.count(url_confirmation.c.url_id))
        .join(url_confirmation, url_confirmation.c.site == m.c.key)
        .where(within)
        .group_by(m.c.network_id),
    )
    live = _grouped(
        conn,
        select(m.c.network_id, func.count(func.distinct(m.c.node_id)))
        .join(url, url.c.registrable_domain == m.c.key)
        .join(crawl_schedule, crawl_schedule.c.url_id == url.c.id)
        .where(within, crawl_schedule.c.state == "live")
        .group_by(m.c.network_id),
    )
    payments = _grouped(
        conn,
        select(m.c.network_id, func.count(func.distinct(graph_edge.c.dst_id)))
        .join(graph_edge, and_(graph_edge.c.src_id == m.c.node_id, graph_edge.c.kind == "pays_to"))
        .where(within)
        .group_by(m.c.network_id),
    )
    hops = _grouped(
        conn,
        select(network_event.c.network_id, func.count())
        .where(
            network_event.c.network_id.in_(ids),
            network_event.c.kind.in_(["hop", "reappeared"]),
        )
        .group_by(network_event.c.network_id),
    )
    target = graph_node.alias("target")
    unanswered_pay = _grouped(
        conn,
        select(m.c.network_id, func.count(func.distinct(notice.c.id)))
        .join(graph_edge, and_(graph_edge.c.src_id == m.c.node_id, graph_edge.c.kind == "pays_to"))
        .join(target, target.c.id == graph_edge.c.dst_id)
        .join(
            notice,
            and_(
                notice.c.subject_kind == "payment_identifier",
                notice.c.subject_id == target.c.ref_id,
            ),
        )
        .where(within, notice.c.state == "sent", notice.c.answer.is_(None))
        .group_by(m.c.network_id),
    )
    unanswered_url = _grouped(
        conn,
        select(m.c.network_id, func.count(func.distinct(notice.c.id)))
        .join(url, url.c.registrable_domain == m.c.key)
        .join(notice, and_(notice.c.subject_kind == "url", notice.c.subject_id == url.c.id))
        .where(within, notice.c.state == "sent", notice.c.answer.is_(None))
        .group_by(m.c.network_id),
    )
    spans = {
        int(r.id): (r.first_seen, r.last_seen)
        for r in conn.execute(
            select(network.c.id, network.c.first_seen, network.c.last_seen).where(
                network.c.id.in_(ids)
            )
        )
    }
    out: dict[int, dict[str, float]] = {}
    for nid in ids:
        first, last = spans.get(nid, (None, None))
        weeks = (last - first).total_seconds() / (7 * 86400) if first and last else 0.0
        out[nid] = {
            "confirmed_urls": confirmed.get(nid, 0),
            "live_sites": live.get(nid, 0),
            "payment_identifiers": payments.get(nid, 0),
            "longevity_weeks": round(weeks, 1),
            "hops": hops.get(nid, 0),
            "unanswered_notices": unanswered_pay.get(nid, 0) + unanswered_url.get(nid, 0),
        }
    return out


def score_of(values: dict[str, float]) -> tuple[float, list[dict[str, Any]]]:
    """The score and its reasons, one per factor, for the counts in ``values``."""
    reasons = []
    total = 0.0
    for f in FACTORS:
        value = values.get(f.name, 0)
        points = round(min(f.cap, value * f.points_each), 1)
        total += points
        reasons.append(
            {
                "factor": f.name,
                "value": value,
                "points": points,
                "why": f"{value:g} {f.why} × {f.points_each:g}"
                + (f" (capped at {f.cap:g})" if value * f.points_each > f.cap else ""),
            }
        )
    return round(total, 1), reasons


def score_networks(conn: Connection, clock: Clock, network_ids: Sequence[int] | None = None) -> int:
    """Score the given networks (every active one by default); returns how many."""
    if network_ids is None:
        network_ids = list(
            conn.execute(select(network.c.id).where(network.c.status == "active")).scalars()
        )
    rows = []
    for i in range(0, len(network_ids), 500):
        part = list(network_ids[i : i + 500])
        for nid, values in factor_values(conn, part).items():
            score, reasons = score_of(values)
            rows.append({"b_id": nid, "b_score": score, "b_reasons": reasons})
    if rows:
        conn.execute(
            update(network)
            .where(network.c.id == bindparam("b_id"))
            .values(score=bindparam("b_score"), score_reasons=bindparam("b_reasons")),
            rows,
        )
    return len(rows)


# ---------------------------------------------------------------------------- brand history


def _recorded_refs(conn: Connection) -> set[str]:
    refs: set[str] = set()
    for details in conn.execute(
        select(network_event.c.details).where(network_event.c.kind.in_(["hop", "reappeared"]))
    ).scalars():
        if isinstance(details, dict) and isinstance(details.get("ref"), str):
            refs.add(details["ref"])
    return refs


def record_history(conn: Connection, clock: Clock) -> int:
    """Record hops and reappearances of active networks' sites not recorded before.

    * a hop: an attribution hop of a member site's URL (provider, AS or country moved), or a
      member site that showed pages of its own now redirecting to another member (a new domain);
    * a reappearance: a member URL live again after a capture found it gone, or a site joining
      a network after another of its sites went gone.

    Returns the number of events written.
    """
    now = clock.now()
    seen = _recorded_refs(conn)
    m = _members()
    r: Any
    events: list[dict[str, Any]] = []

    def add(nid: int, kind: str, at: datetime, ref: str, **details: Any) -> None:
        if ref in seen:
            return
        seen.add(ref)
        events.append(
            {
                "network_id": nid,
                "kind": kind,
                "other_network_id": None,
                "at": at or now,
                "details": {"ref": ref, **details},
            }
        )

    for r in conn.execute(
        select(
            m.c.network_id,
            m.c.key,
            attribution_hop.c.id,
            attribution_hop.c.at,
            attribution_hop.c.old_provider,
            attribution_hop.c.new_provider,
            attribution_hop.c.old_country,
            attribution_hop.c.new_country,
            attribution_hop.c.old_host,
            attribution_hop.c.new_host,
        )
        .join(url, url.c.registrable_domain == m.c.key)
        .join(attribution_hop, attribution_hop.c.url_id == url.c.id)
        .order_by(attribution_hop.c.id)
    ):
        add(
            r.network_id,
            "hop",
            r.at,
            # One move of a site, whichever of its URLs showed it first.
            f"hosting:{r.key}:{r.old_provider}>{r.new_provider}:{r.old_country}>{r.new_country}"
            f":{r.at:%Y-%m-%d}",
            site=r.key,
            attribution_hop_id=r.id,
            move="hosting",
            old_provider=r.old_provider,
            new_provider=r.new_provider,
            old_country=r.old_country,
            new_country=r.new_country,
        )
    # A site with pages of its own that now redirects to another member: the brand moved domain.
    m2 = _members()
    has_pages = (
        select(graph_edge.c.src_id)
        .where(graph_edge.c.kind == "uses_template")
        .distinct()
        .scalar_subquery()
    )
    for r in conn.execute(
        select(
            m.c.network_id,
            m.c.key,
            m2.c.key.label("new_key"),
            graph_edge.c.id,
            graph_edge.c.first_seen,
            graph_edge.c.proof_id,
        )
        .join(
            graph_edge,
            and_(graph_edge.c.src_id == m.c.node_id, graph_edge.c.kind == "redirects_to"),
        )
        .join(m2, and_(m2.c.node_id == graph_edge.c.dst_id, m2.c.network_id == m.c.network_id))
        .where(m.c.node_id.in_(has_pages))
        .order_by(graph_edge.c.id)
    ):
        add(
            r.network_id,
            "hop",
            r.first_seen,
            f"redirect:{r.key}>{r.new_key}",
            site=r.new_key,
            move="domain",
            old_domain=r.key,
            new_domain=r.new_key,
            capture_id=r.proof_id,
        )
    # A URL live again after a capture found it gone.
    before = capture.alias("before")
    for r in conn.execute(
        select(m.c.network_id, m.c.key, capture.c.id, capture.c.finished_at, url.c.url)
        .join(url, url.c.registrable_domain == m.c.key)
        .join(capture, capture.c.url_id == url.c.id)
        .join(
            before,
            and_(
                before.c.url_id == capture.c.url_id,
                before.c.seq == capture.c.seq - 1,
                before.c.outcome == "gone",
            ),
        )
        .where(capture.c.outcome == "live")
        .order_by(capture.c.id)
    ):
        add(
            r.network_id,
            "reappeared",
            r.finished_at,
            f"capture:{r.id}",
            site=r.key,
            how="live again",
            capture_id=r.id,
        )
    # A site joining after another of the network's sites went gone.
    gone: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for r in conn.execute(
        select(m.c.network_id, m.c.key, func.min(crawl_schedule.c.gone_since))
        .join(url, url.c.registrable_domain == m.c.key)
        .join(crawl_schedule, crawl_schedule.c.url_id == url.c.id)
        .group_by(m.c.network_id, m.c.key)
        .having(func.sum(case((crawl_schedule.c.state == "live", 1), else_=0)) == 0)
        .having(func.min(crawl_schedule.c.gone_since).is_not(None))
    ):
        gone[int(r[0])].append((r[1], r[2]))
    if gone:
        for r in conn.execute(
            select(m.c.network_id, m.c.key, graph_node.c.first_seen)
            .join(graph_node, graph_node.c.id == m.c.node_id)
            .where(m.c.network_id.in_(list(gone)))
        ):
            for old, since in gone[r.network_id]:
                if old != r.key and since is not None and r.first_seen > since:
                    add(
                        r.network_id,
                        "reappeared",
                        r.first_seen,
                        f"successor:{old}>{r.key}",
                        site=r.key,
                        how="new site after takedown",
                        gone_site=old,
                    )
                    break
    if events:
        conn.execute(insert(network_event), events)
    return len(events)

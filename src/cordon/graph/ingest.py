"""Incremental ingest: turn new captures, attributions and payment sightings into graph edges.

Each source table is read from its checkpoint (the highest id ingested) in id order, a batch at a
time; a batch's nodes, edges and the moved checkpoint commit together, so a crash repeats at most
one batch and repeating one changes nothing (nodes and edges are upserted by their natural keys).

What each source gives (every edge starts at a site, the URL's registrable domain):

* a capture: the URL, payment identifiers, analytics ids, e-mails and messenger handles on the
  page, its pictures (SHA-256, MD5, PDQ), the page template, redirects to other sites, pictures
  served from other sites, payment details shown only with another site as referrer, and links to
  other sites. Proof: the capture; access: the reports naming the URL.
* an attribution: address, AS, hosting provider, CDN, registrar. Proof: the attribution.
* a payment sighting recorded by an organisation (a test purchase, an analyst): the identifier.
  Proof: the sighting, with its own marking. Sightings the crawler made are read from their
  capture instead.
* an active match of a captured picture against a bank entry: the entry. Proof: the match
  (readable by who may read both its capture and its bank).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cordon.clock import Clock
from cordon.domain.tlp import Tlp, strictest
from cordon.domain.urls import InvalidUrl, normalize_url
from cordon.graph.model import EDGE_KINDS, INDICATOR_EDGES, NodeKind
from cordon.store.db import is_postgres
from cordon.store.tables import attribution, report, report_url, url
from cordon.store.tables_crawl import (
    capture,
    capture_indicator,
    capture_report,
    crawl_link,
    media_sighting,
)
from cordon.store.tables_graph import graph_checkpoint, graph_edge, graph_node
from cordon.store.tables_matching import sighting, sighting_match
from cordon.store.tables_money import payment_identifier, payment_sighting, test_purchase

SOURCES = ("capture", "attribution", "payment_sighting", "sighting_match")
_CHUNK = 400


@dataclass(frozen=True, slots=True)
class Fact:
    """One observed link, before it has node ids."""

    src: tuple[str, str]
    dst: tuple[str, str]
    kind: str
    at: datetime
    proof_kind: str
    proof_id: int
    scope: str
    url_id: int | None
    org_id: int | None
    tlp: str | None
    dst_label: str | None = None
    dst_ref: int | None = None


@dataclass
class IngestStats:
    """What one ingest run read and wrote."""

    records: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SOURCES})
    nodes_added: int = 0
    edges_added: int = 0
    edges_updated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": dict(self.records),
            "nodes_added": self.nodes_added,
            "edges_added": self.edges_added,
            "edges_updated": self.edges_updated,
        }


@lru_cache(maxsize=65536)
def site_of(text: str | None) -> str | None:
    """The registrable domain of a URL, or None when it is not an http(s) URL."""
    if not text or text.startswith("data:"):
        return None
    try:
        return normalize_url(text).registrable_domain or None
    except (InvalidUrl, ValueError):
        return None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _insert(conn: Connection, table: Any) -> Any:
    return (pg_insert if is_postgres(conn) else sqlite_insert)(table)


# ------------------------------------------------------------------------ checkpoints


def checkpoints(conn: Connection) -> dict[str, int]:
    """The highest id ingested per source (0 when none)."""
    found = dict(conn.execute(select(graph_checkpoint.c.source, graph_checkpoint.c.last_id)).all())
    return {s: int(found.get(s, 0)) for s in SOURCES}


def _move_checkpoint(conn: Connection, source: str, last_id: int, now: datetime) -> None:
    stmt = _insert(conn, graph_checkpoint).values(source=source, last_id=last_id, updated_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["source"], set_={"last_id": last_id, "updated_at": now}
        )
    )


# ------------------------------------------------------------------------ reading sources


def _url_markings(conn: Connection, url_ids: Iterable[int]) -> dict[int, tuple[int | None, str]]:
    """Per URL: the owner of its first report and the strictest marking of its reports."""
    out: dict[int, tuple[int | None, str]] = {}
    ids = sorted(set(url_ids))
    for part in _chunks(ids):
        rows = conn.execute(
            select(report_url.c.url_id, report.c.id, report.c.owner_org_id, report.c.tlp)
            .join(report, report.c.id == report_url.c.report_id)
            .where(report_url.c.url_id.in_(part))
            .order_by(report_url.c.url_id, report.c.id)
        ).all()
        for r in rows:
            owner, tlp = out.get(r.url_id, (r.owner_org_id, Tlp.CLEAR.value))
            out[r.url_id] = (owner, strictest([Tlp(tlp), Tlp(r.tlp)]).value)
    return out


def _capture_owners(conn: Connection, capture_ids: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for part in _chunks(capture_ids):
        rows = conn.execute(
            select(capture_report.c.capture_id, report.c.owner_org_id)
            .join(report, report.c.id == capture_report.c.report_id)
            .where(capture_report.c.capture_id.in_(part))
            .order_by(capture_report.c.capture_id, report.c.id)
        ).all()
        for r in rows:
            out.setdefault(r.capture_id, r.owner_org_id)
    return out


def _capture_facts(conn: Connection, after: int, limit: int) -> tuple[list[Fact], int, int]:
    rows = conn.execute(
        select(
            capture.c.id,
            capture.c.url_id,
            capture.c.tlp,
            capture.c.finished_at,
            capture.c.outcome,
            capture.c.final_url,
            capture.c.redirects,
            capture.c.cloaking_detail,
            capture.c.template_fingerprint,
            url.c.url,
            url.c.registrable_domain,
        )
        .join(url, url.c.id == capture.c.url_id)
        .where(capture.c.id > after)
        .order_by(capture.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return [], after, 0
    ids = [row.id for row in rows]
    owners = _capture_owners(conn, ids)
    by_capture: dict[int, list[Any]] = {i: [] for i in ids}
    media: dict[int, list[Any]] = {i: [] for i in ids}
    links: dict[int, list[Any]] = {i: [] for i in ids}
    r: Any
    for part in _chunks(ids):
        for r in conn.execute(
            select(
                capture_indicator.c.capture_id, capture_indicator.c.kind, capture_indicator.c.key
            )
            .where(capture_indicator.c.capture_id.in_(part))
            .order_by(capture_indicator.c.id)
        ):
            by_capture[r.capture_id].append(r)
        for r in conn.execute(
            select(
                media_sighting.c.capture_id,
                media_sighting.c.url,
                media_sighting.c.sha256,
                media_sighting.c.md5,
                media_sighting.c.pdq,
            )
            .where(media_sighting.c.capture_id.in_(part), media_sighting.c.status == "hashed")
            .order_by(media_sighting.c.id)
        ):
            media[r.capture_id].append(r)
        for r in conn.execute(
            select(crawl_link.c.from_capture_id, url.c.registrable_domain)
            .join(url, url.c.id == crawl_link.c.to_url_id)
            .where(crawl_link.c.from_capture_id.in_(part), crawl_link.c.cross_site.is_(True))
            .order_by(crawl_link.c.id)
        ):
            links[r.from_capture_id].append(r)
    facts: list[Fact] = []
    payment_keys: set[str] = set()
    for c in rows:
        requested = c.registrable_domain
        if not requested:
            continue
        # What the page showed belongs to the site that served it, after any redirects.
        site = site_of(c.final_url) or requested

        def fact(
            kind: str,
            dst: tuple[str, str],
            *,
            label: str | None = None,
            ref: int | None = None,
            src: str = site,
            c: Any = c,
        ) -> Fact:
            return Fact(
                src=(NodeKind.SITE.value, src),
                dst=dst,
                kind=kind,
                at=c.finished_at,
                proof_kind="capture",
                proof_id=c.id,
                scope=f"url:{c.url_id}",
                url_id=c.url_id,
                org_id=owners.get(c.id),
                tlp=c.tlp,
                dst_label=label,
                dst_ref=ref,
            )

        facts.append(
            fact("has_url", (NodeKind.URL.value, c.url[:512]), ref=c.url_id, src=requested)
        )
        # Redirects: every hop from one site to another, and the final page's site.
        hops = [h.get("url") for h in (c.redirects or []) if isinstance(h, dict)]
        if c.final_url:
            hops.append(c.final_url)
        previous = requested
        for hop in hops:
            there = site_of(hop)
            if there and there != previous:
                facts.append(fact("redirects_to", (NodeKind.SITE.value, there), src=previous))
                previous = there
            elif there:
                previous = there
        if c.outcome == "live" and c.template_fingerprint:
            facts.append(fact("uses_template", (NodeKind.TEMPLATE.value, c.template_fingerprint)))
        for probe in c.cloaking_detail or []:
            if not isinstance(probe, dict) or probe.get("probe") != "referrer":
                continue
            gate = site_of(probe.get("referrer"))
            if gate and gate != site and probe.get("payments_only_in_probe"):
                facts.append(fact("gated_by", (NodeKind.SITE.value, gate)))
        for m in media[c.id]:
            if m.sha256:
                facts.append(fact("shows_media", (NodeKind.MEDIA_SHA256.value, m.sha256)))
            if m.md5:
                facts.append(fact("shows_media_md5", (NodeKind.MEDIA_MD5.value, m.md5)))
            if m.pdq:
                facts.append(fact("shows_media_pdq", (NodeKind.MEDIA_PDQ.value, m.pdq)))
            host = site_of(m.url)
            if host and host != site:
                facts.append(fact("embeds_from", (NodeKind.SITE.value, host)))
        for ind in by_capture[c.id]:
            edge = INDICATOR_EDGES.get(ind.kind)
            if edge is None:
                continue
            target = EDGE_KINDS[edge].target
            key = ind.key.lower() if target is NodeKind.EMAIL else ind.key
            facts.append(fact(edge, (target.value, key[:512])))
            if target is NodeKind.PAYMENT:
                payment_keys.add(key)
        for link in links[c.id]:
            if link.registrable_domain and link.registrable_domain != site:
                facts.append(fact("links_to", (NodeKind.SITE.value, link.registrable_domain)))
    if payment_keys:
        refs = _payment_refs(conn, payment_keys)
        facts = [
            Fact(**{**_as_kwargs(f), "dst_ref": refs.get(f.dst[1])})
            if f.dst[0] == NodeKind.PAYMENT.value
            else f
            for f in facts
        ]
    return facts, rows[-1].id, len(rows)


def _as_kwargs(f: Fact) -> dict[str, Any]:
    return {name: getattr(f, name) for name in Fact.__slots__}


def _payment_refs(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in _chunks(sorted(keys)):
        out.update(
            conn.execute(
                select(payment_identifier.c.key, payment_identifier.c.id).where(
                    payment_identifier.c.key.in_(part)
                )
            ).all()
        )
    return out


def _attribution_facts(conn: Connection, after: int, limit: int) -> tuple[list[Fact], int, int]:
    rows = conn.execute(
        select(attribution).where(attribution.c.id > after).order_by(attribution.c.id).limit(limit)
    ).all()
    if not rows:
        return [], after, 0
    marks = _url_markings(conn, (r.url_id for r in rows))
    facts: list[Fact] = []
    for a in rows:
        site = a.registrable_domain
        if not site:
            continue
        owner, tlp = marks.get(a.url_id, (None, None))

        def fact(
            kind: str,
            dst: tuple[str, str],
            label: str | None = None,
            a: Any = a,
            site: str = site,
            owner: int | None = owner,
            tlp: str | None = tlp,
        ) -> Fact:
            return Fact(
                src=(NodeKind.SITE.value, site),
                dst=dst,
                kind=kind,
                at=a.observed_at,
                proof_kind="attribution",
                proof_id=a.id,
                scope=f"url:{a.url_id}",
                url_id=a.url_id,
                org_id=owner,
                tlp=tlp,
                dst_label=label,
            )

        for address in {a.address, a.origin_address} - {None}:
            facts.append(fact("resolves_to", (NodeKind.IP.value, str(address))))
        if a.asn is not None:
            facts.append(fact("announced_by", (NodeKind.ASN.value, str(a.asn)), a.as_org))
        for provider in {a.provider, a.origin_provider} - {None}:
            facts.append(
                fact("hosted_by", (NodeKind.PROVIDER.value, str(provider).lower()), provider)
            )
        if a.cdn:
            facts.append(fact("fronted_by", (NodeKind.CDN.value, a.cdn)))
        if a.registrar_iana_id is not None:
            facts.append(
                fact(
                    "registered_with",
                    (NodeKind.REGISTRAR.value, f"iana:{a.registrar_iana_id}"),
                    a.registrar,
                )
            )
        elif a.registrar:
            facts.append(
                fact(
                    "registered_with", (NodeKind.REGISTRAR.value, a.registrar.lower()), a.registrar
                )
            )
    return facts, rows[-1].id, len(rows)


def _sighting_facts(conn: Connection, after: int, limit: int) -> tuple[list[Fact], int, int]:
    rows = conn.execute(
        select(
            payment_sighting.c.id,
            payment_sighting.c.site,
            payment_sighting.c.source,
            payment_sighting.c.url_id,
            payment_sighting.c.owner_org_id,
            payment_sighting.c.tlp,
            payment_sighting.c.first_seen_at,
            payment_identifier.c.id.label("identifier_id"),
            payment_identifier.c.key,
            payment_identifier.c.value,
            test_purchase.c.owner_org_id.label("purchase_owner"),
            test_purchase.c.tlp.label("purchase_tlp"),
        )
        .join(payment_identifier, payment_identifier.c.id == payment_sighting.c.identifier_id)
        .outerjoin(test_purchase, test_purchase.c.id == payment_sighting.c.test_purchase_id)
        .where(payment_sighting.c.id > after)
        .order_by(payment_sighting.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return [], after, 0
    facts = [
        Fact(
            src=(NodeKind.SITE.value, s.site),
            dst=(NodeKind.PAYMENT.value, s.key[:512]),
            kind="pays_to",
            at=s.first_seen_at,
            proof_kind="payment_sighting",
            proof_id=s.id,
            scope=f"payment_sighting:{s.id}",
            url_id=s.url_id,
            org_id=s.owner_org_id or s.purchase_owner,
            tlp=s.tlp or s.purchase_tlp,
            dst_label=s.value,
            dst_ref=s.identifier_id,
        )
        for s in rows
        # The crawler's own sightings are ingested from their captures.
        if s.source != "crawl" and s.site
    ]
    return facts, rows[-1].id, len(rows)


def _match_facts(conn: Connection, after: int, limit: int) -> tuple[list[Fact], int, int]:
    rows = conn.execute(
        select(
            sighting_match.c.id,
            sighting_match.c.entry_id,
            sighting_match.c.bank_id,
            sighting_match.c.status,
            sighting_match.c.matched_at,
            sighting.c.url_id,
            capture.c.final_url,
            capture.c.tlp,
            url.c.registrable_domain,
        )
        # Outer joins: a match of a sighting sent through the API has no site, yet moves the
        # checkpoint.
        .outerjoin(sighting, sighting.c.id == sighting_match.c.sighting_id)
        .outerjoin(capture, capture.c.id == sighting.c.capture_id)
        .outerjoin(url, url.c.id == capture.c.url_id)
        .where(sighting_match.c.id > after)
        .order_by(sighting_match.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return [], after, 0
    marks = _url_markings(conn, (r.url_id for r in rows if r.url_id is not None))
    facts = [
        Fact(
            src=(NodeKind.SITE.value, site_of(m.final_url) or m.registrable_domain),
            dst=(NodeKind.BANK_ENTRY.value, str(m.entry_id)),
            kind="matches_entry",
            at=m.matched_at,
            proof_kind="sighting_match",
            proof_id=m.id,
            scope=f"sighting_match:{m.id}",
            url_id=m.url_id,
            org_id=marks.get(m.url_id, (None, None))[0] if m.url_id else None,
            tlp=m.tlp,
            dst_label=f"bank {m.bank_id} entry {m.entry_id}",
            dst_ref=m.entry_id,
        )
        for m in rows
        # Suppressed and quarantined matches say nothing about the site.
        if m.status == "active" and (m.final_url or m.registrable_domain)
    ]
    return facts, rows[-1].id, len(rows)


_READERS = {
    "capture": _capture_facts,
    "attribution": _attribution_facts,
    "payment_sighting": _sighting_facts,
    "sighting_match": _match_facts,
}


# ------------------------------------------------------------------------ writing


def _upsert_nodes(conn: Connection, facts: Sequence[Fact], stats: IngestStats) -> dict[Any, int]:
    """Node ids for every endpoint of ``facts``; new nodes inserted, seen-times widened."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for f in facts:
        for end, label, ref in ((f.src, f.src[1], None), (f.dst, f.dst_label, f.dst_ref)):
            cur = wanted.get(end)
            if cur is None:
                wanted[end] = {"first": f.at, "last": f.at, "label": label, "ref": ref}
            else:
                cur["first"] = min(cur["first"], f.at)
                cur["last"] = max(cur["last"], f.at)
                cur["label"] = cur["label"] or label
                cur["ref"] = cur["ref"] or ref
    keys = list(wanted)
    ids: dict[tuple[str, str], int] = {}
    existing: dict[tuple[str, str], Any] = {}
    r: Any
    for part in _chunks(keys):
        for r in conn.execute(
            select(
                graph_node.c.id,
                graph_node.c.kind,
                graph_node.c.key,
                graph_node.c.first_seen,
                graph_node.c.last_seen,
            ).where(tuple_(graph_node.c.kind, graph_node.c.key).in_(part))
        ):
            existing[(r.kind, r.key)] = r
            ids[(r.kind, r.key)] = r.id
    missing = [k for k in keys if k not in existing]
    if missing:
        rows = [
            {
                "kind": k[0],
                "key": k[1],
                "label": (wanted[k]["label"] or k[1])[:512],
                "ref_id": wanted[k]["ref"],
                "first_seen": wanted[k]["first"],
                "last_seen": wanted[k]["last"],
            }
            for k in missing
        ]
        conn.execute(_insert(conn, graph_node).on_conflict_do_nothing(), rows)
        stats.nodes_added += len(rows)
        for part in _chunks(missing):
            for r in conn.execute(
                select(graph_node.c.id, graph_node.c.kind, graph_node.c.key).where(
                    tuple_(graph_node.c.kind, graph_node.c.key).in_(part)
                )
            ):
                ids[(r.kind, r.key)] = r.id
    changed = []
    for k, r in existing.items():
        w = wanted[k]
        first, last = min(r.first_seen, w["first"]), max(r.last_seen, w["last"])
        if first != r.first_seen or last != r.last_seen:
            changed.append({"b_id": r.id, "b_first": first, "b_last": last})
    if changed:
        conn.execute(
            update(graph_node)
            .where(graph_node.c.id == bindparam("b_id"))
            .values(first_seen=bindparam("b_first"), last_seen=bindparam("b_last")),
            changed,
        )
    return ids


def _upsert_edges(
    conn: Connection, facts: Sequence[Fact], ids: dict[Any, int], stats: IngestStats
) -> None:
    wanted: dict[tuple[int, int, str, str], dict[str, Any]] = {}
    for f in facts:
        key = (ids[f.src], ids[f.dst], f.kind, f.scope)
        if key[0] == key[1]:
            continue
        cur = wanted.get(key)
        if cur is None:
            wanted[key] = {"f": f, "first": f.at, "last": f.at, "last_proof": f.proof_id}
        else:
            if f.at < cur["first"]:
                cur["first"], cur["f"] = f.at, f
            if f.at >= cur["last"]:
                cur["last"], cur["last_proof"] = f.at, f.proof_id
    keys = list(wanted)
    existing: dict[tuple[int, int, str, str], Any] = {}
    for part in _chunks(keys, 200):
        for r in conn.execute(
            select(
                graph_edge.c.id,
                graph_edge.c.src_id,
                graph_edge.c.dst_id,
                graph_edge.c.kind,
                graph_edge.c.scope,
                graph_edge.c.first_seen,
                graph_edge.c.last_seen,
            ).where(
                tuple_(
                    graph_edge.c.src_id, graph_edge.c.dst_id, graph_edge.c.kind, graph_edge.c.scope
                ).in_(part)
            )
        ):
            existing[(r.src_id, r.dst_id, r.kind, r.scope)] = r
    new_rows = []
    for key, w in wanted.items():
        if key in existing:
            continue
        first: Fact = w["f"]
        new_rows.append(
            {
                "src_id": key[0],
                "dst_id": key[1],
                "kind": key[2],
                "scope": key[3],
                "weight": EDGE_KINDS[key[2]].weight,
                "first_seen": w["first"],
                "last_seen": w["last"],
                "proof_kind": first.proof_kind,
                "proof_id": first.proof_id,
                "last_proof_id": w["last_proof"],
                "url_id": first.url_id,
                "org_id": first.org_id,
                "tlp": first.tlp,
            }
        )
    if new_rows:
        conn.execute(_insert(conn, graph_edge).on_conflict_do_nothing(), new_rows)
        stats.edges_added += len(new_rows)
    changed = []
    for key, r in existing.items():
        w = wanted[key]
        if w["last"] > r.last_seen or w["first"] < r.first_seen:
            changed.append(
                {
                    "b_id": r.id,
                    "b_first": min(r.first_seen, w["first"]),
                    "b_last": max(r.last_seen, w["last"]),
                    "b_proof": w["last_proof"],
                }
            )
    if changed:
        conn.execute(
            update(graph_edge)
            .where(graph_edge.c.id == bindparam("b_id"))
            .values(
                first_seen=bindparam("b_first"),
                last_seen=bindparam("b_last"),
                last_proof_id=bindparam("b_proof"),
            ),
            changed,
        )
        stats.edges_updated += len(changed)


def store_facts(conn: Connection, facts: Sequence[Fact], stats: IngestStats | None = None) -> None:
    """Upsert the nodes and edges ``facts`` describe, in the caller's transaction."""
    stats = stats or IngestStats()
    if facts:
        ids = _upsert_nodes(conn, facts, stats)
        _upsert_edges(conn, facts, ids, stats)


def ingest_batch(
    conn: Connection, clock: Clock, source: str, *, batch: int = 500, stats: IngestStats
) -> int:
    """Ingest the next ``batch`` records of ``source`` past its checkpoint; the number read."""
    after = checkpoints(conn)[source]
    facts, last, count = _READERS[source](conn, after, batch)
    if count == 0:
        return 0
    store_facts(conn, facts, stats)
    _move_checkpoint(conn, source, last, clock.now())
    stats.records[source] += count
    return count


def pending(conn: Connection) -> dict[str, int]:
    """How many records of each source wait past its checkpoint."""
    marks = checkpoints(conn)
    tables = {
        "capture": capture,
        "attribution": attribution,
        "payment_sighting": payment_sighting,
        "sighting_match": sighting_match,
    }
    return {
        s: int(
            conn.execute(
                select(func.count()).select_from(tables[s]).where(and_(tables[s].c.id > marks[s]))
            ).scalar_one()
        )
        for s in SOURCES
    }

"""One search over every identifier Cordon knows, under the access policy.

Each kind of entity is looked up in the tables that hold it:

| entity | looked up in |
| --- | --- |
| URL | ``url`` (the canonical form) |
| domain | ``url`` (registrable domain or host) |
| IP address | ``attribution`` (address or origin address), ``capture.connected_address`` |
| crypto address, checkout account, IBAN, card merchant | ``payment_identifier`` (its key) |
| merchant descriptor | ``merchant_descriptor`` (normalised) |
| PDQ, MD5, SHA-256 | ``media_sighting``, ``report_hash``, ``bank_entry`` |
| analytics id, e-mail, messenger handle | ``capture_indicator`` |
| any | ``case_subject`` (of cases the reader may read) |

:func:`readable_hits` returns what the principal may read, each record filtered by its own
feature's clause over :func:`cordon.store.access.visible`. :func:`known` answers, without
regard to who asks, whether anything holds an entity at all: screening tells the caller that
much (see :mod:`cordon.search.screen`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select

from cordon.attribution import repo as attribution_repo
from cordon.audit import log as audit
from cordon.cases import repo as cases
from cordon.cases.entities import Entity, EntityKind, InvalidEntity, detect, parse_entity
from cordon.clock import Clock
from cordon.crawl import repo as crawl_repo
from cordon.domain.partners import Principal
from cordon.money import descriptors as money_descriptors
from cordon.money import repo as money
from cordon.store import access
from cordon.store.tables import attribution, report, report_hash, report_url, url
from cordon.store.tables_banks import bank, bank_entry
from cordon.store.tables_cases import case_file, case_subject
from cordon.store.tables_crawl import capture, capture_indicator, media_sighting
from cordon.store.tables_money import merchant_descriptor, payment_identifier

#: The most records of one source a search returns.
PER_SOURCE = 50
_CHUNK = 500

#: Hash kinds and the signal types that carry them in reports and banks.
SIGNAL_TYPES = {
    EntityKind.PDQ: ("pdq",),
    EntityKind.MD5: ("photo_md5", "video_md5", "md5"),
    EntityKind.SHA256: ("photo_sha256", "sha256"),
}
_MEDIA_COLUMN = {
    EntityKind.PDQ: media_sighting.c.pdq,
    EntityKind.MD5: media_sighting.c.md5,
    EntityKind.SHA256: media_sighting.c.sha256,
}
PAYMENT = {
    EntityKind.CRYPTO_ADDRESS,
    EntityKind.CHECKOUT_ACCOUNT,
    EntityKind.IBAN,
    EntityKind.CARD_MERCHANT,
}
INDICATORS = {EntityKind.ANALYTICS_ID, EntityKind.EMAIL, EntityKind.MESSENGER}


class SearchError(ValueError):
    """A query that names nothing Cordon can look up; the message says why."""


def query_entities(conn: Connection, q: str, kind: str | None = None) -> list[Entity]:
    """The entities a query stands for: ``kind`` when given, else every kind it could be."""
    text = q.strip()
    if not text:
        raise SearchError("the query is empty")
    registry = money.registry(conn)
    if kind:
        try:
            return [parse_entity(text, kind, registry)]
        except InvalidEntity as exc:
            raise SearchError(str(exc)) from None
    found = detect(text, registry)
    if not found:
        raise SearchError(f"{text[:200]!r} is no identifier Cordon knows how to look up")
    return found


# ------------------------------------------------------------------------------ visibility


def _report_visible(principal: Principal) -> ColumnElement[bool]:
    return access.visible(
        principal,
        "report",
        id_col=report.c.id,
        owner_col=report.c.owner_org_id,
        tlp_col=report.c.tlp,
    )


def url_visible(principal: Principal) -> ColumnElement[bool]:
    """URLs the principal may see: named by a report it may see, or crawled in a capture it
    may see."""
    via_report = exists(
        select(report_url.c.report_id)
        .join(report, report.c.id == report_url.c.report_id)
        .where(report_url.c.url_id == url.c.id, _report_visible(principal))
    )
    via_capture = exists(
        select(capture.c.id).where(
            capture.c.url_id == url.c.id, crawl_repo.visible_clause(principal)
        )
    )
    return or_(via_report, via_capture)


def _bank_visible(principal: Principal) -> ColumnElement[bool]:
    return and_(
        bank.c.deleted_at.is_(None),
        access.visible(
            principal, "bank", id_col=bank.c.id, owner_col=bank.c.org_id, tlp_col=bank.c.tlp
        ),
    )


# ------------------------------------------------------------------------------ lookups


def _indicator_match(e: Entity) -> ColumnElement[bool]:
    # A bare analytics id or handle matches whatever service keyed it (``service:id``).
    if ":" in e.key or e.kind is EntityKind.EMAIL:
        return and_(capture_indicator.c.kind == e.kind.value, capture_indicator.c.key == e.key)
    return and_(
        capture_indicator.c.kind == e.kind.value,
        capture_indicator.c.key.endswith(":" + e.key, autoescape=True),
    )


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _lookups(e: Entity, principal: Principal | None) -> list[tuple[str, Any, Any]]:
    """``(source, statement, row formatter)`` for each table that may hold ``e``; with a
    principal, only records it may read."""
    p = principal
    stmt: Any
    out: list[tuple[str, Any, Any]] = []
    if e.kind in (EntityKind.URL, EntityKind.DOMAIN):
        cond = (
            url.c.url_sha256 == hashlib.sha256(e.key.encode()).digest()
            if e.kind is EntityKind.URL
            else or_(url.c.registrable_domain == e.key, url.c.host == e.key)
        )
        stmt = select(
            url.c.id, url.c.url, url.c.host, url.c.registrable_domain, url.c.first_seen_at
        ).where(cond)
        if p is not None:
            stmt = stmt.where(url_visible(p))
        out.append(
            (
                "url",
                stmt.order_by(url.c.id),
                lambda r: {
                    "id": r.id,
                    "url": r.url,
                    "host": r.host,
                    "site": r.registrable_domain,
                    "first_seen_at": _iso(r.first_seen_at),
                },
            )
        )
    if e.kind is EntityKind.IP:
        stmt = select(
            attribution.c.id,
            attribution.c.url_id,
            attribution.c.host,
            attribution.c.address,
            attribution.c.origin_address,
            attribution.c.asn,
            attribution.c.provider,
            attribution.c.country,
            attribution.c.observed_at,
        ).where(or_(attribution.c.address == e.key, attribution.c.origin_address == e.key))
        if p is not None:
            stmt = stmt.where(attribution_repo.visible_clause(p, attribution.c.url_id))
        out.append(
            (
                "attribution",
                stmt.order_by(attribution.c.id.desc()),
                lambda r: {
                    "id": r.id,
                    "url_id": r.url_id,
                    "host": r.host,
                    "address": r.address,
                    "origin_address": r.origin_address,
                    "asn": r.asn,
                    "provider": r.provider,
                    "country": r.country,
                    "observed_at": _iso(r.observed_at),
                },
            )
        )
        stmt = select(
            capture.c.id, capture.c.url_id, capture.c.final_host, capture.c.finished_at
        ).where(capture.c.connected_address == e.key)
        if p is not None:
            stmt = stmt.where(crawl_repo.visible_clause(p))
        out.append(
            (
                "capture",
                stmt.order_by(capture.c.id.desc()),
                lambda r: {
                    "id": r.id,
                    "url_id": r.url_id,
                    "host": r.final_host,
                    "finished_at": _iso(r.finished_at),
                },
            )
        )
    if e.kind in PAYMENT:
        stmt = select(payment_identifier).where(payment_identifier.c.key == e.key)
        if p is not None:
            stmt = stmt.where(money.identifier_visible(p))
        out.append(
            (
                "payment_identifier",
                stmt,
                lambda r: {
                    "id": r.id,
                    "type": r.type,
                    "key": r.key,
                    "value": r.value,
                    "first_seen_at": _iso(r.first_seen_at),
                    "last_seen_at": _iso(r.last_seen_at),
                },
            )
        )
    if e.kind is EntityKind.DESCRIPTOR:
        stmt = select(merchant_descriptor).where(merchant_descriptor.c.normalised == e.key)
        if p is not None:
            stmt = stmt.where(money_descriptors.descriptor_visible(p, merchant_descriptor.c.id))
        out.append(
            (
                "merchant_descriptor",
                stmt.order_by(merchant_descriptor.c.id),
                lambda r: {"id": r.id, "text": r.text, "normalised": r.normalised},
            )
        )
    if e.kind in _MEDIA_COLUMN:
        col = _MEDIA_COLUMN[e.kind]
        stmt = (
            select(
                media_sighting.c.id,
                media_sighting.c.capture_id,
                capture.c.url_id,
                capture.c.finished_at,
            )
            .join(capture, capture.c.id == media_sighting.c.capture_id)
            .where(col == e.key)
        )
        if p is not None:
            stmt = stmt.where(crawl_repo.visible_clause(p))
        out.append(
            (
                "media_sighting",
                stmt.order_by(media_sighting.c.id.desc()),
                lambda r: {
                    "id": r.id,
                    "capture_id": r.capture_id,
                    "url_id": r.url_id,
                    "seen_at": _iso(r.finished_at),
                },
            )
        )
        types = SIGNAL_TYPES[e.kind]
        stmt = (
            select(report_hash.c.id, report_hash.c.report_id, report_hash.c.signal_type)
            .join(report, report.c.id == report_hash.c.report_id)
            .where(report_hash.c.signal == e.key, report_hash.c.signal_type.in_(types))
        )
        if p is not None:
            stmt = stmt.where(_report_visible(p))
        out.append(
            (
                "report_hash",
                stmt.order_by(report_hash.c.id.desc()),
                lambda r: {"id": r.id, "report_id": r.report_id, "signal_type": r.signal_type},
            )
        )
        stmt = (
            select(
                bank_entry.c.id,
                bank_entry.c.bank_id,
                bank.c.name,
                bank_entry.c.signal_type,
                bank_entry.c.category,
            )
            .join(bank, bank.c.id == bank_entry.c.bank_id)
            .where(bank_entry.c.signal == e.key, bank_entry.c.signal_type.in_(types))
        )
        if p is not None:
            stmt = stmt.where(_bank_visible(p))
        out.append(
            (
                "bank_entry",
                stmt.order_by(bank_entry.c.id.desc()),
                lambda r: {
                    "id": r.id,
                    "bank_id": r.bank_id,
                    "bank": r.name,
                    "signal_type": r.signal_type,
                    "category": r.category,
                },
            )
        )
    if e.kind in INDICATORS:
        stmt = (
            select(
                capture_indicator.c.id,
                capture_indicator.c.capture_id,
                capture_indicator.c.kind,
                capture_indicator.c.key,
                capture_indicator.c.value,
                capture.c.url_id,
            )
            .join(capture, capture.c.id == capture_indicator.c.capture_id)
            .where(_indicator_match(e))
        )
        if p is not None:
            stmt = stmt.where(crawl_repo.visible_clause(p))
        out.append(
            (
                "capture_indicator",
                stmt.order_by(capture_indicator.c.id.desc()),
                lambda r: {
                    "id": r.id,
                    "capture_id": r.capture_id,
                    "url_id": r.url_id,
                    "kind": r.kind,
                    "key": r.key,
                    "value": r.value,
                },
            )
        )
    subject_cond = and_(case_subject.c.kind == e.kind.value, case_subject.c.key == e.key)
    if e.kind in INDICATORS and ":" not in e.key and e.kind is not EntityKind.EMAIL:
        subject_cond = and_(
            case_subject.c.kind == e.kind.value,
            case_subject.c.key.endswith(":" + e.key, autoescape=True),
        )
    stmt = (
        select(
            case_file.c.id,
            case_file.c.title,
            case_file.c.status,
            case_file.c.tlp,
            case_subject.c.id.label("subject_id"),
        )
        .join(case_file, case_file.c.id == case_subject.c.case_id)
        .where(subject_cond)
    )
    if p is not None:
        stmt = stmt.where(cases.case_visible(p))
    out.append(
        (
            "case",
            stmt.order_by(case_file.c.id.desc()),
            lambda r: {"id": r.id, "title": r.title, "status": r.status, "tlp": r.tlp},
        )
    )
    return out


@dataclass
class EntityHits:
    """What one entity was found as."""

    entity: Entity
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.sources.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.entity.kind.value,
            "key": self.entity.key,
            "found": self.count > 0,
            "sources": self.sources,
        }


def readable_hits(conn: Connection, principal: Principal, e: Entity) -> EntityHits:
    """Every record holding ``e`` that the principal may read (up to PER_SOURCE per source)."""
    out = EntityHits(e)
    for source, stmt, fmt in _lookups(e, principal):
        rows = conn.execute(stmt.limit(PER_SOURCE)).all()
        if rows:
            out.sources[source] = [fmt(r) for r in rows]
    return out


def known(conn: Connection, e: Entity) -> bool:
    """Whether any record holds ``e``, whoever may read it."""
    for _source, stmt, _fmt in _lookups(e, None):
        if conn.execute(stmt.limit(1)).first() is not None:
            return True
    return False


def known_many(conn: Connection, entities: Iterable[Entity]) -> set[Entity]:
    """Which of ``entities`` any record holds: batched by kind for the common kinds."""
    by_kind: dict[EntityKind, list[Entity]] = defaultdict(list)
    for e in set(entities):
        by_kind[e.kind].append(e)
    found: set[Entity] = set()
    for kind, items in by_kind.items():
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            keys = [e.key for e in chunk]
            hits = _known_batch(conn, kind, keys)
            if hits is None:
                found |= {e for e in chunk if known(conn, e)}
            else:
                found |= {e for e in chunk if e.key in hits}
    return found


def _scalars(conn: Connection, stmt: Any) -> set[str]:
    return {str(v) for v in conn.execute(stmt).scalars() if v is not None}


def _known_batch(conn: Connection, kind: EntityKind, keys: Sequence[str]) -> set[str] | None:
    """The keys of ``kind`` some record holds; None for kinds looked up one by one."""
    hits = _scalars(
        conn,
        select(case_subject.c.key).where(
            case_subject.c.kind == kind.value, case_subject.c.key.in_(keys)
        ),
    )
    if kind is EntityKind.DOMAIN:
        hits |= _scalars(
            conn, select(url.c.registrable_domain).where(url.c.registrable_domain.in_(keys))
        )
        hits |= _scalars(conn, select(url.c.host).where(url.c.host.in_(keys)))
        return hits
    if kind is EntityKind.URL:
        digests = {hashlib.sha256(k.encode()).digest(): k for k in keys}
        rows = conn.execute(
            select(url.c.url_sha256).where(url.c.url_sha256.in_(list(digests)))
        ).scalars()
        return hits | {digests[bytes(d)] for d in rows}
    if kind in PAYMENT:
        return hits | _scalars(
            conn, select(payment_identifier.c.key).where(payment_identifier.c.key.in_(keys))
        )
    if kind in _MEDIA_COLUMN:
        col = _MEDIA_COLUMN[kind]
        types = SIGNAL_TYPES[kind]
        hits |= _scalars(conn, select(col).where(col.in_(keys)))
        hits |= _scalars(
            conn,
            select(report_hash.c.signal).where(
                report_hash.c.signal.in_(keys), report_hash.c.signal_type.in_(types)
            ),
        )
        hits |= _scalars(
            conn,
            select(bank_entry.c.signal).where(
                bank_entry.c.signal.in_(keys), bank_entry.c.signal_type.in_(types)
            ),
        )
        return hits
    return None


# ------------------------------------------------------------------------------ search


@dataclass(frozen=True)
class SearchResult:
    query: str
    results: list[EntityHits]

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "found": any(r.count for r in self.results),
            "results": [r.as_dict() for r in self.results],
        }


def search(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    q: str,
    *,
    kind: str | None = None,
) -> SearchResult:
    """Look ``q`` up as every entity it could be (or as ``kind``); only what the principal may
    read. One audit event records the search: the kinds, a digest of the query (not the query
    itself) and the records returned. Raises :class:`SearchError` for a query that names
    nothing."""
    entities = query_entities(conn, q, kind)
    results = [readable_hits(conn, principal, e) for e in entities]
    returned: dict[str, list[int]] = defaultdict(list)
    for r in results:
        for source, items in r.sources.items():
            returned[source] += [int(i["id"]) for i in items]
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:search:run",
        object_kind="search",
        object_ids=[],
        details={
            "kinds": [e.kind.value for e in entities],
            "query_sha256": hashlib.sha256(q.strip().encode()).hexdigest(),
            "returned": {k: sorted(set(v)) for k, v in sorted(returned.items())},
        },
    )
    return SearchResult(q.strip(), results)


# ------------------------------------------------------------------------------ enumeration


def all_known(conn: Connection) -> set[Entity]:
    """Every entity Cordon holds (for the cross-deployment exchange's ``--all``)."""
    out: set[Entity] = set()

    def add(kind: EntityKind, stmt: Any) -> None:
        out.update(Entity(kind, str(v)) for v in conn.execute(stmt).scalars() if v)

    add(EntityKind.DOMAIN, select(url.c.registrable_domain).distinct())
    add(EntityKind.URL, select(url.c.url))
    add(EntityKind.IP, select(attribution.c.address).distinct())
    add(EntityKind.IP, select(attribution.c.origin_address).distinct())
    for t in PAYMENT:
        add(t, select(payment_identifier.c.key).where(payment_identifier.c.type == t.value))
    add(EntityKind.DESCRIPTOR, select(merchant_descriptor.c.normalised).distinct())
    for k, col in _MEDIA_COLUMN.items():
        add(k, select(col).distinct())
        add(k, select(report_hash.c.signal).where(report_hash.c.signal_type.in_(SIGNAL_TYPES[k])))
        add(k, select(bank_entry.c.signal).where(bank_entry.c.signal_type.in_(SIGNAL_TYPES[k])))
    for k in INDICATORS:
        add(
            k, select(capture_indicator.c.key).where(capture_indicator.c.kind == k.value).distinct()
        )
    return out

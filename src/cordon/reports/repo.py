"""Storing and reading reports. Every read goes through the access policy."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select

from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.domain.urls import InvalidUrl, NormalizedUrl, normalize_url
from cordon.pipeline import repo as work
from cordon.reports.model import ReportIn
from cordon.store import access
from cordon.store.tables import report, report_hash, report_url, sharing_group, url
from cordon.store.urls import upsert_urls

KIND = "report"
#: The stage that takes every newly reported URL.
FIRST_STAGE = "crawl"


class ReportError(ValueError):
    """A report that cannot be stored; ``field`` names the part that is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IdempotencyConflict(ReportError):
    """The idempotency key was used before for a different report."""


@dataclass(frozen=True)
class ReportUrl:
    id: int
    url: str
    registrable_domain: str


@dataclass(frozen=True)
class Report:
    id: int
    owner_org_id: int
    submitted_by: int
    tlp: Tlp
    note: str | None
    source_ref: str | None
    channel: str
    idempotency_key: str | None
    created_at: datetime
    urls: list[ReportUrl] = field(default_factory=list)
    hashes: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Submitted:
    """The outcome of a submission: ``created`` is False when an idempotent retry replayed it."""

    report: Report
    created: bool


def normalize_all(urls: Sequence[str]) -> list[NormalizedUrl]:
    """Normalise every URL or raise :class:`ReportError` naming the first bad one."""
    out: list[NormalizedUrl] = []
    for index, raw in enumerate(urls):
        try:
            out.append(normalize_url(raw))
        except InvalidUrl as exc:
            raise ReportError(f"{exc}", field=f"urls[{index}]") from None
    return out


def request_digest(data: ReportIn) -> bytes:
    """A digest of what was asked, to tell a replay from a different report under one key."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def _existing(conn: Connection, org_id: int, key: str) -> tuple[int, bytes] | None:
    row = conn.execute(
        select(report.c.id, report.c.request_hash).where(
            report.c.owner_org_id == org_id, report.c.idempotency_key == key
        )
    ).first()
    return None if row is None else (int(row.id), bytes(row.request_hash))


def submit(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    data: ReportIn,
    *,
    channel: str,
    idempotency_key: str | None = None,
) -> Submitted:
    """Store a report, its URLs (one record per distinct URL across all reports) and hashes,
    queue new URLs for the first stage, and audit it, in the caller's transaction.

    With ``idempotency_key``, a retry of the same report returns the first one unchanged, and
    the same key with a different report raises :class:`IdempotencyConflict`. Nothing is
    written when anything is wrong.
    """
    digest = request_digest(data)
    if idempotency_key is not None:
        found = _existing(conn, principal.org_id, idempotency_key)
        if found is not None:
            if found[1] != digest:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used for a different report", "idempotency_key"
                )
            stored = _load(conn, [found[0]])
            return Submitted(stored[0], created=False)
    normalized = normalize_all(data.urls)
    if data.tlp is not Tlp.AMBER and (data.share_with or data.share_with_groups):
        field = "share_with" if data.share_with else "share_with_groups"
        raise ReportError(f"{field} applies to AMBER reports only", field)
    if data.share_with_groups:
        own = {
            int(g)
            for g in conn.execute(
                select(sharing_group.c.id).where(
                    sharing_group.c.owner_org_id == principal.org_id,
                    sharing_group.c.id.in_(data.share_with_groups),
                )
            ).scalars()
        }
        foreign = sorted(set(data.share_with_groups) - own)
        if foreign:
            raise ReportError(
                f"no sharing group with id {foreign[0]} belongs to your organisation",
                "share_with_groups",
            )
    if data.tlp is not Tlp.RED and data.red_users:
        raise ReportError("red_users applies to RED reports only", "red_users")
    now = clock.now()
    url_ids = upsert_urls(conn, now, normalized)
    report_id = conn.execute(
        report.insert()
        .values(
            owner_org_id=principal.org_id,
            submitted_by=principal.user_id,
            tlp=data.tlp.value,
            note=data.note,
            source_ref=data.source_ref,
            channel=channel,
            idempotency_key=idempotency_key,
            request_hash=digest,
            created_at=now,
        )
        .returning(report.c.id)
    ).scalar_one()
    positions: dict[int, int] = {}
    for pos, uid in enumerate(url_ids):
        positions.setdefault(uid, pos)
    conn.execute(
        report_url.insert(),
        [{"report_id": report_id, "url_id": uid, "position": p} for uid, p in positions.items()],
    )
    if data.hashes:
        conn.execute(
            report_hash.insert(),
            [
                {"report_id": report_id, "signal_type": h.signal_type, "signal": h.signal}
                for h in dict.fromkeys(data.hashes)
            ],
        )
    try:
        access.set_sharing(
            conn,
            KIND,
            report_id,
            org_ids=data.share_with,
            group_ids=data.share_with_groups,
            red_user_ids=[principal.user_id, *data.red_users] if data.tlp is Tlp.RED else [],
        )
    except ValueError as exc:
        raise ReportError(str(exc), "share_with") from None
    work.enqueue(conn, now, FIRST_STAGE, "url", list(positions))
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:report:create",
        object_kind=KIND,
        object_ids=[report_id],
        details={"urls": len(positions), "tlp": data.tlp.value, "channel": channel},
    )
    return Submitted(_load(conn, [report_id])[0], created=True)


@dataclass(frozen=True)
class RowResult:
    """What became of one row of an import."""

    line: int
    report_id: int
    created: bool


def import_rows(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    rows: Sequence[tuple[int, ReportIn, str | None]],
    *,
    channel: str,
) -> list[RowResult]:
    """Submit every row in the caller's transaction; the first refused row raises
    :class:`ReportError` with its line in ``field``, and the caller rolls back the whole batch."""
    results: list[RowResult] = []
    for line, data, key in rows:
        try:
            done = submit(conn, clock, principal, actor, data, channel=channel, idempotency_key=key)
        except ReportError as exc:
            raise ReportError(f"line {line}: {exc}", field=f"line {line}: {exc.field}") from None
        results.append(RowResult(line, done.report.id, done.created))
    return results


def _load(conn: Connection, ids: list[int]) -> list[Report]:
    if not ids:
        return []
    rows = conn.execute(select(report).where(report.c.id.in_(ids))).all()
    urls: dict[int, list[ReportUrl]] = {i: [] for i in ids}
    for r in conn.execute(
        select(report_url.c.report_id, url.c.id, url.c.url, url.c.registrable_domain)
        .join(url, url.c.id == report_url.c.url_id)
        .where(report_url.c.report_id.in_(ids))
        .order_by(report_url.c.report_id, report_url.c.position)
    ):
        urls[r.report_id].append(ReportUrl(r.id, r.url, r.registrable_domain))
    hashes: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for h in conn.execute(
        select(report_hash.c.report_id, report_hash.c.signal_type, report_hash.c.signal)
        .where(report_hash.c.report_id.in_(ids))
        .order_by(report_hash.c.id)
    ):
        hashes[h.report_id].append((h.signal_type, h.signal))
    by_id = {
        r.id: Report(
            id=r.id,
            owner_org_id=r.owner_org_id,
            submitted_by=r.submitted_by,
            tlp=Tlp(r.tlp),
            note=r.note,
            source_ref=r.source_ref,
            channel=r.channel,
            idempotency_key=r.idempotency_key,
            created_at=r.created_at,
            urls=urls[r.id],
            hashes=hashes[r.id],
        )
        for r in rows
    }
    return [by_id[i] for i in ids if i in by_id]


@dataclass(frozen=True)
class ReportFilter:
    """Narrowing of a list, count or export."""

    tlp: Tlp | None = None
    since: datetime | None = None
    until: datetime | None = None
    domain: str | None = None
    own_only: bool = False


def _visible(principal: Principal) -> Any:
    return access.visible(
        principal, KIND, id_col=report.c.id, owner_col=report.c.owner_org_id, tlp_col=report.c.tlp
    )


def _filtered(stmt: Select[Any], principal: Principal, f: ReportFilter) -> Select[Any]:
    conds: list[Any] = [_visible(principal)]
    if f.tlp is not None:
        conds.append(report.c.tlp == f.tlp.value)
    if f.since is not None:
        conds.append(report.c.created_at >= f.since)
    if f.until is not None:
        conds.append(report.c.created_at < f.until)
    if f.own_only:
        conds.append(report.c.owner_org_id == principal.org_id)
    if f.domain:
        conds.append(
            report.c.id.in_(
                select(report_url.c.report_id)
                .join(url, url.c.id == report_url.c.url_id)
                .where(url.c.registrable_domain == f.domain.lower())
            )
        )
    return stmt.where(and_(*conds))


def get(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, report_id: int
) -> Report | None:
    """The report, or None when it does not exist *or* may not be read (the same answer)."""
    row = conn.execute(
        select(report.c.id, report.c.tlp).where(report.c.id == report_id, _visible(principal))
    ).first()
    if row is None:
        return None
    record_sensitive_reads(conn, clock, actor, KIND, "read", [(row.id, Tlp(row.tlp))])
    return _load(conn, [row.id])[0]


def list_page(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: ReportFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Report]:
    """Newest first; page on with ``before_id`` = the last id of the previous page."""
    stmt = _filtered(select(report.c.id, report.c.tlp), principal, f)
    if before_id is not None:
        stmt = stmt.where(report.c.id < before_id)
    rows = conn.execute(stmt.order_by(report.c.id.desc()).limit(limit)).all()
    record_sensitive_reads(conn, clock, actor, KIND, "list", [(r.id, Tlp(r.tlp)) for r in rows])
    return _load(conn, [r.id for r in rows])


def count(conn: Connection, principal: Principal, f: ReportFilter) -> int:
    """How many reports the principal may see (counts reveal no record, so are not audited)."""
    stmt = _filtered(select(func.count()).select_from(report), principal, f)
    return int(conn.execute(stmt).scalar_one())


def export(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: ReportFilter,
    *,
    batch: int = 1000,
) -> Iterator[Report]:
    """Every visible report, oldest first. The export is audited before the first record."""
    ids_and_tlp = conn.execute(
        _filtered(select(report.c.id, report.c.tlp), principal, f).order_by(report.c.id)
    ).all()
    record_sensitive_reads(
        conn, clock, actor, KIND, "export", [(r.id, Tlp(r.tlp)) for r in ids_and_tlp], always=True
    )
    ids = [int(r.id) for r in ids_and_tlp]
    for start in range(0, len(ids), batch):
        yield from _load(conn, ids[start : start + batch])


def report_as_dict(r: Report) -> dict[str, Any]:
    """The JSON form of a report, as the API and exports give it."""
    return {
        "id": r.id,
        "tlp": r.tlp.value,
        "owner_org_id": r.owner_org_id,
        "submitted_by": r.submitted_by,
        "note": r.note,
        "source_ref": r.source_ref,
        "channel": r.channel,
        "created_at": r.created_at.isoformat().replace("+00:00", "Z"),
        "urls": [
            {"id": u.id, "url": u.url, "registrable_domain": u.registrable_domain} for u in r.urls
        ],
        "hashes": [{"signal_type": t, "signal": s} for t, s in r.hashes],
    }

"""Every query of the crawler: schedules, storing captures, and reading them through the policy.

A capture is derived from the reports that led to it (those naming its URL when it was taken,
and, for a URL queued from a link, those of the capture that linked to it). It carries the
strictest of their markings and is readable by exactly the members who may read every one of
those reports: the strictest rule applied to each reader. Media sightings, indicators and
evidence are read only through their capture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    exists,
    func,
    not_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.config import Settings
from cordon.crawl.capture import CapturePlan, CaptureResult
from cordon.crawl.evidence import WARC_FORMAT, write_bundle
from cordon.crawl.extract import same_site
from cordon.crawl.fetcher import FETCHER_VERSION
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp, strictest
from cordon.domain.urls import InvalidUrl, normalize_url
from cordon.pipeline import repo as work
from cordon.store import access
from cordon.store.db import is_postgres
from cordon.store.tables import report, report_url, url, work_item
from cordon.store.tables_crawl import (
    capture,
    capture_evidence,
    capture_indicator,
    capture_report,
    crawl_link,
    crawl_schedule,
    media_sighting,
)
from cordon.store.urls import upsert_urls

KIND: Final = "capture"
STAGE: Final = "crawl"
SUBJECT: Final = "url"
MATCH_STAGE: Final = "match"
"""The stage that compares a capture's media sightings with the banks (subject: capture)."""
ATTRIBUTE_STAGE: Final = "attribute"
PAYMENT_KINDS: Final = ("crypto_address", "checkout_account", "iban")


class CaptureNotFound(LookupError):
    """No capture with this id, or none the caller may read (the same answer)."""


# --------------------------------------------------------------------------- schedules


def plan_for(conn: Connection, url_id: int) -> CapturePlan | None:
    """What the next crawl of URL ``url_id`` is: its URL, the reason, and referrers known from
    captured pages that link to it (for the cloaking probe). None when the URL does not exist."""
    return plans_for(conn, [url_id]).get(url_id)


REFERRERS_PER_PLAN: Final = 3
"""Most recent cross-site referrers a plan carries."""


def plans_for(conn: Connection, url_ids: Sequence[int]) -> dict[int, CapturePlan]:
    """:func:`plan_for` of several URLs in two statements; URLs that do not exist are left out."""
    if not url_ids:
        return {}
    rows = conn.execute(
        select(url.c.id, url.c.url, crawl_schedule.c.next_reason, crawl_schedule.c.crawls)
        .select_from(url.outerjoin(crawl_schedule, crawl_schedule.c.url_id == url.c.id))
        .where(url.c.id.in_(url_ids))
    ).all()
    if not rows:
        return {}
    recent = (
        select(
            crawl_link.c.to_url_id,
            capture.c.final_url,
            func.row_number()
            .over(partition_by=crawl_link.c.to_url_id, order_by=crawl_link.c.id.desc())
            .label("recency"),
        )
        .select_from(crawl_link.join(capture, capture.c.id == crawl_link.c.from_capture_id))
        .where(
            crawl_link.c.to_url_id.in_([r.id for r in rows]),
            crawl_link.c.cross_site.is_(True),
            capture.c.final_url.is_not(None),
        )
        .subquery()
    )
    referrers: dict[int, list[str]] = {}
    for r in conn.execute(
        select(recent.c.to_url_id, recent.c.final_url)
        .where(recent.c.recency <= REFERRERS_PER_PLAN)
        .order_by(recent.c.to_url_id, recent.c.recency)
    ):
        referrers.setdefault(int(r.to_url_id), []).append(str(r.final_url))
    plans = {}
    for row in rows:
        why = "first" if row.crawls is None or row.crawls == 0 else str(row.next_reason)
        found = tuple(dict.fromkeys(referrers.get(int(row.id), [])))
        plans[int(row.id)] = CapturePlan(int(row.id), str(row.url), why, found)
    return plans


def rearm_due(conn: Connection, now: datetime, limit: int = 1000) -> int:
    """Put URLs whose crawl is done back on the queue at their next crawl time.

    A capture cannot re-queue its own work item (it is leased until the capture commits), so
    each capture writes the next crawl time on the URL's schedule and this sweep, run by every
    crawler before it claims work, hands it to the queue. Returns how many were re-queued.
    """
    rows = conn.execute(
        select(work_item.c.subject_id, crawl_schedule.c.next_crawl_at)
        .select_from(
            work_item.join(crawl_schedule, crawl_schedule.c.url_id == work_item.c.subject_id)
        )
        .where(
            work_item.c.stage == STAGE,
            work_item.c.subject_kind == SUBJECT,
            work_item.c.state.in_([work.DONE, work.DEAD]),
            crawl_schedule.c.next_crawl_at.is_not(None),
        )
        .limit(limit)
    ).all()
    by_time: dict[datetime, list[int]] = {}
    for subject_id, when in rows:
        by_time.setdefault(when, []).append(int(subject_id))
    for when, ids in by_time.items():
        work.enqueue(conn, now, STAGE, SUBJECT, ids, run_at=when, rearm=True)
    # A crawl asked for earlier than the one already waiting (a new referrer) moves it forward.
    earlier = conn.execute(
        select(work_item.c.id, crawl_schedule.c.next_crawl_at)
        .select_from(
            work_item.join(crawl_schedule, crawl_schedule.c.url_id == work_item.c.subject_id)
        )
        .where(
            work_item.c.stage == STAGE,
            work_item.c.subject_kind == SUBJECT,
            work_item.c.state == work.PENDING,
            crawl_schedule.c.next_crawl_at < work_item.c.next_run_at,
        )
        .limit(limit)
    ).all()
    for item_id, when in earlier:
        conn.execute(
            update(work_item)
            .where(work_item.c.id == item_id, work_item.c.state == work.PENDING)
            .values(next_run_at=when, updated_at=now)
        )
    return len(rows) + len(earlier)


def extend_lease(conn: Connection, item: work.WorkItem, until: datetime) -> bool:
    """Keep a crawl's work item leased until ``until`` while its capture is under way; False
    when the lease is no longer ours."""
    result = conn.execute(
        update(work_item)
        .where(
            work_item.c.id == item.id,
            work_item.c.state == work.LEASED,
            work_item.c.lease_owner == item.lease_owner,
            work_item.c.attempts == item.attempts,
        )
        .values(lease_until=until)
    )
    return result.rowcount == 1


def request_crawl(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    url_ids: Sequence[int],
    *,
    reason: str = "verify",
    at: datetime | None = None,
) -> None:
    """Ask for a crawl of these URLs at ``at`` (default now): ``verify`` to see whether a
    notice was acted on, ``manual`` on request. The notices engine calls this."""
    if reason not in ("verify", "manual", "periodic", "retry", "referrer"):
        raise ValueError(f"unknown crawl reason {reason!r}")
    now = clock.now()
    when = at or now
    ids = sorted(set(url_ids))
    if not ids:
        return
    known = set(conn.execute(select(url.c.id).where(url.c.id.in_(ids))).scalars())
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValueError(f"no URL with id {missing[0]}")
    for url_id in ids:
        _ensure_schedule(conn, url_id, 0)
    conn.execute(
        update(crawl_schedule)
        .where(crawl_schedule.c.url_id.in_(ids))
        .values(next_reason=reason, next_crawl_at=when)
    )
    work.enqueue(conn, now, STAGE, SUBJECT, ids, run_at=when, rearm=True)
    # A pending item waiting for a later periodic crawl is brought forward.
    conn.execute(
        update(work_item)
        .where(
            work_item.c.stage == STAGE,
            work_item.c.subject_kind == SUBJECT,
            work_item.c.subject_id.in_(ids),
            work_item.c.state == work.PENDING,
            work_item.c.next_run_at > when,
        )
        .values(next_run_at=when, updated_at=now)
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:crawl:request",
        object_kind="url",
        object_ids=list(ids),
        details={"reason": reason, "at": when.isoformat()},
    )


_NEW_SCHEDULE_PG = pg_insert(crawl_schedule).on_conflict_do_nothing(index_elements=["url_id"])
_NEW_SCHEDULE_SQLITE = sqlite_insert(crawl_schedule).on_conflict_do_nothing(
    index_elements=["url_id"]
)


def _new_schedule(url_id: int, depth: int) -> dict[str, Any]:
    """A schedule row of a URL never crawled yet."""
    return {"url_id": url_id, "state": "new", "crawls": 0, "depth": depth, "next_reason": "first"}


def _ensure_schedule(conn: Connection, url_id: int, depth: int) -> None:
    conn.execute(
        _NEW_SCHEDULE_PG if is_postgres(conn) else _NEW_SCHEDULE_SQLITE,
        _new_schedule(url_id, depth),
    )


# --------------------------------------------------------------------------- storing

# The statements of the store path are built once: a capture runs some twenty of them, and
# building a statement (and its cache key) anew costs more CPU than running it.
_URL_ID: BindParameter[int] = bindparam("b_url_id")
# Whether a page of another site links here. Capture stores take turns and a capture links to
# no URL of its own, so what is read with the schedule holds when the capture is stored.
_REFERRED = (
    exists()
    .where(crawl_link.c.to_url_id == _URL_ID, crawl_link.c.cross_site.is_(True))
    .label("referred")
)
_FIRST_SCHEDULE_PG = _NEW_SCHEDULE_PG.returning(*crawl_schedule.c, _REFERRED)
_FIRST_SCHEDULE_SQLITE = _NEW_SCHEDULE_SQLITE.returning(*crawl_schedule.c, _REFERRED)
_SCHEDULE = select(crawl_schedule, _REFERRED).where(crawl_schedule.c.url_id == _URL_ID)
_SCHEDULE_LOCKED = _SCHEDULE.with_for_update()
_REPORTS_DIRECT = select(report_url.c.report_id).where(report_url.c.url_id == _URL_ID)
# A URL queued from a link derives from the reports of the capture that linked to it.
_REPORTS_LINKED = (
    select(capture_report.c.report_id)
    .select_from(
        crawl_link.join(capture_report, capture_report.c.capture_id == crawl_link.c.from_capture_id)
    )
    .where(crawl_link.c.to_url_id == _URL_ID, crawl_link.c.queued.is_(True))
)
_REPORT_IDS = _REPORTS_DIRECT.union(_REPORTS_LINKED).subquery()
_REPORTS = select(report.c.id, report.c.tlp).where(report.c.id.in_(select(_REPORT_IDS.c.report_id)))
_INSERT_CAPTURE = capture.insert().returning(capture.c.id)
_INSERT_CAPTURE_REPORT = capture_report.insert()
_INSERT_MEDIA = media_sighting.insert()
_INSERT_INDICATOR = capture_indicator.insert()
_INSERT_EVIDENCE = capture_evidence.insert()
_INSERT_LINK = crawl_link.insert()
_UPDATE_SCHEDULE = update(crawl_schedule).where(crawl_schedule.c.url_id == _URL_ID)
_FROM_THIS_URL = crawl_link.c.from_capture_id.in_(
    select(capture.c.id).where(capture.c.url_id == _URL_ID)
)
# With each known URL, whether a capture of this page linked to it before.
_KNOWN_URLS = select(
    url.c.url_sha256,
    url.c.id,
    exists().where(crawl_link.c.to_url_id == url.c.id, _FROM_THIS_URL).label("linked"),
).where(url.c.url_sha256.in_(bindparam("b_digests", expanding=True)))
_LINKED_BEFORE = select(crawl_link.c.to_url_id).where(
    crawl_link.c.to_url_id.in_(bindparam("b_targets", expanding=True)), _FROM_THIS_URL
)


def _reports_of(conn: Connection, url_id: int) -> list[tuple[int, Tlp]]:
    rows = conn.execute(_REPORTS, {"b_url_id": url_id}).all()
    return [(int(r.id), Tlp(r.tlp)) for r in rows]


@dataclass(frozen=True)
class Stored:
    """What :func:`store_capture` wrote."""

    capture_id: int
    seq: int
    tlp: Tlp
    queued_urls: list[int]
    state: str


#: Key of the PostgreSQL advisory lock under which captures are stored.
CAPTURE_STORE_LOCK = 0x436F72646F6E01


def store_capture(
    conn: Connection, clock: Clock, actor: audit.Actor, result: CaptureResult, settings: Settings
) -> Stored:
    """Store a capture with its sightings, indicators, evidence and links; update the URL's
    schedule; queue the capture for matching and the URL for attribution; audit it. All in the
    caller's transaction."""
    url_id = result.plan.url_id
    if is_postgres(conn):
        # Capture stores take turns, as they do on SQLite: a capture of a page and a capture
        # of another site linking to it, committing at the same moment under read committed,
        # would each miss the other, and the referrer re-crawl of the page would be lost.
        conn.execute(select(func.pg_advisory_xact_lock(CAPTURE_STORE_LOCK)))
    postgres = is_postgres(conn)
    # A first crawl makes the schedule and has the new row back; a later one reads (and, on
    # PostgreSQL, locks) the row that is there.
    schedule = conn.execute(
        _FIRST_SCHEDULE_PG if postgres else _FIRST_SCHEDULE_SQLITE,
        {**_new_schedule(url_id, 0), "b_url_id": url_id},
    ).first()
    if schedule is None:
        lock = _SCHEDULE_LOCKED if postgres else _SCHEDULE
        schedule = conn.execute(lock, {"b_url_id": url_id}).one()
    seq = int(schedule.crawls) + 1
    reports = _reports_of(conn, url_id)
    tlp = strictest(t for _, t in reports) if reports else Tlp.RED
    base = result.base
    hashed = [m for m in result.media if m.status == "hashed"]
    capture_id = int(
        conn.execute(
            _INSERT_CAPTURE,
            dict(
                url_id=url_id,
                seq=seq,
                reason=result.plan.reason,
                tlp=tlp.value,
                started_at=result.started_at,
                finished_at=result.finished_at,
                outcome=result.outcome,
                outcome_reason=(result.outcome_reason or None) and result.outcome_reason[:4000],
                requested_url=result.plan.url,
                final_url=base.final_url,
                final_host=_host(base.final_url),
                status=base.status,
                http_version=base.http_version,
                connected_address=base.address,
                connected_port=base.port,
                resolver=result.resolver[:255],
                egress_profile=result.egress_profile,
                egress_proxy=result.egress_proxy,
                resolved=result.resolved,
                redirects=[h.as_dict() for h in base.hops],
                tls=base.tls.as_dict() if base.tls else None,
                headers=base.kept_headers(),
                timings=base.timings,
                content_type=(base.header("content-type") or None),
                page_bytes=result.page_bytes,
                page_sha256=result.page_sha256,
                budget=result.breaches,
                cloaking=result.cloaking,
                cloaking_detail=result.cloaking_detail,
                template_fingerprint=result.template_fingerprint,
                media_count=len(hashed),
                indicator_count=len(result.indicators),
                fetcher_version=FETCHER_VERSION,
            ),
        ).scalar_one()
    )
    if reports:
        conn.execute(
            _INSERT_CAPTURE_REPORT,
            [{"capture_id": capture_id, "report_id": rid} for rid, _ in reports],
        )
    if result.media:
        conn.execute(
            _INSERT_MEDIA,
            [
                {
                    "capture_id": capture_id,
                    "position": position,
                    "url": m.url,
                    "embed": m.embed,
                    "status": m.status,
                    "reason": (m.reason or None) and m.reason[:2000],
                    "http_status": m.http_status,
                    "fetched_address": m.fetched_address,
                    "declared_type": (m.declared_type or None) and m.declared_type[:100],
                    "sniffed_type": m.sniffed_type,
                    "bytes": m.size,
                    "width": m.width,
                    "height": m.height,
                    "pdq": m.pdq,
                    "pdq_quality": m.pdq_quality,
                    "pdq_variants": m.pdq_variants,
                    "md5": m.md5,
                    "sha256": m.sha256,
                    "variants_seen": m.variants_seen,
                }
                for position, m in enumerate(result.media)
            ],
        )
    if result.indicators:
        conn.execute(
            _INSERT_INDICATOR,
            [
                {
                    "capture_id": capture_id,
                    "kind": ind.kind,
                    "key": ind.key[:512],
                    "value": ind.value[:4000],
                    "detail": ind.detail,
                    "variants_seen": seen,
                }
                for ind, seen in result.indicators
            ],
        )
    conn.execute(
        _INSERT_EVIDENCE,
        {
            "capture_id": capture_id,
            "format": WARC_FORMAT,
            "sha256": result.evidence_sha256,
            "size": len(result.evidence),
            "records": result.evidence_records,
            "warc": result.evidence,
        },
    )
    queued = _store_links(conn, clock, capture_id, result, settings, int(schedule.depth))
    # A page of another site linked here while this capture was under way: look again with it
    # as the referrer.
    again = (
        result.outcome == "live"
        and bool(schedule.referred)
        and not result.plan.referrers
        and settings.crawl.cloaking_probes
    )
    state = _update_schedule(
        conn, schedule, capture_id, seq, result, settings, clock.now() if again else None
    )
    wanted: list[work.Wanted] = []
    if hashed:
        wanted.append(work.Wanted(MATCH_STAGE, KIND, capture_id))
    if result.outcome == "live" and base.address is not None:
        # Attribution of the URL again, now that the crawler has connected somewhere; the
        # address it connected to is on the capture (connected_address).
        wanted.append(work.Wanted(ATTRIBUTE_STAGE, SUBJECT, url_id, rearm=True))
    wanted.append(work.Wanted("graph", "graph", 1))  # arms the graph stage once (docs/networks.md)
    work.enqueue_many(conn, clock.now(), wanted)
    _record_payments(conn, clock, actor, capture_id, url_id, result)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:capture:create",
        object_kind=KIND,
        object_ids=[capture_id],
        details={
            "url_id": url_id,
            "seq": seq,
            "outcome": result.outcome,
            "pictures": len(hashed),
            "indicators": len(result.indicators),
            "cloaking": result.cloaking,
            "evidence_sha256": result.evidence_sha256.hex(),
            "tlp": tlp.value,
        },
    )
    return Stored(capture_id, seq, tlp, queued, state)


def _host(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return normalize_url(text).host
    except InvalidUrl:
        return None


def _record_payments(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    capture_id: int,
    url_id: int,
    result: CaptureResult,
) -> None:
    """Hand every validated payment identifier to the money feature (its sightings, links and
    alerts), with the capture as evidence."""
    from cordon.money.sightings import record_sighting

    for indicator, seen in result.indicators:
        if indicator.kind not in PAYMENT_KINDS or indicator.identifier is None:
            continue
        record_sighting(
            conn,
            clock,
            actor,
            indicator.identifier,
            url_id,
            source="crawl",
            evidence={
                "capture_id": capture_id,
                "context": str(indicator.detail.get("context", ""))[:500],
                "seen_in": seen,
            },
            seen_at=result.finished_at,
        )


def _store_links(
    conn: Connection,
    clock: Clock,
    capture_id: int,
    result: CaptureResult,
    settings: Settings,
    depth: int,
) -> list[int]:
    """Record links from this capture to known URLs (referrers for cloaking probes) and queue
    new ones when the settings say so. Returns the URL ids queued."""
    crawl = settings.crawl
    links = result.links
    if not links:
        return []
    page = result.base.final_url or result.plan.url
    follow = crawl.follow_links
    wanted: list[str] = []
    if follow != "none" and depth < crawl.follow_depth:
        for link in links:
            same = same_site(page, link)
            if follow == "all" or (follow == "same_site") == same:
                wanted.append(link)
            if len(wanted) >= crawl.follow_max_links:
                break
    url_id = result.plan.url_id
    digests = {hashlib.sha256(link.encode()).digest(): link for link in links}
    known: dict[str, int] = {}
    # Known URLs a capture of this page linked to before, and URLs that may be known (under
    # another spelling) although their link text was not: those are looked up on their own.
    linked_before: set[int] = set()
    unsure: list[int] = []
    ordered = list(digests)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        for digest, uid, linked in conn.execute(
            _KNOWN_URLS, {"b_digests": chunk, "b_url_id": url_id}
        ):
            known[digests[bytes(digest)]] = int(uid)
            if linked:
                linked_before.add(int(uid))
    now = clock.now()
    new_urls = [link for link in wanted if link not in known]
    if new_urls:
        normalized, originals = [], []
        for link in new_urls:
            try:
                normalized.append(normalize_url(link))
            except InvalidUrl:
                continue
            originals.append(link)
        stored = upsert_urls(conn, now, normalized)
        for link, n, uid in zip(originals, normalized, stored, strict=True):
            known[link] = uid
            # A URL stored under the very text looked up above is new: nothing linked to it.
            if n.url != link:
                unsure.append(uid)
    queued = [known[link] for link in wanted if link in known]
    queued_set = set(queued)
    targets = [
        (uid, uid in queued_set, not same_site(page, link)) for link, uid in known.items() if link
    ]
    if not targets:
        return []
    if unsure:
        linked_before.update(
            int(uid)
            for (uid,) in conn.execute(_LINKED_BEFORE, {"b_targets": unsure, "b_url_id": url_id})
        )
    link_rows = [
        {"from_capture_id": capture_id, "to_url_id": uid, "queued": q, "cross_site": cross}
        for uid, q, cross in targets
        if uid != url_id
    ]
    if link_rows:
        conn.execute(_INSERT_LINK, link_rows)
    if queued:
        conn.execute(
            _NEW_SCHEDULE_PG if is_postgres(conn) else _NEW_SCHEDULE_SQLITE,
            [_new_schedule(uid, depth + 1) for uid in dict.fromkeys(queued)],
        )
        work.enqueue(conn, now, STAGE, SUBJECT, queued)
    # A page of another site that links to an already captured URL for the first time gives it
    # a referrer: crawl it again now so that the cloaking probe can use it.
    fresh = [
        uid
        for uid, _, cross in targets
        if cross and uid not in linked_before and uid != url_id and uid not in queued_set
    ]
    if fresh:
        captured = [
            int(u)
            for u in conn.execute(
                select(crawl_schedule.c.url_id).where(
                    crawl_schedule.c.url_id.in_(fresh), crawl_schedule.c.crawls > 0
                )
            ).scalars()
        ]
        if captured:
            conn.execute(
                update(crawl_schedule)
                .where(crawl_schedule.c.url_id.in_(captured))
                .values(next_reason="referrer", next_crawl_at=now)
            )
    return queued


def _update_schedule(
    conn: Connection,
    schedule: Any,
    capture_id: int,
    seq: int,
    result: CaptureResult,
    settings: Settings,
    referrer_at: datetime | None = None,
) -> str:
    """Move the URL's schedule on after a capture; a live page is crawled again at
    ``referrer_at`` (when given) for a cloaking probe with a referrer. Returns the new state."""
    crawl = settings.crawl
    at = result.finished_at
    values: dict[str, Any] = {
        "crawls": seq,
        "last_capture_id": capture_id,
        "last_crawled_at": at,
        "next_reason": "periodic",
    }
    outcome = result.outcome
    if outcome == "live":
        state = "live"
        values.update(last_live_at=at, gone_since=None, gone_reason=None)
        if schedule.first_live_at is None:
            values["first_live_at"] = at
        values["next_crawl_at"] = at + timedelta(hours=crawl.recrawl_live_hours)
    elif outcome == "gone":
        state = "gone"
        if schedule.state != "gone" or schedule.gone_since is None:
            values["gone_since"] = at
        values["gone_reason"] = (result.gone_reason or "gone")[:64]
        values["next_crawl_at"] = at + timedelta(hours=crawl.recrawl_gone_hours)
    else:
        state = outcome
        values["next_reason"] = "retry"
        values["next_crawl_at"] = at + timedelta(hours=crawl.recrawl_failed_hours)
    if state == "live" and referrer_at is not None:
        values["next_reason"] = "referrer"
        values["next_crawl_at"] = referrer_at
    values["state"] = state
    values["b_url_id"] = schedule.url_id
    conn.execute(_UPDATE_SCHEDULE, values)
    return state


# --------------------------------------------------------------------------- reading


def visible_clause(principal: Principal) -> ColumnElement[bool]:
    """Captures the principal may read: derived from at least one report, and every report it
    derives from readable by the principal."""
    any_report = exists().where(capture_report.c.capture_id == capture.c.id)
    hidden_report = exists(
        select(1)
        .select_from(capture_report.join(report, report.c.id == capture_report.c.report_id))
        .where(
            capture_report.c.capture_id == capture.c.id,
            not_(
                access.visible(
                    principal,
                    "report",
                    id_col=report.c.id,
                    owner_col=report.c.owner_org_id,
                    tlp_col=report.c.tlp,
                )
            ),
        )
    )
    return and_(any_report, not_(hidden_report))


@dataclass(frozen=True)
class CaptureFilter:
    """Narrowing of a list or count of captures."""

    url_id: int | None = None
    domain: str | None = None
    outcome: str | None = None
    cloaking: bool | None = None
    since: datetime | None = None


def _filtered(stmt: Any, principal: Principal, f: CaptureFilter) -> Any:
    conds: list[Any] = [visible_clause(principal)]
    if f.url_id is not None:
        conds.append(capture.c.url_id == f.url_id)
    if f.domain:
        conds.append(
            capture.c.url_id.in_(
                select(url.c.id).where(url.c.registrable_domain == f.domain.lower())
            )
        )
    if f.outcome:
        conds.append(capture.c.outcome == f.outcome)
    if f.cloaking is not None:
        conds.append(capture.c.cloaking.is_(f.cloaking))
    if f.since is not None:
        conds.append(capture.c.finished_at >= f.since)
    return stmt.where(and_(*conds))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _capture_dict(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "url_id": int(row.url_id),
        "seq": int(row.seq),
        "reason": row.reason,
        "tlp": row.tlp,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "outcome": row.outcome,
        "outcome_reason": row.outcome_reason,
        "requested_url": row.requested_url,
        "final_url": row.final_url,
        "final_host": row.final_host,
        "status": row.status,
        "http_version": row.http_version,
        "connected_address": row.connected_address,
        "connected_port": row.connected_port,
        "resolver": row.resolver,
        "egress_profile": row.egress_profile,
        "egress_proxy": row.egress_proxy,
        "resolved": row.resolved,
        "redirects": row.redirects,
        "tls": row.tls,
        "headers": row.headers,
        "timings": row.timings,
        "content_type": row.content_type,
        "page_bytes": row.page_bytes,
        "page_sha256": row.page_sha256.hex() if row.page_sha256 else None,
        "budget": row.budget,
        "cloaking": bool(row.cloaking),
        "cloaking_detail": row.cloaking_detail,
        "template_fingerprint": row.template_fingerprint,
        "media_count": row.media_count,
        "indicator_count": row.indicator_count,
        "fetcher_version": row.fetcher_version,
    }


def _sighting_dict(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "capture_id": int(row.capture_id),
        "position": row.position,
        "url": row.url,
        "embed": row.embed,
        "status": row.status,
        "reason": row.reason,
        "http_status": row.http_status,
        "fetched_address": row.fetched_address,
        "declared_type": row.declared_type,
        "sniffed_type": row.sniffed_type,
        "bytes": row.bytes,
        "width": row.width,
        "height": row.height,
        "pdq": row.pdq,
        "pdq_quality": row.pdq_quality,
        "pdq_variants": row.pdq_variants,
        "md5": row.md5,
        "sha256": row.sha256,
        "variants_seen": row.variants_seen,
    }


def _indicator_dict(row: Any) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "key": row.key,
        "value": row.value,
        "detail": row.detail,
        "variants_seen": row.variants_seen,
    }


def _details(conn: Connection, capture_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not capture_ids:
        return {}
    rows = conn.execute(select(capture).where(capture.c.id.in_(capture_ids))).all()
    out = {int(r.id): _capture_dict(r) for r in rows}
    for cid in out:
        out[cid].update(media=[], indicators=[], report_ids=[])
    for r in conn.execute(
        select(media_sighting)
        .where(media_sighting.c.capture_id.in_(capture_ids))
        .order_by(media_sighting.c.capture_id, media_sighting.c.position)
    ):
        out[int(r.capture_id)]["media"].append(_sighting_dict(r))
    for r in conn.execute(
        select(capture_indicator)
        .where(capture_indicator.c.capture_id.in_(capture_ids))
        .order_by(capture_indicator.c.capture_id, capture_indicator.c.id)
    ):
        out[int(r.capture_id)]["indicators"].append(_indicator_dict(r))
    for r in conn.execute(
        select(capture_report.c.capture_id, capture_report.c.report_id)
        .where(capture_report.c.capture_id.in_(capture_ids))
        .order_by(capture_report.c.report_id)
    ):
        out[int(r.capture_id)]["report_ids"].append(int(r.report_id))
    for r in conn.execute(
        select(
            capture_evidence.c.capture_id,
            capture_evidence.c.format,
            capture_evidence.c.sha256,
            capture_evidence.c.size,
            capture_evidence.c.records,
        ).where(capture_evidence.c.capture_id.in_(capture_ids))
    ):
        out[int(r.capture_id)]["evidence"] = {
            "format": r.format,
            "sha256": bytes(r.sha256).hex(),
            "size": r.size,
            "records": r.records,
        }
    return out


def get(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, capture_id: int
) -> dict[str, Any] | None:
    """A capture with its sightings, indicators and evidence facts, or None when it does not
    exist or may not be read (the same answer)."""
    row = conn.execute(
        select(capture.c.id, capture.c.tlp).where(
            capture.c.id == capture_id, visible_clause(principal)
        )
    ).first()
    if row is None:
        return None
    record_sensitive_reads(conn, clock, actor, KIND, "read", [(int(row.id), Tlp(row.tlp))])
    return _details(conn, [int(row.id)])[int(row.id)]


def list_page(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: CaptureFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Captures the principal may read, newest first, without their sightings and indicators."""
    stmt = _filtered(select(capture), principal, f)
    if before_id is not None:
        stmt = stmt.where(capture.c.id < before_id)
    rows = conn.execute(stmt.order_by(capture.c.id.desc()).limit(limit)).all()
    record_sensitive_reads(
        conn, clock, actor, KIND, "list", [(int(r.id), Tlp(r.tlp)) for r in rows]
    )
    return [_capture_dict(r) for r in rows]


def count(conn: Connection, principal: Principal, f: CaptureFilter) -> int:
    """How many captures the principal may read."""
    stmt = _filtered(select(func.count()).select_from(capture), principal, f)
    return int(conn.execute(stmt).scalar_one())


def search_sightings(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    pdq: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Media sightings with this exact digest or PDQ hash, in captures the principal may
    read."""
    conds: list[Any] = [visible_clause(principal)]
    if sha256:
        conds.append(media_sighting.c.sha256 == sha256.lower())
    if md5:
        conds.append(media_sighting.c.md5 == md5.lower())
    if pdq:
        conds.append(media_sighting.c.pdq == pdq.lower())
    if len(conds) == 1:
        raise ValueError("name sha256, md5 or pdq")
    rows = conn.execute(
        select(media_sighting, capture.c.tlp)
        .select_from(media_sighting.join(capture, capture.c.id == media_sighting.c.capture_id))
        .where(and_(*conds))
        .order_by(media_sighting.c.id.desc())
        .limit(limit)
    ).all()
    record_sensitive_reads(
        conn, clock, actor, KIND, "search", [(int(r.capture_id), Tlp(r.tlp)) for r in rows]
    )
    return [_sighting_dict(r) for r in rows]


def evidence(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, capture_id: int
) -> tuple[bytes, bytes] | None:
    """The capture's WARC file and its recorded SHA-256, or None (missing or not readable).
    Every evidence read is audited."""
    row = conn.execute(
        select(capture_evidence.c.warc, capture_evidence.c.sha256, capture.c.tlp)
        .select_from(capture_evidence.join(capture, capture.c.id == capture_evidence.c.capture_id))
        .where(capture.c.id == capture_id, visible_clause(principal))
    ).first()
    if row is None:
        return None
    record_sensitive_reads(
        conn, clock, actor, KIND, "evidence", [(capture_id, Tlp(row.tlp))], always=True
    )
    return bytes(row.warc), bytes(row.sha256)


def export_bundle(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, capture_id: int
) -> bytes | None:
    """The self-verifying evidence bundle of a capture (zip), or None. Audited."""
    found = evidence(conn, clock, principal, actor, capture_id)
    if found is None:
        return None
    record = _details(conn, [capture_id])[capture_id]
    return write_bundle(record, found[0], found[1])


# --------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class Progress:
    """What the crawl queue and the captures add up to, for progress displays."""

    pending: int
    in_flight: int
    done: int
    dead: int
    captures: int
    failed: int
    gone: int
    pictures: int
    matched: int


def progress(conn: Connection, since_capture_id: int = 0) -> Progress:
    """Counts for progress displays: the crawl queue, and captures (and their pictures) with
    an id above ``since_capture_id``."""
    states: dict[str, int] = dict(
        conn.execute(
            select(work_item.c.state, func.count())
            .where(work_item.c.stage == STAGE)
            .group_by(work_item.c.state)
        ).all()
    )
    outcomes: dict[str, int] = dict(
        conn.execute(
            select(capture.c.outcome, func.count())
            .where(capture.c.id > since_capture_id)
            .group_by(capture.c.outcome)
        ).all()
    )
    pictures = conn.execute(
        select(func.count())
        .select_from(media_sighting)
        .where(media_sighting.c.capture_id > since_capture_id, media_sighting.c.status == "hashed")
    ).scalar_one()
    matched = conn.execute(
        select(func.count()).where(work_item.c.stage == MATCH_STAGE, work_item.c.state == work.DONE)
    ).scalar_one()
    return Progress(
        pending=int(states.get(work.PENDING, 0)),
        in_flight=int(states.get(work.LEASED, 0)),
        done=int(states.get(work.DONE, 0)),
        dead=int(states.get(work.DEAD, 0)),
        captures=int(sum(outcomes.values())),
        failed=int(outcomes.get("failed", 0) + outcomes.get("blocked", 0)),
        gone=int(outcomes.get("gone", 0)),
        pictures=int(pictures),
        matched=int(matched),
    )


def last_capture_id(conn: Connection) -> int:
    """The newest capture's id (0 when there is none)."""
    return int(conn.execute(select(func.coalesce(func.max(capture.c.id), 0))).scalar_one())


def schedule_of(conn: Connection, url_id: int) -> dict[str, Any] | None:
    """A URL's crawl schedule (not access-controlled: for operators and tests)."""
    row = conn.execute(select(crawl_schedule).where(crawl_schedule.c.url_id == url_id)).first()
    return None if row is None else dict(row._mapping)

"""Queries of the outcomes feature: assessments, bank seed requests, notice items and the
facts a takedown notice is made of (URL, confirmation, capture, pictures, attribution,
reports). The one place this feature reads and writes its tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select, update

from cordon.domain.partners import OrgType, Principal
from cordon.domain.tlp import Tlp
from cordon.store import access
from cordon.store.tables import (
    attribution,
    jurisdiction_route,
    organisation,
    report,
    report_url,
    url,
)
from cordon.store.tables_crawl import capture, capture_evidence, crawl_schedule, media_sighting
from cordon.store.tables_money import notice, notice_endpoint, url_confirmation
from cordon.store.tables_outcomes import (
    assessment,
    bank_seed_request,
    notice_item,
    notice_watch,
    verify_plan,
)

ASSESSMENT_KIND = "assessment"
#: Report markings whose evidence may be sent to parties that must act on it.
ACTIONABLE_TLP = (Tlp.CLEAR.value, Tlp.GREEN.value, Tlp.AMBER.value)


@dataclass(frozen=True)
class Assessment:
    id: int
    url_id: int
    capture_id: int | None
    classification: str
    analyst_user_id: int
    owner_org_id: int
    tlp: Tlp
    assessed_at: datetime
    notes: str | None
    created_at: datetime


def _assessment(row: Any) -> Assessment:
    return Assessment(
        id=int(row.id),
        url_id=int(row.url_id),
        capture_id=row.capture_id,
        classification=row.classification,
        analyst_user_id=int(row.analyst_user_id),
        owner_org_id=int(row.owner_org_id),
        tlp=Tlp(row.tlp),
        assessed_at=row.assessed_at,
        notes=row.notes,
        created_at=row.created_at,
    )


def insert_assessment(
    conn: Connection,
    now: datetime,
    *,
    url_id: int,
    capture_id: int | None,
    classification: str,
    principal: Principal,
    tlp: Tlp,
    assessed_at: datetime,
    notes: str | None,
) -> Assessment:
    aid = conn.execute(
        assessment.insert()
        .values(
            url_id=url_id,
            capture_id=capture_id,
            classification=classification,
            analyst_user_id=principal.user_id,
            owner_org_id=principal.org_id,
            tlp=tlp.value,
            assessed_at=assessed_at,
            notes=notes,
            created_at=now,
        )
        .returning(assessment.c.id)
    ).scalar_one()
    return _assessment(conn.execute(select(assessment).where(assessment.c.id == aid)).one())


def assessments_of(conn: Connection, url_id: int) -> list[Assessment]:
    """Every assessment of a URL, oldest first (not an access path: for confirmation rules)."""
    rows = conn.execute(
        select(assessment).where(assessment.c.url_id == url_id).order_by(assessment.c.id)
    ).all()
    return [_assessment(r) for r in rows]


def assessment_visible(principal: Principal) -> ColumnElement[bool]:
    """Assessments are shared records under their own marking and owner."""
    return access.visible(
        principal,
        ASSESSMENT_KIND,
        id_col=assessment.c.id,
        owner_col=assessment.c.owner_org_id,
        tlp_col=assessment.c.tlp,
    )


def list_assessments(
    conn: Connection,
    principal: Principal,
    *,
    url_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Assessment]:
    stmt = select(assessment).where(assessment_visible(principal))
    if url_id is not None:
        stmt = stmt.where(assessment.c.url_id == url_id)
    if before_id is not None:
        stmt = stmt.where(assessment.c.id < before_id)
    rows = conn.execute(stmt.order_by(assessment.c.id.desc()).limit(limit)).all()
    return [_assessment(r) for r in rows]


def count_assessments(conn: Connection, principal: Principal, *, url_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(assessment).where(assessment_visible(principal))
    if url_id is not None:
        stmt = stmt.where(assessment.c.url_id == url_id)
    return int(conn.execute(stmt).scalar_one())


def get_assessment(conn: Connection, principal: Principal, assessment_id: int) -> Assessment | None:
    row = conn.execute(
        select(assessment).where(assessment.c.id == assessment_id, assessment_visible(principal))
    ).first()
    return None if row is None else _assessment(row)


# ------------------------------------------------------------------------------ seed requests


def seed_request_of(conn: Connection, url_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(bank_seed_request).where(bank_seed_request.c.url_id == url_id)
    ).first()
    return None if row is None else dict(row._mapping)


def insert_seed_request(
    conn: Connection,
    now: datetime,
    *,
    url_id: int,
    capture_id: int | None,
    classification: str,
    assessment_ids: Sequence[int],
    hashes: Sequence[dict[str, Any]],
) -> int:
    return int(
        conn.execute(
            bank_seed_request.insert()
            .values(
                url_id=url_id,
                capture_id=capture_id,
                classification=classification,
                assessment_ids=list(assessment_ids),
                hashes=list(hashes),
                state="pending",
                requested_at=now,
            )
            .returning(bank_seed_request.c.id)
        ).scalar_one()
    )


def seed_requests(
    conn: Connection, *, url_ids: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    stmt = select(bank_seed_request).order_by(bank_seed_request.c.id)
    if url_ids is not None:
        stmt = stmt.where(bank_seed_request.c.url_id.in_(list(url_ids)))
    return [dict(r._mapping) for r in conn.execute(stmt).all()]


def mark_seed_submitted(
    conn: Connection, request_id: int, now: datetime, result: dict[str, Any]
) -> None:
    conn.execute(
        update(bank_seed_request)
        .where(bank_seed_request.c.id == request_id)
        .values(state="submitted", submitted_at=now, result=result)
    )


# ------------------------------------------------------------------------------ facts


def url_row(conn: Connection, url_id: int) -> Any | None:
    return conn.execute(select(url).where(url.c.id == url_id)).first()


def url_id_by_text(conn: Connection, text: str) -> int | None:
    found = conn.execute(select(url.c.id).where(url.c.url == text)).scalar()
    return None if found is None else int(found)


def confirmation(conn: Connection, url_id: int) -> Any | None:
    return conn.execute(select(url_confirmation).where(url_confirmation.c.url_id == url_id)).first()


@dataclass(frozen=True)
class ReportFacts:
    """What the reports naming a URL allow: the earliest report time and who may act."""

    reported_at: datetime | None
    actionable: bool
    issuer_org_id: int | None


def report_facts(conn: Connection, url_id: int) -> ReportFacts:
    rows = conn.execute(
        select(report.c.owner_org_id, report.c.tlp, report.c.created_at)
        .join(report_url, report_url.c.report_id == report.c.id)
        .where(report_url.c.url_id == url_id)
        .order_by(report.c.created_at, report.c.id)
    ).all()
    if not rows:
        return ReportFacts(None, False, None)
    actionable = [r for r in rows if r.tlp in ACTIONABLE_TLP]
    return ReportFacts(
        reported_at=rows[0].created_at,
        actionable=bool(actionable),
        issuer_org_id=int(actionable[0].owner_org_id) if actionable else None,
    )


def latest_capture(conn: Connection, url_id: int, *, live: bool = False) -> Any | None:
    stmt = select(capture).where(capture.c.url_id == url_id)
    if live:
        stmt = stmt.where(capture.c.outcome == "live")
    return conn.execute(stmt.order_by(capture.c.finished_at.desc(), capture.c.id.desc())).first()


def capture_by_id(conn: Connection, capture_id: int) -> Any | None:
    return conn.execute(select(capture).where(capture.c.id == capture_id)).first()


def captures_since(conn: Connection, url_id: int, since: datetime) -> list[Any]:
    """Captures of a URL finished at or after ``since``, oldest first."""
    return list(
        conn.execute(
            select(capture)
            .where(capture.c.url_id == url_id, capture.c.finished_at >= since)
            .order_by(capture.c.finished_at, capture.c.id)
        ).all()
    )


def capture_sha256(conn: Connection, capture_row: Any) -> str | None:
    """The SHA-256 of the capture's evidence (its WARC), else of its page."""
    digest = conn.execute(
        select(capture_evidence.c.sha256).where(capture_evidence.c.capture_id == capture_row.id)
    ).scalar()
    if digest:
        return bytes(digest).hex()
    return bytes(capture_row.page_sha256).hex() if capture_row.page_sha256 else None


def media_hashes(conn: Connection, capture_id: int) -> list[dict[str, Any]]:
    """The hashes (only) of a capture's hashed pictures, in page order."""
    rows = conn.execute(
        select(
            media_sighting.c.id,
            media_sighting.c.sha256,
            media_sighting.c.md5,
            media_sighting.c.pdq,
            media_sighting.c.pdq_quality,
        )
        .where(media_sighting.c.capture_id == capture_id, media_sighting.c.status == "hashed")
        .order_by(media_sighting.c.position)
    ).all()
    return [
        {
            "media_sighting_id": int(r.id),
            "sha256": r.sha256,
            "md5": r.md5,
            "pdq": r.pdq,
            "pdq_quality": r.pdq_quality,
        }
        for r in rows
    ]


def matched_media_ids(conn: Connection, capture_id: int) -> set[int]:
    """Media sightings of a capture whose match confirmed its URL (when matching is present)."""
    try:
        from cordon.store.tables_matching import sighting, sighting_match
    except ImportError:  # matching is not installed: no picture is singled out
        return set()
    rows = conn.execute(
        select(sighting.c.media_sighting_id)
        .join(sighting_match, sighting_match.c.sighting_id == sighting.c.id)
        .where(sighting.c.capture_id == capture_id, sighting_match.c.confirmed.is_(True))
    ).scalars()
    return {int(r) for r in rows if r is not None}


def latest_attribution(conn: Connection, url_id: int) -> Any | None:
    """The URL's newest attribution that found an address."""
    return conn.execute(
        select(attribution)
        .where(
            attribution.c.url_id == url_id,
            attribution.c.status.in_(["complete", "partial"]),
            attribution.c.address.is_not(None),
        )
        .order_by(attribution.c.observed_at.desc(), attribution.c.id.desc())
    ).first()


def attributed(conn: Connection, capture_id: int) -> bool:
    """True when an attribution was made from this capture."""
    return (
        conn.execute(
            select(attribution.c.id).where(attribution.c.capture_id == capture_id).limit(1)
        ).first()
        is not None
    )


def routes_of(conn: Connection, attribution_id: int) -> list[Any]:
    """The partners the attribution's routing names, active ones only."""
    return list(
        conn.execute(
            select(jurisdiction_route, organisation.c.name)
            .join(organisation, organisation.c.id == jurisdiction_route.c.org_id)
            .where(
                jurisdiction_route.c.attribution_id == attribution_id,
                organisation.c.active.is_(True),
            )
            .order_by(jurisdiction_route.c.id)
        ).all()
    )


def member_for_address(conn: Connection, address: str) -> int | None:
    """The member organisation that receives e-mail at ``address`` (an e-mail endpoint it
    registered), so that a notice to that abuse desk reaches its inbox too."""
    found = conn.execute(
        select(notice_endpoint.c.org_id)
        .join(organisation, organisation.c.id == notice_endpoint.c.org_id)
        .where(
            func.lower(notice_endpoint.c.target) == address.lower(),
            notice_endpoint.c.channel == "email",
            notice_endpoint.c.active.is_(True),
            organisation.c.active.is_(True),
        )
        .order_by(notice_endpoint.c.org_id)
    ).scalar()
    return None if found is None else int(found)


def org_name(conn: Connection, org_id: int) -> str:
    return str(
        conn.execute(select(organisation.c.name).where(organisation.c.id == org_id)).scalar()
    )


def orgs_of_type(conn: Connection, org_type: OrgType) -> list[int]:
    return [
        int(i)
        for i in conn.execute(
            select(organisation.c.id)
            .where(organisation.c.type == org_type.value, organisation.c.active.is_(True))
            .order_by(organisation.c.id)
        ).scalars()
    ]


def schedule_state(conn: Connection, url_id: int) -> str | None:
    return conn.execute(
        select(crawl_schedule.c.state).where(crawl_schedule.c.url_id == url_id)
    ).scalar()


# ------------------------------------------------------------------------------ items and drafts


def items_of(conn: Connection, notice_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(notice_item)
            .where(notice_item.c.notice_id == notice_id)
            .order_by(notice_item.c.id)
        ).all()
    )


def items_for_url(conn: Connection, url_id: int) -> list[Any]:
    """Every item about a URL with its notice's kind and state, oldest first."""
    return list(
        conn.execute(
            select(notice_item, notice.c.kind, notice.c.state.label("notice_state"))
            .join(notice, notice.c.id == notice_item.c.notice_id)
            .where(notice_item.c.url_id == url_id)
            .order_by(notice_item.c.id)
        ).all()
    )


def removed_items_with_media(conn: Connection, sha256s: Sequence[str]) -> list[Any]:
    """Removed host items whose URL showed any of these pictures (by SHA-256) in a capture."""
    if not sha256s:
        return []
    urls_with = (
        select(capture.c.url_id)
        .join(media_sighting, media_sighting.c.capture_id == capture.c.id)
        .where(media_sighting.c.sha256.in_(list(sha256s)))
    )
    return list(
        conn.execute(
            select(notice_item)
            .where(
                notice_item.c.state == "removed",
                notice_item.c.role.in_(["host", "cdn"]),
                notice_item.c.url_id.in_(urls_with),
            )
            .order_by(notice_item.c.id)
        ).all()
    )


def removed_items_on_domain(conn: Connection, domain: str) -> list[Any]:
    """Removed host items of URLs on the registrable domain ``domain``."""
    return list(
        conn.execute(
            select(notice_item)
            .join(url, url.c.id == notice_item.c.url_id)
            .where(
                notice_item.c.state == "removed",
                notice_item.c.role.in_(["host", "cdn"]),
                url.c.registrable_domain == domain,
            )
            .order_by(notice_item.c.id)
        ).all()
    )


def open_draft(
    conn: Connection,
    kind: str,
    *,
    recipient_org_id: int | None,
    recipient_address: str | None,
    issuer_org_id: int | None,
    max_items: int,
) -> Any | None:
    """The draft of ``kind`` to this recipient from this issuer that still has room."""
    who = (
        notice.c.recipient_org_id == recipient_org_id
        if recipient_org_id is not None
        else and_(
            notice.c.recipient_org_id.is_(None), notice.c.recipient_address == recipient_address
        )
    )
    issuer = (
        notice.c.issuer_org_id.is_(None)
        if issuer_org_id is None
        else notice.c.issuer_org_id == issuer_org_id
    )
    drafts = conn.execute(
        select(notice.c.id, notice.c.parent_notice_id)
        .where(notice.c.kind == kind, notice.c.state == "draft", who, issuer)
        .order_by(notice.c.id)
    ).all()
    for d in drafts:
        n = conn.execute(
            select(func.count()).select_from(notice_item).where(notice_item.c.notice_id == d.id)
        ).scalar_one()
        if int(n) < max_items:
            return d
    return None


def next_batch_number(conn: Connection, kind: str) -> int:
    top = conn.execute(
        select(func.max(notice.c.subject_id)).where(
            notice.c.kind == kind, notice.c.subject_kind == "batch"
        )
    ).scalar()
    return int(top or 0) + 1


def set_parent(conn: Connection, notice_id: int, parent_id: int) -> None:
    conn.execute(
        update(notice)
        .where(notice.c.id == notice_id, notice.c.parent_notice_id.is_(None))
        .values(parent_notice_id=parent_id)
    )


def insert_item(conn: Connection, values: dict[str, Any]) -> int:
    return int(
        conn.execute(notice_item.insert().values(**values).returning(notice_item.c.id)).scalar_one()
    )


def update_item(conn: Connection, item_id: int, **values: Any) -> None:
    conn.execute(update(notice_item).where(notice_item.c.id == item_id).values(**values))


def item_by_id(conn: Connection, item_id: int) -> Any | None:
    return conn.execute(select(notice_item).where(notice_item.c.id == item_id)).first()


# ------------------------------------------------------------------------------ watch


def watch_of(conn: Connection, notice_id: int) -> Any | None:
    return conn.execute(select(notice_watch).where(notice_watch.c.notice_id == notice_id)).first()


def start_watch(conn: Connection, notice_id: int) -> None:
    if watch_of(conn, notice_id) is None:
        conn.execute(notice_watch.insert().values(notice_id=notice_id, passes=0))


def update_watch(conn: Connection, notice_id: int, **values: Any) -> None:
    conn.execute(update(notice_watch).where(notice_watch.c.notice_id == notice_id).values(**values))


def plan_verification(conn: Connection, now: datetime, notice_id: int, due: datetime) -> int:
    """Plan the next verification pass at ``due``, cancelling any plan still waiting."""
    conn.execute(
        update(verify_plan)
        .where(
            verify_plan.c.notice_id == notice_id,
            verify_plan.c.done_at.is_(None),
            verify_plan.c.cancelled.is_(False),
        )
        .values(cancelled=True)
    )
    return int(
        conn.execute(
            verify_plan.insert()
            .values(notice_id=notice_id, due_at=due, created_at=now, cancelled=False)
            .returning(verify_plan.c.id)
        ).scalar_one()
    )


def take_plan(conn: Connection, plan_id: int, now: datetime) -> int | None:
    """Mark a plan carried out; its notice id, or None when it was cancelled or done."""
    row = conn.execute(select(verify_plan).where(verify_plan.c.id == plan_id)).first()
    if row is None or row.cancelled or row.done_at is not None:
        return None
    conn.execute(update(verify_plan).where(verify_plan.c.id == plan_id).values(done_at=now))
    return int(row.notice_id)


# ------------------------------------------------------------------------------ metrics rows


def removal_rows(conn: Connection) -> list[Any]:
    """Every host or CDN item with its times and hosting facts (for aggregates only)."""
    return list(
        conn.execute(
            select(
                notice_item.c.id,
                notice_item.c.url_id,
                notice_item.c.notice_id,
                notice_item.c.state,
                notice_item.c.provider,
                notice_item.c.asn,
                notice_item.c.country,
                notice_item.c.reported_at,
                notice_item.c.removed_at,
                notice_item.c.previous_item_id,
                url.c.registrable_domain,
            )
            .join(url, url.c.id == notice_item.c.url_id)
            .where(notice_item.c.role.in_(["host", "cdn"]))
            .order_by(notice_item.c.id)
        ).all()
    )


def outcome_notice_rows(conn: Connection, kinds: Sequence[str]) -> list[Any]:
    return list(
        conn.execute(
            select(notice.c.id, notice.c.kind, notice.c.state, notice.c.repeats, notice.c.rounds)
            .where(notice.c.kind.in_(list(kinds)), notice.c.state != "draft")
            .order_by(notice.c.id)
        ).all()
    )

"""Assessments: an analyst's classification of the content at a URL, which confirms it.

The analyst views the content in their own secure environment, never in Cordon; Cordon keeps
the classification, who made it, when, and notes. An assessment confirms the URL through the
money feature's one confirmation entry point (``mark_url_confirmed``, source
``assessment``), so payment alerts and takedown notices follow it exactly as they follow a
hash match. Enough independent assessments (``outcomes.assessments_to_seed``, by analysts of
different organisations unless ``outcomes.seed_same_org``) make the page's reference hashes
eligible to seed a bank: a *bank seed request* records them, and a bank owner submits it to a
bank (:func:`submit_seed_request`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.config import Settings
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.money.sightings import mark_url_confirmed
from cordon.notices.policy import NoticePolicy
from cordon.outcomes import repo
from cordon.outcomes.xarf import CLASSIFICATIONS
from cordon.store import access

SOURCE = "assessment"
#: Seriousness, most severe first: a page's classification is its most severe assessment's.
SEVERITY = ("A1", "A2", "B1", "B2", "baseline")


class AssessmentError(ValueError):
    """An assessment that cannot be recorded; ``field`` names the bad part."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AssessmentResult:
    assessment: repo.Assessment
    classification: str
    first_confirmation: bool
    seed_request_id: int | None


def most_severe(classes: list[str]) -> str:
    """The most severe of ``classes`` (A1 before A2 before B1 before B2 before baseline)."""
    return min(classes, key=SEVERITY.index)


def record(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    settings: Settings,
    *,
    url_id: int | None = None,
    url_text: str | None = None,
    classification: str,
    notes: str | None = None,
    tlp: Tlp = Tlp.AMBER,
    assessed_at: datetime | None = None,
    capture_id: int | None = None,
    share_with: Sequence[int] = (),
) -> AssessmentResult:
    """Record an assessment and confirm the URL with it.

    The URL is named by id or by its text as reported (it must be known to Cordon). The
    capture defaults to the URL's newest live capture. The assessment is a shared record
    under ``tlp`` (AMBER ones shared with ``share_with``; a RED one names its analyst).
    Raises :class:`AssessmentError` naming the bad field; nothing is stored then.
    """
    if share_with and tlp is not Tlp.AMBER:
        raise AssessmentError("share_with applies to AMBER assessments only", "share_with")
    if classification not in CLASSIFICATIONS:
        raise AssessmentError(
            f"classification {classification!r} is not one of {', '.join(CLASSIFICATIONS)}",
            "classification",
        )
    if url_id is None:
        if not url_text:
            raise AssessmentError("name the URL (url or url_id)", "url")
        url_id = repo.url_id_by_text(conn, url_text.strip())
        if url_id is None:
            raise AssessmentError(f"no reported URL {url_text!r}: report it first", "url")
    elif repo.url_row(conn, url_id) is None:
        raise AssessmentError(f"no URL with id {url_id}", "url_id")
    now = clock.now()
    when = assessed_at or now
    if when.tzinfo is None:
        raise AssessmentError("assessed_at needs a time zone", "assessed_at")
    if when > now + timedelta(days=1):
        raise AssessmentError("assessed_at is in the future", "assessed_at")
    cap = (
        repo.capture_by_id(conn, capture_id)
        if capture_id is not None
        else repo.latest_capture(conn, url_id, live=True)
    )
    if capture_id is not None and (cap is None or int(cap.url_id) != url_id):
        raise AssessmentError(f"capture {capture_id} is not a capture of this URL", "capture_id")
    made = repo.insert_assessment(
        conn,
        now,
        url_id=url_id,
        capture_id=None if cap is None else int(cap.id),
        classification=classification,
        principal=principal,
        tlp=tlp,
        assessed_at=when,
        notes=notes,
    )
    try:
        access.set_sharing(
            conn,
            repo.ASSESSMENT_KIND,
            made.id,
            org_ids=share_with,
            red_user_ids=[principal.user_id] if tlp is Tlp.RED else [],
        )
    except ValueError as exc:
        raise AssessmentError(str(exc), "share_with") from None
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:assessment:create",
        object_kind=repo.ASSESSMENT_KIND,
        object_ids=[made.id],
        details={"url_id": url_id, "classification": classification},
    )
    all_of_url = repo.assessments_of(conn, url_id)
    page_class = most_severe([a.classification for a in all_of_url])
    existing = repo.confirmation(conn, url_id)
    summary: dict[str, Any] = (
        dict(existing.match_summary) if existing is not None and existing.match_summary else {}
    )
    if "matches" not in summary:
        # A hash match's summary stands as it is; an assessment's is this one.
        summary = {
            "classification": page_class,
            "assessments": [a.id for a in all_of_url],
            "assessing_orgs": len({a.owner_org_id for a in all_of_url}),
        }
    result = mark_url_confirmed(
        conn,
        clock,
        actor,
        url_id,
        capture_id=None if cap is None else int(cap.id),
        capture_time=None if cap is None else cap.finished_at,
        match_summary=summary,
        source=SOURCE,
        policy=NoticePolicy.from_settings(settings),
    )
    seed_id = _maybe_seed(conn, clock, actor, settings, url_id, all_of_url, page_class)
    return AssessmentResult(made, page_class, result.first, seed_id)


def _maybe_seed(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    url_id: int,
    all_of_url: list[repo.Assessment],
    page_class: str,
) -> int | None:
    """Record the bank seed request once the assessments are enough; its id, else None."""
    existing = repo.seed_request_of(conn, url_id)
    if existing is not None:
        return int(existing["id"])
    rules = settings.outcomes
    counted = len(all_of_url) if rules.seed_same_org else len({a.owner_org_id for a in all_of_url})
    if counted < rules.assessments_to_seed:
        return None
    capture_id = next((a.capture_id for a in reversed(all_of_url) if a.capture_id), None)
    hashes = (
        [
            {k: v for k, v in h.items() if k != "media_sighting_id" and v is not None}
            for h in repo.media_hashes(conn, capture_id)
        ]
        if capture_id is not None
        else []
    )
    rid = repo.insert_seed_request(
        conn,
        clock.now(),
        url_id=url_id,
        capture_id=capture_id,
        classification=page_class,
        assessment_ids=[a.id for a in all_of_url],
        hashes=hashes,
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:bank_seed_request:create",
        object_kind="bank_seed_request",
        object_ids=[rid],
        details={"url_id": url_id, "hashes": len(hashes), "classification": page_class},
    )
    return rid


#: Seed hashes as bank signal types (python-threatexchange names).
SIGNALS = (("pdq", "pdq"), ("sha256", "photo_sha256"), ("md5", "photo_md5"))


def submit_seed_request(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    request_id: int,
    bank: int | str,
) -> dict[str, Any]:
    """Add a seed request's reference hashes to a bank the principal's organisation owns
    (through ``cordon.banks.repo.add_entries``), with the request's classification. Only the
    signal types the bank holds are added. Raises :class:`AssessmentError`."""
    from cordon.banks import repo as banks
    from cordon.banks.model import EntryIn

    found = [r for r in repo.seed_requests(conn) if int(r["id"]) == request_id]
    if not found:
        raise AssessmentError(f"no bank seed request with id {request_id}", "request_id")
    req = found[0]
    if req["state"] != "pending":
        raise AssessmentError(f"bank seed request {request_id} was already submitted")
    target = banks.get_bank(conn, clock, principal, actor, bank)
    if target is None:
        raise AssessmentError(f"no bank {bank!r} you may read", "bank")
    entries = [
        EntryIn(
            signal_type=signal_type,
            signal=str(h[key]),
            classification=req["classification"],
            source=f"cordon:assessment:{req['url_id']}",
        )
        for h in req["hashes"]
        for key, signal_type in SIGNALS
        if h.get(key) and signal_type in target.signal_types
    ]
    if not entries:
        raise AssessmentError(f"bank {target.name} holds none of the request's signal types")
    try:
        result = banks.add_entries(conn, clock, principal, actor, target.id, entries)
    except banks.BankError as exc:
        raise AssessmentError(str(exc), "bank") from None
    outcome = {"bank": target.name, "added": result.added, "duplicates": result.duplicates}
    repo.mark_seed_submitted(conn, request_id, clock.now(), outcome)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:bank_seed_request:submit",
        object_kind="bank_seed_request",
        object_ids=[request_id],
        details=outcome,
    )
    return outcome


def as_dict(a: repo.Assessment) -> dict[str, Any]:
    """The JSON form of an assessment."""

    def iso(value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    return {
        "id": a.id,
        "url_id": a.url_id,
        "capture_id": a.capture_id,
        "classification": a.classification,
        "analyst_user_id": a.analyst_user_id,
        "org_id": a.owner_org_id,
        "tlp": a.tlp.value,
        "assessed_at": iso(a.assessed_at),
        "notes": a.notes,
        "created_at": iso(a.created_at),
    }

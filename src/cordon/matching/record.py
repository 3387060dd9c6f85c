"""Recording sightings and matches, the flood guard, and confirming matched URLs.

Every hash Cordon sees is a sighting; every match of a sighting against a bank entry is a row of
``sighting_match`` (recorded once per sighting and entry). A picture seen by a capture whose match
is active, classified and in a non-negative bank confirms its URL
(:func:`cordon.money.sightings.mark_url_confirmed`, source ``hash_match``), after the picture's
reference hash is computed from a fresh fetch (:mod:`cordon.matching.reference`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.config import Settings
from cordon.matching import flood, repo
from cordon.matching.model import Hit, Query, most_severe
from cordon.matching.reference import Reference, Wanted, reference_hashes
from cordon.matching.service import DIGEST_WIDTHS, PDQ

#: The money package's source name for confirmations by hash matching.
CONFIRM_SOURCE = "hash_match"
#: Matches listed in one confirmation's summary (the count is always complete).
SUMMARY_MATCHES = 50

#: Which column of a media sighting gives which signal type.
MEDIA_SIGNALS = (("pdq", PDQ), ("md5", "photo_md5"), ("sha256", "photo_sha256"))


@dataclass(frozen=True, slots=True)
class SightingRef:
    """Where a sighting came from (the capture fields are None for API sightings)."""

    sighting_id: int
    capture_id: int | None = None
    url_id: int | None = None
    media_sighting_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewMatch:
    """A match recorded now."""

    match_id: int
    ref: SightingRef
    hit: Hit


@dataclass
class Outcome:
    """What one round of recording did."""

    sightings: int = 0
    matches: list[NewMatch] = field(default_factory=list)
    quarantined: dict[int, flood.FloodCheck] = field(default_factory=dict)
    confirmed_urls: list[int] = field(default_factory=list)
    reference_failures: int = 0


RefetchFn = Callable[[Settings, Sequence[Wanted]], dict[int, Reference]]


def record_matches(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    refs: Sequence[SightingRef],
    hits: Sequence[Sequence[Hit]],
    *,
    retroactive: bool,
) -> Outcome:
    """Record the hits of these sightings that are not recorded yet, then run the flood guard.

    Retroactive hits also take the sightings' earlier matches into account: a new negative entry
    suppresses their active matches in other banks, and a new hit of a sighting that already
    matched a negative bank is suppressed.
    """
    out = Outcome()
    now = clock.now()
    existing = repo.existing_matches(conn, [r.sighting_id for r in refs])
    negative_before = (
        repo.negative_matched(conn, [r.sighting_id for r in refs]) if retroactive else set()
    )
    rows: list[dict[str, Any]] = []
    pending: list[tuple[SightingRef, Hit]] = []
    newly_negative: set[int] = set()
    for ref, per in zip(refs, hits, strict=True):
        for hit in per:
            if (ref.sighting_id, hit.entry_id) in existing:
                continue
            if (
                retroactive
                and hit.status == "active"
                and not hit.negative
                and ref.sighting_id in negative_before
            ):
                hit = replace(hit, status="suppressed")
            if retroactive and hit.negative and hit.status == "active":
                newly_negative.add(ref.sighting_id)
            rows.append(_match_row(ref, hit, now, retroactive))
            pending.append((ref, hit))
    ids = repo.insert_matches(conn, rows)
    out.matches = [NewMatch(i, ref, hit) for i, (ref, hit) in zip(ids, pending, strict=True)]
    if newly_negative:
        repo.suppress_active_matches(conn, newly_negative)
        out.matches = [
            replace(m, hit=replace(m.hit, status="suppressed"))
            if m.ref.sighting_id in newly_negative
            and not m.hit.negative
            and m.hit.status == "active"
            else m
            for m in out.matches
        ]
    active_entries = {m.hit.entry_id for m in out.matches if m.hit.status == "active"}
    if active_entries:
        rule = flood.FloodRule.from_settings(settings)
        out.quarantined = flood.guard(conn, clock, actor, rule, active_entries)
    if out.quarantined:
        hit_ids = [m.match_id for m in out.matches if m.hit.entry_id in out.quarantined]
        repo.set_match_status(conn, hit_ids, "quarantined")
        out.matches = [
            replace(m, hit=replace(m.hit, status="quarantined"))
            if m.hit.entry_id in out.quarantined
            else m
            for m in out.matches
        ]
    return out


def _match_row(ref: SightingRef, hit: Hit, now: Any, retroactive: bool) -> dict[str, Any]:
    return {
        "sighting_id": ref.sighting_id,
        "entry_id": hit.entry_id,
        "bank_id": hit.bank_id,
        "signal_type": hit.signal_type,
        "distance": hit.distance,
        "variant": hit.variant,
        "status": hit.status,
        "retroactive": retroactive,
        "classification": hit.classification,
        "matched_at": now,
        "reference_state": "not_needed",
        "reference_pdq": None,
        "reference_quality": None,
        "reference_error": None,
        "confirmed": False,
    }


def confirm(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    outcome: Outcome,
    *,
    refetch: RefetchFn = reference_hashes,
) -> None:
    """Compute reference hashes of the confirming matches' pictures and confirm their URLs."""
    from cordon.money.sightings import mark_url_confirmed
    from cordon.notices.policy import NoticePolicy

    confirming = [m for m in outcome.matches if m.hit.confirms and m.ref.capture_id is not None]
    if not confirming:
        return
    by_capture: dict[int, list[NewMatch]] = defaultdict(list)
    for m in confirming:
        assert m.ref.capture_id is not None
        by_capture[m.ref.capture_id].append(m)
    media = repo.media_rows(
        conn, {m.ref.media_sighting_id for m in confirming if m.ref.media_sighting_id}
    )
    captures = {cid: repo.capture_facts(conn, cid) for cid in by_capture}
    wanted = []
    for m in confirming:
        row = media.get(m.ref.media_sighting_id or 0)
        cap = captures.get(m.ref.capture_id or 0)
        if row is None or cap is None:
            continue
        wanted.append(Wanted(int(row.id), row.url, row.sha256, cap.final_url or cap.requested_url))
    unique = list({w.media_sighting_id: w for w in wanted}.values())
    references = refetch(settings, unique) if settings.matching.refetch_reference else {}
    for m in confirming:
        ref = references.get(m.ref.media_sighting_id or 0)
        if ref is None:
            repo.set_reference(conn, [m.match_id], state="failed", error="not fetched again")
            outcome.reference_failures += 1
        elif ref.error is not None:
            repo.set_reference(conn, [m.match_id], state="failed", error=ref.error)
            outcome.reference_failures += 1
        else:
            repo.set_reference(
                conn, [m.match_id], state="computed", pdq=ref.pdq, quality=ref.quality
            )
    policy = NoticePolicy.from_settings(settings)
    for capture_id, matches in sorted(by_capture.items()):
        cap = captures.get(capture_id)
        if cap is None:
            continue
        summary = {
            "classification": most_severe([m.hit.classification for m in matches]),
            "matched_media": len({m.ref.media_sighting_id for m in matches}),
            "match_count": len(matches),
            "matches": [
                {
                    "bank": m.hit.bank_name,
                    "entry_id": m.hit.entry_id,
                    "distance": m.hit.distance,
                    "signal_type": m.hit.signal_type,
                    "variant": m.hit.variant,
                }
                for m in sorted(matches, key=lambda m: (m.hit.distance, m.match_id))[
                    :SUMMARY_MATCHES
                ]
            ],
        }
        mark_url_confirmed(
            conn,
            clock,
            actor,
            int(cap.url_id),
            capture_id=capture_id,
            capture_time=cap.finished_at,
            source=CONFIRM_SOURCE,
            match_summary=summary,
            policy=policy,
        )
        repo.mark_confirmed(conn, [m.match_id for m in matches])
        outcome.confirmed_urls.append(int(cap.url_id))


def media_queries(row: Any) -> list[tuple[str, Query]]:
    """The queries of one hashed media sighting: ``(signal type, query)`` for each hash."""
    out: list[tuple[str, Query]] = []
    for column, signal_type in MEDIA_SIGNALS:
        value = getattr(row, column)
        if not value:
            continue
        if signal_type == PDQ:
            variants = {str(k): str(v) for k, v in (row.pdq_variants or {}).items()}
            out.append((PDQ, Query(PDQ, value.lower(), row.pdq_quality, variants)))
        elif signal_type in DIGEST_WIDTHS:
            out.append((signal_type, Query(signal_type, value.lower())))
    return out

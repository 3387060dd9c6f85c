"""The three ways hashes get matched: a capture's pictures (stage ``match``), a bank change
against past sightings (stage ``retro_match``), and a member's match call (the API)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.config import Settings
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.matching import repo
from cordon.matching.model import Hit, MatchStatus, Query
from cordon.matching.record import (
    Outcome,
    RefetchFn,
    SightingRef,
    confirm,
    media_queries,
    record_matches,
)
from cordon.matching.reference import Wanted, reference_hashes
from cordon.matching.service import (
    DIGEST_WIDTHS,
    PDQ,
    Matcher,
    candidates,
    digest_array,
    pdq_array,
    resolve,
)
from cordon.signals.index import DigestIndex, PdqIndex
from cordon.store import access

#: Bank changes that bring entries into matching, and so are matched against past sightings.
RETRO_OPS = frozenset({"add", "enable", "release"})


class NothingToMatch(LookupError):
    """The subject of a match does not exist."""


def match_capture(
    conn: Connection,
    matcher: Matcher,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    capture_id: int,
    *,
    refetch: RefetchFn = reference_hashes,
) -> Outcome:
    """Record the sightings of a capture's hashed pictures, match them, record the matches, run
    the flood guard and confirm the URL when a picture matched. Idempotent: sightings and matches
    already recorded are kept, not repeated."""
    cap = repo.capture_facts(conn, capture_id)
    if cap is None:
        raise NothingToMatch(f"no capture with id {capture_id}")
    known = repo.capture_sightings(conn, capture_id)
    rows: list[dict[str, Any]] = []
    keys: list[tuple[int, str]] = []
    plan: list[tuple[int, str, Query]] = []
    for media in repo.hashed_media(conn, capture_id):
        for signal_type, query in media_queries(media):
            plan.append((int(media.id), signal_type, query))
            if (int(media.id), signal_type) in known:
                continue
            keys.append((int(media.id), signal_type))
            rows.append(
                {
                    "source": "capture",
                    "media_sighting_id": int(media.id),
                    "capture_id": capture_id,
                    "url_id": int(cap.url_id),
                    "org_id": None,
                    "user_id": None,
                    "tlp": cap.tlp,
                    "signal_type": signal_type,
                    "signal": query.signal,
                    "quality": query.quality,
                    "variants": dict(query.variants),
                    "seen_at": cap.finished_at,
                }
            )
    known.update(zip(keys, repo.insert_sightings(conn, rows), strict=True))
    refs = [SightingRef(known[(mid, st)], capture_id, int(cap.url_id), mid) for mid, st, _ in plan]
    hits = matcher.match(conn, [q for _, _, q in plan])
    outcome = record_matches(conn, clock, actor, settings, refs, hits, retroactive=False)
    outcome.sightings = len(rows)
    confirm(conn, clock, actor, settings, outcome, refetch=refetch)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:capture:match",
        object_kind="capture",
        object_ids=[capture_id],
        details=_details(outcome, pictures=len({mid for mid, _, _ in plan})),
    )
    return outcome


def references_wanted(conn: Connection, matcher: Matcher, capture_id: int) -> list[Wanted]:
    """The pictures of a capture whose matches would confirm, as :func:`match_capture` will
    want their reference hashes: read-only, so that a worker can fetch them outside any
    transaction before recording (:mod:`cordon.matching.worker`)."""
    cap = repo.capture_facts(conn, capture_id)
    if cap is None:
        return []
    media = repo.hashed_media(conn, capture_id)
    plan = [(row, query) for row in media for _, query in media_queries(row)]
    hits = matcher.match(conn, [q for _, q in plan])
    wanted: dict[int, Wanted] = {}
    for (row, _), per in zip(plan, hits, strict=True):
        if any(h.confirms for h in per):
            wanted[int(row.id)] = Wanted(
                int(row.id), row.url, row.sha256, cap.final_url or cap.requested_url
            )
    return list(wanted.values())


def retro_match(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    seq: int,
    *,
    refetch: RefetchFn = reference_hashes,
) -> Outcome:
    """Match past sightings against the entries a bank change brought in (a small index of the
    new entries; sightings scanned in chunks of ``matching.retro_chunk``). New matches are
    recorded as retroactive; URLs of capture sightings are confirmed as by the match stage."""
    change = repo.change(conn, seq)
    if change is None:
        raise NothingToMatch(f"no bank change with seq {seq}")
    outcome = Outcome()
    if (
        change.op not in RETRO_OPS
        or change.entry_id_from is None
        or change.entry_id_to is None
        or not repo.bank_live(conn, change.bank_id)
    ):
        return outcome
    entries = repo.new_entries(conn, change.bank_id, change.entry_id_from, change.entry_id_to)
    threshold = repo.bank_rules(conn, [change.bank_id])[change.bank_id].pdq_threshold
    by_type: dict[str, tuple[list[int], list[str]]] = defaultdict(lambda: ([], []))
    for e in entries:
        by_type[e.signal_type][0].append(int(e.id))
        by_type[e.signal_type][1].append(e.signal)
    pdq = PdqIndex()
    digests: dict[str, DigestIndex] = {}
    if PDQ in by_type:
        ids, signals = by_type[PDQ]
        pdq = PdqIndex.from_entries(np.array(ids, dtype=np.int64), pdq_array(signals))
    for name, width in DIGEST_WIDTHS.items():
        index = DigestIndex(width)
        if name in by_type:
            ids, signals = by_type[name]
            index.add(np.array(ids, dtype=np.int64), digest_array(signals, width))
        digests[name] = index
    chunk = settings.matching.retro_chunk
    scanned = 0
    for signal_type in sorted(by_type):
        if signal_type != PDQ and signal_type not in DIGEST_WIDTHS:
            continue
        for rows in _retro_sightings(conn, signal_type, by_type[signal_type][1], chunk):
            scanned += len(rows)
            queries = [
                Query(r.signal_type, r.signal, r.quality, dict(r.variants or {})) for r in rows
            ]
            found = candidates(pdq, digests, queries, threshold)
            keep = [i for i, per in enumerate(found) if per]
            if not keep:
                continue
            hits = resolve(conn, [queries[i] for i in keep], [found[i] for i in keep])
            refs = [
                SightingRef(
                    int(rows[i].id),
                    rows[i].capture_id,
                    rows[i].url_id,
                    rows[i].media_sighting_id,
                )
                for i in keep
            ]
            part = record_matches(conn, clock, actor, settings, refs, hits, retroactive=True)
            outcome.matches.extend(part.matches)
            outcome.quarantined.update(part.quarantined)
    confirm(conn, clock, actor, settings, outcome, refetch=refetch)
    outcome.sightings = scanned
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:bank_change:retro_match",
        object_kind="bank_change",
        object_ids=[seq],
        details=_details(outcome, entries=len(entries), scanned=scanned),
    )
    return outcome


def _retro_sightings(
    conn: Connection, signal_type: str, signals: list[str], chunk: int
) -> Iterator[list[Any]]:
    """Sightings that may match new entries, in chunks: digests are looked up exactly through
    the database's index; PDQ sightings are all scanned (near matches have no such index)."""
    if signal_type != PDQ:
        for start in range(0, len(signals), chunk):
            rows = repo.sightings_with(conn, signal_type, signals[start : start + chunk])
            if rows:
                yield rows
        return
    after = 0
    while True:
        rows = repo.sightings_after(conn, signal_type, after, chunk)
        if not rows:
            return
        after = int(rows[-1].id)
        yield rows


def match_for_member(
    conn: Connection,
    matcher: Matcher,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    principal: Principal,
    queries: Sequence[Query],
    tlp: Tlp,
) -> tuple[list[int], list[list[Hit]]]:
    """Record the queries as sightings of the member's organisation (marked ``tlp``), match them
    against every bank, record the matches, and answer with the sightings' ids and, per query,
    the matches in banks the member may read (quarantined entries left out)."""
    now = clock.now()
    rows = [
        {
            "source": "api",
            "media_sighting_id": None,
            "capture_id": None,
            "url_id": None,
            "org_id": principal.org_id,
            "user_id": principal.user_id,
            "tlp": tlp.value,
            "signal_type": q.signal_type,
            "signal": q.signal,
            "quality": q.quality,
            "variants": dict(q.variants),
            "seen_at": now,
        }
        for q in queries
    ]
    ids = repo.insert_sightings(conn, rows)
    if tlp is Tlp.RED:
        for sid in ids:
            access.set_sharing(conn, repo.SIGHTING_KIND, sid, red_user_ids=[principal.user_id])
    hits = matcher.match(conn, queries)
    refs = [SightingRef(sid) for sid in ids]
    outcome = record_matches(conn, clock, actor, settings, refs, hits, retroactive=False)
    final: dict[tuple[int, int], MatchStatus] = {
        (m.ref.sighting_id, m.hit.entry_id): m.hit.status for m in outcome.matches
    }
    visible = repo.visible_bank_ids(conn, principal)
    answer: list[list[Hit]] = []
    for sid, per in zip(ids, hits, strict=True):
        shown = []
        for h in per:
            status = final.get((sid, h.entry_id), h.status)
            if h.bank_id in visible and status != "quarantined":
                shown.append(h if status == h.status else replace(h, status=status))
        answer.append(shown)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:match:query",
        object_kind=repo.SIGHTING_KIND,
        object_ids=ids,
        details={
            "signals": len(queries),
            "tlp": tlp.value,
            "matched": sum(1 for per in answer if per),
            "quarantined_entries": sorted(outcome.quarantined),
        },
    )
    return ids, answer


def _details(outcome: Outcome, **extra: int) -> dict[str, Any]:
    statuses: dict[str, int] = defaultdict(int)
    for m in outcome.matches:
        statuses[m.hit.status] += 1
    return {
        **extra,
        "sightings": outcome.sightings,
        "matches": len(outcome.matches),
        "statuses": dict(statuses),
        "confirmed_urls": sorted(set(outcome.confirmed_urls)),
        "quarantined_entries": sorted(outcome.quarantined),
        "reference_failures": outcome.reference_failures,
    }

"""Queries of matching: the banks' change log and entries as the index reads them, sightings,
matches, the flood guard's counts, and the access-filtered reads of sightings and matches.

Bank tables are only read here (the banks package writes them); sightings and matches are
written only here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.crawl.repo import visible_clause as capture_visible
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.matching.model import BankRules, EntryFacts, Hit
from cordon.store import access
from cordon.store.tables_banks import bank, bank_change, bank_entry, bank_head
from cordon.store.tables_crawl import capture, media_sighting
from cordon.store.tables_matching import sighting, sighting_match

SIGHTING_KIND = "sighting"
MATCH_KIND = "match"
BANK_KIND = "bank"

# ----------------------------------------------------------------------------- banks, read


def head_seq(conn: Connection) -> int:
    """The newest bank change's sequence number (0 before any change)."""
    value = conn.execute(select(bank_head.c.last_seq).where(bank_head.c.id == 1)).scalar()
    return int(value or 0)


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    bank_id: int
    op: str
    entry_id_from: int | None
    entry_id_to: int | None


def changes_since(conn: Connection, seq: int, limit: int = 1000) -> list[Change]:
    """Bank changes after ``seq``, oldest first."""
    rows = conn.execute(
        select(bank_change).where(bank_change.c.seq > seq).order_by(bank_change.c.seq).limit(limit)
    ).all()
    return [_change(r) for r in rows]


def change(conn: Connection, seq: int) -> Change | None:
    """One bank change by its sequence number."""
    row = conn.execute(select(bank_change).where(bank_change.c.seq == seq)).first()
    return None if row is None else _change(row)


def _change(r: Any) -> Change:
    return Change(
        int(r.seq),
        int(r.bank_id),
        r.op,
        None if r.entry_id_from is None else int(r.entry_id_from),
        None if r.entry_id_to is None else int(r.entry_id_to),
    )


def _bank_live() -> ColumnElement[bool]:
    return and_(bank.c.enabled.is_(True), bank.c.deleted_at.is_(None))


def bank_rules(conn: Connection, bank_ids: Iterable[int] | None = None) -> dict[int, BankRules]:
    """The matching settings of these banks (of every bank when ``None``), deleted ones too."""
    stmt = select(bank)
    if bank_ids is not None:
        ids = sorted(set(bank_ids))
        if not ids:
            return {}
        stmt = stmt.where(bank.c.id.in_(ids))
    return {
        int(r.id): BankRules(
            id=int(r.id),
            name=r.name,
            org_id=int(r.org_id),
            tlp=r.tlp,
            pdq_threshold=int(r.pdq_threshold),
            negative=bool(r.negative),
            default_classification=r.default_classification,
            match_dihedral=bool(r.match_dihedral),
            match_trimmed=bool(r.match_trimmed),
            match_low_quality=bool(r.match_low_quality),
            live=bool(r.enabled) and r.deleted_at is None,
        )
        for r in conn.execute(stmt).all()
    }


def bank_live(conn: Connection, bank_id: int) -> bool:
    """Whether the bank exists, is enabled and is not deleted."""
    row = conn.execute(select(bank.c.id).where(bank.c.id == bank_id, _bank_live())).first()
    return row is not None


def live_bank_ids(conn: Connection) -> set[int]:
    return set(conn.execute(select(bank.c.id).where(_bank_live())).scalars())


def max_pdq_threshold(conn: Connection) -> int:
    """The largest PDQ threshold of the live banks (-1 when there is none)."""
    value = conn.execute(select(func.max(bank.c.pdq_threshold)).where(_bank_live())).scalar()
    return -1 if value is None else int(value)


def indexed_entries(
    conn: Connection, signal_types: Sequence[str], after_id: int, limit: int
) -> list[Any]:
    """Entries a match index holds (enabled, in a live bank, of these types), by id, after
    ``after_id``: ``(id, signal_type, signal)``. Quarantined entries are held too: their
    matches are recorded as quarantined for the review."""
    return list(
        conn.execute(
            select(bank_entry.c.id, bank_entry.c.signal_type, bank_entry.c.signal)
            .select_from(bank_entry.join(bank, bank.c.id == bank_entry.c.bank_id))
            .where(
                bank_entry.c.id > after_id,
                bank_entry.c.enabled.is_(True),
                bank_entry.c.signal_type.in_(list(signal_types)),
                _bank_live(),
            )
            .order_by(bank_entry.c.id)
            .limit(limit)
        ).all()
    )


def entries_state(
    conn: Connection,
    *,
    bank_id: int,
    id_from: int | None = None,
    id_to: int | None = None,
    after_id: int = 0,
    limit: int = 100_000,
) -> list[Any]:
    """Entries of one bank (within an id range when given), by id, with whether an index holds
    them: ``(id, signal_type, signal, indexed)``."""
    conds: list[Any] = [bank_entry.c.bank_id == bank_id, bank_entry.c.id > after_id]
    if id_from is not None and id_to is not None:
        conds.append(bank_entry.c.id.between(id_from, id_to))
    indexed = and_(bank_entry.c.enabled.is_(True), _bank_live())
    return list(
        conn.execute(
            select(
                bank_entry.c.id,
                bank_entry.c.signal_type,
                bank_entry.c.signal,
                indexed.label("indexed"),
            )
            .select_from(bank_entry.join(bank, bank.c.id == bank_entry.c.bank_id))
            .where(*conds)
            .order_by(bank_entry.c.id)
            .limit(limit)
        ).all()
    )


def new_entries(conn: Connection, bank_id: int, id_from: int, id_to: int) -> list[Any]:
    """Entries of a change that may match (enabled, not quarantined, bank live)."""
    return list(
        conn.execute(
            select(bank_entry.c.id, bank_entry.c.signal_type, bank_entry.c.signal)
            .select_from(bank_entry.join(bank, bank.c.id == bank_entry.c.bank_id))
            .where(
                bank_entry.c.bank_id == bank_id,
                bank_entry.c.id.between(id_from, id_to),
                bank_entry.c.enabled.is_(True),
                bank_entry.c.quarantined_at.is_(None),
                _bank_live(),
            )
            .order_by(bank_entry.c.id)
        ).all()
    )


def entry_facts(conn: Connection, ids: Iterable[int]) -> dict[int, EntryFacts]:
    """What matching needs of these entries."""
    wanted = sorted(set(ids))
    out: dict[int, EntryFacts] = {}
    for start in range(0, len(wanted), 5000):
        rows = conn.execute(
            select(
                bank_entry.c.id,
                bank_entry.c.bank_id,
                bank_entry.c.signal_type,
                bank_entry.c.classification,
                bank_entry.c.enabled,
                bank_entry.c.quarantined_at,
            ).where(bank_entry.c.id.in_(wanted[start : start + 5000]))
        ).all()
        for r in rows:
            out[int(r.id)] = EntryFacts(
                id=int(r.id),
                bank_id=int(r.bank_id),
                signal_type=r.signal_type,
                classification=r.classification,
                enabled=bool(r.enabled),
                quarantined=r.quarantined_at is not None,
            )
    return out


def entry_ids(conn: Connection, bank_id: int, signals: Sequence[tuple[str, str]]) -> list[int]:
    """Ids of a bank's entries holding these ``(signal_type, signal)`` pairs, in that order."""
    out = []
    for signal_type, signal in signals:
        out.append(
            int(
                conn.execute(
                    select(bank_entry.c.id).where(
                        bank_entry.c.bank_id == bank_id,
                        bank_entry.c.signal_type == signal_type,
                        bank_entry.c.signal == signal,
                    )
                ).scalar_one()
            )
        )
    return out


def bank_by_name(conn: Connection, name: str) -> BankRules | None:
    row = conn.execute(select(bank.c.id).where(bank.c.name == name)).first()
    if row is None:
        return None
    return bank_rules(conn, [int(row.id)]).get(int(row.id))


def bank_visible(principal: Principal) -> ColumnElement[bool]:
    """Banks the principal may read (deleted banks are read by nobody)."""
    return _bank_visible_of(principal, bank)


def visible_bank_ids(conn: Connection, principal: Principal) -> set[int]:
    """Ids of the live banks the principal may read."""
    return set(
        conn.execute(select(bank.c.id).where(_bank_live(), bank_visible(principal))).scalars()
    )


# ----------------------------------------------------------------------------- captures, read


def capture_facts(conn: Connection, capture_id: int) -> Any | None:
    return conn.execute(
        select(
            capture.c.id,
            capture.c.url_id,
            capture.c.tlp,
            capture.c.finished_at,
            capture.c.final_url,
            capture.c.requested_url,
        ).where(capture.c.id == capture_id)
    ).first()


def hashed_media(conn: Connection, capture_id: int) -> list[Any]:
    """The capture's hashed pictures, by position."""
    return list(
        conn.execute(
            select(media_sighting)
            .where(media_sighting.c.capture_id == capture_id, media_sighting.c.status == "hashed")
            .order_by(media_sighting.c.position)
        ).all()
    )


def media_rows(conn: Connection, ids: Iterable[int]) -> dict[int, Any]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(select(media_sighting).where(media_sighting.c.id.in_(wanted))).all()
    return {int(r.id): r for r in rows}


# ----------------------------------------------------------------------------- sightings, write


def capture_sightings(conn: Connection, capture_id: int) -> dict[tuple[int, str], int]:
    """Sightings already recorded for a capture: ``(media_sighting_id, signal_type) -> id``."""
    rows = conn.execute(
        select(sighting.c.id, sighting.c.media_sighting_id, sighting.c.signal_type).where(
            sighting.c.capture_id == capture_id
        )
    ).all()
    return {(int(r.media_sighting_id), r.signal_type): int(r.id) for r in rows}


def insert_sightings(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert sightings; their ids in the order given."""
    if not rows:
        return []
    result = conn.execute(
        insert(sighting).returning(sighting.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(i) for i in result.scalars()]


def sightings_after(
    conn: Connection, signal_type: str, after_id: int, limit: int, until_id: int | None = None
) -> list[Any]:
    """Sightings of a signal type after ``after_id`` (up to ``until_id``), by id."""
    conds: list[Any] = [sighting.c.signal_type == signal_type, sighting.c.id > after_id]
    if until_id is not None:
        conds.append(sighting.c.id <= until_id)
    return list(
        conn.execute(select(sighting).where(*conds).order_by(sighting.c.id).limit(limit)).all()
    )


def sightings_with(conn: Connection, signal_type: str, signals: Sequence[str]) -> list[Any]:
    """Sightings of exactly these signals of one type, by id."""
    if not signals:
        return []
    return list(
        conn.execute(
            select(sighting)
            .where(sighting.c.signal_type == signal_type, sighting.c.signal.in_(list(signals)))
            .order_by(sighting.c.id)
        ).all()
    )


# ----------------------------------------------------------------------------- matches, write


def existing_matches(conn: Connection, sighting_ids: Iterable[int]) -> dict[tuple[int, int], Any]:
    """Matches already recorded for these sightings: ``(sighting_id, entry_id) -> row``."""
    wanted = sorted(set(sighting_ids))
    out: dict[tuple[int, int], Any] = {}
    for start in range(0, len(wanted), 5000):
        rows = conn.execute(
            select(sighting_match).where(
                sighting_match.c.sighting_id.in_(wanted[start : start + 5000])
            )
        ).all()
        for r in rows:
            out[(int(r.sighting_id), int(r.entry_id))] = r
    return out


def insert_matches(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert matches; their ids in the order given."""
    if not rows:
        return []
    result = conn.execute(
        insert(sighting_match).returning(sighting_match.c.id, sort_by_parameter_order=True),
        list(rows),
    )
    return [int(i) for i in result.scalars()]


def set_match_status(conn: Connection, match_ids: Iterable[int], status: str) -> None:
    ids = sorted(set(match_ids))
    for start in range(0, len(ids), 5000):
        conn.execute(
            update(sighting_match)
            .where(sighting_match.c.id.in_(ids[start : start + 5000]))
            .values(status=status)
        )


def suppress_active_matches(conn: Connection, sighting_ids: Iterable[int]) -> int:
    """Mark the active matches of these sightings in non-negative banks as suppressed (a
    negative entry now matches them). Returns how many."""
    ids = sorted(set(sighting_ids))
    changed = 0
    for start in range(0, len(ids), 5000):
        negative_banks = select(bank.c.id).where(bank.c.negative.is_(True))
        result = conn.execute(
            update(sighting_match)
            .where(
                sighting_match.c.sighting_id.in_(ids[start : start + 5000]),
                sighting_match.c.status == "active",
                sighting_match.c.bank_id.not_in(negative_banks),
            )
            .values(status="suppressed")
        )
        changed += int(result.rowcount)
    return changed


def negative_matched(conn: Connection, sighting_ids: Iterable[int]) -> set[int]:
    """Those of these sightings that have a recorded match in a negative bank."""
    ids = sorted(set(sighting_ids))
    out: set[int] = set()
    for start in range(0, len(ids), 5000):
        out |= {
            int(v)
            for v in conn.execute(
                select(sighting_match.c.sighting_id)
                .select_from(sighting_match.join(bank, bank.c.id == sighting_match.c.bank_id))
                .where(
                    sighting_match.c.sighting_id.in_(ids[start : start + 5000]),
                    bank.c.negative.is_(True),
                    sighting_match.c.status != "quarantined",
                )
            ).scalars()
        }
    return out


def set_reference(
    conn: Connection,
    match_ids: Iterable[int],
    *,
    state: str,
    pdq: str | None = None,
    quality: int | None = None,
    error: str | None = None,
) -> None:
    ids = sorted(set(match_ids))
    if ids:
        conn.execute(
            update(sighting_match)
            .where(sighting_match.c.id.in_(ids))
            .values(
                reference_state=state,
                reference_pdq=pdq,
                reference_quality=quality,
                reference_error=None if error is None else error[:1000],
            )
        )


def mark_confirmed(conn: Connection, match_ids: Iterable[int]) -> None:
    ids = sorted(set(match_ids))
    if ids:
        conn.execute(
            update(sighting_match).where(sighting_match.c.id.in_(ids)).values(confirmed=True)
        )


# ----------------------------------------------------------------------------- flood guard


def matches_between(conn: Connection, entry_id: int, start: datetime, end: datetime) -> int:
    """Matches of an entry recorded in ``(start, end]``."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(sighting_match)
            .where(
                sighting_match.c.entry_id == entry_id,
                sighting_match.c.matched_at > start,
                sighting_match.c.matched_at <= end,
            )
        ).scalar_one()
    )


# ----------------------------------------------------------------------------- reading


def sighting_visible(principal: Principal, table: Any = sighting) -> ColumnElement[bool]:
    """Sightings the principal may read: a capture's through its capture, an API sighting by
    its owner and marking. ``table`` is ``sighting`` or an alias of it."""
    through_capture = and_(
        table.c.source == "capture",
        exists(
            select(1)
            .select_from(capture)
            .where(capture.c.id == table.c.capture_id, capture_visible(principal))
        ),
    )
    own = and_(
        table.c.source == "api",
        access.visible(
            principal,
            SIGHTING_KIND,
            id_col=table.c.id,
            owner_col=table.c.org_id,
            tlp_col=table.c.tlp,
        ),
    )
    return or_(through_capture, own)


def _bank_visible_of(principal: Principal, table: Any) -> ColumnElement[bool]:
    return and_(
        table.c.deleted_at.is_(None),
        access.visible(
            principal, BANK_KIND, id_col=table.c.id, owner_col=table.c.org_id, tlp_col=table.c.tlp
        ),
    )


def match_visible(principal: Principal) -> ColumnElement[bool]:
    """Matches the principal may read: both the sighting and the bank readable."""
    s = sighting.alias("visible_sighting")
    b = bank.alias("visible_bank")
    return and_(
        exists(
            select(1)
            .select_from(s)
            .where(s.c.id == sighting_match.c.sighting_id, sighting_visible(principal, s))
        ),
        exists(
            select(1)
            .select_from(b)
            .where(b.c.id == sighting_match.c.bank_id, _bank_visible_of(principal, b))
        ),
    )


@dataclass(frozen=True)
class SightingFilter:
    signal_type: str | None = None
    signal: str | None = None
    source: str | None = None
    capture_id: int | None = None
    matched: bool | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class MatchFilter:
    bank_id: int | None = None
    entry_id: int | None = None
    sighting_id: int | None = None
    status: str | None = None
    retroactive: bool | None = None
    since: datetime | None = None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _sighting_conds(principal: Principal, f: SightingFilter) -> list[Any]:
    conds: list[Any] = [sighting_visible(principal)]
    if f.signal_type:
        conds.append(sighting.c.signal_type == f.signal_type)
    if f.signal:
        conds.append(sighting.c.signal == f.signal.strip().lower())
    if f.source:
        conds.append(sighting.c.source == f.source)
    if f.capture_id is not None:
        conds.append(sighting.c.capture_id == f.capture_id)
    if f.since is not None:
        conds.append(sighting.c.seen_at >= f.since)
    if f.matched is not None:
        any_match = exists().where(
            sighting_match.c.sighting_id == sighting.c.id, match_visible(principal)
        )
        conds.append(any_match if f.matched else ~any_match)
    return conds


def _sighting_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "source": r.source,
        "signal_type": r.signal_type,
        "signal": r.signal,
        "quality": r.quality,
        "variants": dict(r.variants or {}),
        "seen_at": _iso(r.seen_at),
        "tlp": r.tlp,
        "capture_id": r.capture_id,
        "url_id": r.url_id,
        "media_sighting_id": r.media_sighting_id,
        "org_id": r.org_id,
    }


def _match_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "sighting_id": int(r.sighting_id),
        "entry_id": int(r.entry_id),
        "bank_id": int(r.bank_id),
        "bank": r.bank_name,
        "signal_type": r.signal_type,
        "distance": int(r.distance),
        "variant": r.variant,
        "status": r.status,
        "suppressed": r.status == "suppressed",
        "retroactive": bool(r.retroactive),
        "classification": r.classification,
        "matched_at": _iso(r.matched_at),
        "reference": {
            "state": r.reference_state,
            "pdq": r.reference_pdq,
            "quality": r.reference_quality,
            "error": r.reference_error,
        },
        "confirmed": bool(r.confirmed),
    }


def _match_select() -> Any:
    return select(
        sighting_match, bank.c.name.label("bank_name"), sighting.c.tlp.label("s_tlp")
    ).select_from(
        sighting_match.join(bank, bank.c.id == sighting_match.c.bank_id).join(
            sighting, sighting.c.id == sighting_match.c.sighting_id
        )
    )


def list_sightings(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: SightingFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Sightings the principal may read, newest first."""
    conds = _sighting_conds(principal, f)
    if before_id is not None:
        conds.append(sighting.c.id < before_id)
    rows = conn.execute(
        select(sighting).where(*conds).order_by(sighting.c.id.desc()).limit(limit)
    ).all()
    record_sensitive_reads(
        conn, clock, actor, SIGHTING_KIND, "list", [(int(r.id), Tlp(r.tlp)) for r in rows]
    )
    return [_sighting_dict(r) for r in rows]


def count_sightings(conn: Connection, principal: Principal, f: SightingFilter) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(sighting).where(*_sighting_conds(principal, f))
        ).scalar_one()
    )


def get_sighting(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, sighting_id: int
) -> dict[str, Any] | None:
    """One sighting with the matches the principal may read; None when hidden or missing."""
    row = conn.execute(
        select(sighting).where(sighting.c.id == sighting_id, sighting_visible(principal))
    ).first()
    if row is None:
        return None
    record_sensitive_reads(conn, clock, actor, SIGHTING_KIND, "get", [(int(row.id), Tlp(row.tlp))])
    out = _sighting_dict(row)
    matches = conn.execute(
        _match_select()
        .where(sighting_match.c.sighting_id == sighting_id, match_visible(principal))
        .order_by(sighting_match.c.distance, sighting_match.c.id)
    ).all()
    out["matches"] = [_match_dict(m) for m in matches]
    return out


def _match_conds(principal: Principal, f: MatchFilter) -> list[Any]:
    conds: list[Any] = [match_visible(principal)]
    if f.bank_id is not None:
        conds.append(sighting_match.c.bank_id == f.bank_id)
    if f.entry_id is not None:
        conds.append(sighting_match.c.entry_id == f.entry_id)
    if f.sighting_id is not None:
        conds.append(sighting_match.c.sighting_id == f.sighting_id)
    if f.status:
        conds.append(sighting_match.c.status == f.status)
    if f.retroactive is not None:
        conds.append(sighting_match.c.retroactive.is_(f.retroactive))
    if f.since is not None:
        conds.append(sighting_match.c.matched_at >= f.since)
    return conds


def list_matches(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: MatchFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Matches the principal may read, newest first."""
    conds = _match_conds(principal, f)
    if before_id is not None:
        conds.append(sighting_match.c.id < before_id)
    rows = conn.execute(
        _match_select().where(*conds).order_by(sighting_match.c.id.desc()).limit(limit)
    ).all()
    record_sensitive_reads(
        conn,
        clock,
        actor,
        SIGHTING_KIND,
        "list",
        [(int(r.sighting_id), Tlp(r.s_tlp)) for r in rows],
    )
    return [_match_dict(r) for r in rows]


def count_matches(conn: Connection, principal: Principal, f: MatchFilter) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(sighting_match).where(*_match_conds(principal, f))
        ).scalar_one()
    )


def get_match(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, match_id: int
) -> dict[str, Any] | None:
    row = conn.execute(
        _match_select().where(sighting_match.c.id == match_id, match_visible(principal))
    ).first()
    if row is None:
        return None
    record_sensitive_reads(
        conn, clock, actor, SIGHTING_KIND, "get", [(int(row.sighting_id), Tlp(row.s_tlp))]
    )
    return _match_dict(row)


def hit_dict(hit: Hit) -> dict[str, Any]:
    """A hit as the API shows it."""
    return {
        "bank": hit.bank_name,
        "bank_id": hit.bank_id,
        "entry_id": hit.entry_id,
        "signal_type": hit.signal_type,
        "distance": hit.distance,
        "variant": hit.variant,
        "classification": hit.classification,
        "negative": hit.negative,
        "suppressed": hit.suppressed,
    }

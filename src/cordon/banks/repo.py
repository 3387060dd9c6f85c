"""Banks, entries, opinions and the change log: storage and reads.

A bank is a shared record of kind ``bank`` (owner ``org_id``, a TLP marking); every read of a
bank, of its entries and of their opinions is filtered by :func:`cordon.store.access.visible` on
the bank, so entries are readable exactly by those who may read their bank. Only members of the
owning organisation change a bank and its entries; every organisation that may read a bank may
give its opinion (confirm or dispute) on its entries.

Every change to entries or to a bank's matching settings appends rows to ``bank_change`` in the
same transaction. Sequence numbers are handed out under the row lock of ``bank_head`` and are
gap-free and in commit order; a row covers an inclusive range of entry ids (an import is one or a
few rows). Lock order, kept by every function here: ``audit_head`` before ``bank_head``, both
taken at the end of a transaction.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.banks import model
from cordon.banks.files import EntryRecord, ExportRow, Format
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.pipeline import repo as pipeline
from cordon.signals.formats import LineError
from cordon.store import access
from cordon.store.db import is_postgres
from cordon.store.tables import app_user, organisation, sharing_group
from cordon.store.tables_banks import (
    bank,
    bank_change,
    bank_entry,
    bank_entry_opinion,
    bank_head,
)

BANK_KIND: Final = "bank"
ENTRY_KIND: Final = "bank_entry"
RETRO_MATCH_STAGE: Final = "retro_match"
CHANGE_SUBJECT: Final = "bank_change"
#: Entries inserted per statement during an import.
CHUNK: Final = 100_000
#: SQLite page cache of a connection that imports, in KiB.
SQLITE_IMPORT_CACHE_KIB: Final = 256 * 1024
#: Invalid lines kept (with their numbers) in an import's answer; all are counted.
MAX_REPORTED_ERRORS: Final = 1000


class BankError(ValueError):
    """A request about banks that cannot be carried out; ``field`` names the part at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(BankError):
    """No such bank or entry, or the caller may not see it: the same answer."""


class NotOwner(BankError):
    """The caller may read the bank but only its owning organisation may change it."""


class NameTaken(BankError):
    """A bank of that name exists (deleted banks keep their names)."""


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Bank:
    id: int
    name: str
    org_id: int
    tlp: Tlp
    description: str
    signal_types: list[str]
    pdq_threshold: int
    negative: bool
    default_classification: str | None
    match_dihedral: bool
    match_trimmed: bool
    match_low_quality: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class Entry:
    id: int
    bank_id: int
    bank_name: str
    signal_type: str
    signal: str
    classification: str | None
    effective_classification: str | None
    category: str
    source: str
    tags: list[str]
    added_at: datetime
    added_by_org_id: int
    enabled: bool
    disabled_at: datetime | None
    quarantined_at: datetime | None
    quarantine_reason: str | None
    confirms: int = 0
    disputes: int = 0


@dataclass(frozen=True)
class OpinionRecord:
    entry_id: int
    org_id: int
    org_name: str
    opinion: str
    note: str
    at: datetime


@dataclass(frozen=True)
class BankChange:
    """One row of the change log: ``op`` on the entries ``entry_id_from..entry_id_to``
    (inclusive) of ``bank_id``, or on the bank itself when both are ``None``."""

    seq: int
    bank_id: int
    op: str
    entry_id_from: int | None
    entry_id_to: int | None
    at: datetime


class RangeEntry(NamedTuple):
    """An entry as a match index needs it. ``enabled`` is false when the entry, its bank, or the
    bank's deletion says it must not match; ``quarantined`` when it is held for review."""

    entry_id: int
    bank_id: int
    signal_type: str
    signal: str
    enabled: bool
    quarantined: bool


@dataclass
class ImportResult:
    """What an import did, or would have done."""

    bank: str
    read: int = 0
    added: int = 0
    duplicates: int = 0
    invalid: int = 0
    errors: list[LineError] = field(default_factory=list)
    changes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bank": self.bank,
            "read": self.read,
            "added": self.added,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
            "errors_truncated": self.invalid > len(self.errors),
            "changes": self.changes,
        }


class ImportRejected(BankError):
    """Invalid lines were found and skipping them was not asked for: nothing was imported."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__(
            f"{result.invalid} invalid line(s); nothing was imported "
            "(fix them, or skip them with skip_invalid)"
        )
        self.result = result


# ------------------------------------------------------------------------------ helpers


def _bank(row: Any) -> Bank:
    return Bank(
        id=int(row.id),
        name=row.name,
        org_id=int(row.org_id),
        tlp=Tlp(row.tlp),
        description=row.description,
        signal_types=list(row.signal_types),
        pdq_threshold=int(row.pdq_threshold),
        negative=bool(row.negative),
        default_classification=row.default_classification,
        match_dihedral=bool(row.match_dihedral),
        match_trimmed=bool(row.match_trimmed),
        match_low_quality=bool(row.match_low_quality),
        enabled=bool(row.enabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
    )


def _bank_visible(principal: Principal) -> ColumnElement[bool]:
    return and_(
        bank.c.deleted_at.is_(None),
        access.visible(
            principal, BANK_KIND, id_col=bank.c.id, owner_col=bank.c.org_id, tlp_col=bank.c.tlp
        ),
    )


def _ref_clause(ref: int | str) -> ColumnElement[bool]:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return bank.c.id == int(ref)
    return bank.c.name == ref


def _find(conn: Connection, principal: Principal, ref: int | str) -> Bank | None:
    row = conn.execute(select(bank).where(_ref_clause(ref), _bank_visible(principal))).first()
    return None if row is None else _bank(row)


def _readable(conn: Connection, principal: Principal, ref: int | str) -> Bank:
    found = _find(conn, principal, ref)
    if found is None:
        raise NotFound(f"no bank {ref}", "bank")
    return found


def _owned(conn: Connection, principal: Principal, ref: int | str) -> Bank:
    found = _readable(conn, principal, ref)
    if found.org_id != principal.org_id:
        raise NotOwner(
            f"only members of the organisation that owns bank {found.name} may change it", "bank"
        )
    return found


def _runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted ids as inclusive runs of consecutive integers."""
    out: list[tuple[int, int]] = []
    for i in sorted(ids):
        if out and out[-1][1] + 1 == i:
            out[-1] = (out[-1][0], i)
        elif not out or out[-1][1] != i:
            out.append((i, i))
    return out


def _append_changes(
    conn: Connection, now: datetime, rows: Sequence[tuple[int, str, int | None, int | None]]
) -> list[int]:
    """Append ``(bank_id, op, entry_id_from, entry_id_to)`` rows to the change log; their seqs.

    Takes the row lock of ``bank_head`` (held to commit), which makes the numbers gap-free and
    in commit order. Call it after the transaction's audit events.
    """
    if not rows:
        return []
    stmt = select(bank_head.c.last_seq).where(bank_head.c.id == 1)
    if is_postgres(conn):
        stmt = stmt.with_for_update()
    last = int(conn.execute(stmt).scalar_one())
    conn.execute(update(bank_head).where(bank_head.c.id == 1).values(last_seq=last + len(rows)))
    seqs = list(range(last + 1, last + 1 + len(rows)))
    conn.execute(
        bank_change.insert(),
        [
            {
                "seq": seq,
                "bank_id": bank_id,
                "op": op,
                "entry_id_from": lo,
                "entry_id_to": hi,
                "at": now,
            }
            for seq, (bank_id, op, lo, hi) in zip(seqs, rows, strict=True)
        ],
    )
    return seqs


def _audit_action(actor: audit.Actor, subject: str, action: str) -> str:
    return f"{actor.source}:{subject}:{action}"


def _check_sharing(
    conn: Connection,
    principal: Principal,
    tlp: Tlp,
    share_with: list[int],
    share_groups: list[int],
    red_users: list[int],
) -> None:
    if tlp is not Tlp.AMBER and (share_with or share_groups):
        name = "share_with" if share_with else "share_groups"
        raise BankError(f"{name} applies to AMBER banks only", name)
    if tlp is not Tlp.RED and red_users:
        raise BankError("red_users applies to RED banks only", "red_users")
    if red_users:
        known = set(
            conn.execute(select(app_user.c.id).where(app_user.c.id.in_(red_users))).scalars()
        )
        unknown = sorted(set(red_users) - known)
        if unknown:
            raise BankError(f"no user with id {unknown[0]}", "red_users")
    if share_groups:
        own = {
            int(g)
            for g in conn.execute(
                select(sharing_group.c.id).where(
                    sharing_group.c.owner_org_id == principal.org_id,
                    sharing_group.c.id.in_(share_groups),
                )
            ).scalars()
        }
        foreign = sorted(set(share_groups) - own)
        if foreign:
            raise BankError(
                f"no sharing group with id {foreign[0]} belongs to your organisation",
                "share_groups",
            )


def _set_sharing(
    conn: Connection,
    principal: Principal,
    bank_id: int,
    tlp: Tlp,
    share_with: list[int],
    share_groups: list[int],
    red_users: list[int],
) -> None:
    # The member who marks a bank RED is always named on it, as a report's submitter is.
    red = sorted({*red_users, principal.user_id}) if tlp is Tlp.RED else []
    try:
        access.set_sharing(
            conn,
            BANK_KIND,
            bank_id,
            org_ids=share_with if tlp is Tlp.AMBER else [],
            group_ids=share_groups if tlp is Tlp.AMBER else [],
            red_user_ids=red,
        )
    except ValueError as exc:
        raise BankError(str(exc), "share_with") from None


# ------------------------------------------------------------------------------ banks


def create_bank(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, spec: model.BankIn
) -> Bank:
    """Create a bank owned by the principal's organisation. Raises :class:`NameTaken` or
    :class:`BankError`; on error nothing is stored."""
    taken = conn.execute(select(bank.c.id).where(bank.c.name == spec.name)).first()
    if taken is not None:
        raise NameTaken(f"a bank named {spec.name} exists already", "name")
    _check_sharing(conn, principal, spec.tlp, spec.share_with, spec.share_groups, spec.red_users)
    now = clock.now()
    bank_id = int(
        conn.execute(
            bank.insert()
            .values(
                name=spec.name,
                org_id=principal.org_id,
                tlp=spec.tlp.value,
                description=spec.description,
                signal_types=spec.signal_types,
                pdq_threshold=spec.pdq_threshold,
                negative=spec.negative,
                default_classification=spec.default_classification,
                match_dihedral=spec.match_dihedral,
                match_trimmed=spec.match_trimmed,
                match_low_quality=spec.match_low_quality,
                enabled=True,
                created_by=principal.user_id,
                created_at=now,
                updated_at=now,
            )
            .returning(bank.c.id)
        ).scalar_one()
    )
    _set_sharing(
        conn, principal, bank_id, spec.tlp, spec.share_with, spec.share_groups, spec.red_users
    )
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, BANK_KIND, "create"),
        object_kind=BANK_KIND,
        object_ids=[bank_id],
        details={
            "name": spec.name,
            "tlp": spec.tlp.value,
            "signal_types": spec.signal_types,
            "negative": spec.negative,
        },
    )
    created = load_bank(conn, bank_id)
    assert created is not None
    return created


_MATCH_SETTINGS: Final = (
    "signal_types",
    "pdq_threshold",
    "negative",
    "default_classification",
    "match_dihedral",
    "match_trimmed",
    "match_low_quality",
    "enabled",
)


def update_bank(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    ref: int | str,
    changes: model.BankUpdate,
) -> Bank:
    """Change a bank's settings (owner only). A change of a matching setting is logged as an
    ``update_bank`` change. Raises :class:`BankError`; on error nothing is changed."""
    current = _owned(conn, principal, ref)
    given = changes.model_fields_set
    values: dict[str, Any] = {}
    for name in (
        "description",
        "pdq_threshold",
        "negative",
        "match_dihedral",
        "match_trimmed",
        "match_low_quality",
        "enabled",
        "signal_types",
    ):
        if name in given and getattr(changes, name) is not None:
            values[name] = getattr(changes, name)
    if "default_classification" in given:
        values["default_classification"] = changes.default_classification or None
    if "signal_types" in values:
        dropped = sorted(set(current.signal_types) - set(values["signal_types"]))
        if dropped:
            held = conn.execute(
                select(bank_entry.c.signal_type)
                .where(bank_entry.c.bank_id == current.id, bank_entry.c.signal_type.in_(dropped))
                .limit(1)
            ).scalar_one_or_none()
            if held is not None:
                raise BankError(
                    f"bank {current.name} holds {held} entries: disable them, they cannot be "
                    f"dropped from its signal types",
                    "signal_types",
                )
    tlp = changes.tlp if "tlp" in given and changes.tlp is not None else current.tlp
    sharing_given = bool({"share_with", "share_groups", "red_users"} & given) or (
        tlp is not current.tlp
    )
    if sharing_given:
        share_with = changes.share_with or []
        share_groups = changes.share_groups or []
        red_users = changes.red_users or []
        _check_sharing(conn, principal, tlp, share_with, share_groups, red_users)
    if tlp is not current.tlp:
        values["tlp"] = tlp.value
    before = {k: getattr(current, k) for k in values}
    before = {k: (v.value if isinstance(v, Tlp) else v) for k, v in before.items()}
    changed = {k: v for k, v in values.items() if before.get(k) != v}
    now = clock.now()
    if changed:
        conn.execute(update(bank).where(bank.c.id == current.id).values(**changed, updated_at=now))
    if sharing_given:
        _set_sharing(conn, principal, current.id, tlp, share_with, share_groups, red_users)
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, BANK_KIND, "update"),
        object_kind=BANK_KIND,
        object_ids=[current.id],
        details={
            "name": current.name,
            "changed": {k: {"from": before.get(k), "to": v} for k, v in changed.items()},
            "sharing": sharing_given,
        },
    )
    if set(changed) & set(_MATCH_SETTINGS):
        _append_changes(conn, now, [(current.id, "update_bank", None, None)])
    updated = load_bank(conn, current.id)
    assert updated is not None
    return updated


def delete_bank(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, ref: int | str
) -> Bank:
    """Delete a bank (owner only): it and its entries stop matching and disappear from every
    read; the rows stay for the audit trail and the name stays reserved."""
    current = _owned(conn, principal, ref)
    now = clock.now()
    conn.execute(
        update(bank)
        .where(bank.c.id == current.id)
        .values(deleted_at=now, enabled=False, updated_at=now)
    )
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, BANK_KIND, "delete"),
        object_kind=BANK_KIND,
        object_ids=[current.id],
        details={"name": current.name},
    )
    _append_changes(conn, now, [(current.id, "delete_bank", None, None)])
    return current


def load_bank(conn: Connection, bank_id: int) -> Bank | None:
    """A bank by id, deleted or not, without an access check (for stages and matching)."""
    row = conn.execute(select(bank).where(bank.c.id == bank_id)).first()
    return None if row is None else _bank(row)


def get_bank(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, ref: int | str
) -> Bank | None:
    """A bank by id or name if the principal may read it; sensitive reads are audited."""
    found = _find(conn, principal, ref)
    if found is not None:
        record_sensitive_reads(conn, clock, actor, BANK_KIND, "read", [(found.id, found.tlp)])
    return found


@dataclass(frozen=True)
class BankFilter:
    own_only: bool = False
    signal_type: str | None = None
    negative: bool | None = None


def _bank_filter(principal: Principal, f: BankFilter) -> list[ColumnElement[bool]]:
    where = [_bank_visible(principal)]
    if f.own_only:
        where.append(bank.c.org_id == principal.org_id)
    if f.negative is not None:
        where.append(bank.c.negative == f.negative)
    return where


def _type_ok(b: Bank, f: BankFilter) -> bool:
    return f.signal_type is None or f.signal_type in b.signal_types


def list_banks(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: BankFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Bank]:
    """Banks the principal may read, newest first."""
    stmt = select(bank).where(*_bank_filter(principal, f)).order_by(bank.c.id.desc())
    if before_id is not None:
        stmt = stmt.where(bank.c.id < before_id)
    out: list[Bank] = []
    # The signal-type filter reads a JSON list, filtered here the same way on both backends.
    for row in conn.execute(stmt):
        b = _bank(row)
        if _type_ok(b, f):
            out.append(b)
            if len(out) >= limit:
                break
    record_sensitive_reads(conn, clock, actor, BANK_KIND, "list", [(b.id, b.tlp) for b in out])
    return out


def count_banks(conn: Connection, principal: Principal, f: BankFilter) -> int:
    """How many banks under ``f`` the principal may read."""
    if f.signal_type is None:
        return int(
            conn.execute(
                select(func.count()).select_from(bank).where(*_bank_filter(principal, f))
            ).scalar_one()
        )
    rows = conn.execute(select(bank).where(*_bank_filter(principal, f)))
    return sum(1 for r in rows if _type_ok(_bank(r), f))


@dataclass(frozen=True)
class BankStats:
    entries: int
    enabled: int
    quarantined: int
    by_signal_type: dict[str, int]


def bank_stats(conn: Connection, bank_id: int) -> BankStats:
    """Entry counts of one bank (callers have checked access)."""
    rows = conn.execute(
        select(
            bank_entry.c.signal_type,
            func.count(),
            func.sum(case((bank_entry.c.enabled.is_(True), 1), else_=0)),
            func.count(bank_entry.c.quarantined_at),
        )
        .where(bank_entry.c.bank_id == bank_id)
        .group_by(bank_entry.c.signal_type)
    ).all()
    by_type = {r[0]: int(r[1]) for r in rows}
    return BankStats(
        entries=sum(by_type.values()),
        enabled=sum(int(r[2] or 0) for r in rows),
        quarantined=sum(int(r[3]) for r in rows),
        by_signal_type=by_type,
    )


def org_names(conn: Connection, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of organisations (the member directory every member may read)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = conn.execute(
        select(organisation.c.id, organisation.c.name).where(organisation.c.id.in_(wanted))
    )
    return {int(r.id): r.name for r in rows}


# ------------------------------------------------------------------------------ entries: writes


class _Inserter:
    """Inserts entries of one bank in chunks, skipping duplicates, and keeps the id runs."""

    def __init__(
        self, conn: Connection, target: Bank, now: datetime, org_id: int, chunk: int = CHUNK
    ) -> None:
        self.conn = conn
        self.chunk = chunk
        self.bank = target
        self.now = now
        self.org_id = org_id
        self.pending: dict[tuple[str, str], tuple[str | None, str, str, list[str]]] = {}
        self.runs: list[tuple[int, int]] = []
        self.added = 0
        self.duplicates = 0
        self.postgres = is_postgres(conn)
        self.last_id = 0
        self.sqlite_now: Any = now
        if not self.postgres:
            self.last_id = int(
                conn.execute(select(func.coalesce(func.max(bank_entry.c.id), 0))).scalar_one()
            )
            # A bigger page cache for this connection keeps the signal indexes' pages at hand
            # during a large import (bounded, whatever the file's size).
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
            processor = bank_entry.c.added_at.type.dialect_impl(conn.dialect).bind_processor(
                conn.dialect
            )
            self.sqlite_now = processor(now) if processor is not None else now

    def add(
        self,
        signal_type: str,
        signal: str,
        classification: str | None,
        category: str,
        source: str,
        tags: list[str],
    ) -> None:
        key = (signal_type, signal)
        if key in self.pending:
            self.duplicates += 1
            return
        self.pending[key] = (classification, category, source, tags)
        if len(self.pending) >= self.chunk:
            self.flush()

    def _extend(self, runs: Iterable[tuple[int, int]]) -> None:
        for lo, hi in runs:
            if self.runs and self.runs[-1][1] + 1 == lo:
                self.runs[-1] = (self.runs[-1][0], hi)
            else:
                self.runs.append((lo, hi))

    def flush(self) -> None:
        if not self.pending:
            return
        items = list(self.pending.items())
        self.pending = {}
        if self.postgres:
            ids = self._flush_postgres(items)
            self._extend(_runs(ids))
            inserted = len(ids)
        else:
            inserted = self._flush_sqlite(items)
        self.added += inserted
        self.duplicates += len(items) - inserted

    def _flush_sqlite(
        self, items: list[tuple[tuple[str, str], tuple[str | None, str, str, list[str]]]]
    ) -> int:
        # One writer holds the database for the whole transaction, and SQLite gives a new row
        # the largest id plus one: the rows this statement inserted are exactly the ids above
        # the largest before it. Rows go in sorted by signal, so that the two signal indexes
        # are filled in order; values are bound as the column types would bind them, without
        # SQLAlchemy's per-row work (the import's largest cost otherwise).
        items.sort(key=lambda kv: kv[0])
        bank_id, org_id, added_at = self.bank.id, self.org_id, self.sqlite_now
        self.conn.exec_driver_sql(
            _SQLITE_INSERT,
            [
                (bank_id, st, sig, cls, cat, src, _tags_json(tuple(tags)), added_at, org_id)
                for (st, sig), (cls, cat, src, tags) in items
            ],
        )
        last = int(
            self.conn.execute(select(func.coalesce(func.max(bank_entry.c.id), 0))).scalar_one()
        )
        inserted = last - self.last_id
        if inserted:
            self._extend([(self.last_id + 1, last)])
        self.last_id = last
        return inserted

    def _flush_postgres(
        self, items: list[tuple[tuple[str, str], tuple[str | None, str, str, list[str]]]]
    ) -> list[int]:
        # INSERT ... SELECT draws ids only for the rows it inserts, so known duplicates leave no
        # holes in the id runs; ON CONFLICT covers a concurrent import of the same signal.
        rows = self.conn.execute(
            _PG_INSERT,
            {
                "bank_id": self.bank.id,
                "added_at": self.now,
                "org_id": self.org_id,
                "types": [k[0] for k, _ in items],
                "signals": [k[1] for k, _ in items],
                "cls": [v[0] for _, v in items],
                "cats": [v[1] for _, v in items],
                "sources": [v[2] for _, v in items],
                "tags": [json.dumps(v[3]) for _, v in items],
            },
        )
        return [int(r[0]) for r in rows]


@functools.lru_cache(maxsize=1024)
def _tags_json(tags: tuple[str, ...]) -> str:
    # An import's lines mostly share their tags: encode each list once.
    return json.dumps(list(tags))


_SQLITE_INSERT = (
    "INSERT INTO bank_entry (bank_id, signal_type, signal, classification, category, source, "
    "tags, added_at, added_by_org_id, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
    "ON CONFLICT (bank_id, signal_type, signal) DO NOTHING"
)

_PG_INSERT = text(
    """
    INSERT INTO bank_entry (bank_id, signal_type, signal, classification, category, source, tags,
                            added_at, added_by_org_id, enabled)
    SELECT :bank_id, t.signal_type, t.signal, t.classification, t.category, t.source,
           CAST(t.tags AS json), :added_at, :org_id, true
    FROM unnest(CAST(:types AS text[]), CAST(:signals AS text[]), CAST(:cls AS text[]),
                CAST(:cats AS text[]), CAST(:sources AS text[]), CAST(:tags AS text[]))
         WITH ORDINALITY AS t(signal_type, signal, classification, category, source, tags, n)
    WHERE NOT EXISTS (
        SELECT 1 FROM bank_entry e
        WHERE e.bank_id = :bank_id AND e.signal_type = t.signal_type AND e.signal = t.signal
    )
    ORDER BY t.n
    ON CONFLICT (bank_id, signal_type, signal) DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("added_at", type_=bank_entry.c.added_at.type))


def _finish_add(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    target: Bank,
    ins: _Inserter,
    details: dict[str, Any],
) -> list[int]:
    now = ins.now
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, ENTRY_KIND, "add"),
        object_kind=BANK_KIND,
        object_ids=[target.id],
        details={
            "bank": target.name,
            "added": ins.added,
            "duplicates": ins.duplicates,
            "entry_ranges": [list(r) for r in ins.runs[:100]],
            **details,
        },
    )
    seqs = _append_changes(conn, now, [(target.id, "add", lo, hi) for lo, hi in ins.runs])
    pipeline.enqueue(conn, now, RETRO_MATCH_STAGE, CHANGE_SUBJECT, seqs)
    return seqs


def _entry_defaults(
    target: Bank,
    category: str | None,
    classification: str | None,
) -> tuple[str, str | None]:
    return (category or model.default_category(target.negative), classification)


def _type_error(target: Bank, signal_type: str) -> str | None:
    if signal_type in target.signal_types:
        return None
    return (
        f"signal type {signal_type} is not one bank {target.name} holds "
        f"({', '.join(target.signal_types)})"
    )


def add_entries(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    ref: int | str,
    entries: Sequence[model.EntryIn],
) -> ImportResult:
    """Add entries to a bank (owner only). Duplicates are counted, not errors; an entry of a
    signal type the bank does not hold fails the whole call and nothing is added."""
    target = _owned(conn, principal, ref)
    for n, e in enumerate(entries):
        problem = _type_error(target, e.signal_type)
        if problem:
            raise BankError(f"entries[{n}]: {problem}", "signal_type")
    ins = _Inserter(conn, target, clock.now(), principal.org_id)
    for e in entries:
        category, classification = _entry_defaults(target, e.category, e.classification)
        ins.add(e.signal_type, e.signal, classification, category, e.source, list(e.tags))
    ins.flush()
    result = ImportResult(
        target.name, read=len(entries), added=ins.added, duplicates=ins.duplicates
    )
    result.changes = _finish_add(conn, clock, actor, target, ins, {"via": "add"})
    return result


def import_entries(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    ref: int | str,
    records: Iterable[EntryRecord | LineError],
    *,
    fmt: Format,
    skip_invalid: bool = False,
    category: str | None = None,
    classification: str | None = None,
    source: str = "",
    tags: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> ImportResult:
    """Stream ``records`` into a bank (owner only), in chunks, inside the caller's transaction.

    Every invalid line is counted and the first :data:`MAX_REPORTED_ERRORS` kept with their line
    numbers. Without ``skip_invalid`` an invalid line stops the inserting (the rest is still
    read, to report every error) and :class:`ImportRejected` is raised at the end, so that the
    caller's transaction rolls back and nothing is imported. Duplicates (in the file or already
    in the bank) are counted. ``category``, ``classification``, ``source`` and ``tags`` are the
    defaults of records that carry none. ``progress`` is called with the records read so far;
    ``chunk`` entries are inserted per statement.
    """
    target = _owned(conn, principal, ref)
    category = model.check_category(category) if category else None
    classification = model.check_classification(classification)
    source = model.check_source(source)
    default_tags = model.check_tags(list(tags))
    ins = _Inserter(conn, target, clock.now(), principal.org_id, chunk)
    result = ImportResult(target.name)
    inserting = True
    for item in records:
        result.read += 1
        if progress is not None and result.read % 10_000 == 0:
            progress(result.read)
        if isinstance(item, EntryRecord):
            problem = _type_error(target, item.signal_type)
            if problem is not None:
                item = LineError(item.line, problem)
        if isinstance(item, LineError):
            result.invalid += 1
            if len(result.errors) < MAX_REPORTED_ERRORS:
                result.errors.append(item)
            if not skip_invalid:
                inserting = False
            continue
        if not inserting:
            continue
        cat, cls = _entry_defaults(
            target, item.category or category, item.classification or classification
        )
        ins.add(
            item.signal_type,
            item.signal,
            cls,
            cat,
            item.source if item.source is not None else source,
            list(item.tags) or default_tags,
        )
    if progress is not None:
        progress(result.read)
    if result.invalid and not skip_invalid:
        raise ImportRejected(result)
    ins.flush()
    result.added, result.duplicates = ins.added, ins.duplicates
    result.changes = _finish_add(
        conn,
        clock,
        actor,
        target,
        ins,
        {"via": "import", "format": fmt, "read": result.read, "invalid": result.invalid},
    )
    return result


def set_entries_enabled(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    ref: int | str,
    entry_ids: Sequence[int],
    enabled: bool,
) -> list[int]:
    """Disable (or enable again) entries of a bank without deleting them (owner only); returns
    the ids whose state changed. An id not in the bank fails the call; nothing is changed."""
    target = _owned(conn, principal, ref)
    wanted = sorted(set(entry_ids))
    found = {
        int(r.id): bool(r.enabled)
        for r in conn.execute(
            select(bank_entry.c.id, bank_entry.c.enabled).where(
                bank_entry.c.bank_id == target.id, bank_entry.c.id.in_(wanted)
            )
        )
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"bank {target.name} has no entry with id {missing[0]}", "entry_ids")
    changing = [i for i in wanted if found[i] != enabled]
    now = clock.now()
    if changing:
        conn.execute(
            update(bank_entry)
            .where(bank_entry.c.id.in_(changing))
            .values(enabled=enabled, disabled_at=None if enabled else now)
        )
    op = "enable" if enabled else "disable"
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, ENTRY_KIND, op),
        object_kind=ENTRY_KIND,
        object_ids=list(changing),
        details={"bank": target.name, "unchanged": len(wanted) - len(changing)},
    )
    _append_changes(conn, now, [(target.id, op, lo, hi) for lo, hi in _runs(changing)])
    return changing


# ------------------------------------------------------------------------------ quarantine


def quarantine_entry(
    conn: Connection, clock: Clock, actor: audit.Actor, entry_id: int, reason: str
) -> bool:
    """Hold an entry for review (the flood guard's call): it stays in its bank but raises no
    alerts until a reviewer releases it. Returns False when it was already held; raises
    :class:`NotFound` for an unknown entry and :class:`BankError` without a reason."""
    reason = reason.strip()
    if not reason:
        raise BankError("a quarantine needs a reason", "reason")
    row = conn.execute(
        select(bank_entry.c.bank_id, bank_entry.c.quarantined_at).where(bank_entry.c.id == entry_id)
    ).first()
    if row is None:
        raise NotFound(f"no bank entry with id {entry_id}", "entry_id")
    if row.quarantined_at is not None:
        return False
    now = clock.now()
    conn.execute(
        update(bank_entry)
        .where(bank_entry.c.id == entry_id)
        .values(quarantined_at=now, quarantine_reason=reason)
    )
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, ENTRY_KIND, "quarantine"),
        object_kind=ENTRY_KIND,
        object_ids=[entry_id],
        details={"bank_id": int(row.bank_id), "reason": reason},
    )
    _append_changes(conn, now, [(int(row.bank_id), "quarantine", entry_id, entry_id)])
    return True


def release_entry(
    conn: Connection, clock: Clock, actor: audit.Actor, entry_id: int, note: str = ""
) -> bool:
    """End an entry's quarantine. Returns False when it was not held; :class:`NotFound` for an
    unknown entry. The caller decides who may release (see :func:`review_release`)."""
    row = conn.execute(
        select(
            bank_entry.c.bank_id, bank_entry.c.quarantined_at, bank_entry.c.quarantine_reason
        ).where(bank_entry.c.id == entry_id)
    ).first()
    if row is None:
        raise NotFound(f"no bank entry with id {entry_id}", "entry_id")
    if row.quarantined_at is None:
        return False
    now = clock.now()
    conn.execute(
        update(bank_entry)
        .where(bank_entry.c.id == entry_id)
        .values(quarantined_at=None, quarantine_reason=None)
    )
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, ENTRY_KIND, "release"),
        object_kind=ENTRY_KIND,
        object_ids=[entry_id],
        details={
            "bank_id": int(row.bank_id),
            "reason_was": row.quarantine_reason,
            "held_since": row.quarantined_at.isoformat(),
            "note": note,
        },
    )
    _append_changes(conn, now, [(int(row.bank_id), "release", entry_id, entry_id)])
    return True


def review_release(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    entry_id: int,
    note: str = "",
) -> bool:
    """A reviewer of the owning organisation releases a quarantined entry."""
    found = _entry_row(conn, principal, entry_id)
    if found is None:
        raise NotFound(f"no bank entry with id {entry_id}", "entry_id")
    if int(found.org_id) != principal.org_id:
        raise NotOwner(
            f"only members of the organisation that owns bank {found.bank_name} may release "
            "its entries",
            "entry_id",
        )
    if found.quarantined_at is None:
        raise BankError(f"entry {entry_id} is not quarantined", "entry_id")
    return release_entry(conn, clock, actor, entry_id, note)


# ------------------------------------------------------------------------------ entries: reads


@dataclass(frozen=True)
class EntryFilter:
    bank: int | str | None = None
    signal_type: str | None = None
    signal: str | None = None
    category: str | None = None
    classification: str | None = None
    tag: str | None = None
    enabled: bool | None = None
    quarantined: bool | None = None


_ENTRY_COLUMNS = (
    *bank_entry.c,
    bank.c.name.label("bank_name"),
    bank.c.tlp.label("bank_tlp"),
    bank.c.org_id.label("org_id"),
    bank.c.default_classification.label("bank_default_classification"),
)


def _entry(row: Any, counts: dict[int, tuple[int, int]] | None = None) -> Entry:
    confirms, disputes = (counts or {}).get(int(row.id), (0, 0))
    return Entry(
        id=int(row.id),
        bank_id=int(row.bank_id),
        bank_name=row.bank_name,
        signal_type=row.signal_type,
        signal=row.signal,
        classification=row.classification,
        effective_classification=model.effective_classification(
            row.classification, row.bank_default_classification
        ),
        category=row.category,
        source=row.source,
        tags=list(row.tags or []),
        added_at=row.added_at,
        added_by_org_id=int(row.added_by_org_id),
        enabled=bool(row.enabled),
        disabled_at=row.disabled_at,
        quarantined_at=row.quarantined_at,
        quarantine_reason=row.quarantine_reason,
        confirms=confirms,
        disputes=disputes,
    )


def _entry_row(conn: Connection, principal: Principal, entry_id: int) -> Any:
    return conn.execute(
        select(*_ENTRY_COLUMNS)
        .join(bank, bank.c.id == bank_entry.c.bank_id)
        .where(bank_entry.c.id == entry_id, _bank_visible(principal))
    ).first()


def _entry_where(conn: Connection, principal: Principal, f: EntryFilter) -> list[Any]:
    where: list[Any] = [_bank_visible(principal)]
    if f.bank is not None:
        found = _readable(conn, principal, f.bank)
        where.append(bank_entry.c.bank_id == found.id)
    if f.signal_type is not None:
        where.append(bank_entry.c.signal_type == f.signal_type)
    if f.signal is not None:
        if f.signal_type is None:
            raise BankError("a signal filter needs its signal_type", "signal_type")
        try:
            norm = model.normalise_signal(f.signal_type, f.signal)
        except ValueError as exc:
            raise BankError(str(exc), "signal") from None
        where.append(bank_entry.c.signal == norm)
    if f.category is not None:
        where.append(bank_entry.c.category == f.category)
    if f.classification is not None:
        where.append(
            func.coalesce(bank_entry.c.classification, bank.c.default_classification)
            == f.classification
        )
    if f.enabled is not None:
        where.append(bank_entry.c.enabled == f.enabled)
    if f.quarantined is not None:
        where.append(
            bank_entry.c.quarantined_at.is_not(None)
            if f.quarantined
            else bank_entry.c.quarantined_at.is_(None)
        )
    return where


def opinion_counts(conn: Connection, entry_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """``entry id -> (confirms, disputes)`` (callers have checked access)."""
    if not entry_ids:
        return {}
    out: dict[int, list[int]] = {}
    for r in conn.execute(
        select(bank_entry_opinion.c.entry_id, bank_entry_opinion.c.opinion, func.count())
        .where(bank_entry_opinion.c.entry_id.in_(list(entry_ids)))
        .group_by(bank_entry_opinion.c.entry_id, bank_entry_opinion.c.opinion)
    ):
        slot = out.setdefault(int(r[0]), [0, 0])
        slot[0 if r[1] == "confirm" else 1] = int(r[2])
    return {k: (v[0], v[1]) for k, v in out.items()}


def _audit_entry_reads(
    conn: Connection, clock: Clock, actor: audit.Actor, path: str, rows: Sequence[Any]
) -> None:
    record_sensitive_reads(
        conn, clock, actor, ENTRY_KIND, path, [(int(r.id), Tlp(r.bank_tlp)) for r in rows]
    )


def list_entries(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: EntryFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Entry]:
    """Entries of the banks the principal may read, newest first, with opinion counts."""
    stmt = (
        select(*_ENTRY_COLUMNS)
        .join(bank, bank.c.id == bank_entry.c.bank_id)
        .where(*_entry_where(conn, principal, f))
        .order_by(bank_entry.c.id.desc())
    )
    if before_id is not None:
        stmt = stmt.where(bank_entry.c.id < before_id)
    if f.tag is None:
        rows = conn.execute(stmt.limit(limit)).all()
    else:
        # Tags are a JSON list: filtered here, the same way on both backends.
        rows = []
        for r in conn.execute(stmt):
            if f.tag in (r.tags or []):
                rows.append(r)
                if len(rows) >= limit:
                    break
    _audit_entry_reads(conn, clock, actor, "list", rows)
    counts = opinion_counts(conn, [int(r.id) for r in rows])
    return [_entry(r, counts) for r in rows]


def count_entries(conn: Connection, principal: Principal, f: EntryFilter) -> int:
    """How many entries under ``f`` the principal may read."""
    where = _entry_where(conn, principal, f)
    base = select(bank_entry.c.tags).join(bank, bank.c.id == bank_entry.c.bank_id).where(*where)
    if f.tag is None:
        return int(
            conn.execute(
                select(func.count())
                .select_from(bank_entry.join(bank, bank.c.id == bank_entry.c.bank_id))
                .where(*where)
            ).scalar_one()
        )
    return sum(1 for r in conn.execute(base) if f.tag in (r.tags or []))


def get_entry(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, entry_id: int
) -> Entry | None:
    """One entry with its opinion counts, if the principal may read its bank."""
    row = _entry_row(conn, principal, entry_id)
    if row is None:
        return None
    _audit_entry_reads(conn, clock, actor, "read", [row])
    return _entry(row, opinion_counts(conn, [entry_id]))


# ------------------------------------------------------------------------------ opinions


def set_opinion(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    entry_id: int,
    opinion: str,
    note: str = "",
) -> Entry:
    """Record the principal's organisation's opinion of an entry it may read, replacing its
    earlier one. Returns the entry with its new counts."""
    if opinion not in model.OPINIONS:
        raise BankError(
            f"unknown opinion {opinion!r} (one of {', '.join(model.OPINIONS)})", "opinion"
        )
    row = _entry_row(conn, principal, entry_id)
    if row is None:
        raise NotFound(f"no bank entry with id {entry_id}", "entry_id")
    now = clock.now()
    values = {
        "entry_id": entry_id,
        "org_id": principal.org_id,
        "opinion": opinion,
        "note": note,
        "by_user_id": principal.user_id,
        "at": now,
    }
    insert = pg_insert if is_postgres(conn) else sqlite_insert
    stmt = insert(bank_entry_opinion).values(**values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["entry_id", "org_id"],
            set_={
                "opinion": stmt.excluded.opinion,
                "note": stmt.excluded.note,
                "by_user_id": stmt.excluded.by_user_id,
                "at": stmt.excluded.at,
            },
        )
    )
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, ENTRY_KIND, "opinion"),
        object_kind=ENTRY_KIND,
        object_ids=[entry_id],
        details={"bank": row.bank_name, "opinion": opinion},
    )
    return _entry(row, opinion_counts(conn, [entry_id]))


def withdraw_opinion(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, entry_id: int
) -> bool:
    """Remove the principal's organisation's opinion of an entry; False if it had none."""
    row = _entry_row(conn, principal, entry_id)
    if row is None:
        raise NotFound(f"no bank entry with id {entry_id}", "entry_id")
    gone = conn.execute(
        bank_entry_opinion.delete().where(
            bank_entry_opinion.c.entry_id == entry_id,
            bank_entry_opinion.c.org_id == principal.org_id,
        )
    ).rowcount
    if gone:
        audit.record(
            conn,
            clock,
            actor,
            _audit_action(actor, ENTRY_KIND, "withdraw_opinion"),
            object_kind=ENTRY_KIND,
            object_ids=[entry_id],
            details={"bank": row.bank_name},
        )
    return bool(gone)


def opinions_of(conn: Connection, principal: Principal, entry_id: int) -> list[OpinionRecord]:
    """The opinions of an entry that the principal may see: every organisation's to members of
    the bank's owner, otherwise its own organisation's only (counts are shown to every reader)."""
    row = _entry_row(conn, principal, entry_id)
    if row is None:
        raise NotFound(f"no bank entry with id {entry_id}", "entry_id")
    stmt = (
        select(bank_entry_opinion, organisation.c.name.label("org_name"))
        .join(organisation, organisation.c.id == bank_entry_opinion.c.org_id)
        .where(bank_entry_opinion.c.entry_id == entry_id)
        .order_by(bank_entry_opinion.c.at, bank_entry_opinion.c.id)
    )
    if int(row.org_id) != principal.org_id:
        stmt = stmt.where(bank_entry_opinion.c.org_id == principal.org_id)
    return [
        OpinionRecord(int(r.entry_id), int(r.org_id), r.org_name, r.opinion, r.note, r.at)
        for r in conn.execute(stmt)
    ]


# ------------------------------------------------------------------------------ export


@dataclass(frozen=True)
class ExportPlan:
    """What an export will write; made (and audited) before any data is read."""

    bank: Bank
    fmt: Format
    signal_types: list[str]
    include_disabled: bool
    bare: bool


def plan_export(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    ref: int | str,
    *,
    fmt: Format,
    signal_type: str | None = None,
    include_disabled: bool = False,
    bare: bool = False,
) -> ExportPlan:
    """Check and audit an export of a bank the principal may read.

    python-threatexchange's formats hold its own signal types only: without ``signal_type`` a
    ``pytx`` or ``dataset`` export writes the bank's ``pdq`` and ``video_md5`` entries, and
    Cordon's photo digests are exported in files of their own by naming their type. ``bare``
    (pytx, one type) writes signals without their type.
    """
    target = _readable(conn, principal, ref)
    if signal_type is not None and signal_type not in target.signal_types:
        raise BankError(
            f"bank {target.name} holds no {signal_type} signals ({', '.join(target.signal_types)})",
            "signal_type",
        )
    if signal_type is not None:
        wanted = [signal_type]
    elif fmt == "csv":
        wanted = list(target.signal_types)
    else:
        wanted = [t for t in target.signal_types if t in model.PYTX_SIGNAL_TYPES]
        if not wanted:
            raise BankError(
                f"bank {target.name} holds only Cordon's own signal types "
                f"({', '.join(target.signal_types)}): name one with signal_type",
                "signal_type",
            )
    if bare and (fmt != "pytx" or len(wanted) != 1):
        raise BankError("bare signals need the pytx format and one signal_type", "bare")
    audit.record(
        conn,
        clock,
        actor,
        _audit_action(actor, BANK_KIND, "export"),
        object_kind=BANK_KIND,
        object_ids=[target.id],
        details={
            "name": target.name,
            "tlp": target.tlp.value,
            "format": fmt,
            "signal_types": wanted,
            "include_disabled": include_disabled,
        },
    )
    return ExportPlan(target, fmt, wanted, include_disabled, bare)


def export_rows(
    conn: Connection, principal: Principal, plan: ExportPlan, *, chunk: int = 10_000
) -> Iterator[ExportRow]:
    """The entries of an export, by id, read in chunks (access is checked again here)."""
    last = 0
    while True:
        stmt = (
            select(
                bank_entry.c.id,
                bank_entry.c.signal_type,
                bank_entry.c.signal,
                bank_entry.c.category,
                bank_entry.c.classification,
                bank.c.default_classification,
                bank_entry.c.source,
                bank_entry.c.tags,
                bank_entry.c.added_at,
            )
            .join(bank, bank.c.id == bank_entry.c.bank_id)
            .where(
                bank_entry.c.bank_id == plan.bank.id,
                bank_entry.c.id > last,
                bank_entry.c.signal_type.in_(plan.signal_types),
                _bank_visible(principal),
            )
            .order_by(bank_entry.c.id)
            .limit(chunk)
        )
        if not plan.include_disabled:
            stmt = stmt.where(bank_entry.c.enabled.is_(True))
        rows = conn.execute(stmt).all()
        for r in rows:
            yield ExportRow(
                r.signal_type,
                r.signal,
                r.category,
                model.effective_classification(r.classification, r.default_classification),
                r.source,
                tuple(r.tags or ()),
                r.added_at,
            )
        if len(rows) < chunk:
            return
        last = int(rows[-1].id)


# ------------------------------------------------------------------------------ change log


def head_seq(conn: Connection) -> int:
    """The seq of the newest committed change (0 before any)."""
    return int(conn.execute(select(bank_head.c.last_seq).where(bank_head.c.id == 1)).scalar_one())


def changes_since(conn: Connection, seq: int, limit: int = 1000) -> list[BankChange]:
    """Changes after ``seq``, oldest first, at most ``limit``."""
    rows = conn.execute(
        select(bank_change).where(bank_change.c.seq > seq).order_by(bank_change.c.seq).limit(limit)
    )
    return [
        BankChange(
            int(r.seq),
            int(r.bank_id),
            r.op,
            None if r.entry_id_from is None else int(r.entry_id_from),
            None if r.entry_id_to is None else int(r.entry_id_to),
            r.at,
        )
        for r in rows
    ]


def entries_in_range(
    conn: Connection, id_from: int, id_to: int, *, chunk: int = 10_000
) -> Iterator[RangeEntry]:
    """Entries with ``id_from <= id <= id_to``, by id, read ``chunk`` at a time (no access
    check: for the match index and stages)."""
    last = id_from - 1
    while last < id_to:
        rows = conn.execute(
            select(
                bank_entry.c.id,
                bank_entry.c.bank_id,
                bank_entry.c.signal_type,
                bank_entry.c.signal,
                bank_entry.c.enabled,
                bank_entry.c.quarantined_at,
                bank.c.enabled.label("bank_enabled"),
                bank.c.deleted_at,
            )
            .join(bank, bank.c.id == bank_entry.c.bank_id)
            .where(bank_entry.c.id > last, bank_entry.c.id <= id_to)
            .order_by(bank_entry.c.id)
            .limit(chunk)
        ).all()
        for r in rows:
            yield RangeEntry(
                int(r.id),
                int(r.bank_id),
                r.signal_type,
                r.signal,
                bool(r.enabled) and bool(r.bank_enabled) and r.deleted_at is None,
                r.quarantined_at is not None,
            )
        if len(rows) < chunk:
            return
        last = int(rows[-1].id)


def bank_entry_range(conn: Connection, bank_id: int) -> tuple[int, int] | None:
    """The smallest and largest entry id of a bank (to re-read it after ``update_bank`` or
    ``delete_bank``), or None for an empty bank."""
    row = conn.execute(
        select(func.min(bank_entry.c.id), func.max(bank_entry.c.id)).where(
            bank_entry.c.bank_id == bank_id
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


# ------------------------------------------------------------------------------ showing


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def bank_as_dict(b: Bank, *, owner_name: str | None = None) -> dict[str, Any]:
    return {
        "id": b.id,
        "name": b.name,
        "org_id": b.org_id,
        "owner": owner_name,
        "tlp": b.tlp.value,
        "description": b.description,
        "signal_types": b.signal_types,
        "pdq_threshold": b.pdq_threshold,
        "negative": b.negative,
        "default_classification": b.default_classification,
        "match_dihedral": b.match_dihedral,
        "match_trimmed": b.match_trimmed,
        "match_low_quality": b.match_low_quality,
        "enabled": b.enabled,
        "created_at": _iso(b.created_at),
        "updated_at": _iso(b.updated_at),
    }


def stats_as_dict(s: BankStats) -> dict[str, Any]:
    return {
        "entries": s.entries,
        "enabled": s.enabled,
        "quarantined": s.quarantined,
        "by_signal_type": s.by_signal_type,
    }


def entry_as_dict(e: Entry) -> dict[str, Any]:
    return {
        "id": e.id,
        "bank_id": e.bank_id,
        "bank": e.bank_name,
        "signal_type": e.signal_type,
        "signal": e.signal,
        "category": e.category,
        "classification": e.classification,
        "effective_classification": e.effective_classification,
        "source": e.source,
        "tags": e.tags,
        "added_at": _iso(e.added_at),
        "added_by_org_id": e.added_by_org_id,
        "enabled": e.enabled,
        "disabled_at": _iso(e.disabled_at),
        "quarantined_at": _iso(e.quarantined_at),
        "quarantine_reason": e.quarantine_reason,
        "opinions": {"confirm": e.confirms, "dispute": e.disputes},
    }


def opinion_as_dict(o: OpinionRecord) -> dict[str, Any]:
    return {
        "entry_id": o.entry_id,
        "org_id": o.org_id,
        "org": o.org_name,
        "opinion": o.opinion,
        "note": o.note,
        "at": _iso(o.at),
    }

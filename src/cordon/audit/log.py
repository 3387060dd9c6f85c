"""The audit log: every change and every sensitive read, one event each, append-only.

Events are leaves of an RFC 6962 Merkle tree. Each event is written in the same transaction as
the change it records (callers pass their open connection), so a change without its event, or an
event without its change, cannot be committed. Sequence numbers are gap-free: the single row of
``audit_head`` is locked to hand them out, so a missing number always means a deleted event.
Record audit events last in a transaction to keep that lock short.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from cordon.audit.merkle import leaf_hash
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.store.tables import audit_event, audit_head

#: What the first event of a log links back to.
GENESIS = bytes(32)
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Actor:
    """Who did it and from where; the same for every event of one request or command.

    ``source`` is the first part of every action it records: ``api``, ``ui``, ``cli`` or
    ``stage``.
    """

    source: str = "system"
    user_id: int | None = None
    org_id: int | None = None
    token_id: str | None = None
    request_id: str | None = None
    client_ip: str | None = None
    purpose: str | None = None

    @classmethod
    def of(
        cls,
        principal: Principal | None,
        *,
        source: str,
        request_id: str | None = None,
        client_ip: str | None = None,
        purpose: str | None = None,
    ) -> Actor:
        if principal is None:
            return cls(source, request_id=request_id, client_ip=client_ip, purpose=purpose)
        return cls(
            source=source,
            user_id=principal.user_id,
            org_id=principal.org_id,
            token_id=principal.token_id,
            request_id=request_id,
            client_ip=client_ip,
            purpose=purpose,
        )


SYSTEM = Actor()


@dataclass(frozen=True)
class AuditEvent:
    """One audit event as stored, with its sequence number."""

    seq: int
    at: datetime
    action: str
    actor_user_id: int | None
    actor_org_id: int | None
    token_id: str | None
    object_kind: str | None
    object_ids: list[int | str]
    request_id: str | None
    client_ip: str | None
    purpose: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev_leaf: bytes = GENESIS

    def canonical_bytes(self) -> bytes:
        """The exact bytes that are hashed into the Merkle leaf for this event.

        They include the previous event's leaf hash, so that an event moved, removed or slipped
        in breaks the chain at the first place it was touched; the position itself is not part
        of them, so that a moved event can be recognised as the event it was.
        """
        body = {
            "prev": self.prev_leaf.hex(),
            "at": self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "action": self.action,
            "actor_user_id": self.actor_user_id,
            "actor_org_id": self.actor_org_id,
            "token_id": self.token_id,
            "object_kind": self.object_kind,
            "object_ids": self.object_ids,
            "request_id": self.request_id,
            "client_ip": self.client_ip,
            "purpose": self.purpose,
            "details": self.details,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


#: Moves the head by ``count`` and returns its new size: one statement, which also takes the
#: row lock of ``audit_head`` (on PostgreSQL; on SQLite the writer already holds the file).
_ADVANCE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(size=audit_head.c.size + bindparam("count"))
    .returning(audit_head.c.size)
)
_LEAF_AT = select(audit_event.c.leaf_hash).where(audit_event.c.seq == bindparam("seq"))
_INSERT_EVENTS = audit_event.insert()


#: Key in ``Connection.info`` of the last event this connection appended: (a weak reference
#: to its transaction, its seq, its leaf hash).
_TAIL = "cordon.audit.tail"


def _next_seq(conn: Connection, count: int) -> tuple[int, bytes]:
    """Reserve ``count`` sequence numbers; return the first and the last event's leaf hash."""
    size = int(conn.execute(_ADVANCE_HEAD, {"count": count}).scalar_one()) - count
    prev = GENESIS
    if size:
        # The head is locked by this transaction from its first event on, so the last event
        # it appended is still the last of the log when the head still ends there (a savepoint
        # rolled back since moves the head back below it).
        tail = conn.info.get(_TAIL)
        if tail is not None and tail[0]() is conn.get_transaction() and tail[1] == size:
            return size + 1, bytes(tail[2])
        stored = conn.execute(_LEAF_AT, {"seq": size}).scalar_one_or_none()
        prev = bytes(stored) if stored is not None else GENESIS
    return size + 1, prev


def record(
    conn: Connection,
    clock: Clock,
    actor: Actor,
    action: str,
    *,
    object_kind: str | None = None,
    object_ids: Sequence[int | str] = (),
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction and return it.

    ``action`` is ``source:subject:action`` (``api:report:create``). ``details`` must be JSON
    and must never hold media bytes.
    """
    return record_many(
        conn, clock, actor, [(action, object_kind, list(object_ids), dict(details or {}))]
    )[0]


def record_many(
    conn: Connection,
    clock: Clock,
    actor: Actor,
    events: Sequence[tuple[str, str | None, list[int | str], dict[str, Any]]],
) -> list[AuditEvent]:
    """Append several events at once (one lock, one round of inserts)."""
    if not events:
        return []
    for action, *_ in events:
        if not ACTION_RE.match(action):
            raise ValueError(f"audit action {action!r} is not of the form source:subject:action")
    first, prev = _next_seq(conn, len(events))
    at = clock.now()
    out: list[AuditEvent] = []
    rows: list[dict[str, Any]] = []
    for offset, (action, kind, ids, details) in enumerate(events):
        event = AuditEvent(
            seq=first + offset,
            at=at,
            action=action,
            actor_user_id=actor.user_id,
            actor_org_id=actor.org_id,
            token_id=actor.token_id,
            object_kind=kind,
            object_ids=ids,
            request_id=actor.request_id,
            client_ip=actor.client_ip,
            purpose=actor.purpose,
            details=details,
            prev_leaf=prev,
        )
        leaf = leaf_hash(event.canonical_bytes())
        prev = leaf
        out.append(event)
        rows.append(
            {
                "seq": event.seq,
                "at": event.at,
                "action": event.action,
                "actor_user_id": event.actor_user_id,
                "actor_org_id": event.actor_org_id,
                "token_id": event.token_id,
                "object_kind": event.object_kind,
                "object_ids": event.object_ids,
                "request_id": event.request_id,
                "client_ip": event.client_ip,
                "purpose": event.purpose,
                "details": event.details,
                "prev_hash": event.prev_leaf,
                "leaf_hash": leaf,
            }
        )
    conn.execute(_INSERT_EVENTS, rows)
    conn.info[_TAIL] = (weakref.ref(conn.get_transaction()), out[-1].seq, prev)
    return out


def _row_event(row: Any) -> AuditEvent:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return AuditEvent(
        seq=int(row.seq),
        at=at,
        action=row.action,
        actor_user_id=row.actor_user_id,
        actor_org_id=row.actor_org_id,
        token_id=row.token_id,
        object_kind=row.object_kind,
        object_ids=list(row.object_ids),
        request_id=row.request_id,
        client_ip=row.client_ip,
        purpose=row.purpose,
        details=dict(row.details),
        prev_leaf=bytes(row.prev_hash),
    )


def iter_rows(
    conn: Connection, *, after_seq: int = 0, batch: int = 5000
) -> Iterator[tuple[AuditEvent, bytes]]:
    """Stream stored events in sequence order with their stored leaf hash."""
    last = after_seq
    while True:
        rows = conn.execute(
            select(audit_event)
            .where(audit_event.c.seq > last)
            .order_by(audit_event.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield _row_event(row), bytes(row.leaf_hash)
        last = int(rows[-1].seq)


def seq_of_leaf(conn: Connection, leaf: bytes) -> int | None:
    """The position of the event whose stored leaf hash is ``leaf``."""
    found = conn.execute(
        select(audit_event.c.seq).where(audit_event.c.leaf_hash == leaf)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def list_events(
    conn: Connection,
    *,
    action_prefix: str | None = None,
    org_id: int | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[AuditEvent]:
    """Newest events first, optionally filtered."""
    stmt = select(audit_event).order_by(audit_event.c.seq.desc()).limit(limit)
    if action_prefix:
        stmt = stmt.where(audit_event.c.action.startswith(action_prefix, autoescape=True))
    if org_id is not None:
        stmt = stmt.where(audit_event.c.actor_org_id == org_id)
    if before_seq is not None:
        stmt = stmt.where(audit_event.c.seq < before_seq)
    return [_row_event(r) for r in conn.execute(stmt).all()]


def head_size(conn: Connection) -> int:
    """How many events the log says it holds."""
    return int(conn.execute(select(audit_head.c.size).where(audit_head.c.id == 1)).scalar_one())

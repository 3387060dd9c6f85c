"""The audit log: events in the same transaction as changes, and tampering found where it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from cordon.audit import log as audit
from cordon.audit import verify as av
from cordon.audit.merkle import parse_checkpoint
from cordon.clock import FrozenClock
from cordon.keys import Keys
from cordon.store.db import write

ACTOR = audit.Actor(source="cli", user_id=7, org_id=3, request_id="r1", client_ip="127.0.0.1")


def _fill(engine: Engine, clock: FrozenClock, n: int) -> None:
    with write(engine) as conn:
        for i in range(n):
            audit.record(
                conn,
                clock,
                ACTOR,
                "cli:test:write",
                object_kind="thing",
                object_ids=[i],
                details={"i": i},
            )


def _unlocked(conn: Connection, backend: str) -> None:
    """Take the append-only triggers away, as an attacker with database rights would."""
    if backend == "postgres":
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_event_no_update"))
        conn.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_events_are_numbered_without_gaps_and_verify(engine: Engine, clock: FrozenClock) -> None:
    _fill(engine, clock, 20)
    with engine.connect() as conn:
        result = av.verify(conn)
    assert result.ok, result.findings
    assert result.events == 20


def test_an_event_rolled_back_with_its_change_leaves_no_trace(
    engine: Engine, clock: FrozenClock
) -> None:
    _fill(engine, clock, 2)
    with pytest.raises(RuntimeError), write(engine) as conn:
        audit.record(conn, clock, ACTOR, "cli:test:write")
        raise RuntimeError("the change failed")
    _fill(engine, clock, 1)
    with engine.connect() as conn:
        result = av.verify(conn)
        assert result.ok
        assert result.events == 3
        assert [e.seq for e in audit.list_events(conn)] == [3, 2, 1]


def test_action_names_must_be_source_subject_action(conn: Connection, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="source:subject:action"):
        audit.record(conn, clock, ACTOR, "created a report")


def _first(engine: Engine, keys: Keys, heads: list | None = None) -> av.Finding:
    with engine.connect() as conn:
        result = av.verify(conn, heads or [], keys.audit_public_key)
    assert not result.ok
    first = result.first
    assert first is not None
    return first


def test_an_edited_event_is_named(
    engine: Engine, clock: FrozenClock, keys: Keys, backend: str
) -> None:
    _fill(engine, clock, 10)
    with write(engine) as conn:
        _unlocked(conn, backend)
        conn.execute(text("UPDATE audit_event SET action = 'cli:test:forged' WHERE seq = 4"))
    finding = _first(engine, keys)
    assert (finding.kind, finding.seq) == ("altered", 4)


def test_a_deleted_event_is_named(
    engine: Engine, clock: FrozenClock, keys: Keys, backend: str
) -> None:
    _fill(engine, clock, 10)
    with write(engine) as conn:
        _unlocked(conn, backend)
        conn.execute(text("DELETE FROM audit_event WHERE seq = 6"))
    finding = _first(engine, keys)
    assert (finding.kind, finding.seq) == ("missing", 6)


def test_two_swapped_events_are_named(
    engine: Engine, clock: FrozenClock, keys: Keys, backend: str
) -> None:
    _fill(engine, clock, 10)
    with write(engine) as conn:
        _unlocked(conn, backend)
        # Swap whole rows 3 and 7 (everything but the position), hashes included.
        conn.execute(text("UPDATE audit_event SET seq = -3 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_event SET seq = 3 WHERE seq = 7"))
        conn.execute(text("UPDATE audit_event SET seq = 7 WHERE seq = -3"))
    finding = _first(engine, keys)
    assert (finding.kind, finding.seq) == ("reordered", 3)


def test_an_inserted_event_is_named(
    engine: Engine, clock: FrozenClock, keys: Keys, backend: str
) -> None:
    _fill(engine, clock, 10)
    with write(engine) as conn:
        _unlocked(conn, backend)
        # Make room after event 5 and slip in a well-formed event linked to event 5.
        for seq in range(10, 5, -1):
            conn.execute(text(f"UPDATE audit_event SET seq = {seq + 1} WHERE seq = {seq}"))
        prev = conn.execute(text("SELECT leaf_hash FROM audit_event WHERE seq = 5")).scalar_one()
        forged = audit.AuditEvent(
            seq=6,
            at=clock.now(),
            action="cli:test:forged",
            actor_user_id=1,
            actor_org_id=1,
            token_id=None,
            object_kind=None,
            object_ids=[],
            request_id=None,
            client_ip=None,
            purpose=None,
            details={},
            prev_leaf=bytes(prev),
        )
        from cordon.audit.merkle import leaf_hash
        from cordon.store.tables import audit_event

        conn.execute(
            audit_event.insert().values(
                seq=6,
                at=forged.at,
                action=forged.action,
                actor_user_id=1,
                actor_org_id=1,
                object_ids=[],
                details={},
                prev_hash=bytes(prev),
                leaf_hash=leaf_hash(forged.canonical_bytes()),
            )
        )
    finding = _first(engine, keys)
    assert (finding.kind, finding.seq) == ("inserted", 6)


def test_truncation_behind_a_checkpoint_is_found(
    engine: Engine, clock: FrozenClock, keys: Keys, backend: str, tmp_path: Path
) -> None:
    _fill(engine, clock, 12)
    with write(engine) as conn:
        head = av.checkpoint(conn, clock, keys)
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(head.to_checkpoint())
    with write(engine) as conn:
        _unlocked(conn, backend)
        conn.execute(text("DELETE FROM audit_event WHERE seq > 9"))
        # A careful attacker also rewinds the head counter.
        conn.execute(text("UPDATE audit_head SET size = 9"))
    finding = _first(engine, keys, [parse_checkpoint(saved.read_text())])
    assert finding.kind == "truncated"
    assert "12 events" in finding.message
    assert "9 remain" in finding.message


def test_a_rewritten_log_fails_its_checkpoint(
    engine: Engine, clock: FrozenClock, keys: Keys, backend: str
) -> None:
    _fill(engine, clock, 8)
    with write(engine) as conn:
        head = av.checkpoint(conn, clock, keys)
    with write(engine) as conn:
        _unlocked(conn, backend)
        # Rewrite event 2 and every hash after it so that the chain holds again.
        conn.execute(text("UPDATE audit_event SET action = 'cli:test:forged' WHERE seq = 2"))
        rows = list(audit.iter_rows(conn))
        prev = audit.GENESIS
        from cordon.audit.merkle import leaf_hash

        for event, _ in rows:
            fixed = audit.AuditEvent(**{**event.__dict__, "prev_leaf": prev})
            leaf = leaf_hash(fixed.canonical_bytes())
            conn.execute(
                text("UPDATE audit_event SET prev_hash = :p, leaf_hash = :l WHERE seq = :s"),
                {"p": prev, "l": leaf, "s": event.seq},
            )
            prev = leaf
    with engine.connect() as conn:
        assert av.verify(conn).ok  # consistent with itself…
    finding = _first(engine, keys, [head])
    assert finding.kind == "checkpoint"  # …but not with what was signed


def test_checkpoint_refuses_an_altered_log(
    engine: Engine, clock: FrozenClock, keys: Keys, backend: str
) -> None:
    _fill(engine, clock, 3)
    with write(engine) as conn:
        _unlocked(conn, backend)
        conn.execute(text("UPDATE audit_event SET details = '{}' WHERE seq = 2"))
    with pytest.raises(av.AuditLogAltered, match="event 2"), write(engine) as conn:
        av.checkpoint(conn, clock, keys)

"""Queries on work items.

A work item is one subject (a URL, a capture, a notice…) waiting for one stage. Its life:
``pending`` → ``leased`` (claimed by a worker until ``lease_until``) → ``done``; a failed attempt
goes back to ``pending`` with a later ``next_run_at``, and after ``max_attempts`` to ``dead`` with
its error kept. A lease that runs out (the worker died) makes the item claimable again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cordon.store.db import is_postgres
from cordon.store.tables import work_item

PENDING, LEASED, DONE, DEAD = "pending", "leased", "done", "dead"


@dataclass(frozen=True)
class WorkItem:
    id: int
    stage: str
    subject_kind: str
    subject_id: int
    attempts: int
    lease_owner: str | None


# Built once: enqueue runs for every capture stored, and a statement built anew each time costs
# more CPU than running it.
_ENQUEUE_PG = pg_insert(work_item).on_conflict_do_nothing(
    index_elements=["stage", "subject_kind", "subject_id"]
)
_ENQUEUE_SQLITE = sqlite_insert(work_item).on_conflict_do_nothing(
    index_elements=["stage", "subject_kind", "subject_id"]
)
_REARM = (
    update(work_item)
    .where(
        work_item.c.stage == bindparam("b_stage"),
        work_item.c.subject_kind == bindparam("b_kind"),
        work_item.c.subject_id.in_(bindparam("b_ids", expanding=True)),
        work_item.c.state.in_([DONE, DEAD]),
    )
    .values(
        state=PENDING,
        attempts=0,
        next_run_at=bindparam("b_when", type_=work_item.c.next_run_at.type),
        updated_at=bindparam("b_now", type_=work_item.c.updated_at.type),
        last_error=None,
    )
)


def enqueue(
    conn: Connection,
    now: datetime,
    stage: str,
    subject_kind: str,
    subject_ids: list[int],
    *,
    run_at: datetime | None = None,
    rearm: bool = False,
) -> None:
    """Ask ``stage`` to process each subject. Idempotent: a subject already waiting is left as it
    is. With ``rearm``, a subject whose item is done or dead is made pending again at ``run_at``
    (a re-crawl, a repeat notice)."""
    enqueue_many(
        conn, now, [Wanted(stage, subject_kind, sid, rearm) for sid in subject_ids], run_at=run_at
    )


class Wanted(NamedTuple):
    """One subject for one stage, as :func:`enqueue_many` takes it."""

    stage: str
    subject_kind: str
    subject_id: int
    rearm: bool = False


def enqueue_many(
    conn: Connection, now: datetime, wanted: Sequence[Wanted], *, run_at: datetime | None = None
) -> None:
    """:func:`enqueue` for subjects of several stages at once, each asked of its stage as
    :func:`enqueue` would (with ``rearm`` where it says so): one insert, and one re-arming
    update per stage and subject kind that has subjects to re-arm."""
    if not wanted:
        return
    when = run_at or now
    keys: dict[tuple[str, str, int], bool] = {}
    for w in wanted:
        key = (w.stage, w.subject_kind, w.subject_id)
        keys[key] = keys.get(key, False) or w.rearm
    rows = [
        {
            "stage": stage,
            "subject_kind": kind,
            "subject_id": sid,
            "state": PENDING,
            "attempts": 0,
            "next_run_at": when,
            "created_at": now,
            "updated_at": now,
        }
        for stage, kind, sid in keys
    ]
    conn.execute(_ENQUEUE_PG if is_postgres(conn) else _ENQUEUE_SQLITE, rows)
    rearmed: dict[tuple[str, str], list[int]] = {}
    for (stage, kind, sid), again in keys.items():
        if again:
            rearmed.setdefault((stage, kind), []).append(sid)
    for (stage, kind), ids in rearmed.items():
        conn.execute(
            _REARM, {"b_stage": stage, "b_kind": kind, "b_ids": ids, "b_when": when, "b_now": now}
        )


def claim(
    conn: Connection, stage: str, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[WorkItem]:
    """Lease up to ``limit`` due items of ``stage`` to ``owner``.

    On PostgreSQL concurrent claimers skip each other's rows (``FOR UPDATE SKIP LOCKED``); on
    SQLite the surrounding ``BEGIN IMMEDIATE`` already makes the claim exclusive.
    """
    due = or_(
        and_(work_item.c.state == PENDING, work_item.c.next_run_at <= now),
        and_(work_item.c.state == LEASED, work_item.c.lease_until < now),
    )
    candidates = (
        select(work_item.c.id)
        .where(work_item.c.stage == stage, due)
        .order_by(work_item.c.next_run_at, work_item.c.id)
        .limit(limit)
    )
    if is_postgres(conn):
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(work_item)
        .where(work_item.c.id.in_(candidates.scalar_subquery()))
        .values(
            state=LEASED,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=work_item.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            work_item.c.id,
            work_item.c.stage,
            work_item.c.subject_kind,
            work_item.c.subject_id,
            work_item.c.attempts,
            work_item.c.lease_owner,
        )
    )
    rows = conn.execute(stmt).all()
    items = [
        WorkItem(r.id, r.stage, r.subject_kind, r.subject_id, r.attempts, r.lease_owner)
        for r in rows
    ]
    return sorted(items, key=lambda i: i.id)


def complete(conn: Connection, item: WorkItem, now: datetime) -> bool:
    """Mark ``item`` done, but only while its lease is still ours.

    Returns False when another worker has taken the item over (our lease ran out): the caller
    must then roll back its work, so that the item's effect is committed exactly once.
    """
    result = conn.execute(
        _COMPLETE,
        {"item_id": item.id, "owner": item.lease_owner, "tries": item.attempts, "now": now},
    )
    return result.rowcount == 1


_COMPLETE = (
    update(work_item)
    .where(
        work_item.c.id == bindparam("item_id"),
        work_item.c.state == LEASED,
        work_item.c.lease_owner == bindparam("owner"),
        work_item.c.attempts == bindparam("tries"),
    )
    .values(
        state=DONE,
        done_at=bindparam("now"),
        updated_at=bindparam("now"),
        lease_owner=None,
        lease_until=None,
        last_error=None,
    )
)


def fail(
    conn: Connection,
    item: WorkItem,
    now: datetime,
    error: str,
    *,
    max_attempts: int,
    retry_at: datetime,
    permanent: bool = False,
) -> str:
    """Record a failed attempt: back to pending at ``retry_at``, or dead. Returns the state."""
    state = DEAD if permanent or item.attempts >= max_attempts else PENDING
    conn.execute(
        update(work_item)
        .where(
            work_item.c.id == item.id,
            work_item.c.lease_owner == item.lease_owner,
            work_item.c.attempts == item.attempts,
        )
        .values(
            state=state,
            next_run_at=retry_at,
            updated_at=now,
            lease_owner=None,
            lease_until=None,
            last_error=error[:4000],
        )
    )
    return state


def retry_dead(conn: Connection, now: datetime, stage: str | None = None) -> int:
    """Give dead items a new set of attempts. Returns how many."""
    stmt = update(work_item).where(work_item.c.state == DEAD)
    if stage:
        stmt = stmt.where(work_item.c.stage == stage)
    result = conn.execute(stmt.values(state=PENDING, attempts=0, next_run_at=now, updated_at=now))
    return int(result.rowcount)


@dataclass(frozen=True)
class StageCounts:
    stage: str
    pending: int
    leased: int
    done: int
    dead: int


def counts(conn: Connection) -> list[StageCounts]:
    """Items per stage and state."""
    rows = conn.execute(
        select(work_item.c.stage, work_item.c.state, func.count()).group_by(
            work_item.c.stage, work_item.c.state
        )
    ).all()
    table: dict[str, dict[str, int]] = {}
    for stage, state, n in rows:
        table.setdefault(stage, {})[state] = int(n)
    return [
        StageCounts(s, t.get(PENDING, 0), t.get(LEASED, 0), t.get(DONE, 0), t.get(DEAD, 0))
        for s, t in sorted(table.items())
    ]


def dead_items(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Dead items with their last error, newest first."""
    rows = conn.execute(
        select(work_item)
        .where(work_item.c.state == DEAD)
        .order_by(work_item.c.updated_at.desc())
        .limit(limit)
    ).all()
    return [dict(r._mapping) for r in rows]


def next_due(conn: Connection, stages: list[str]) -> datetime | None:
    """When the earliest pending item of these stages becomes due."""
    return conn.execute(
        select(func.min(work_item.c.next_run_at)).where(
            work_item.c.stage.in_(stages), work_item.c.state == PENDING
        )
    ).scalar_one_or_none()

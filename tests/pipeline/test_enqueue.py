"""Asking stages for work: ``enqueue_many`` does for several stages what ``enqueue`` does for one,
waiting items left alone and done or dead ones re-armed only where asked."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, select

from cordon.clock import FrozenClock
from cordon.pipeline import repo
from cordon.pipeline.repo import Wanted
from cordon.store.tables import work_item


def _items(conn: Connection) -> dict[tuple[str, int], tuple[str, int]]:
    rows = conn.execute(
        select(
            work_item.c.stage, work_item.c.subject_id, work_item.c.state, work_item.c.attempts
        ).where(work_item.c.stage.in_(["alpha", "beta", "gamma"]))
    )
    return {(r.stage, r.subject_id): (r.state, r.attempts) for r in rows}


def _finish(conn: Connection, clock: FrozenClock, stage: str, state: str) -> None:
    items = repo.claim(conn, stage, "tester", clock.now(), timedelta(minutes=5), 10)
    for item in items:
        if state == repo.DONE:
            assert repo.complete(conn, item, clock.now())
        else:
            repo.fail(
                conn,
                item,
                clock.now(),
                "broken",
                max_attempts=1,
                retry_at=clock.now(),
                permanent=True,
            )


def test_several_stages_are_asked_at_once_and_duplicates_once(
    conn: Connection, clock: FrozenClock
) -> None:
    repo.enqueue_many(
        conn,
        clock.now(),
        [Wanted("alpha", "url", 1), Wanted("beta", "url", 1), Wanted("alpha", "url", 1)],
    )
    assert _items(conn) == {("alpha", 1): ("pending", 0), ("beta", 1): ("pending", 0)}


def test_done_and_dead_items_come_back_only_when_rearm_is_asked(
    conn: Connection, clock: FrozenClock
) -> None:
    repo.enqueue_many(
        conn,
        clock.now(),
        [Wanted("alpha", "url", 2), Wanted("beta", "url", 2), Wanted("gamma", "url", 2)],
    )
    _finish(conn, clock, "alpha", repo.DONE)
    _finish(conn, clock, "beta", repo.DEAD)
    _finish(conn, clock, "gamma", repo.DONE)
    clock.advance(timedelta(hours=1))
    repo.enqueue_many(
        conn,
        clock.now(),
        [
            Wanted("alpha", "url", 2, rearm=True),
            Wanted("beta", "url", 2, rearm=True),
            Wanted("gamma", "url", 2),  # not re-armed: stays done
        ],
    )
    assert _items(conn) == {
        ("alpha", 2): ("pending", 0),
        ("beta", 2): ("pending", 0),
        ("gamma", 2): ("done", 1),
    }
    # The same as enqueue, stage by stage.
    repo.enqueue(conn, clock.now(), "gamma", "url", [2], rearm=True)
    assert _items(conn)[("gamma", 2)] == ("pending", 0)


def test_a_waiting_item_keeps_its_time(conn: Connection, clock: FrozenClock) -> None:
    later = clock.now() + timedelta(days=1)
    repo.enqueue_many(conn, clock.now(), [Wanted("alpha", "url", 3)], run_at=later)
    repo.enqueue_many(conn, clock.now(), [Wanted("alpha", "url", 3, rearm=True)])
    when = conn.execute(
        select(work_item.c.next_run_at).where(
            work_item.c.stage == "alpha", work_item.c.subject_id == 3
        )
    ).scalar_one()
    assert when == later

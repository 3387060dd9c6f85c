"""The stage runner: leases, retries, dead letters, and exactly-once effects across crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text

from cordon.audit import log as audit
from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.pipeline import repo
from cordon.pipeline.repo import WorkItem
from cordon.pipeline.runner import Permanent, Retry, StageContext, run_batch, run_until_idle
from cordon.store.db import read, write
from cordon.store.tables import audit_event, work_item

HERE = Path(__file__).parent


class Recorder:
    """A stage that audits each item, failing on the subjects it is told to."""

    name = "record"

    def __init__(self, fail: dict[int, Exception] | None = None) -> None:
        self.fail = fail or {}
        self.seen: list[int] = []

    def process(self, conn: Connection, ctx: StageContext, item: WorkItem) -> None:
        self.seen.append(item.subject_id)
        audit.record(conn, ctx.clock, ctx.actor, "stage:record:done", object_ids=[item.subject_id])
        if item.subject_id in self.fail:
            raise self.fail[item.subject_id]


def _settings(**pipeline: object) -> Settings:
    return load_settings(environ={}, overrides={"pipeline": {"backoff_seconds": 60, **pipeline}})


def _states(engine: Engine) -> dict[int, str]:
    with read(engine) as conn:
        rows = conn.execute(select(work_item.c.subject_id, work_item.c.state)).all()
    return {r.subject_id: r.state for r in rows}


def test_enqueue_is_idempotent_and_items_are_done_once(engine: Engine, clock: FrozenClock) -> None:
    with write(engine) as conn:
        repo.enqueue(conn, clock.now(), "record", "thing", [1, 2, 3])
        repo.enqueue(conn, clock.now(), "record", "thing", [2, 3, 4])
    stage = Recorder()
    stats = run_until_idle(engine, [stage], StageContext(clock, _settings()))
    assert stats.done == 4
    assert sorted(stage.seen) == [1, 2, 3, 4]
    assert set(_states(engine).values()) == {"done"}
    assert run_until_idle(engine, [stage], StageContext(clock, _settings())).done == 0


def test_a_failed_item_rolls_back_its_work_and_retries_with_backoff(
    engine: Engine, clock: FrozenClock
) -> None:
    stage = Recorder(fail={2: RuntimeError("flaky")})
    ctx = StageContext(clock, _settings(max_attempts=3))
    with write(engine) as conn:
        repo.enqueue(conn, clock.now(), "record", "thing", [1, 2])
    run_until_idle(engine, [stage], ctx)
    assert _states(engine) == {1: "done", 2: "pending"}
    with engine.connect() as conn:
        done_events = (
            conn.execute(
                select(audit_event.c.object_ids).where(audit_event.c.action == "stage:record:done")
            )
            .scalars()
            .all()
        )
        error = conn.execute(
            select(work_item.c.last_error).where(work_item.c.subject_id == 2)
        ).scalar_one()
    assert done_events == [[1]]  # the failed attempt's audit event was rolled back with it
    assert "flaky" in error
    clock.advance(timedelta(seconds=59))
    assert run_until_idle(engine, [stage], ctx).failed == 0  # not due yet: backoff 60 s
    clock.advance(timedelta(seconds=2))
    run_until_idle(engine, [stage], ctx)  # attempt 2 fails, next backoff 120 s
    clock.advance(timedelta(seconds=121))
    run_until_idle(engine, [stage], ctx)  # attempt 3 fails: dead
    assert _states(engine)[2] == "dead"
    with write(engine) as conn:
        assert repo.retry_dead(conn, clock.now()) == 1
    assert _states(engine)[2] == "pending"


def test_permanent_failures_go_to_dead_letter_at_once_and_retry_requests_do_not_count(
    engine: Engine, clock: FrozenClock
) -> None:
    stage = Recorder(fail={1: Permanent("unsupported"), 2: Retry("later", timedelta(hours=1))})
    ctx = StageContext(clock, _settings(max_attempts=1))
    with write(engine) as conn:
        repo.enqueue(conn, clock.now(), "record", "thing", [1, 2])
    run_until_idle(engine, [stage], ctx)
    assert _states(engine) == {1: "dead", 2: "pending"}
    clock.advance(timedelta(hours=1, seconds=1))
    run_until_idle(engine, [stage], ctx)
    assert _states(engine)[2] == "pending"  # asked to retry: never dead for it


def test_an_expired_lease_is_taken_over_and_the_late_worker_is_fenced_off(
    engine: Engine, clock: FrozenClock
) -> None:
    settings = _settings(lease_seconds=30)
    with write(engine) as conn:
        repo.enqueue(conn, clock.now(), "record", "thing", [9])
        (first,) = repo.claim(conn, "record", "worker-a", clock.now(), timedelta(seconds=30), 10)
    clock.advance(timedelta(seconds=31))
    stage = Recorder()
    assert run_batch(engine, stage, StageContext(clock, settings), "worker-b").done == 1
    # Worker A wakes up and tries to finish: its completion is refused.
    with write(engine) as conn:
        assert repo.complete(conn, first, clock.now()) is False


def test_a_requeued_done_item_runs_again_only_when_rearmed(
    engine: Engine, clock: FrozenClock
) -> None:
    stage = Recorder()
    ctx = StageContext(clock, _settings())
    with write(engine) as conn:
        repo.enqueue(conn, clock.now(), "record", "thing", [5])
    run_until_idle(engine, [stage], ctx)
    with write(engine) as conn:
        repo.enqueue(conn, clock.now(), "record", "thing", [5])
    assert run_until_idle(engine, [stage], ctx).done == 0
    with write(engine) as conn:
        repo.enqueue(
            conn,
            clock.now(),
            "record",
            "thing",
            [5],
            rearm=True,
            run_at=clock.now() + timedelta(hours=24),
        )
    clock.advance(timedelta(hours=24))
    assert run_until_idle(engine, [stage], ctx).done == 1


def _worker(db_url: str, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CORDON_DATABASE_URL": db_url,
        "CORDON_KEY_DIR": str(tmp / "keys"),
        "CORDON_PLUGINS": "slow_stage",
        "CORDON_PIPELINE__LEASE_SECONDS": "2",
        "CORDON_PIPELINE__BATCH_SIZE": "8",
        "CORDON_PIPELINE__POLL_SECONDS": "0.2",
        "PYTHONPATH": str(HERE),
    }
    with (tmp / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cordon", "worker", "--stage", "test_slow"],
            env=env,
            stdout=log,
            stderr=log,
        )


def _done_events(engine: Engine) -> Counter[int]:
    # A deferred (read) transaction: an IMMEDIATE one would queue behind the busy worker.
    with read(engine) as conn:
        rows = (
            conn.execute(
                select(audit_event.c.object_ids).where(
                    audit_event.c.action == "stage:test_slow:done"
                )
            )
            .scalars()
            .all()
        )
    return Counter(ids[0] for ids in rows)


@pytest.mark.slow
def test_sigkill_mid_batch_loses_nothing_and_does_nothing_twice(
    engine: Engine, fresh_db: str, clock: FrozenClock, tmp_path: Path
) -> None:
    subjects = list(range(1, 41))
    with write(engine) as conn:
        repo.enqueue(conn, clock.now(), "test_slow", "thing", subjects)
    first = _worker(fresh_db, tmp_path)
    deadline = time.monotonic() + 60
    while sum(_done_events(engine).values()) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    with read(engine) as conn:
        leased = conn.execute(
            text("SELECT count(*) FROM work_item WHERE state = 'leased'")
        ).scalar_one()
    assert leased > 0, "the worker was killed holding a batch"
    second = _worker(fresh_db, tmp_path)
    try:
        deadline = time.monotonic() + 90
        while set(_states(engine).values()) != {"done"} and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    assert set(_states(engine).values()) == {"done"}
    counts = _done_events(engine)
    assert sorted(counts) == subjects
    assert set(counts.values()) == {1}, "an item's effect was committed twice"
    with engine.connect() as conn:
        from cordon.audit.verify import verify

        assert verify(conn).ok

"""Verifying takedowns by re-crawling, and watching removed URLs for their return.

A pass of the ``outcome_verify`` stage over one notice:

1. every listed URL with a capture since the notice was sent that shows it **gone** (the
   crawler's gone outcome: 404/410, NXDOMAIN, no address, refused) or answering one of
   ``outcomes.removal_statuses`` is marked removed, at that capture's time;
2. when every URL of the notice is removed, the notice is **verified** (from sent,
   acknowledged, under review or actioned: a party that acts without answering is verified
   all the same); an ``actioned`` notice whose URLs a fresh capture still shows live goes back
   to **sent** and its repeats resume;
3. a removed URL that a later capture shows live again has **reappeared**: the notice is
   marked so and the URL is listed again (a new chain, linked to the old notice);
4. URLs still to be verified (or watched, for ``outcomes.watch_days`` after verification) are
   re-crawled through the crawler's ``request_crawl(reason="verify")`` every
   ``outcomes.verify_interval_hours``; the next pass looks ``outcomes.verify_recheck_minutes``
   after a request. Removal is never taken from an answer alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.config import Settings
from cordon.crawl import repo as crawl
from cordon.notices import repo as notices
from cordon.notices.policy import NoticePolicy
from cordon.notices.states import VERIFIABLE, State
from cordon.outcomes import repo
from cordon.outcomes.compose import CONFIRM_STAGE, VERIFY_STAGE
from cordon.pipeline import repo as work

FINAL = frozenset({State.DECLINED, State.DISPUTED, State.REAPPEARED, State.CLOSED})


PLAN_SUBJECT = "verify_plan"


def plan(conn: Connection, now: Any, notice_id: int, due: Any) -> None:
    """Plan a verification pass of ``notice_id`` at ``due`` (replacing a waiting plan)."""
    plan_id = repo.plan_verification(conn, now, notice_id, due)
    work.enqueue(conn, now, VERIFY_STAGE, PLAN_SUBJECT, [plan_id], run_at=due)


def run_plan(
    conn: Connection, clock: Clock, actor: audit.Actor, settings: Settings, plan_id: int
) -> str:
    """Carry out a planned pass (nothing when it was replaced or already done)."""
    notice_id = repo.take_plan(conn, plan_id, clock.now())
    if notice_id is None:
        return "nothing planned"
    return run_pass(conn, clock, actor, settings, notice_id)


def _removed(cap: Any, settings: Settings) -> bool:
    if cap.outcome == "gone":
        return True
    return cap.outcome == "failed" and cap.status in settings.outcomes.removal_statuses


def run_pass(
    conn: Connection, clock: Clock, actor: audit.Actor, settings: Settings, notice_id: int
) -> str:
    """One verification pass over a notice (see the module). Returns what it found."""
    n = notices.load(conn, notice_id)
    if n is None or n.state is State.DRAFT:
        return "nothing to verify"
    if n.state in FINAL:
        return f"notice is {n.state.value}"
    now = clock.now()
    rules = settings.outcomes
    policy = NoticePolicy.from_settings(settings)
    items = repo.items_of(conn, notice_id)
    newly_removed = 0
    reappeared: list[int] = []
    for item in items:
        caps = repo.captures_since(conn, int(item.url_id), n.first_sent_at)
        if item.state == "listed":
            gone = next((c for c in caps if _removed(c, settings)), None)
            if gone is not None:
                repo.update_item(
                    conn,
                    int(item.id),
                    state="removed",
                    removed_at=gone.finished_at,
                    removal_capture_id=int(gone.id),
                )
                newly_removed += 1
        elif item.state == "removed":
            back = next(
                (c for c in caps if c.finished_at > item.removed_at and c.outcome == "live"),
                None,
            )
            if back is not None:
                repo.update_item(
                    conn, int(item.id), state="reappeared", reappeared_at=back.finished_at
                )
                reappeared.append(int(item.url_id))
    items = repo.items_of(conn, notice_id)
    listed = [i for i in items if i.state == "listed"]
    result = f"{newly_removed} removed"
    if reappeared:
        if n.state is State.VERIFIED:
            notices.mark_reappeared(conn, clock, actor, notice_id, {"url_ids": reappeared})
        else:
            # A URL back before the notice as a whole was verified: list it again.
            for item in items:
                if item.state == "reappeared" and int(item.url_id) in reappeared:
                    repo.update_item(conn, int(item.id), state="listed", removed_at=None)
        work.enqueue(conn, now, CONFIRM_STAGE, "url", reappeared, rearm=True)
        result += f", {len(reappeared)} reappeared"
    current = notices.load(conn, notice_id)
    assert current is not None
    watch = repo.watch_of(conn, notice_id)
    if watch is None:
        repo.start_watch(conn, notice_id)
        watch = repo.watch_of(conn, notice_id)
    assert watch is not None
    if not listed and current.state in VERIFIABLE:
        removed_at = max(i.removed_at for i in items if i.removed_at is not None)
        notices.mark_verified(
            conn,
            clock,
            actor,
            notice_id,
            {"removed_at": removed_at.isoformat(), "urls": len(items)},
        )
        repo.update_watch(conn, notice_id, watch_until=now + timedelta(days=rules.watch_days))
        result += ", verified"
        current = notices.load(conn, notice_id)
        assert current is not None
        watch = repo.watch_of(conn, notice_id)
        assert watch is not None
    elif current.state is State.ACTIONED and listed and watch.last_request_at is not None:
        still_live = all(
            any(
                c.outcome == "live" and c.finished_at >= watch.last_request_at
                for c in repo.captures_since(conn, int(i.url_id), watch.last_request_at)
            )
            for i in listed
        )
        if still_live:
            notices.mark_not_removed(
                conn, clock, actor, policy, notice_id, {"url_ids": [int(i.url_id) for i in listed]}
            )
            result += ", still live: sent again"
    if current.state in FINAL or (
        current.state is State.VERIFIED
        and watch.watch_until is not None
        and now >= watch.watch_until
    ):
        return result + ", watch over"
    to_crawl = [int(i.url_id) for i in items if i.state in ("listed", "removed")]
    interval = timedelta(hours=rules.verify_interval_hours)
    recheck = timedelta(minutes=rules.verify_recheck_minutes)
    last = watch.last_request_at
    ask = last is None or now - last >= interval or current.state is State.ACTIONED
    if to_crawl and ask and (last is None or now - last >= recheck):
        crawl.request_crawl(conn, clock, actor, to_crawl, reason="verify")
        repo.update_watch(conn, notice_id, last_request_at=now, passes=int(watch.passes) + 1)
        last = now
    due = now + recheck if last == now else (last or now) + interval
    if due <= now:
        due = now + recheck
    plan(conn, now, notice_id, due)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:outcome:verify",
        object_kind=notices.KIND,
        object_ids=[notice_id],
        details={"result": result, "next_pass": due.isoformat()},
    )
    return result

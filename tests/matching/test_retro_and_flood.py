"""Retroactive matching (entries added after the sightings), negative entries added later, and
the flood guard (quarantine instead of an alert storm), through the stages and the banks'
own functions, on both backends."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta

from sqlalchemy import Engine, select

from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.matching import flood
from cordon.matching.model import Query
from cordon.matching.service import Matcher
from cordon.matching.stage import MatchStage, RetroMatchStage
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.signals.hashing import reference_pdq
from cordon.signals.synthetic import encode, photo_like
from cordon.store.db import read, write
from cordon.store.tables_banks import bank_entry
from cordon.store.tables_matching import sighting_match
from cordon.store.tables_money import url_confirmation
from matching.captures import PictureServer, store_capture
from matching.helpers import ACTOR, add_entries, at_distance, make_bank, random_pdq
from support import make_member


def test_entries_added_later_match_past_sightings_retroactively(
    engine: Engine, clock: FrozenClock, settings: Settings, pictures: PictureServer
) -> None:
    settings = pictures.settings(settings, retro_chunk=2)
    known = encode(photo_like(301, 420, 320))
    url = pictures.put("/r1/known.jpg", known)
    rng = random.Random(21)
    api_seen = random_pdq(rng)
    matcher = Matcher(clock)
    ctx = StageContext(clock=clock, settings=settings)
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, hotline, "LATER", default_classification="A1")
        capture_id = store_capture(
            conn, clock, settings, hotline, "https://retro-shop.test/", [(url, known)]
        )
        from cordon.domain.tlp import Tlp
        from cordon.matching.flows import match_for_member

        # Sightings from a match call and a capture, before the bank holds anything.
        ids, answer = match_for_member(
            conn,
            matcher,
            clock,
            ACTOR,
            settings,
            hotline,
            [Query("pdq", api_seen, 80), *[Query("pdq", random_pdq(rng)) for _ in range(4)]],
            Tlp.GREEN,
        )
        assert answer == [[], [], [], [], []]
    run_until_idle(engine, [MatchStage(matcher)], ctx)
    with read(engine) as conn:
        assert conn.execute(select(sighting_match)).all() == []
    clock.advance(timedelta(days=2))
    with write(engine) as conn:
        entries = add_entries(
            conn,
            clock,
            hotline,
            "LATER",
            [
                ("pdq", reference_pdq(known).hex),
                ("pdq", at_distance(api_seen, 12, rng)),
                ("photo_sha256", hashlib.sha256(known).hexdigest()),
            ],
        )
    stats = run_until_idle(engine, [RetroMatchStage()], ctx)
    assert stats.done >= 1
    assert stats.failed == 0
    with read(engine) as conn:
        rows = conn.execute(select(sighting_match).order_by(sighting_match.c.id)).all()
        confirmation = conn.execute(select(url_confirmation)).one()
    assert sorted(r.entry_id for r in rows) == sorted(entries)
    assert all(r.retroactive and r.status == "active" for r in rows)
    assert {r.distance for r in rows if r.sighting_id == ids[0]} == {12}
    by_entry = {r.entry_id: r for r in rows}
    # The crawled picture's match confirmed its URL, with a reference hash from a fresh fetch.
    assert by_entry[entries[0]].confirmed
    assert by_entry[entries[0]].reference_state == "computed"
    assert not by_entry[entries[1]].confirmed  # a match call has no URL to confirm
    assert by_entry[entries[2]].confirmed  # the exact bytes, found by digest lookup
    assert by_entry[entries[2]].distance == 0
    assert confirmation.capture_id == capture_id
    assert confirmation.match_summary["classification"] == "A1"
    # Running the change again records nothing twice.
    with write(engine) as conn:
        from cordon.pipeline import repo as work

        seqs = [
            s
            for (s,) in conn.execute(
                select(work.work_item.c.subject_id).where(work.work_item.c.stage == "retro_match")
            ).all()
        ]
        work.enqueue(conn, clock.now(), "retro_match", "bank_change", seqs, rearm=True)
    run_until_idle(engine, [RetroMatchStage()], ctx)
    with read(engine) as conn:
        assert len(conn.execute(select(sighting_match)).all()) == len(rows)


def test_a_negative_entry_added_later_suppresses_earlier_matches(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    rng = random.Random(22)
    h = random_pdq(rng)
    matcher = Matcher(clock)
    from cordon.domain.tlp import Tlp
    from cordon.matching.flows import match_for_member

    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, hotline, "POSITIVE", default_classification="B2")
        make_bank(conn, clock, hotline, "NEGATIVE", negative=True)
        add_entries(conn, clock, hotline, "POSITIVE", [("pdq", h)])
        _, answer = match_for_member(
            conn, matcher, clock, ACTOR, settings, hotline, [Query("pdq", h)], Tlp.GREEN
        )
        assert [x.status for x in answer[0]] == ["active"]
        add_entries(conn, clock, hotline, "NEGATIVE", [("pdq", at_distance(h, 2, rng))])
    run_until_idle(engine, [RetroMatchStage()], StageContext(clock=clock, settings=settings))
    with read(engine) as conn:
        statuses = sorted(
            (r.status, r.retroactive) for r in conn.execute(select(sighting_match)).all()
        )
    assert statuses == [("active", True), ("suppressed", False)]


def test_the_flood_guard_quarantines_an_entry_that_suddenly_matches_far_more(
    engine: Engine, clock: FrozenClock, settings: Settings, pictures: PictureServer
) -> None:
    """Rule: more than ``flood_min_matches`` matches in ``flood_window_hours`` and more than
    ``flood_factor`` times the entry's usual rate over ``flood_history_days``."""
    settings = pictures.settings(
        settings, flood_min_matches=5, flood_window_hours=1, flood_factor=4, flood_history_days=10
    )
    rule = flood.FloodRule.from_settings(settings)
    blank = encode(photo_like(401, 300, 200))
    rng = random.Random(23)
    matcher = Matcher(clock)
    ctx = StageContext(clock=clock, settings=settings)
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, hotline, "FLOODY", default_classification="B1")
        (entry,) = add_entries(conn, clock, hotline, "FLOODY", [("pdq", reference_pdq(blank).hex)])
    # A steady history: one capture a day for 5 days stays under the guard.
    for day in range(5):
        with write(engine) as conn:
            url = pictures.put(f"/f/{day}.jpg", blank)
            store_capture(
                conn, clock, settings, hotline, f"https://steady{day}.test/", [(url, blank)]
            )
        run_until_idle(engine, [MatchStage(matcher)], ctx)
        clock.advance(timedelta(days=1))
    # Then a burst: twelve captures within the hour.
    for n in range(12):
        with write(engine) as conn:
            url = pictures.put(f"/g/{n}.jpg", blank)
            store_capture(conn, clock, settings, hotline, f"https://burst{n}.test/", [(url, blank)])
        run_until_idle(engine, [MatchStage(matcher)], ctx)
        clock.advance(timedelta(minutes=2))
    with read(engine) as conn:
        held = conn.execute(select(bank_entry).where(bank_entry.c.id == entry)).one()
        rows = conn.execute(
            select(sighting_match.c.status, sighting_match.c.confirmed)
            .where(sighting_match.c.entry_id == entry)
            .order_by(sighting_match.c.id)
        ).all()
        confirmed_urls = conn.execute(select(url_confirmation.c.url_id)).all()
        check = flood.check(conn, rule, entry, clock.now())
    assert held.quarantined_at is not None
    assert held.quarantine_reason.startswith("flood guard:")
    statuses = [r.status for r in rows]
    # 5 steady + 5 burst stay active; the 6th burst match floods (6 > 5 and > 4 × usual 0.02),
    # it and every later one are quarantined and confirm nothing.
    assert statuses == ["active"] * 10 + ["quarantined"] * 7
    assert [r.confirmed for r in rows] == [True] * 10 + [False] * 7
    assert len(confirmed_urls) == 10
    assert check.flooding
    assert check.in_history == 5
    # The quarantined entry is not shown to match calls.
    from cordon.domain.tlp import Tlp
    from cordon.matching.flows import match_for_member

    with write(engine) as conn:
        _, answer = match_for_member(
            conn,
            matcher,
            clock,
            ACTOR,
            settings,
            hotline,
            [Query("pdq", reference_pdq(blank).hex)],
            Tlp.GREEN,
        )
    assert answer == [[]]
    assert rng is not None


def test_the_flood_guard_spares_an_entry_as_busy_as_its_history(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    from cordon.domain.tlp import Tlp
    from cordon.matching.flows import match_for_member

    settings = settings.model_copy(
        update={
            "matching": settings.matching.model_copy(
                update={
                    "flood_min_matches": 5,
                    "flood_window_hours": 1.0,
                    "flood_history_days": 10 / 24,
                    "flood_factor": 4.0,
                }
            )
        }
    )
    rng = random.Random(24)
    h = random_pdq(rng)
    matcher = Matcher(clock)
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, hotline, "BUSY", default_classification="B2")
        (entry,) = add_entries(conn, clock, hotline, "BUSY", [("pdq", h)])

    def burst(n: int) -> list[str]:
        with write(engine) as conn:
            _, answer = match_for_member(
                conn, matcher, clock, ACTOR, settings, hotline, [Query("pdq", h)] * n, Tlp.GREEN
            )
        return [x.status for per in answer for x in per]

    for _ in range(10):  # five an hour for ten hours: its usual rate
        assert burst(5) == ["active"] * 5
        clock.advance(timedelta(hours=1))
    assert burst(15) == ["active"] * 15  # 15 > 5 but not > 4 × its usual 5
    clock.advance(timedelta(hours=1))
    shown = burst(25)  # 25 > 4 × (usual 5.5): quarantined, hidden from the answer
    assert shown == []
    with read(engine) as conn:
        held = conn.execute(select(bank_entry.c.quarantined_at).where(bank_entry.c.id == entry))
        assert held.scalar_one() is not None

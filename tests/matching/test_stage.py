"""The ``match`` stage on a capture stored by the crawler's own code, pictures served on
loopback: sightings and matches recorded, rotated copies matched through the bank's dihedral
option, the reference hash computed from a fresh fetch, the URL confirmed with a summary (no
media), a failed refetch recorded without losing the match, and a second run changing nothing."""

from __future__ import annotations

import numpy as np
from PIL import Image
from sqlalchemy import Engine, func, select

from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.matching.service import Matcher
from cordon.matching.stage import MatchStage
from cordon.pipeline import repo as work
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.signals.hashing import reference_pdq
from cordon.signals.synthetic import encode, photo_like
from cordon.store.db import read, write
from cordon.store.tables_matching import sighting, sighting_match
from cordon.store.tables_money import url_confirmation
from matching.captures import PictureServer, store_capture
from matching.helpers import add_entries, make_bank
from support import make_member


def _rotated(data: bytes) -> bytes:
    from io import BytesIO

    picture = Image.open(BytesIO(data)).convert("RGB")
    return encode(Image.fromarray(np.rot90(np.asarray(picture)).copy()))


def test_match_stage_records_matches_computes_reference_hashes_and_confirms(
    engine: Engine, clock: FrozenClock, settings: Settings, pictures: PictureServer
) -> None:
    settings = pictures.settings(settings)
    known = encode(photo_like(101, 480, 360))
    turned = _rotated(known)
    other = encode(photo_like(102, 480, 360))
    urls = {
        "known": pictures.put("/s1/known.jpg", known),
        "turned": pictures.put("/s1/turned.jpg", turned),
        "other": pictures.put("/s1/other.jpg", other),
    }
    import hashlib

    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, hotline, "LIST", default_classification="B1", match_dihedral=True)
        reference = reference_pdq(known).hex
        entry_pdq, entry_sha = add_entries(
            conn,
            clock,
            hotline,
            "LIST",
            [("pdq", reference), ("photo_sha256", hashlib.sha256(known).hexdigest())],
        )
        capture_id = store_capture(
            conn,
            clock,
            settings,
            hotline,
            "https://shop-one.test/gallery",
            [(urls["known"], known), (urls["turned"], turned), (urls["other"], other)],
        )
    stage = MatchStage(Matcher(clock))
    ctx = StageContext(clock=clock, settings=settings)
    stats = run_until_idle(engine, [stage], ctx)
    assert stats.done == 1
    assert stats.failed == 0
    with read(engine) as conn:
        n_sightings = conn.execute(
            select(func.count()).select_from(sighting).where(sighting.c.capture_id == capture_id)
        ).scalar_one()
        rows = conn.execute(
            select(sighting_match, sighting.c.media_sighting_id)
            .join(sighting, sighting.c.id == sighting_match.c.sighting_id)
            .order_by(sighting_match.c.id)
        ).all()
        confirmation = conn.execute(select(url_confirmation)).one()
    assert n_sightings == 9  # three pictures, three signal types each
    by_entry: dict[int, list[str]] = {}
    for r in rows:
        by_entry.setdefault(r.entry_id, []).append(r.variant)
    assert by_entry[entry_sha] == ["original"]  # the exact bytes, once
    assert sorted(by_entry[entry_pdq])[0] == "original"
    assert any(v != "original" for v in by_entry[entry_pdq])  # the turned copy, via dihedral
    assert len(rows) == 3
    for r in rows:
        assert r.status == "active"
        assert r.confirmed
        assert not r.retroactive
        assert r.classification == "B1"
        assert r.reference_state == "computed", r.reference_error
    # The reference hash of each matched picture, from a fresh fetch: the turned copy's own.
    refs = {r.reference_pdq for r in rows}
    assert refs == {reference, reference_pdq(turned).hex}
    assert confirmation.source == "hash_match"
    assert confirmation.capture_id == capture_id
    summary = confirmation.match_summary
    assert summary["classification"] == "B1"
    assert summary["matched_media"] == 2
    assert {m["bank"] for m in summary["matches"]} == {"LIST"}
    assert {m["signal_type"] for m in summary["matches"]} == {"pdq", "photo_sha256"}
    assert set(summary) == {"classification", "matched_media", "match_count", "matches"}

    # A second run of the same capture records nothing twice.
    with write(engine) as conn:
        work.enqueue(conn, clock.now(), "match", "capture", [capture_id], rearm=True)
    assert run_until_idle(engine, [stage], ctx).done == 1
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(sighting_match)).scalar_one() == 3
        assert conn.execute(select(func.count()).select_from(sighting)).scalar_one() == 9


def test_a_failed_refetch_is_recorded_and_the_match_kept(
    engine: Engine, clock: FrozenClock, settings: Settings, pictures: PictureServer
) -> None:
    settings = pictures.settings(settings)
    known = encode(photo_like(201, 400, 300))
    url = pictures.put("/s2/known.jpg", known)
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, hotline, "GONE_LIST", default_classification="A2")
        add_entries(conn, clock, hotline, "GONE_LIST", [("pdq", reference_pdq(known).hex)])
        store_capture(conn, clock, settings, hotline, "https://shop-two.test/", [(url, known)])
    pictures.remove("/s2/known.jpg")  # the host took it down after the capture
    stats = run_until_idle(
        engine, [MatchStage(Matcher(clock))], StageContext(clock=clock, settings=settings)
    )
    assert stats.done == 1
    with read(engine) as conn:
        (row,) = conn.execute(select(sighting_match)).all()
        confirmation = conn.execute(select(url_confirmation)).one()
    assert row.status == "active"
    assert row.confirmed
    assert row.reference_state == "failed"
    assert "could not be fetched again" in row.reference_error
    assert row.reference_pdq is None
    assert confirmation.match_summary["classification"] == "A2"

"""The index service across processes' views: two matchers on one database catch up with each
other's bank changes incrementally, a snapshot saved in the index's own format is loaded and
brought up to date, and a damaged snapshot is ignored (rebuilt from the database)."""

from __future__ import annotations

import random
from pathlib import Path

from sqlalchemy import Engine

from cordon.banks import repo as banks
from cordon.clock import FrozenClock
from cordon.matching.model import Query
from cordon.matching.service import Matcher
from cordon.signals.index import read_header
from cordon.store.db import read, write
from matching.helpers import ACTOR, add_entries, make_bank, random_pdq
from support import make_member


def _ids(matcher: Matcher, engine: Engine, signals: list[str]) -> list[list[int]]:
    with read(engine) as conn:
        hits = matcher.match(conn, [Query("pdq", s) for s in signals])
    return [sorted(h.entry_id for h in per) for per in hits]


def test_two_matchers_on_one_database_refresh_incrementally(
    engine: Engine, clock: FrozenClock
) -> None:
    rng = random.Random(31)
    a, b, c = random_pdq(rng), random_pdq(rng), random_pdq(rng)
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, owner, "SHARED")
        (ea,) = add_entries(conn, clock, owner, "SHARED", [("pdq", a)])
    api_view, stage_view = Matcher(clock), Matcher(clock)
    assert _ids(api_view, engine, [a]) == [[ea]]
    assert _ids(stage_view, engine, [a]) == [[ea]]
    with write(engine) as conn:
        eb, ec = add_entries(conn, clock, owner, "SHARED", [("pdq", b), ("pdq", c)])
        banks.set_entries_enabled(conn, clock, owner, ACTOR, "SHARED", [ea], False)
    loaded_before = api_view.freshness().built_at
    assert _ids(api_view, engine, [a, b, c]) == [[], [eb], [ec]]
    assert _ids(stage_view, engine, [a, b, c]) == [[], [eb], [ec]]
    # Caught up by applying the changes, not by loading everything again.
    assert api_view.freshness().built_at == loaded_before
    with read(engine) as conn:
        head = api_view.freshness(conn).head
    assert api_view.checkpoint == stage_view.checkpoint == head
    # Nothing changed: a refresh applies nothing.
    with read(engine) as conn:
        assert api_view.refresh(conn) == 0
    with write(engine) as conn:
        banks.set_entries_enabled(conn, clock, owner, ACTOR, "SHARED", [ea], True)
    assert _ids(stage_view, engine, [a]) == [[ea]]


def test_a_snapshot_is_saved_loaded_and_brought_up_to_date(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    rng = random.Random(32)
    first = [random_pdq(rng) for _ in range(50)]
    later = random_pdq(rng)
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, owner, "SNAP")
        ids = add_entries(conn, clock, owner, "SNAP", [("pdq", s) for s in first])
        add_entries(conn, clock, owner, "SNAP", [("photo_md5", "12" * 16)])
    folder = tmp_path / "index"
    writer = Matcher(clock, snapshot_dir=folder, snapshot_seconds=0)
    with read(engine) as conn:
        writer.refresh(conn)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["pdq.idx", "photo_md5.idx", "photo_sha256.idx", "video_md5.idx"]
    assert read_header(folder / "pdq.idx").checkpoint == writer.checkpoint
    assert read_header(folder / "pdq.idx").count == 50
    assert (folder / "pdq.idx").read_bytes()[:8] == b"CRDNIDX\x00"  # never a pickle
    with write(engine) as conn:
        (e_later,) = add_entries(conn, clock, owner, "SNAP", [("pdq", later)])
    reader = Matcher(clock, snapshot_dir=folder)
    assert _ids(reader, engine, [first[7], later]) == [[ids[7]], [e_later]]
    fresh = reader.freshness()
    assert fresh.loaded_from == "snapshot"
    assert fresh.by_type == {"pdq": 51, "photo_md5": 1, "photo_sha256": 0, "video_md5": 0}
    assert reader.checkpoint > writer.checkpoint  # the change after the snapshot was applied
    # A matcher that applies changes writes a new snapshot in the background.
    with read(engine) as conn:
        assert writer.refresh(conn) == 1
    writer.wait_for_snapshot(30)
    assert read_header(folder / "pdq.idx").checkpoint == writer.checkpoint
    assert read_header(folder / "pdq.idx").count == 51


def test_a_damaged_snapshot_is_ignored_and_the_index_rebuilt(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    rng = random.Random(33)
    h = random_pdq(rng)
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, owner, "DAMAGED")
        (entry,) = add_entries(conn, clock, owner, "DAMAGED", [("pdq", h)])
    with read(engine) as conn:
        Matcher(clock, snapshot_dir=tmp_path).refresh(conn)
    path = tmp_path / "pdq.idx"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    reader = Matcher(clock, snapshot_dir=tmp_path)
    assert _ids(reader, engine, [h]) == [[entry]]
    assert reader.freshness().loaded_from == "database"


def test_a_snapshot_ahead_of_the_database_is_not_trusted(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    """A snapshot from another database (restored or replaced under the same settings) whose
    checkpoint is ahead of the change log is rebuilt, not used."""
    rng = random.Random(34)
    h = random_pdq(rng)
    folder = tmp_path / "index"
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, owner, "AHEAD")
        add_entries(conn, clock, owner, "AHEAD", [("pdq", h)])
    with read(engine) as conn:
        stale = Matcher(clock, snapshot_dir=folder)
        stale.refresh(conn)
    # Pretend the snapshot came from a database with more history than this one.
    from cordon.signals.index import DigestIndex, PdqIndex

    for name in ("pdq", "photo_md5", "photo_sha256", "video_md5"):
        path = folder / f"{name}.idx"
        index = PdqIndex.load(path) if name == "pdq" else DigestIndex.load(path)
        index.checkpoint = 10_000
        index.save(path)
    fresh = Matcher(clock, snapshot_dir=folder)
    assert _ids(fresh, engine, [h])[0]
    assert fresh.freshness().loaded_from == "database"
    with read(engine) as conn:
        assert fresh.checkpoint == fresh.freshness(conn).head

"""``cordon matcher run``'s worker fetches matched pictures with no database transaction open
(another writer can write meanwhile), where the generic stage runner holds the item's
transaction across the fetch; both record the same matches and confirmation."""

from __future__ import annotations

import sqlite3

from sqlalchemy import Engine, select, text

from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.matching.service import Matcher
from cordon.matching.stage import MatchStage
from cordon.matching.worker import run_matcher
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.signals.hashing import reference_pdq
from cordon.signals.synthetic import encode, photo_like
from cordon.store.db import is_postgres, make_engine, read, write
from cordon.store.tables_matching import sighting_match
from cordon.store.tables_money import url_confirmation
from matching.captures import PictureServer, store_capture
from matching.helpers import add_entries, make_bank
from support import make_member


def _open_transactions(engine: Engine, url: str) -> int:
    """Transactions another session holds on the database while a picture is served."""
    if is_postgres(engine):
        probe = make_engine(url)
        try:
            with probe.connect() as conn:
                return int(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid() AND "
                            "xact_start IS NOT NULL"
                        )
                    ).scalar_one()
                )
        finally:
            probe.dispose()
    raw = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.3, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")  # fails while another writer holds the lock
        raw.execute("ROLLBACK")
        return 0
    except sqlite3.OperationalError:
        return 1
    finally:
        raw.close()


def _setup(
    engine: Engine,
    clock: FrozenClock,
    settings: Settings,
    pictures: PictureServer,
    tag: str,
    seed: int,
) -> int:
    known = encode(photo_like(seed, 360, 270))
    url = pictures.put(f"/{tag}/known.jpg", known)
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, hotline, f"LIST_{tag.upper()}", default_classification="B1")
        add_entries(
            conn, clock, hotline, f"LIST_{tag.upper()}", [("pdq", reference_pdq(known).hex)]
        )
        return store_capture(conn, clock, settings, hotline, f"https://{tag}.test/", [(url, known)])


def test_the_matcher_worker_fetches_outside_any_transaction(
    engine: Engine, fresh_db: str, clock: FrozenClock, settings: Settings, pictures: PictureServer
) -> None:
    settings = pictures.settings(settings)
    seen: list[int] = []
    pictures.on_serve = lambda: seen.append(_open_transactions(engine, fresh_db))
    try:
        capture_id = _setup(engine, clock, settings, pictures, "worker", 601)
        stats = run_matcher(engine, settings, clock, once=True, matcher=Matcher(clock))
        assert stats.captures == 1
        assert stats.prefetched == 1
        assert stats.retro_changes == 1  # the bank's add, matched against no earlier sighting
        assert seen == [0]  # the picture was fetched with no transaction open
        with read(engine) as conn:
            (row,) = conn.execute(select(sighting_match)).all()
            confirmation = conn.execute(select(url_confirmation)).one()
        assert row.reference_state == "computed"
        assert row.confirmed
        assert confirmation.capture_id == capture_id

        # The generic stage runner fetches inside the item's transaction.
        seen.clear()
        _setup(engine, clock, settings, pictures, "stage", 602)
        run_until_idle(engine, [MatchStage(Matcher(clock))], StageContext(clock, settings))
        assert seen == [1]
    finally:
        pictures.on_serve = None

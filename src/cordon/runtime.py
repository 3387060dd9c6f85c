"""Building the running parts from settings: engine, clock, keys, stages."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from cordon.clock import AcceleratedClock, Clock, SystemClock
from cordon.config import Settings
from cordon.keys import Keys, load_keys
from cordon.store.db import make_engine
from cordon.store.migrate import current_revision, head_revision


class NotMigrated(Exception):
    """The database is not at this version's schema; the message says what to run."""


def clock_from(settings: Settings) -> Clock:
    """The clock the settings ask for."""
    if settings.clock.mode == "accelerated":
        start = settings.clock.start or datetime.now(UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        return AcceleratedClock(start, settings.clock.speed)
    return SystemClock()


def engine_from(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def keys_from(settings: Settings) -> Keys:
    return load_keys(settings.key_dir)


def require_migrated(engine: Engine) -> None:
    """Raise :class:`NotMigrated` unless the database is at the newest migration."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        where = "an empty database" if current is None else f"revision {current}"
        raise NotMigrated(
            f"the database is at {where}, this Cordon needs {head}: run `cordon db upgrade`"
        )

"""The one source of time in Cordon.

Nothing in Cordon asks the database or ``datetime.now()`` for the time: every stage, route and
command receives a :class:`Clock`. Tests freeze it, the demo and the synthetic world run it
accelerated, production runs it on the system clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime:
        """Return the current time as a timezone-aware UTC datetime."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 1, 1, tzinfo=UTC)).astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            raise ValueError("a clock never runs backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (which must not be earlier than now)."""
        when = when.astimezone(UTC)
        with self._lock:
            if when < self._now:
                raise ValueError("a clock never runs backwards")
            self._now = when


class AcceleratedClock:
    """Time that runs ``speed`` times faster than the wall clock, from ``start``.

    The demo uses it so that a day of re-notices and re-crawls passes in seconds.
    """

    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._origin = time.monotonic()
        self._skew = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin) * self._speed
        with self._lock:
            return self._start + timedelta(seconds=elapsed) + self._skew

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward by ``delta`` on top of the accelerated flow."""
        if delta < timedelta(0):
            raise ValueError("a clock never runs backwards")
        with self._lock:
            self._skew += delta
        return self.now()


def utc(dt: datetime) -> datetime:
    """Normalise a datetime read back from a database to aware UTC.

    SQLite hands back naive datetimes; Cordon stores UTC only, so naive means UTC.
    """
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)

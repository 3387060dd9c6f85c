"""Per-server rate limits (token buckets), written as in settings: ``"5 per 1 second"``."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_RATE = re.compile(
    r"\s*([1-9][0-9]*)\s+per\s+(?:([1-9][0-9]*)\s+)?(second|minute|hour)s?\s*", re.IGNORECASE
)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``seconds``."""

    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def parse_rate(text: str) -> Rate:
    """``"10 per 5 minutes"`` → Rate(10, 300). Raises ``ValueError`` naming the text."""
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a rate such as '5 per 1 second'")
    count, amount, unit = match.groups()
    return Rate(int(count), int(amount or 1) * _UNIT_SECONDS[unit.lower()])


@dataclass
class _Bucket:
    tokens: float
    last: float
    blocked_until: float = 0.0


class RateLimiter:
    """One token bucket per key (an RDAP server): bursts up to ``count``, then ``count`` per
    ``seconds`` on average. ``monotonic`` is injectable so that tests need not sleep."""

    def __init__(self, rate: Rate, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._now = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, max_wait: float) -> float | None:
        """Take a turn for ``key``: the seconds to wait before sending (0: now), or None when
        the turn is further away than ``max_wait`` (then nothing is taken)."""
        with self._lock:
            now = self._now()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.rate.count), now)
            bucket.tokens = min(
                float(self.rate.count),
                bucket.tokens + (now - bucket.last) * self.rate.per_second,
            )
            bucket.last = now
            wait = max(0.0, bucket.blocked_until - now)
            if bucket.tokens < 1.0:
                wait = max(wait, (1.0 - bucket.tokens) / self.rate.per_second)
            if wait > max_wait:
                return None
            bucket.tokens -= 1.0
            return wait

    def block(self, key: str, seconds: float) -> None:
        """Send nothing to ``key`` for ``seconds`` (the server answered 429 Too Many Requests)."""
        with self._lock:
            now = self._now()
            bucket = self._buckets.setdefault(key, _Bucket(float(self.rate.count), now))
            bucket.blocked_until = max(bucket.blocked_until, now + seconds)

"""How often notices repeat, when they escalate, and how deliveries are retried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cordon.config import Settings


@dataclass(frozen=True)
class NoticePolicy:
    """The repeat, escalation and retry rules in force.

    ``repeat_interval``: an unanswered notice is sent again after this long.
    ``escalate_after``: after this many unanswered repeats the coordinator is told.
    ``review_hold``: an "under review" answer holds repeats back this long.
    ``delivery_attempts``: tries per round and channel; retries wait ``backoff``, doubling up to
    ``backoff_max``.
    """

    repeat_interval: timedelta = timedelta(hours=24)
    escalate_after: int = 3
    review_hold: timedelta = timedelta(hours=168)
    delivery_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=6)

    @classmethod
    def from_settings(cls, settings: Settings) -> NoticePolicy:
        """The policy the settings describe (``notices.*`` and ``pipeline.backoff_*``)."""
        n = settings.notices
        return cls(
            repeat_interval=timedelta(hours=n.repeat_hours),
            escalate_after=n.escalate_after,
            review_hold=timedelta(hours=n.review_hold_hours),
            delivery_attempts=n.delivery_attempts,
            backoff=timedelta(seconds=settings.pipeline.backoff_seconds),
            backoff_max=timedelta(seconds=settings.pipeline.backoff_max_seconds),
        )

    def retry_after(self, attempt: int) -> timedelta:
        """How long to wait after failed attempt number ``attempt`` (1-based)."""
        wait: timedelta = self.backoff * (2 ** max(attempt - 1, 0))
        return min(wait, self.backoff_max)

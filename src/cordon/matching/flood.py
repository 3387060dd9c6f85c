"""The flood guard: an entry that suddenly matches far more sightings than it usually does is
quarantined for review instead of confirming sites and raising alerts.

The rule, with the ``matching.flood_*`` settings: after new matches of an entry are recorded,
count its matches in the last ``flood_window_hours`` (*w*) and in the ``flood_history_days``
before that window (*h*, its history). The entry floods when

    w > flood_min_matches   and   w > flood_factor × h × window / history

(the second term is its usual number of matches per window; an entry with no history floods as
soon as it passes ``flood_min_matches`` in one window). A flooding entry is quarantined through
the banks' ``quarantine_entry`` (which writes a bank change, so every matcher learns of it); its
matches recorded in the same batch, and every later match, get status ``quarantined`` and confirm
nothing until the entry is released.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from cordon.audit.log import Actor
from cordon.clock import Clock
from cordon.config import Settings
from cordon.matching import repo


@dataclass(frozen=True, slots=True)
class FloodRule:
    """The flood guard's thresholds (see the module's docstring)."""

    min_matches: int = 50
    window: timedelta = timedelta(hours=1)
    history: timedelta = timedelta(days=30)
    factor: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FloodRule:
        m = settings.matching
        return cls(
            min_matches=m.flood_min_matches,
            window=timedelta(hours=m.flood_window_hours),
            history=timedelta(days=m.flood_history_days),
            factor=m.flood_factor,
        )


@dataclass(frozen=True, slots=True)
class FloodCheck:
    """What the guard counted for one entry."""

    entry_id: int
    in_window: int
    in_history: int
    usual: float
    flooding: bool

    def reason(self, rule: FloodRule) -> str:
        hours = rule.window.total_seconds() / 3600
        return (
            f"flood guard: {self.in_window} matches in {hours:g} h, more than "
            f"{rule.min_matches} and more than {rule.factor:g}× its usual "
            f"{self.usual:.2f} per {hours:g} h"
        )


def check(conn: Connection, rule: FloodRule, entry_id: int, now: datetime) -> FloodCheck:
    """Count an entry's recent matches and decide whether it floods."""
    window_start = now - rule.window
    in_window = repo.matches_between(conn, entry_id, window_start, now)
    if in_window <= rule.min_matches:
        return FloodCheck(entry_id, in_window, 0, 0.0, False)
    in_history = repo.matches_between(conn, entry_id, window_start - rule.history, window_start)
    usual = in_history * (rule.window / rule.history)
    return FloodCheck(entry_id, in_window, in_history, usual, in_window > rule.factor * usual)


def guard(
    conn: Connection,
    clock: Clock,
    actor: Actor,
    rule: FloodRule,
    entry_ids: set[int],
) -> dict[int, FloodCheck]:
    """Check these entries (with new active matches) and quarantine those that flood. Returns
    the checks of the quarantined entries."""
    from cordon.banks import repo as banks

    now = clock.now()
    flooded: dict[int, FloodCheck] = {}
    for entry_id in sorted(entry_ids):
        result = check(conn, rule, entry_id, now)
        if result.flooding:
            banks.quarantine_entry(conn, clock, actor, entry_id, result.reason(rule))
            flooded[entry_id] = result
    return flooded

"""The life of a notice, as pure rules.

::

    sent ──answer CLOSE──► closed ──new evidence──► sent (reopened)
     │ ▲
     │ └──hold ends── under_review ◄──answer HOLD── sent
     ├──answer DECLINE──► declined
     └──answer DISPUTE──► disputed

An unanswered ``sent`` notice repeats; ``under_review`` repeats once its hold ends. A notice
can be answered while ``sent`` or ``under_review``; a later answer replaces an earlier one
only from those two states.
"""

from __future__ import annotations

from enum import StrEnum

from cordon.notices.kinds import Effect


class State(StrEnum):
    """Where a notice stands."""

    SENT = "sent"
    UNDER_REVIEW = "under_review"
    CLOSED = "closed"
    DECLINED = "declined"
    DISPUTED = "disputed"


#: States that still expect an answer (and so may repeat).
OPEN = frozenset({State.SENT, State.UNDER_REVIEW})

_AFTER: dict[Effect, State] = {
    Effect.CLOSE: State.CLOSED,
    Effect.DECLINE: State.DECLINED,
    Effect.HOLD: State.UNDER_REVIEW,
    Effect.DISPUTE: State.DISPUTED,
}


class TransitionError(ValueError):
    """The notice cannot move that way from where it stands; the message says why."""


def after_answer(state: State, effect: Effect) -> State:
    """The state an answer with ``effect`` moves a notice in ``state`` to.

    Raises :class:`TransitionError` when the notice no longer expects an answer.
    """
    if state not in OPEN:
        raise TransitionError(f"the notice is {state.value} and takes no further answer")
    return _AFTER[effect]


def may_repeat(state: State) -> bool:
    """True when an unanswered notice in ``state`` is sent again when its repeat falls due."""
    return state in OPEN


def may_reopen(state: State) -> bool:
    """True when new evidence reopens a notice in ``state`` (only a closed one)."""
    return state is State.CLOSED


def escalates(effect: Effect) -> bool:
    """True when an answer with ``effect`` is passed on to the coordinator at once."""
    return effect in (Effect.DECLINE, Effect.DISPUTE)

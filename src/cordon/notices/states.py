"""The life of a notice, as pure rules.

::

    draft ──send──► sent ──answer ACKNOWLEDGE──► acknowledged ──answer ACTION──► actioned
                     │ ▲                              │                              │
                     │ └──hold ends── under_review    │        re-crawl shows it gone│
                     │                                ▼                              ▼
                     ├──answer CLOSE──► closed ──new evidence──► sent (reopened)   verified
                     ├──answer DECLINE──► declined                                   │
                     └──answer DISPUTE──► disputed          the content comes back  ▼
                                                                                reappeared

An unanswered ``sent`` or ``acknowledged`` notice repeats; ``under_review`` repeats once its
hold ends. A notice can be answered while ``sent``, ``under_review`` or ``acknowledged``. A
re-crawl that shows every URL of a notice gone verifies it from any of those states or from
``actioned`` (a partner that acts without answering is verified all the same); one that shows
an ``actioned`` notice's content still there sends it back to ``sent``. Payment alerts keep
their own end, ``closed``; takedown notices end ``verified`` (or ``reappeared``).
"""

from __future__ import annotations

from enum import StrEnum

from cordon.notices.kinds import Effect


class State(StrEnum):
    """Where a notice stands."""

    DRAFT = "draft"
    SENT = "sent"
    UNDER_REVIEW = "under_review"
    ACKNOWLEDGED = "acknowledged"
    ACTIONED = "actioned"
    VERIFIED = "verified"
    REAPPEARED = "reappeared"
    CLOSED = "closed"
    DECLINED = "declined"
    DISPUTED = "disputed"


#: States that still expect an answer (and so may repeat).
OPEN = frozenset({State.SENT, State.UNDER_REVIEW, State.ACKNOWLEDGED})

#: States whose content a verification crawl can confirm removed.
VERIFIABLE = OPEN | {State.ACTIONED}

_AFTER: dict[Effect, State] = {
    Effect.CLOSE: State.CLOSED,
    Effect.DECLINE: State.DECLINED,
    Effect.HOLD: State.UNDER_REVIEW,
    Effect.DISPUTE: State.DISPUTED,
    Effect.ACKNOWLEDGE: State.ACKNOWLEDGED,
    Effect.ACTION: State.ACTIONED,
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


def after_send(state: State) -> State:
    """A draft is sent; anything else raises :class:`TransitionError`."""
    if state is not State.DRAFT:
        raise TransitionError(f"the notice is {state.value}, not a draft")
    return State.SENT


def after_verification(state: State) -> State:
    """A re-crawl showed every URL of the notice gone."""
    if state not in VERIFIABLE:
        raise TransitionError(f"a {state.value} notice cannot be verified")
    return State.VERIFIED


def after_failed_verification(state: State) -> State:
    """A re-crawl showed content of an ``actioned`` notice still there: it is sent again."""
    if state is not State.ACTIONED:
        raise TransitionError(f"only an actioned notice goes back to sent, not a {state.value}")
    return State.SENT


def after_reappearance(state: State) -> State:
    """Content of a verified notice came back (same URL, same pictures, or a new host)."""
    if state is not State.VERIFIED:
        raise TransitionError(f"only a verified notice can reappear, not a {state.value}")
    return State.REAPPEARED


def may_repeat(state: State) -> bool:
    """True when an unanswered notice in ``state`` is sent again when its repeat falls due."""
    return state in OPEN


def may_reopen(state: State) -> bool:
    """True when new evidence reopens a notice in ``state`` (only a closed one)."""
    return state is State.CLOSED


def stops_repeats(effect: Effect) -> bool:
    """True when an answer with ``effect`` ends the repeats of its notice."""
    return effect not in (Effect.HOLD, Effect.ACKNOWLEDGE)


def escalates(effect: Effect) -> bool:
    """True when an answer with ``effect`` is passed on to the coordinator at once."""
    return effect in (Effect.DECLINE, Effect.DISPUTE)

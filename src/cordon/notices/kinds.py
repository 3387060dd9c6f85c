"""Kinds of notice, the answers each accepts, and what each answer does.

A kind is data. Adding one (a host notice, a referral, a block-list change) is adding a
:class:`NoticeKind` to :data:`KINDS`; the engine needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Effect(StrEnum):
    """What an answer does to a notice."""

    CLOSE = "close"  # done: the account is closed, the content removed; time to closure kept
    DECLINE = "decline"  # addressed to the wrong party: stops repeats, tells the coordinator
    HOLD = "hold"  # being looked at: repeats wait for the review hold, then resume
    DISPUTE = "dispute"  # the recipient contests it: stops repeats, tells the coordinator


@dataclass(frozen=True)
class Answer:
    """One answer a recipient may give."""

    name: str
    effect: Effect
    description: str


@dataclass(frozen=True)
class NoticeKind:
    """A kind of notice.

    ``repeats``: an unanswered notice is sent again on the repeat interval and escalates to
    the coordinator after the configured number of repeats. ``reopens``: a closed notice is
    reopened by new evidence (the subject seen again elsewhere).
    """

    name: str
    description: str
    answers: tuple[Answer, ...]
    repeats: bool = True
    reopens: bool = True

    def answer(self, name: str) -> Answer:
        """The answer called ``name``; ``ValueError`` naming the allowed ones otherwise."""
        for answer in self.answers:
            if answer.name == name:
                return answer
        allowed = ", ".join(a.name for a in self.answers)
        raise ValueError(f"{name!r} is not an answer to a {self.name}; use one of {allowed}")


PAYMENT_ALERT = NoticeKind(
    name="payment_alert",
    description="A payment identifier of yours was seen on a confirmed site.",
    answers=(
        Answer("account_closed", Effect.CLOSE, "The account or merchant relationship is closed."),
        Answer("not_ours", Effect.DECLINE, "The identifier does not belong to us."),
        Answer("under_review", Effect.HOLD, "We are investigating; ask again later."),
        Answer("disputed", Effect.DISPUTE, "We contest the evidence."),
    ),
)

ESCALATION = NoticeKind(
    name="escalation",
    description="A notice needs the coordinator: unanswered, declined or disputed.",
    answers=(Answer("acknowledged", Effect.CLOSE, "The coordinator has taken it up."),),
    repeats=False,
    reopens=False,
)

#: Every kind the engine knows, by name.
KINDS: dict[str, NoticeKind] = {k.name: k for k in (PAYMENT_ALERT, ESCALATION)}


def get_kind(name: str) -> NoticeKind:
    """The kind called ``name``; ``ValueError`` naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown notice kind {name!r}; known: {', '.join(sorted(KINDS))}"
        ) from None

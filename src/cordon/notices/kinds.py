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
    ACKNOWLEDGE = "acknowledge"  # received and being handled: repeats go on until it is done
    ACTION = "action"  # the recipient says it acted: repeats stop, a re-crawl verifies it


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
    the coordinator after the configured number of repeats (or to the organisations the
    notice's evidence names in ``escalate_to``, such as the law-enforcement partners of the
    hosting country). ``reopens``: a closed notice is reopened by new evidence (the subject seen
    again elsewhere). ``verify_stage``: the pipeline stage told (subject ``notice``) when the
    recipient answers that it acted, so that a re-crawl verifies it.
    """

    name: str
    description: str
    answers: tuple[Answer, ...]
    repeats: bool = True
    reopens: bool = True
    verify_stage: str | None = None

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

DECONFLICTION = NoticeKind(
    name="deconfliction",
    description="Your open case touches an entity that is in another organisation's open case.",
    answers=(Answer("acknowledged", Effect.CLOSE, "We have taken note and will get in touch."),),
    repeats=False,
    reopens=False,
)

#: The stage that verifies takedowns by re-crawling (cordon.outcomes.stages).
VERIFY_STAGE = "outcome_verify"

_NOT_OURS = Answer("not_ours", Effect.DECLINE, "This is not ours to act on.")
_DISPUTED = Answer("disputed", Effect.DISPUTE, "We contest the evidence.")
_ACKNOWLEDGED = Answer("acknowledged", Effect.ACKNOWLEDGE, "Received; we are acting on it.")

HOST_TAKEDOWN = NoticeKind(
    name="host_takedown",
    description="Confirmed URLs on a network you host or front (CDN): remove them.",
    answers=(
        _ACKNOWLEDGED,
        Answer("removed", Effect.ACTION, "The content is removed."),
        _NOT_OURS,
        _DISPUTED,
    ),
    reopens=False,
    verify_stage=VERIFY_STAGE,
)

REGISTRAR_NOTICE = NoticeKind(
    name="registrar_notice",
    description="Confirmed URLs on domains you registered: suspend the domains.",
    answers=(
        _ACKNOWLEDGED,
        Answer("suspended", Effect.ACTION, "The domain is suspended."),
        _NOT_OURS,
        _DISPUTED,
    ),
    reopens=False,
    verify_stage=VERIFY_STAGE,
)

LE_REFERRAL = NoticeKind(
    name="le_referral",
    description="Confirmed URLs hosted in a country you cover, for your action.",
    answers=(
        _ACKNOWLEDGED,
        Answer("actioned", Effect.ACTION, "We acted (investigation, order or notice)."),
        _NOT_OURS,
    ),
    repeats=False,
    reopens=False,
    verify_stage=VERIFY_STAGE,
)

BLOCKLIST_CHANGE = NoticeKind(
    name="blocklist_change",
    description="A new version of the URL block list is published.",
    answers=(Answer("applied", Effect.CLOSE, "The new version is applied."),),
    repeats=False,
    reopens=False,
)

APPEAL = NoticeKind(
    name="appeal",
    description="The owner of a listed or noticed URL appeals against the action taken.",
    answers=(
        Answer("upheld", Effect.CLOSE, "We reviewed it and keep the action."),
        Answer("reversed", Effect.CLOSE, "We reviewed it and reversed our action."),
    ),
    repeats=False,
    reopens=False,
)

#: Every kind the engine knows, by name.
KINDS: dict[str, NoticeKind] = {
    k.name: k
    for k in (
        PAYMENT_ALERT,
        ESCALATION,
        DECONFLICTION,
        HOST_TAKEDOWN,
        REGISTRAR_NOTICE,
        LE_REFERRAL,
        BLOCKLIST_CHANGE,
        APPEAL,
    )
}


def get_kind(name: str) -> NoticeKind:
    """The kind called ``name``; ``ValueError`` naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown notice kind {name!r}; known: {', '.join(sorted(KINDS))}"
        ) from None

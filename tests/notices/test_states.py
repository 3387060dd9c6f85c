"""The life of a notice as pure rules (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.notices.kinds import KINDS, PAYMENT_ALERT, Effect, get_kind
from cordon.notices.states import (
    OPEN,
    VERIFIABLE,
    State,
    TransitionError,
    after_answer,
    after_failed_verification,
    after_reappearance,
    after_send,
    after_verification,
    escalates,
    may_reopen,
    may_repeat,
    stops_repeats,
)


@given(st.sampled_from(list(State)), st.sampled_from(list(Effect)))
def test_only_open_notices_take_answers(state: State, effect: Effect) -> None:
    if state in OPEN:
        assert after_answer(state, effect) is not None
    else:
        with pytest.raises(TransitionError):
            after_answer(state, effect)


@given(st.sampled_from(sorted(OPEN)), st.sampled_from(list(Effect)))
def test_an_answer_stops_repeats_unless_it_holds_them(state: State, effect: Effect) -> None:
    after = after_answer(state, effect)
    assert may_repeat(after) is (effect in (Effect.HOLD, Effect.ACKNOWLEDGE))
    assert stops_repeats(effect) is not may_repeat(after)
    assert may_reopen(after) is (effect is Effect.CLOSE)
    assert escalates(effect) is (effect in (Effect.DECLINE, Effect.DISPUTE))


def test_payment_alerts_know_the_four_answers_of_the_issue() -> None:
    names = {a.name: a.effect for a in PAYMENT_ALERT.answers}
    assert names == {
        "account_closed": Effect.CLOSE,
        "not_ours": Effect.DECLINE,
        "under_review": Effect.HOLD,
        "disputed": Effect.DISPUTE,
    }
    with pytest.raises(ValueError, match="use one of account_closed"):
        PAYMENT_ALERT.answer("maybe")


def test_kinds_are_looked_up_by_name() -> None:
    assert all(get_kind(name) is kind for name, kind in KINDS.items())
    with pytest.raises(
        ValueError, match="known: appeal, blocklist_change, deconfliction, escalation"
    ):
        get_kind("host_notice_v0")


@given(st.sampled_from(list(State)))
def test_takedown_transitions_are_allowed_from_their_states_only(state: State) -> None:
    # draft -> sent only
    if state is State.DRAFT:
        assert after_send(state) is State.SENT
    else:
        with pytest.raises(TransitionError):
            after_send(state)
    # verification from an open or actioned notice only
    if state in VERIFIABLE:
        assert after_verification(state) is State.VERIFIED
    else:
        with pytest.raises(TransitionError):
            after_verification(state)
    # a failed verification sends an actioned notice again; nothing else moves so
    if state is State.ACTIONED:
        assert after_failed_verification(state) is State.SENT
    else:
        with pytest.raises(TransitionError):
            after_failed_verification(state)
    # only a verified notice reappears
    if state is State.VERIFIED:
        assert after_reappearance(state) is State.REAPPEARED
    else:
        with pytest.raises(TransitionError):
            after_reappearance(state)


def test_the_takedown_path_runs_draft_to_verified_and_reappeared() -> None:
    state = after_send(State.DRAFT)
    state = after_answer(state, Effect.ACKNOWLEDGE)
    assert state is State.ACKNOWLEDGED
    assert may_repeat(state)
    state = after_answer(state, Effect.ACTION)
    assert state is State.ACTIONED
    assert not may_repeat(state)
    with pytest.raises(TransitionError, match="takes no further answer"):
        after_answer(state, Effect.DISPUTE)
    assert after_reappearance(after_verification(state)) is State.REAPPEARED
    assert after_answer(State.SENT, Effect.DISPUTE) is State.DISPUTED

"""The life of a notice as pure rules (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.notices.kinds import KINDS, PAYMENT_ALERT, Effect, get_kind
from cordon.notices.states import (
    OPEN,
    State,
    TransitionError,
    after_answer,
    escalates,
    may_reopen,
    may_repeat,
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
    assert may_repeat(after) is (effect is Effect.HOLD)
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
    with pytest.raises(ValueError, match="known: escalation, payment_alert"):
        get_kind("host_notice_v0")

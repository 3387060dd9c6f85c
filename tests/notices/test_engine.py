"""The notice engine on both databases with real loopback servers: deliveries, retries with
back-off, escalation, holds, answers, endpoints."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import Principal
from cordon.notices import repo as notices
from cordon.notices.kinds import HOST_TAKEDOWN, PAYMENT_ALERT
from cordon.notices.policy import NoticePolicy
from cordon.notices.states import State, TransitionError
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.plugins import plugin_manager, stages
from cordon.store.db import read, write
from cordon.store.tables_money import notice_endpoint
from notices.servers import SmtpSink, WebhookReceiver
from support import make_member

STAGE = Actor(source="stage")


def _run(engine: Engine, clock: FrozenClock, settings: Settings) -> None:
    found = [s for s in stages(plugin_manager()) if s.name.startswith("notice_")]
    run_until_idle(engine, found, StageContext(clock=clock, settings=settings))


def _issue(engine: Engine, clock: FrozenClock, policy: NoticePolicy, to: Principal) -> int:
    with write(engine) as conn:
        made = notices.issue(
            conn,
            clock,
            STAGE,
            policy,
            kind=PAYMENT_ALERT,
            recipient_org_id=to.org_id,
            subject_kind="payment_identifier",
            subject_id=4242,
            title="Payment alert: test",
            body="An identifier of yours was seen.",
            payload={"identifier": {"key": "btc:example"}},
        )
    return made.id


def test_a_failing_webhook_is_retried_with_back_off_then_abandoned_and_can_be_retried(
    engine: Engine, clock: FrozenClock, notice_settings: Settings, hook: WebhookReceiver
) -> None:
    settings = notice_settings.model_copy(
        update={"notices": notice_settings.notices.model_copy(update={"delivery_attempts": 3})}
    )
    policy = NoticePolicy.from_settings(settings)
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider", role="admin")
        notices.add_endpoint(
            conn,
            clock,
            provider,
            STAGE,
            channel="webhook",
            target=hook.url,
            key_dir=settings.key_dir,
        )
    hook.status = 503
    nid = _issue(engine, clock, policy, provider)
    _run(engine, clock, settings)
    assert len(hook.received()) == 1
    clock.advance(timedelta(seconds=29))
    _run(engine, clock, settings)
    assert len(hook.received()) == 1  # the first back-off is 30 s
    clock.advance(timedelta(seconds=1))
    _run(engine, clock, settings)
    assert len(hook.received()) == 2
    clock.advance(timedelta(seconds=60))  # then 60 s
    _run(engine, clock, settings)
    assert len(hook.received()) == 3
    with read(engine) as conn:
        tried = [d for d in notices.deliveries(conn, nid) if d.channel == "webhook"]
    assert [(d.attempt, d.state) for d in tried] == [(1, "failed"), (2, "failed"), (3, "abandoned")]
    assert all(d.error == "the endpoint answered HTTP 503" for d in tried)
    assert len({d.delivery_key for d in tried}) == 1  # receivers can drop duplicates
    keys = {r.headers["Cordon-Delivery"] for r in hook.received()}
    assert keys == {tried[0].delivery_key}
    clock.advance(timedelta(hours=1))
    _run(engine, clock, settings)
    assert len(hook.received()) == 3  # nothing more after giving up

    hook.status = 200
    with write(engine) as conn:
        again = notices.retry_delivery(conn, clock, provider, STAGE, tried[-1].id)
    assert again.attempt == 4
    _run(engine, clock, settings)
    with read(engine) as conn:
        last = notices.deliveries(conn, nid)[-1]
    assert (last.state, last.response_status) == ("delivered", 200)


def test_e_mail_goes_to_the_sink_and_is_abandoned_when_disabled(
    engine: Engine, clock: FrozenClock, notice_settings: Settings, sink: SmtpSink
) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider", role="admin")
        notices.add_endpoint(
            conn,
            clock,
            provider,
            STAGE,
            channel="email",
            target="desk@provider.test",
            key_dir=notice_settings.key_dir,
        )
    nid = _issue(engine, clock, policy, provider)
    _run(engine, clock, notice_settings)
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert message["X-Cordon-Notice"] == str(nid)
    assert "account_closed" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    off = notice_settings.model_copy(
        update={"smtp": notice_settings.smtp.model_copy(update={"host": None})}
    )
    clock.advance(timedelta(hours=24))
    _run(engine, clock, off)
    with read(engine) as conn:
        mails = [d for d in notices.deliveries(conn, nid) if d.channel == "email"]
    assert [(d.round, d.state) for d in mails] == [(1, "delivered"), (2, "abandoned")]
    assert mails[1].error == "e-mail is disabled: smtp.host is not set"
    assert len(sink.messages) == 1


def test_a_webhook_to_an_internal_address_is_refused_at_delivery(
    engine: Engine, clock: FrozenClock, notice_settings: Settings
) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider", role="admin")
        notices.add_endpoint(
            conn,
            clock,
            provider,
            STAGE,
            channel="webhook",
            target="http://127.0.0.1:5432/",
            key_dir=notice_settings.key_dir,
        )
    nid = _issue(engine, clock, policy, provider)
    _run(engine, clock, notice_settings)
    with read(engine) as conn:
        first = next(d for d in notices.deliveries(conn, nid) if d.channel == "webhook")
    assert first.state == "failed"
    assert first.error is not None
    assert "loopback where Cordon and its database listen" in first.error


def test_unanswered_notices_escalate_to_the_coordinator_after_n_repeats(
    engine: Engine, clock: FrozenClock, notice_settings: Settings
) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    assert policy.escalate_after == 3
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider")
        coordinator = make_member(conn, clock, org_type="coordinator", role="admin")
    nid = _issue(engine, clock, policy, provider)
    for repeat in (1, 2):
        clock.advance(policy.repeat_interval)
        _run(engine, clock, notice_settings)
        with write(engine) as conn:
            assert notices.count(conn, coordinator, notices.NoticeFilter()) == 0, repeat
    clock.advance(policy.repeat_interval)
    _run(engine, clock, notice_settings)
    with write(engine) as conn:
        inbox = notices.list_page(conn, clock, coordinator, STAGE, notices.NoticeFilter())
        alert = notices.get(conn, clock, provider, STAGE, nid)
    assert [n.kind for n in inbox] == ["escalation"]
    assert inbox[0].parent_notice_id == nid
    assert inbox[0].payload["reason"] == "unanswered after 3 repeats"
    assert "evidence" not in json.dumps(inbox[0].payload)  # the evidence stays with the alert
    assert alert is not None
    assert alert.escalated_at == clock.now()
    assert alert.rounds == 4
    # Escalated once per cycle: the fourth repeat does not escalate again.
    clock.advance(policy.repeat_interval)
    _run(engine, clock, notice_settings)
    with write(engine) as conn:
        assert notices.count(conn, coordinator, notices.NoticeFilter()) == 1
        assert (
            notices.list_page(conn, clock, coordinator, STAGE, notices.NoticeFilter())[0].rounds
            == 1
        )


def test_under_review_holds_repeats_and_not_ours_escalates_at_once(
    engine: Engine, clock: FrozenClock, notice_settings: Settings
) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider")
        coordinator = make_member(conn, clock, org_type="coordinator", role="admin")
    nid = _issue(engine, clock, policy, provider)
    with write(engine) as conn:
        held = notices.answer(conn, clock, provider, STAGE, policy, nid, "under_review")
    assert held.state is State.UNDER_REVIEW
    assert held.next_repeat_at == clock.now() + policy.review_hold
    clock.advance(timedelta(days=6))
    _run(engine, clock, notice_settings)
    with write(engine) as conn:
        assert notices.get(conn, clock, provider, STAGE, nid).rounds == 1  # type: ignore[union-attr]
    clock.advance(timedelta(days=1))
    _run(engine, clock, notice_settings)
    with write(engine) as conn:
        resumed = notices.get(conn, clock, provider, STAGE, nid)
        assert resumed is not None
        assert (resumed.state, resumed.rounds) == (State.SENT, 2)
        declined = notices.answer(
            conn, clock, provider, STAGE, policy, nid, "not_ours", "we never served them"
        )
        assert declined.state is State.DECLINED
        assert declined.next_repeat_at is None
        escalation = notices.list_page(conn, clock, coordinator, STAGE, notices.NoticeFilter())
    assert escalation[0].payload["answer"] == "not_ours"
    assert escalation[0].payload["answer_note"] == "we never served them"


def test_answers_are_checked(engine: Engine, clock: FrozenClock, notice_settings: Settings) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider")
        other = make_member(conn, clock, org_type="payment_provider")
    nid = _issue(engine, clock, policy, provider)
    with write(engine) as conn:
        with pytest.raises(notices.NotFound):
            notices.answer(conn, clock, other, STAGE, policy, nid, "account_closed")
        with pytest.raises(notices.NoticeError, match="use one of account_closed"):
            notices.answer(conn, clock, provider, STAGE, policy, nid, "gone")
        notices.answer(conn, clock, provider, STAGE, policy, nid, "account_closed")
        with pytest.raises(TransitionError, match="closed and takes no further answer"):
            notices.answer(conn, clock, provider, STAGE, policy, nid, "disputed")


def test_inbox_rounds_are_unread_until_opened(
    engine: Engine, clock: FrozenClock, notice_settings: Settings
) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider")
    nid = _issue(engine, clock, policy, provider)
    unread = notices.NoticeFilter(unread_only=True)
    with write(engine) as conn:
        assert notices.count(conn, provider, unread) == 1
        notices.get(conn, clock, provider, STAGE, nid)
        assert notices.count(conn, provider, unread) == 0
    clock.advance(policy.repeat_interval)
    _run(engine, clock, notice_settings)
    with write(engine) as conn:
        assert notices.count(conn, provider, unread) == 1


def test_webhook_secrets_are_never_stored_and_rotate(
    engine: Engine, clock: FrozenClock, notice_settings: Settings, hook: WebhookReceiver
) -> None:
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider", role="admin")
        ep, secret = notices.add_endpoint(
            conn,
            clock,
            provider,
            STAGE,
            channel="webhook",
            target=hook.url,
            key_dir=notice_settings.key_dir,
        )
        assert secret is not None
        rotated, new_secret = notices.rotate_secret(
            conn, clock, provider, STAGE, ep.id, key_dir=notice_settings.key_dir
        )
        rows = [dict(r._mapping) for r in conn.execute(select(notice_endpoint))]
    assert new_secret != secret
    assert rotated.secret_version == 2
    dumped = json.dumps(rows, default=str)
    assert secret not in dumped
    assert new_secret not in dumped
    policy = NoticePolicy.from_settings(notice_settings)
    _issue(engine, clock, policy, provider)
    _run(engine, clock, notice_settings)
    from cordon.notices.webhook import SignatureError, verify_signature

    request = hook.received()[0]
    now = int(clock.now().timestamp())
    assert verify_signature(new_secret, request.headers["Cordon-Signature"], request.body, now=now)
    with pytest.raises(SignatureError):
        verify_signature(secret, request.headers["Cordon-Signature"], request.body, now=now)


def test_endpoints_are_validated(
    engine: Engine, clock: FrozenClock, notice_settings: Settings
) -> None:
    with write(engine) as conn:
        provider = make_member(conn, clock, org_type="payment_provider", role="admin")
        for channel, target, field in (
            ("sms", "+31000", "channel"),
            ("email", "not-an-address", "target"),
            ("webhook", "ftp://x.test/", "target"),
        ):
            with pytest.raises(notices.NoticeError) as caught:
                notices.add_endpoint(
                    conn,
                    clock,
                    provider,
                    STAGE,
                    channel=channel,
                    target=target,
                    key_dir=notice_settings.key_dir,
                )
            assert caught.value.field == field
        with pytest.raises(notices.NoticeError, match="unknown notice kind"):
            notices.add_endpoint(
                conn,
                clock,
                provider,
                STAGE,
                channel="email",
                target="a@b.test",
                kinds=["nonsense"],
                key_dir=notice_settings.key_dir,
            )


def test_a_draft_is_read_by_its_issuer_only_until_it_is_sent(
    engine: Engine, clock: FrozenClock, notice_settings: Settings
) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    with write(engine) as conn:
        issuer = make_member(conn, clock, org_type="hotline")
        host = make_member(conn, clock, org_type="hosting_provider")
        made = notices.issue(
            conn,
            clock,
            STAGE,
            policy,
            kind=HOST_TAKEDOWN,
            recipient_org_id=host.org_id,
            issuer_org_id=issuer.org_id,
            subject_kind="url",
            subject_id=7,
            title="Takedown: draft",
            body="Collected until the batch window closes.",
            payload={},
            draft=True,
        )
    everyone = notices.NoticeFilter()
    with write(engine) as conn:
        assert notices.get(conn, clock, host, STAGE, made.id) is None
        assert notices.count(conn, host, everyone) == 0
        assert [n.id for n in notices.list_page(conn, clock, issuer, STAGE, everyone)] == [made.id]
    with write(engine) as conn:
        notices.send_draft(
            conn, clock, STAGE, policy, made.id, title="Takedown", body="Final.", payload={}
        )
    with write(engine) as conn:
        assert notices.count(conn, host, everyone) == 1
        assert notices.count(conn, issuer, everyone) == 0

"""The full loop of an alert to a payment provider, on a frozen clock, through real channels:
alert sent → no answer → repeated after the interval → answered "closed" → time to closure
recorded → identifier seen again on a new site → alert reopened."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import Engine

from cordon.audit import log as audit
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.tlp import Tlp
from cordon.money import repo, sightings
from cordon.notices import repo as notices
from cordon.notices.policy import NoticePolicy
from cordon.notices.states import State
from cordon.notices.webhook import SIGNATURE_HEADER, verify_signature
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.plugins import plugin_manager, stages
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from notices.servers import SmtpSink, WebhookReceiver
from support import make_member

STAGE = Actor(source="stage")
LINK = "https://pay.paybridge.test/checkout/velvet-club"


def _url_id(engine: Engine, clock: FrozenClock, reporter: object, address: str) -> int:
    with write(engine) as conn:
        done = reports.submit(
            conn,
            clock,
            reporter,  # type: ignore[arg-type]  # a Principal
            Actor(source="cli"),
            ReportIn(urls=[address], tlp=Tlp.AMBER),
            channel="cli",
        )
        return done.report.urls[0].id


def _run(engine: Engine, clock: FrozenClock, settings: Settings) -> None:
    found = [s for s in stages(plugin_manager()) if s.name.startswith("notice_")]
    run_until_idle(engine, found, StageContext(clock=clock, settings=settings))


def _attachment(message: EmailMessage) -> dict[str, object]:
    for part in message.iter_attachments():
        if part.get_filename() == "notice.json":
            data = json.loads(part.get_content())
            assert isinstance(data, dict)
            return data
    raise AssertionError("no notice.json attached")


def test_alert_repeats_closes_and_reopens_on_a_new_site(
    engine: Engine,
    clock: FrozenClock,
    notice_settings: Settings,
    hook: WebhookReceiver,
    sink: SmtpSink,
) -> None:
    policy = NoticePolicy.from_settings(notice_settings)
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        provider = make_member(conn, clock, org_type="payment_provider", role="admin")
        actor = Actor.of(provider, source="api")
        repo.register_ownership(
            conn, clock, provider, actor, kind="checkout_provider", value="paybridge"
        )
        ep, secret = notices.add_endpoint(
            conn,
            clock,
            provider,
            actor,
            channel="webhook",
            target=hook.url,
            key_dir=notice_settings.key_dir,
        )
        notices.add_endpoint(
            conn,
            clock,
            provider,
            actor,
            channel="email",
            target="risk@paybridge.test",
            key_dir=notice_settings.key_dir,
        )
    assert secret is not None
    assert secret.startswith("whsec_")
    first_site = _url_id(engine, clock, hotline, "https://shop-one.example.test/pay")

    # Seen on a site that is not (yet) confirmed: no alert.
    with write(engine) as conn:
        seen = sightings.record_sighting(
            conn, clock, STAGE, LINK, first_site, evidence={"capture_id": 1}, policy=policy
        )
    assert [o.action for o in seen.alerts] == ["no confirmed site"]

    # The match stage confirms the site (another page of it): the alert goes to the owner.
    clock.advance(timedelta(hours=2))
    gallery = _url_id(engine, clock, hotline, "https://shop-one.example.test/gallery/2")
    with write(engine) as conn:
        confirmed = sightings.mark_url_confirmed(
            conn,
            clock,
            STAGE,
            gallery,
            capture_time=clock.now() - timedelta(minutes=5),
            match_summary={"matched_media": 3, "signal_types": ["pdq"]},
            policy=policy,
        )
    assert [o.action for o in confirmed.alerts] == ["issued"]
    alert_id = confirmed.alerts[0].notice_id
    assert alert_id is not None
    sent_at = clock.now()
    _run(engine, clock, notice_settings)

    # Delivered on every channel: the signed webhook, the e-mail, the inbox.
    assert len(hook.received()) == 1
    request = hook.received()[0]
    verify_signature(
        secret,
        request.headers[SIGNATURE_HEADER],
        request.body,
        now=int(clock.now().timestamp()),
    )
    body = json.loads(request.body)
    assert body["notice"]["id"] == alert_id
    assert body["round"] == 1
    evidence = body["notice"]["evidence"]
    assert evidence["identifier"]["key"] == "paybridge:velvet-club"
    assert [s["site"] for s in evidence["sites"]] == ["example.test"]
    assert evidence["sites"][0]["pages"] == ["https://shop-one.example.test/pay"]
    assert evidence["sites"][0]["confirmed"]["match_summary"]["matched_media"] == 3
    assert "imagery" in evidence
    assert len(sink.messages) == 1
    assert sink.envelopes[0][1] == ["risk@paybridge.test"]
    assert _attachment(sink.messages[0])["notice"]["id"] == alert_id  # type: ignore[index]
    with write(engine) as conn:
        inbox = notices.list_page(conn, clock, provider, actor, notices.NoticeFilter())
    assert [n.id for n in inbox] == [alert_id]
    assert inbox[0].unread

    # No answer: nothing happens before the interval, a repeat after it.
    clock.advance(timedelta(hours=23))
    _run(engine, clock, notice_settings)
    assert len(hook.received()) == 1
    clock.advance(timedelta(hours=1))
    _run(engine, clock, notice_settings)
    assert len(hook.received()) == 2
    assert json.loads(hook.received()[1].body)["round"] == 2
    assert "(reminder 1)" in str(sink.messages[1]["Subject"])

    # Answered "closed": repeats stop, time to closure kept.
    clock.advance(timedelta(hours=3))
    with write(engine) as conn:
        closed = notices.answer(
            conn, clock, provider, actor, policy, alert_id, "account_closed", "terminated"
        )
    assert closed.state is State.CLOSED
    assert closed.closed_at is not None
    assert closed.closed_at - closed.opened_at == timedelta(hours=27)
    assert closed.closed_at - sent_at == timedelta(hours=27)
    with read(engine) as conn:
        history = notices.events(conn, alert_id)
    closing = [e for e in history if e.event == "closed"]
    assert closing[0].details["seconds_open"] == 27 * 3600
    clock.advance(timedelta(hours=48))
    _run(engine, clock, notice_settings)
    assert len(hook.received()) == 2

    # Seen again on the same, closed site: no reopening. On a new confirmed site: reopened.
    with write(engine) as conn:
        again = sightings.record_sighting(conn, clock, STAGE, LINK, first_site, policy=policy)
    assert [o.action for o in again.alerts] == ["unchanged"]
    second_site = _url_id(engine, clock, hotline, "https://other-shop.example.org/")
    with write(engine) as conn:
        sightings.mark_url_confirmed(conn, clock, STAGE, second_site, policy=policy)
        reopened = sightings.record_sighting(conn, clock, STAGE, LINK, second_site, policy=policy)
    assert [o.action for o in reopened.alerts] == ["reopened"]
    _run(engine, clock, notice_settings)
    with write(engine) as conn:
        now_open = notices.get(conn, clock, provider, actor, alert_id)
    assert now_open is not None
    assert now_open.state is State.SENT
    assert now_open.reopened == 1
    assert now_open.rounds == 3
    assert {s["site"] for s in now_open.payload["sites"]} == {"example.test", "example.org"}
    assert len(hook.received()) == 3
    assert json.loads(hook.received()[2].body)["notice"]["reopened"] == 1

    # Every send was audited.
    with read(engine) as conn:
        actions = [e.action for e in audit.list_events(conn, action_prefix="", limit=500)]
    assert actions.count("stage:notice:send") == 1
    assert actions.count("stage:notice:repeat") == 1
    assert actions.count("stage:notice:reopen") == 1
    assert actions.count("stage:notice:deliver") == 6
    assert ep.secret_fingerprint is not None

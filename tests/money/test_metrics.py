"""Outcome metrics: hours to alert and to closure per provider and method; method mix."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.payments import Chain, synthetic_address
from cordon.domain.tlp import Tlp
from cordon.money import metrics, repo, sightings
from cordon.notices import repo as notices
from cordon.notices.policy import NoticePolicy
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from support import make_member

STAGE = Actor(source="stage")


def test_hours_to_alert_and_to_closure_per_provider_and_method(
    engine: Engine, clock: FrozenClock
) -> None:
    policy = NoticePolicy()
    address = synthetic_address(Chain.BTC, b"exchange deposit")
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        psp = make_member(conn, clock, org_type="payment_provider", role="admin")
        exchange = make_member(conn, clock, org_type="payment_provider", role="admin")
        coordinator = make_member(conn, clock, org_type="coordinator")
        repo.register_ownership(
            conn, clock, psp, STAGE, kind="checkout_provider", value="tillpoint"
        )
        repo.register_ownership(conn, clock, exchange, STAGE, kind="crypto_address", value=address)
        site = (
            reports.submit(
                conn,
                clock,
                hotline,
                STAGE,
                ReportIn(urls=["https://store.metrics.test/"], tlp=Tlp.GREEN),
                channel="cli",
            )
            .report.urls[0]
            .id
        )
        sightings.record_sighting(conn, clock, STAGE, "https://velvet.tillpoint.test/", site)
        sightings.record_sighting(conn, clock, STAGE, address, site)
    clock.advance(timedelta(hours=5))
    with write(engine) as conn:
        done = sightings.mark_url_confirmed(conn, clock, STAGE, site)
    alerts = {a.identifier_id: a.notice_id for a in done.alerts}
    assert len(alerts) == 2
    clock.advance(timedelta(hours=24))
    with write(engine) as conn:
        card_alert = next(
            n for n in notices.list_page(conn, clock, psp, STAGE, notices.NoticeFilter())
        )
        notices.answer(conn, clock, psp, STAGE, policy, card_alert.id, "account_closed")
    with read(engine) as conn:
        overall = metrics.alert_metrics(conn, coordinator)
        own = metrics.alert_metrics(conn, exchange)
        mix = metrics.payment_method_mix(conn, coordinator)
        mix_own = metrics.payment_method_mix(conn, exchange)
    rows = {(m.org_id, m.payment_method): m for m in overall}
    service = rows[(psp.org_id, "payment_service")]
    assert (service.alerts, service.closed, service.open) == (1, 1, 0)
    assert service.median_hours_to_alert == 5.0
    assert service.median_hours_to_closure == 24.0
    coin = rows[(exchange.org_id, "crypto:btc")]
    assert (coin.alerts, coin.closed, coin.median_hours_to_closure) == (1, 0, None)
    # A payment provider sees its own figures only.
    assert [(m.org_id, m.payment_method) for m in own] == [(exchange.org_id, "crypto:btc")]
    assert {(r.period, r.payment_method, r.identifiers) for r in mix} == {
        ("2026-03", "payment_service", 1),
        ("2026-03", "crypto:btc", 1),
    }
    assert [(r.payment_method, r.identifiers) for r in mix_own] == [("crypto:btc", 1)]

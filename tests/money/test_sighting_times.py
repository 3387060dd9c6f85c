"""A sighting's times: the identifier's first and last sighting follow every sighting, earlier
or later than those known, and the same sighting again is one record counted twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Connection, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.payments import Chain, synthetic_address
from cordon.domain.tlp import Tlp
from cordon.money import repo, sightings
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.tables_money import payment_identifier, payment_sighting
from support import make_member

STAGE = Actor(source="stage")


def _url(conn: Connection, clock: FrozenClock, page: str) -> int:
    member = make_member(conn, clock, org_type="hotline")
    submitted = reports.submit(
        conn, clock, member, STAGE, ReportIn(urls=[page], tlp=Tlp.GREEN), channel="cli"
    )
    return submitted.report.urls[0].id


def test_identifier_times_follow_earlier_and_later_sightings(
    conn: Connection, clock: FrozenClock
) -> None:
    address = synthetic_address(Chain.BTC, b"sighting times")
    first_site = _url(conn, clock, "https://times-one.test/")
    second_site = _url(conn, clock, "https://times-two.test/")
    now = clock.now()
    seen = sightings.record_sighting(conn, clock, STAGE, address, first_site)
    assert seen.new_identifier
    assert seen.new_sighting
    # Seen earlier elsewhere (a capture stored late), then later again at the first site.
    earlier = now - timedelta(days=3)
    sightings.record_sighting(conn, clock, STAGE, address, second_site, seen_at=earlier)
    later = clock.advance(timedelta(hours=6))
    again = sightings.record_sighting(conn, clock, STAGE, address, first_site)
    assert not again.new_identifier
    assert not again.new_sighting
    assert again.sighting_id == seen.sighting_id

    ident = conn.execute(
        select(payment_identifier).where(payment_identifier.c.id == seen.identifier_id)
    ).one()
    assert ident.first_seen_at == earlier
    assert ident.last_seen_at == later
    rows = conn.execute(
        select(payment_sighting.c.url_id, payment_sighting.c.times, payment_sighting.c.site)
        .where(payment_sighting.c.identifier_id == seen.identifier_id)
        .order_by(payment_sighting.c.url_id)
    ).all()
    assert [(r.url_id, r.times, r.site) for r in rows] == [
        (first_site, 2, "times-one.test"),
        (second_site, 1, "times-two.test"),
    ]


def test_an_unknown_url_stores_nothing(conn: Connection, clock: FrozenClock) -> None:
    address = synthetic_address(Chain.BTC, b"no such url")
    with pytest.raises(repo.MoneyError):
        sightings.record_sighting(conn, clock, STAGE, address, 987_654_321)
    stored = conn.execute(
        select(payment_identifier.c.id).where(payment_identifier.c.value == address)
    ).first()
    assert stored is None

"""Attribution through the API: the same rule on every path, a hidden record answered as missing."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cordon.attribution import repo
from cordon.attribution.jurisdiction import Decision
from cordon.attribution.model import HostAttribution, Network
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import write
from support import make_member, token_for


def _observation(
    host: str, provider: str, asn: int, country: str, clock: FrozenClock
) -> HostAttribution:
    return HostAttribution(
        target=host,
        host=host,
        registrable_domain=host,
        is_ip=False,
        observed_at=clock.now(),
        basis="dns",
        addresses=("192.0.2.1",),
        network=Network("192.0.2.1", asn, provider, "192.0.2.0/24", country),
    )


def test_attribution_routes_follow_the_access_rule(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    actor = Actor(source="cli")
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        police = make_member(conn, clock, org_type="law_enforcement")
        payments = make_member(conn, clock, org_type="payment_provider")
        tokens = {p.org_type: token_for(conn, clock, keys, p) for p in (hotline, police, payments)}
        done = reports.submit(
            conn,
            clock,
            hotline,
            actor,
            ReportIn(urls=["https://shop.example.test/"], tlp=Tlp.AMBER),
            channel="cli",
        )
        url_id = done.report.urls[0].id
        first = repo.store(
            conn,
            clock,
            actor,
            url_id,
            _observation("shop.example.test", "Host A", 64500, "NL", clock),
            Decision((), (), ()),
        ).attribution_id
        clock.advance(timedelta(days=1))
        repo.store(
            conn,
            clock,
            actor,
            url_id,
            _observation("shop.example.test", "Host B", 64501, "DE", clock),
            Decision((), (), ()),
        )

    def get(org_type: object, path: str) -> object:
        return client.get(path, headers={"Authorization": f"Bearer {tokens[org_type]}"})

    owner = hotline.org_type
    record = get(owner, f"/v1/attributions/{first}").json()
    assert record["chain"]["network"]["provider"] == "Host A"
    assert record["tlp"] == "AMBER"
    history = get(owner, f"/v1/urls/{url_id}/attributions").json()["items"]
    assert [h["chain"]["network"]["provider"] for h in history] == ["Host B", "Host A"]
    assert get(owner, "/v1/attributions/count").json()["count"] == 2
    german = get(owner, "/v1/attributions?country=de").json()["items"]
    assert [a["chain"]["network"]["asn"] for a in german] == [64501]
    hops = get(owner, f"/v1/hops?url_id={url_id}").json()["items"]
    assert [(h["old_provider"], h["new_provider"]) for h in hops] == [("Host A", "Host B")]
    for outsider in (police.org_type, payments.org_type):  # AMBER, not shared with them
        response = get(outsider, f"/v1/attributions/{first}")
        assert response.status_code == 404
        assert response.json()["detail"] == f"no attribution with id {first}"
        assert get(outsider, "/v1/attributions/count").json()["count"] == 0
        assert get(outsider, f"/v1/urls/{url_id}/attributions").json()["items"] == []
        assert get(outsider, "/v1/hops").json()["items"] == []
    assert get(owner, "/v1/attributions?status=odd").status_code == 422

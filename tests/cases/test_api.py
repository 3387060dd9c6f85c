"""The cases API end to end: lifecycle, the case as audit purpose, deconfliction on the owners'
channels, and bad input answered with a problem that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from cases.data import WALLET
from cordon.audit.log import Actor, list_events
from cordon.clock import FrozenClock
from cordon.keys import Keys
from cordon.notices import repo as notices
from cordon.store.db import write
from cordon.store.tables import audit_event
from cordon.store.tables_cases import case_file
from notices.servers import WebhookReceiver, webhook_receiver
from support import make_member, token_for


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def people(
    engine: Engine, clock: FrozenClock, keys: Keys, key_dir: Path, hook: WebhookReceiver
) -> dict[str, tuple[int, dict[str, str]]]:
    out: dict[str, tuple[int, dict[str, str]]] = {}
    with write(engine) as conn:
        for name, org_type in (
            ("police", "law_enforcement"),
            ("hotline", "hotline"),
            ("provider", "payment_provider"),
        ):
            p = make_member(conn, clock, org_type=org_type, role="admin")
            out[name] = (p.org_id, {"Authorization": f"Bearer {token_for(conn, clock, keys, p)}"})
            if name == "hotline":
                notices.add_endpoint(
                    conn,
                    clock,
                    p,
                    Actor.of(p, source="cli"),
                    channel="webhook",
                    target=hook.url,
                    key_dir=key_dir,
                )
    return out


def test_case_lifecycle_over_the_api(
    client: TestClient, engine: Engine, people: dict[str, tuple[int, dict[str, str]]]
) -> None:
    _, police = people["police"]
    provider_org, provider = people["provider"]
    r = client.post(
        "/v1/cases",
        json={
            "title": "Op Lantern",
            "tlp": "AMBER+STRICT",
            "subjects": ["domain:lantern.test", {"kind": "crypto_address", "value": WALLET}],
        },
        headers=police,
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    # The payment provider may not see it until it is made a participant.
    assert client.get(f"/v1/cases/{case_id}", headers=provider).status_code == 404
    r = client.post(
        f"/v1/cases/{case_id}/participants", json={"org_id": provider_org}, headers=police
    )
    assert r.status_code == 200, r.text
    shown = client.get(f"/v1/cases/{case_id}", headers=provider).json()
    assert {s["kind"] for s in shown["subjects"]} == {"domain", "crypto_address"}
    r = client.post(f"/v1/cases/{case_id}/notes", json={"text": "account found"}, headers=provider)
    assert r.status_code == 201, r.text
    # A participant does not manage the case.
    r = client.patch(f"/v1/cases/{case_id}", json={"status": "closed"}, headers=provider)
    assert r.status_code == 403
    sid = client.get(f"/v1/cases/{case_id}/subjects", headers=police).json()["items"][0]["id"]
    assert client.delete(f"/v1/cases/{case_id}/subjects/{sid}", headers=police).status_code == 200
    r = client.patch(f"/v1/cases/{case_id}", json={"status": "suspended"}, headers=police)
    assert r.json()["status"] == "suspended"
    with engine.connect() as conn:
        events = list_events(conn, action_prefix="api:case:", limit=100)
    assert len(events) >= 7
    assert {e.purpose for e in events} == {f"case:{case_id}"}


def test_overlap_reaches_both_owners_inbox_and_webhook(
    client: TestClient, engine: Engine, people: dict[str, tuple[int, dict[str, str]]]
) -> None:
    police_org, police = people["police"]
    hotline_org, hotline = people["hotline"]
    client.post("/v1/cases", json={"title": "A", "subjects": [WALLET]}, headers=police)
    r = client.post(
        "/v1/cases", json={"title": "B", "subjects": [f"btc:{WALLET}"]}, headers=hotline
    )
    assert len(r.json()["deconfliction_hits"]) == 1
    for headers in (police, hotline):
        inbox = client.get("/v1/notices", params={"kind": "deconfliction"}, headers=headers)
        assert len(inbox.json()["items"]) == 1
    with engine.connect() as conn:
        hotline_notice = next(
            n
            for n in notices.notices_about(
                conn, "deconfliction_hit", [r.json()["deconfliction_hits"][0]]
            )
            if n.recipient_org_id == hotline_org
        )
        channels = {d.channel for d in notices.deliveries(conn, hotline_notice.id)}
    assert channels == {"inbox", "webhook"}
    hits = client.get("/v1/deconfliction", headers=police).json()["items"]
    assert hits[0]["contact"]["org_id"] == hotline_org
    assert client.get(f"/v1/deconfliction/{hits[0]['id']}", headers=police).status_code == 200
    _, provider = people["provider"]
    assert client.get("/v1/deconfliction", headers=provider).status_code == 403
    assert police_org != hotline_org


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x", "tlp": "PURPLE"},
        {"title": "x", "subjects": ["iban:NL00BANK0000000000"]},
        {"title": "x", "participants": [987654]},
        {"title": "x", "unexpected": 1},
    ],
)
def test_bad_cases_are_refused_and_change_nothing(
    client: TestClient,
    engine: Engine,
    people: dict[str, tuple[int, dict[str, str]]],
    body: dict[str, object],
) -> None:
    _, police = people["police"]
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_event)).scalar_one()
    r = client.post("/v1/cases", json=body, headers=police)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_event)).scalar_one() == before
        assert conn.execute(select(func.count()).select_from(case_file)).scalar_one() == 0

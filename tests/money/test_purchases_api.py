"""Test purchases, ownership and sightings through the API: validation, all-or-nothing import
with line and field, idempotency, identifiers and alerts they set off."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.money import sightings
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import write
from cordon.store.tables_money import payment_identifier, test_purchase
from support import make_member, token_for

GOOD = {
    "date": "2026-02-10T12:00:00Z",
    "site_url": "https://velvet-shop.test/buy",
    "scheme": "Visa",
    "descriptor": "VELVET*DIGITAL 0423",
    "merchant_id": "123456789012345",
    "acquirer_bin": "540518",
    "mcc": "5816",
    "amount": "19.95",
    "currency": "eur",
    "provider": "paybridge",
    "account": "velvet-club",
    "outcome": "completed",
    "evidence_sha256": "ab" * 32,
}

CSV_HEADER = "date,site_url,scheme,descriptor,merchant_id,acquirer_bin,mcc,amount,currency\n"


def _tokens(engine: Engine, clock: FrozenClock, keys: Keys) -> dict[str, str]:
    with write(engine) as conn:
        partner = make_member(conn, clock, org_type="payment_provider", role="admin")
        other = make_member(conn, clock, org_type="payment_provider", role="admin")
        hotline = make_member(conn, clock, org_type="hotline", role="analyst")
        return {
            "partner": token_for(conn, clock, keys, partner),
            "other": token_for(conn, clock, keys, other),
            "hotline": token_for(conn, clock, keys, hotline),
        }


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_test_purchase_records_its_identifiers_and_is_idempotent(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    t = _tokens(engine, clock, keys)
    h = {**_h(t["partner"]), "Idempotency-Key": "tp-1"}
    first = client.post("/v1/money/test-purchases", json=GOOD, headers=h)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["scheme"], body["currency"], body["amount"]) == ("visa", "EUR", "19.95")
    assert len(body["identifier_ids"]) == 2
    again = client.post("/v1/money/test-purchases", json=GOOD, headers=h)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    changed = client.post("/v1/money/test-purchases", json={**GOOD, "amount": "20"}, headers=h)
    assert changed.status_code == 409
    keys_ = client.get("/v1/money/identifiers", headers=_h(t["partner"])).json()["items"]
    assert sorted(i["key"] for i in keys_) == [
        "card:540518:123456789012345",
        "paybridge:velvet-club",
    ]
    # Nobody else's: another payment provider sees none of it.
    assert client.get("/v1/money/identifiers/count", headers=_h(t["other"])).json() == {"count": 0}
    assert (
        client.get(f"/v1/money/test-purchases/{body['id']}", headers=_h(t["other"])).status_code
        == 404
    )


def test_bad_purchases_are_refused_naming_the_field(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    t = _tokens(engine, clock, keys)
    cases = {
        "mcc": {**GOOD, "mcc": "58"},
        "currency": {**GOOD, "currency": "EURO"},
        "acquirer_bin": {**GOOD, "acquirer_bin": "12"},
        "date": {**GOOD, "date": "2026-02-10T12:00:00"},
        "amount": {**GOOD, "amount": "-1"},
        "site_url": {**GOOD, "site_url": "ftp://x.test/"},
        "merchant_id": {k: v for k, v in GOOD.items() if k != "merchant_id"},
    }
    for field, body in cases.items():
        r = client.post("/v1/money/test-purchases", json=body, headers=_h(t["partner"]))
        assert r.status_code == 422, (field, r.text)
        assert field in r.text, (field, r.text)
    future = client.post(
        "/v1/money/test-purchases",
        json={**GOOD, "date": "2027-01-01T00:00:00Z"},
        headers=_h(t["partner"]),
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "date"
    with write(engine) as conn:
        assert conn.execute(select(func.count()).select_from(test_purchase)).scalar_one() == 0


def test_a_csv_import_is_all_or_nothing_and_names_line_and_field(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    t = _tokens(engine, clock, keys)
    h = {**_h(t["partner"]), "Content-Type": "text/csv"}
    bad = (
        CSV_HEADER
        + "2026-02-01T10:00:00Z,https://a.test/,visa,ACME*DIGITAL,111,540518,5816,9.99,EUR\n"
        + "2026-02-01T10:00:00Z,https://b.test/,visa,ACME DIGITAL LTD,222,540518,58,9.99,EUR\n"
        + "2026-02-01T10:00:00Z,https://c.test/,visa,ACME DIGITAL,333,540518,5816,9.99,QQQ\n"
    )
    r = client.post("/v1/money/test-purchases/import", content=bad, headers=h)
    assert r.status_code == 422
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(3, "mcc"), (4, "currency")]
    good = bad.replace(",58,", ",5816,").replace(",QQQ", ",USD")
    r = client.post("/v1/money/test-purchases/import", content=good, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 3
    links = client.get("/v1/money/descriptors/links", headers=_h(t["partner"])).json()["items"]
    assert {(x["a"]["text"], x["b"]["text"]) for x in links} >= {
        ("ACME*DIGITAL", "ACME DIGITAL LTD"),
    }
    merchants = client.get("/v1/money/merchants", headers=_h(t["partner"])).json()["items"]
    assert len(merchants) == 1
    assert len(merchants[0]["descriptors"]) == 3
    split = client.post(
        f"/v1/money/descriptors/links/{links[0]['id']}/decision",
        json={"decision": "split"},
        headers=_h(t["partner"]),
    )
    assert split.json()["decision"] == "split"
    assert r.headers["content-type"].startswith("application/json")
    bad_header = client.post("/v1/money/test-purchases/import", content="date,url\n", headers=h)
    assert bad_header.status_code == 422
    assert "lacks column(s): site_url, amount, currency" in bad_header.json()["detail"]


def test_ownership_makes_known_identifiers_the_providers_and_sends_due_alerts(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    t = _tokens(engine, clock, keys)
    with write(engine) as conn:
        from cordon.money import repo

        hotline = make_member(conn, clock, org_type="hotline")
        reported = reports.submit(
            conn,
            clock,
            hotline,
            Actor(source="cli"),
            ReportIn(urls=["https://shop.example.test/"], tlp=Tlp.GREEN),
            channel="cli",
        )
        # The crawler finds the payment link on another page of the reported site.
        url_id = repo.url_id_for(conn, clock.now(), "https://shop.example.test/pay")
        sightings.mark_url_confirmed(conn, clock, Actor(source="stage"), reported.report.urls[0].id)
        seen = sightings.record_sighting(
            conn,
            clock,
            Actor(source="stage"),
            "https://swiftpay.test/pay?merchant_id=123456",
            url_id,
        )
        assert [a.action for a in seen.alerts] == ["no owner"]
    r = client.post(
        "/v1/money/ownership",
        json={"kind": "checkout_provider", "value": "swiftpay"},
        headers=_h(t["partner"]),
    )
    assert r.status_code == 201, r.text
    assert (r.json()["identifiers"], r.json()["alerts"]) == (1, 1)
    inbox = client.get("/v1/notices", headers=_h(t["partner"])).json()["items"]
    assert [n["kind"] for n in inbox] == ["payment_alert"]
    assert inbox[0]["evidence"]["identifier"]["key"] == "swiftpay:123456"
    # Someone else's registration is refused without naming them; overlapping BIN ranges too.
    taken = client.post(
        "/v1/money/ownership",
        json={"kind": "checkout_provider", "value": "swiftpay"},
        headers=_h(t["other"]),
    )
    assert taken.status_code == 422
    assert "another organisation" in taken.json()["detail"]
    assert (
        client.post(
            "/v1/money/ownership",
            json={"kind": "acquirer_bin_range", "value": "5405"},
            headers=_h(t["partner"]),
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/v1/money/ownership",
            json={"kind": "acquirer_bin_range", "value": "54051800-54051899"},
            headers=_h(t["partner"]),
        ).status_code
        == 201
    )
    overlap = client.post(
        "/v1/money/ownership",
        json={"kind": "acquirer_bin_range", "value": "540518"},
        headers=_h(t["other"]),
    )
    assert overlap.status_code == 422
    assert "overlaps" in overlap.json()["detail"]
    # Only payment providers register ownership; a new provider needs its link pattern.
    hot = client.post(
        "/v1/money/ownership",
        json={"kind": "checkout_provider", "value": "x"},
        headers=_h(t["hotline"]),
    )
    assert hot.status_code == 403  # analysts lack the permission altogether
    spec = {"hosts": ["checkout.ledgerline.test"], "path": "/pay/{account}"}
    made = client.post(
        "/v1/money/ownership",
        json={"kind": "checkout_provider", "value": "ledgerline", "spec": spec},
        headers=_h(t["other"]),
    )
    assert made.status_code == 201, made.text
    nospec = client.post(
        "/v1/money/ownership",
        json={"kind": "checkout_provider", "value": "newpay"},
        headers=_h(t["other"]),
    )
    assert nospec.status_code == 422
    assert nospec.json()["errors"][0]["field"] == "spec"
    found = client.get(
        "/v1/money/identifiers/lookup",
        params={"value": "https://checkout.ledgerline.test/pay/abc123"},
        headers=_h(t["other"]),
    )
    assert found.status_code == 404  # a valid identifier nobody has seen yet
    assert "ledgerline:abc123" in found.json()["detail"]
    with write(engine) as conn:
        assert conn.execute(select(func.count()).select_from(payment_identifier)).scalar_one() == 1


def test_analysts_record_sightings_by_hand_under_their_marking(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    t = _tokens(engine, clock, keys)
    body = {
        "identifier": "https://checkout.coinvault.test/m/M12345678",
        "site_url": "https://seen.example.test/",
        "tlp": "amber+strict",
        "note": "seen on the order page",
    }
    r = client.post("/v1/money/sightings", json=body, headers=_h(t["hotline"]))
    assert r.status_code == 201, r.text
    ident = r.json()["identifier_id"]
    got = client.get(f"/v1/money/identifiers/{ident}", headers=_h(t["hotline"])).json()
    assert got["sites"] == ["example.test"]
    assert got["sightings"][0]["evidence"] == {"note": "seen on the order page"}
    assert client.get(f"/v1/money/identifiers/{ident}", headers=_h(t["other"])).status_code == 404
    bad = client.post(
        "/v1/money/sightings", json={**body, "identifier": "nothing"}, headers=_h(t["hotline"])
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "identifier"

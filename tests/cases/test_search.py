"""Search finds every kind of identifier under the access policy, and screening tells a payment
provider that a wallet is known and whom to contact, never the network behind it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select

from cases.data import (
    ADDRESS,
    ANALYTICS,
    BANK_PDQ,
    EMAIL,
    IBAN,
    MD5,
    OTHER_WALLET,
    PDQ,
    REPORT_MD5,
    SHA256,
    WALLET,
    make_network,
    seed,
)
from cordon.audit.log import Actor, list_events
from cordon.cases import deconfliction, repo
from cordon.cases.repo import CaseIn
from cordon.clock import FrozenClock
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.notices.policy import NoticePolicy
from cordon.search import repo as search
from cordon.store.db import write
from cordon.store.tables import audit_event
from support import make_member, token_for

#: Each query, the kind it must be found as, and the table that must answer.
QUERIES = [
    ("alpha.test", "domain", "url"),
    ("https://SHOP.alpha.test/buy", "url", "url"),
    (ADDRESS, "ip", "attribution"),
    (ADDRESS, "ip", "capture"),
    (WALLET, "crypto_address", "payment_identifier"),
    (IBAN, "iban", "payment_identifier"),
    ("card:412345:777777777777777", "card_merchant", "payment_identifier"),
    ("ALPHASHOP*DIGITAL", "descriptor", "merchant_descriptor"),
    (PDQ, "pdq", "media_sighting"),
    (MD5, "md5", "media_sighting"),
    (SHA256, "sha256", "media_sighting"),
    (REPORT_MD5, "md5", "report_hash"),
    (BANK_PDQ, "pdq", "bank_entry"),
    (ANALYTICS, "analytics_id", "capture_indicator"),
    (EMAIL, "email", "capture_indicator"),
    ("@AlphaShop", "messenger", "capture_indicator"),
    ("gamma.test", "domain", "case"),
]


def test_search_finds_each_kind(conn: Connection, clock: FrozenClock) -> None:
    hotline = make_member(conn, clock, org_type="hotline")
    police = make_member(conn, clock, org_type="law_enforcement")
    seed(conn, clock, hotline, tlp=Tlp.GREEN)
    repo.open_case(
        conn,
        clock,
        police,
        Actor.of(police, source="api"),
        CaseIn(title="gamma", tlp=Tlp.GREEN, subjects=["domain:gamma.test"]),
    )
    actor = Actor.of(police, source="api")
    for q, kind, source in QUERIES:
        found = search.search(conn, clock, police, actor, q)
        by_kind = {r.entity.kind.value: r for r in found.results}
        assert kind in by_kind, f"{q} not read as {kind}: {list(by_kind)}"
        assert by_kind[kind].sources.get(source), f"{q} not found in {source}"
    # An explicit kind narrows the reading; a query naming nothing is refused.
    only = search.search(conn, clock, police, actor, SHA256, kind="sha256")
    assert [r.entity.kind.value for r in only.results] == ["sha256"]
    with pytest.raises(search.SearchError):
        search.search(conn, clock, police, actor, "   ")
    with pytest.raises(search.SearchError, match="not a pdq hash"):
        search.search(conn, clock, police, actor, "12", kind="pdq")
    # Audited without the query in clear.
    event = list_events(conn, action_prefix="api:search:run", limit=1)[0]
    assert "query_sha256" in event.details
    assert SHA256 not in json.dumps(event.details)


def test_search_answers_only_what_the_policy_allows(conn: Connection, clock: FrozenClock) -> None:
    hotline = make_member(conn, clock, org_type="hotline")
    police = make_member(conn, clock, org_type="law_enforcement")
    provider = make_member(conn, clock, org_type="payment_provider")
    seed(conn, clock, hotline, tlp=Tlp.AMBER_STRICT)
    for who, expect in ((hotline, True), (police, False), (provider, False)):
        found = search.search(conn, clock, who, Actor.of(who, source="api"), WALLET)
        assert any(r.count for r in found.results) is expect, who.org_type


@pytest.fixture
def screened(client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys) -> dict[str, str]:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        police = make_member(conn, clock, org_type="law_enforcement", org_name="Police Unit NL")
        make_member(conn, clock, org_type="coordinator", org_name="Coalition Coordinator")
        provider = make_member(conn, clock, org_type="payment_provider")
        seed(conn, clock, hotline, tlp=Tlp.AMBER)
        net = make_network(conn, clock, ["alpha.test"], label="Brand Omega")
        actor = Actor.of(police, source="api")
        repo.open_case(
            conn,
            clock,
            police,
            actor,
            CaseIn(
                title="Operation Omega",
                tlp=Tlp.AMBER,
                contact="desk@police.test",
                subjects=[f"network:{net}", f"btc:{WALLET}"],
            ),
            deconflict=deconfliction.Deconflictor(clock, actor, NoticePolicy()),
        )
        return {
            "provider": token_for(conn, clock, keys, provider),
            "hotline": token_for(conn, clock, keys, hotline),
            "network": str(net),
        }


def test_a_payment_provider_learns_whom_to_contact_never_the_network(
    client: TestClient, screened: dict[str, str], engine: Engine
) -> None:
    h = {"Authorization": f"Bearer {screened['provider']}"}
    r = client.post("/v1/screen", json={"items": [WALLET, OTHER_WALLET, IBAN]}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    wallet, other, iban = body["items"]
    assert wallet["known"] is True
    assert wallet["answer"] == "contact"
    assert wallet["contact"]["organisation"] == "Police Unit NL"
    assert wallet["contact"]["contact"] == "desk@police.test"
    assert "details" not in wallet
    assert other == {
        "item": OTHER_WALLET,
        "kind": "crypto_address",
        "key": f"eth:{other['key'].split(':', 1)[1]}",
        "known": False,
        "answer": "unknown",
    }
    # Known from the hotline's report only: the coordinator is the contact.
    assert iban["answer"] == "contact"
    assert iban["contact"]["organisation"] == "Coalition Coordinator"
    text = r.text
    for secret in ("Brand Omega", "Operation Omega", "network", "alpha.test"):
        assert secret not in text, secret
    # The hotline that reported it may read it: details.
    h2 = {"Authorization": f"Bearer {screened['hotline']}"}
    mine = client.post("/v1/screen", json={"items": [WALLET]}, headers=h2).json()["items"][0]
    assert mine["answer"] == "details"
    sources = mine["details"][0]["sources"]
    assert sources["payment_identifier"][0]["key"] == f"btc:{WALLET}"
    # One audit event per batch, with counts and digests, not the items.
    with engine.connect() as conn:
        event = list_events(conn, action_prefix="api:screen:run", limit=2)[-1]
    assert event.details["items"] == 3
    assert event.details["known"] == 2
    assert WALLET not in json.dumps(event.details)


def test_bad_screening_input_changes_nothing(
    client: TestClient, screened: dict[str, str], engine: Engine
) -> None:
    h = {"Authorization": f"Bearer {screened['provider']}"}
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_event)).scalar_one()
    r = client.post("/v1/screen", json={"items": [WALLET, "not an identifier!", ""]}, headers=h)
    assert r.status_code == 422
    problem = r.json()
    assert problem["detail"] == "2 bad item(s); nothing was screened"
    assert [e["field"] for e in problem["errors"]] == ["items[1]", "items[2]"]
    r = client.post("/v1/screen", json={"items": ["x.test"] * 10_001}, headers=h)
    assert r.status_code == 422
    r = client.post("/v1/screen", json={"items": [WALLET], "kind": "nonsense"}, headers=h)
    assert r.status_code == 422
    assert "unknown entity kind" in r.json()["detail"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_event)).scalar_one() == before

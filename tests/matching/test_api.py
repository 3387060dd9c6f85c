"""``POST /v1/match``, the sightings and matches read routes, ``/status`` freshness, and the
HMA-compatible routes, through a real TestClient on both backends."""

from __future__ import annotations

import random

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from cordon.api.routing import CordonRouter, RouteWithoutPermission, check_routes
from cordon.clock import FrozenClock
from cordon.domain.permissions import Permission
from cordon.keys import Keys
from cordon.store.db import read, write
from cordon.store.tables_matching import sighting
from matching.helpers import add_entries, at_distance, make_bank, random_pdq
from support import make_member, token_for


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_match_route_answers_per_signal_records_sightings_and_hides_unreadable_banks(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    rng = random.Random(11)
    listed, negative_hash, private = random_pdq(rng), random_pdq(rng), random_pdq(rng)
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline")
        other = make_member(conn, clock, org_type="law_enforcement")
        caller = make_member(conn, clock, org_type="technology")
        make_bank(conn, clock, owner, "SHARED_LIST", tlp="GREEN", default_classification="B1")
        make_bank(conn, clock, owner, "FALSE_POSITIVES", tlp="GREEN", negative=True)
        make_bank(conn, clock, other, "PRIVATE_LIST", tlp="AMBER+STRICT")
        (e_listed,) = add_entries(conn, clock, owner, "SHARED_LIST", [("pdq", listed)])
        add_entries(conn, clock, owner, "SHARED_LIST", [("pdq", negative_hash)])
        (e_neg,) = add_entries(conn, clock, owner, "FALSE_POSITIVES", [("pdq", negative_hash)])
        add_entries(conn, clock, other, "PRIVATE_LIST", [("pdq", private)])
        token = token_for(conn, clock, keys, caller)
    body = {
        "signals": [
            {"signal_type": "pdq", "signal": at_distance(listed, 7, rng).upper(), "quality": 90},
            {"signal_type": "pdq", "signal": negative_hash},
            {"signal_type": "pdq", "signal": private},
            {"signal_type": "photo_md5", "signal": "00" * 16},
        ]
    }
    response = client.post("/v1/match", json=body, headers=_h(token))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["signal_type"] for r in results] == ["pdq", "pdq", "pdq", "photo_md5"]
    first = results[0]["matches"]
    assert [(m["bank"], m["entry_id"], m["distance"], m["classification"]) for m in first] == [
        ("SHARED_LIST", e_listed, 7, "B1")
    ]
    assert first[0]["suppressed"] is False
    second = {m["bank"]: m for m in results[1]["matches"]}
    assert second["SHARED_LIST"]["suppressed"] is True
    assert second["FALSE_POSITIVES"]["negative"] is True
    assert second["FALSE_POSITIVES"]["entry_id"] == e_neg
    assert results[2]["matches"] == []  # a bank the caller may not read is not shown
    assert results[3]["matches"] == []
    # Every signal became a sighting of the caller's organisation.
    sid = results[0]["sighting_id"]
    one = client.get(f"/v1/match-sightings/{sid}", headers=_h(token))
    assert one.status_code == 200
    assert one.json()["org_id"] == caller.org_id
    assert one.json()["tlp"] == "AMBER+STRICT"
    assert [m["entry_id"] for m in one.json()["matches"]] == [e_listed]
    listed_sightings = client.get("/v1/match-sightings", headers=_h(token)).json()["items"]
    assert {s["id"] for s in listed_sightings} == {r["sighting_id"] for r in results}
    matched = client.get("/v1/match-sightings/count", params={"matched": True}, headers=_h(token))
    assert matched.json()["count"] == 2
    # The private bank's match is recorded, but shown to nobody who cannot read the bank.
    assert client.get("/v1/matches/count", headers=_h(token)).json()["count"] == 3
    with write(engine) as conn:
        owner_token = token_for(conn, clock, keys, owner)
    # The owner of the banks cannot read the caller's AMBER+STRICT sightings, so no match.
    assert client.get("/v1/matches/count", headers=_h(owner_token)).json()["count"] == 0
    assert client.get(f"/v1/match-sightings/{sid}", headers=_h(owner_token)).status_code == 404


def test_bad_signals_are_refused_by_position_and_change_nothing(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        caller = make_member(conn, clock, org_type="hotline")
        token = token_for(conn, clock, keys, caller)
    bad = {
        "signals": [
            {"signal_type": "pdq", "signal": "ab" * 32},
            {"signal_type": "pdq", "signal": "ab" * 31 + "a"},
        ]
    }
    response = client.post("/v1/match", json=bad, headers=_h(token))
    assert response.status_code == 422
    assert "signals[1].signal" in response.json()["detail"]
    assert "63" in response.json()["detail"]
    unknown = {"signals": [{"signal_type": "tmk", "signal": "ab"}]}
    response = client.post("/v1/match", json=unknown, headers=_h(token))
    assert response.status_code == 422
    assert "signals[0].signal_type" in response.json()["detail"]
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(sighting)).scalar_one() == 0


def test_status_reports_the_match_index_freshness(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, owner, "STATUS_LIST")
        add_entries(conn, clock, owner, "STATUS_LIST", [("pdq", "0f" * 32), ("pdq", "f0" * 32)])
        token = token_for(conn, clock, keys, owner)
    status = client.get("/status")
    assert status.status_code == 200, status.text
    index = status.json()["checks"]["match_index"]
    assert index["ok"] is True
    assert index["behind"] == 0
    assert index["entries"] == 2
    assert index["checkpoint"] == index["head"] >= 1
    assert index["age_seconds"] == 0
    mine = client.get("/v1/matcher/status", headers=_h(token)).json()
    assert mine["by_type"]["pdq"] == 2


def test_hma_lookup_and_add_signal_work_as_hma_clients_expect(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    rng = random.Random(12)
    known = random_pdq(rng)
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="technology")
        stranger = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, owner, "HMA_BANK", tlp="GREEN")
        (entry,) = add_entries(conn, clock, owner, "HMA_BANK", [("pdq", known)])
        token = token_for(conn, clock, keys, owner)
        stranger_token = token_for(conn, clock, keys, stranger)
    near = at_distance(known, 3, rng)
    found = client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": near}, headers=_h(token)
    )
    assert found.status_code == 200, found.text
    assert found.json() == {"HMA_BANK": [{"bank_content_id": entry, "distance": "3"}]}
    # Adding a signal, then looking it up: the matcher refreshes incrementally.
    fresh = random_pdq(rng)
    added = client.post("/c/bank/HMA_BANK/signal", json={"pdq": fresh}, headers=_h(token))
    assert added.status_code == 200, added.text
    assert added.json()["signals"] == {"pdq": fresh}
    again = client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": fresh}, headers=_h(token)
    )
    assert again.json() == {"HMA_BANK": [{"bank_content_id": added.json()["id"], "distance": "0"}]}
    # Narrowed to other banks: nothing.
    none = client.get(
        "/m/lookup",
        params={"signal_type": "pdq", "signal": fresh, "banks": "OTHER"},
        headers=_h(token),
    )
    assert none.json() == {}
    # Errors, as HMA gives them, and nothing changes.
    assert (
        client.get("/m/lookup", params={"signal_type": "pdq", "signal": fresh}).status_code == 401
    )
    assert client.post("/c/bank/HMA_BANK/signal", json={"pdq": fresh}).status_code == 401
    assert (
        client.post("/c/bank/NOPE/signal", json={"pdq": fresh}, headers=_h(token)).status_code
        == 404
    )
    bad = client.post("/c/bank/HMA_BANK/signal", json={"pdq": "xyz"}, headers=_h(token))
    assert bad.status_code == 400
    assert "Invalid pdq signal" in bad.json()["detail"]
    assert client.post("/c/bank/HMA_BANK/signal", json={}, headers=_h(token)).status_code == 400
    other = client.post(
        "/c/bank/HMA_BANK/signal", json={"pdq": random_pdq(rng)}, headers=_h(stranger_token)
    )
    assert other.status_code == 403
    bad_lookup = client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": "00"}, headers=_h(token)
    )
    assert bad_lookup.status_code == 400


def test_check_routes_accepts_state_changes_outside_v1_only_with_csrf_or_token_only() -> None:
    open_router = CordonRouter()

    @open_router.post("/c/thing", permission=Permission.BANK_WRITE)
    def change() -> None: ...

    app = FastAPI()
    app.include_router(open_router)
    with pytest.raises(RouteWithoutPermission, match="token_only"):
        check_routes(app)
    token_router = CordonRouter()

    @token_router.post("/c/thing", permission=Permission.BANK_WRITE, token_only=True)
    def change_with_token() -> None: ...

    app = FastAPI()
    app.include_router(token_router)
    check_routes(app)
    operation = app.openapi()["paths"]["/c/thing"]["post"]
    assert operation["x-token-only"] is True

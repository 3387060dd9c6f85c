"""Tokens: shown once, stored hashed, scoped, expiring, and revoked on the next request."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from cordon.clock import FrozenClock
from cordon.keys import Keys
from cordon.store.db import write
from cordon.store.tables import api_token
from support import make_member, token_for


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_stored_only_as_a_keyed_hash(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline")
        token = token_for(conn, clock, keys, member)
    with engine.connect() as conn:
        row = conn.execute(select(api_token)).one()
    from cordon.partners.credentials import parse_token

    parsed = parse_token(token)
    assert parsed is not None
    public_id, secret = parsed
    assert row.public_id == public_id
    assert secret.encode() not in bytes(row.secret_hash)
    assert len(bytes(row.secret_hash)) == 32
    assert client.get("/v1/me", headers=_bearer(token)).json()["user_id"] == member.user_id


def test_revocation_takes_effect_on_the_next_request(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline")
        token = token_for(conn, clock, keys, member)
    issued = client.post(
        "/v1/me/tokens", json={"name": "second", "days": 1}, headers=_bearer(token)
    )
    assert issued.status_code == 201
    second = issued.json()["token"]
    assert client.get("/v1/me", headers=_bearer(second)).status_code == 200
    gone = client.delete(f"/v1/me/tokens/{issued.json()['id']}", headers=_bearer(token))
    assert gone.status_code == 204
    assert client.get("/v1/me", headers=_bearer(second)).status_code == 401
    assert client.get("/v1/me", headers=_bearer(token)).status_code == 200


def test_an_expired_token_is_refused(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline")
        token = token_for(conn, clock, keys, member, days=1)
    assert client.get("/v1/me", headers=_bearer(token)).status_code == 200
    clock.advance(timedelta(days=1, seconds=1))
    assert client.get("/v1/me", headers=_bearer(token)).status_code == 401


def test_scopes_narrow_a_token_and_cannot_widen_it(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline", role="analyst")
        token = token_for(conn, clock, keys, member)
    narrow = client.post(
        "/v1/me/tokens",
        json={"name": "read only", "scopes": ["report:read"]},
        headers=_bearer(token),
    ).json()["token"]
    body = {"urls": ["https://a.example.test/"], "tlp": "GREEN"}
    assert client.post("/v1/reports", json=body, headers=_bearer(narrow)).status_code == 403
    assert client.get("/v1/reports", headers=_bearer(narrow)).status_code == 200
    wider = client.post(
        "/v1/me/tokens", json={"name": "x", "scopes": ["org:manage"]}, headers=_bearer(token)
    )
    assert wider.status_code == 422
    assert "beyond" in wider.json()["detail"]


def test_garbage_and_unknown_tokens_are_401(client: TestClient) -> None:
    for value in ["Bearer nope", "Bearer cdn_AAAAAAAAAAAAAAAA_" + "x" * 43, "Basic abc"]:
        response = client.get("/v1/me", headers={"Authorization": value})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")

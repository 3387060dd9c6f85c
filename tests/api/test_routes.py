"""Every route declares a permission, errors are problem documents, status tells readiness."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cordon.api.app import create_app
from cordon.api.routing import (
    PERMISSION_KEY,
    CordonRouter,
    RouteWithoutPermission,
    check_routes,
    operations,
)
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.permissions import Permission
from cordon.keys import Keys
from cordon.store.db import make_engine


def test_every_route_declares_a_known_permission(client: TestClient) -> None:
    ops = operations(client.app)  # type: ignore[arg-type]
    assert len(ops) >= 15
    known = {p.value for p in Permission}
    for method, path, op in ops:
        assert op.get(PERMISSION_KEY) in known, f"{method} {path}"


def test_a_route_without_permission_is_refused_at_start_up() -> None:
    app = FastAPI()

    @app.get("/v1/sneaky")
    def sneaky() -> dict[str, str]:
        return {}

    with pytest.raises(RouteWithoutPermission, match="/v1/sneaky"):
        check_routes(app)


def test_cordon_router_cannot_hide_a_route_from_the_document() -> None:
    router = CordonRouter()
    with pytest.raises(RouteWithoutPermission):
        router.get("/x", permission=Permission.PUBLIC, include_in_schema=False)


def test_protected_routes_refuse_anonymous_callers_with_a_problem(client: TestClient) -> None:
    for method, path, op in operations(client.app):  # type: ignore[arg-type]
        if op[PERMISSION_KEY] == Permission.PUBLIC.value:
            continue
        concrete = (
            path.replace("{report_id}", "1").replace("{org_id}", "1").replace("{token_id}", "x")
        )
        response = client.request(method, concrete)
        assert response.status_code == 401, f"{method} {path}"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 401


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/status/live").json() == {"status": "live"}
    ready = client.get("/status")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True


def test_readiness_is_503_on_an_unmigrated_database(
    settings: Settings, clock: FrozenClock, keys: Keys, tmp_path: object
) -> None:
    engine = make_engine("sqlite:///" + str(tmp_path) + "/empty.db")  # type: ignore[operator]
    app = create_app(settings, clock, engine, keys)
    with TestClient(app) as c:
        assert c.get("/status/live").status_code == 200
        response = c.get("/status")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["revision"] is None
    engine.dispose()


def test_oversized_bodies_are_refused_with_413(
    settings: Settings, clock: FrozenClock, engine: Engine, keys: Keys
) -> None:
    small = settings.model_copy(
        update={"api": settings.api.model_copy(update={"max_body_bytes": 2048})}
    )
    with TestClient(create_app(small, clock, engine, keys)) as c:
        response = c.post(
            "/v1/reports", content=b"x" * 4096, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["title"] == "Content Too Large"

        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(4):
                yield b"y" * 1024

        response = c.post(
            "/v1/reports", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413


def test_request_ids_are_echoed(client: TestClient) -> None:
    response = client.get("/status/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    response = client.get("/status/live", headers={"X-Request-ID": "bad id\n"})
    assert response.headers["x-request-id"] != "bad id\n"

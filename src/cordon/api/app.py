"""The application factory."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from cordon import __version__
from cordon.api import problems
from cordon.api.middleware import BodyLimit, RequestId
from cordon.api.routing import check_routes
from cordon.api.state import AppState
from cordon.clock import Clock
from cordon.config import Settings
from cordon.keys import Keys


def create_app(settings: Settings, clock: Clock, engine: Engine, keys: Keys) -> FastAPI:
    """Build the API. Raises if any route lacks a declared permission."""
    from cordon.api.routes import (
        attributions,
        audit,
        banks,
        captures,
        cases,
        hma,
        match,
        me,
        money,
        networks,
        notices,
        orgs,
        outcomes,
        reports,
        search,
        status,
        work,
    )
    from cordon.matching.service import readiness_probe

    app = FastAPI(
        title="Cordon",
        version=__version__,
        description="Cordon's API. Every route names the permission it needs (x-permission); "
        "errors are RFC 9457 problem documents.",
        # The interactive page would load its scripts from a CDN; the OpenAPI document and
        # docs/api.md describe every route instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.cordon = AppState(settings=settings, clock=clock, engine=engine, keys=keys)
    app.state.readiness_probes = {}
    problems.install(app)
    routers = (
        status.router,
        me.router,
        orgs.router,
        orgs.groups_router,
        reports.router,
        audit.router,
        work.router,
        money.router,
        notices.router,
        captures.router,
        attributions.router,
        banks.router,
        match.router,
        hma.router,
        networks.router,
        cases.router,
        cases.hits_router,
        search.router,
        outcomes.router,
    )
    for router in routers:
        app.include_router(router)
    app.state.readiness_probes["match_index"] = readiness_probe(engine, clock, settings)
    # The console shares the application, so that `cordon serve` serves both.
    from cordon.web import console

    console.install(app)
    check_routes(app)
    app.add_middleware(BodyLimit, limit=settings.api.max_body_bytes)
    app.add_middleware(RequestId)
    return app

"""Mounting the console on the application: its pages, sessions, error pages and headers."""

from __future__ import annotations

from fastapi import FastAPI

from cordon.api.state import AppState
from cordon.web import errors
from cordon.web.security import SecurityHeaders
from cordon.web.session import SessionMiddleware


def install(app: FastAPI) -> None:
    """Add the console to ``app``, whose ``state.cordon`` is already set. The application's
    route walk (:func:`cordon.api.routing.check_routes`) checks its pages with the API's."""
    from cordon.web.pages import (
        account,
        audit,
        auth,
        banks,
        cases,
        dashboard,
        money,
        networks,
        notices,
        partners,
        reports,
        static,
        urls,
    )

    for module in (
        auth,
        dashboard,
        reports,
        urls,
        networks,
        cases,
        banks,
        money,
        notices,
        partners,
        audit,
        account,
        static,
    ):
        app.include_router(module.router)
    errors.install(app)
    state = app.state.cordon
    assert isinstance(state, AppState)
    app.add_middleware(SessionMiddleware, state=state)
    app.add_middleware(SecurityHeaders, https=state.settings.api.secure_cookies)

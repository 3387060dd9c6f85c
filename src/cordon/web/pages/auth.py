"""Logging in and out, and choosing which organisation to act for."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.partners import repo as partners
from cordon.web import repo
from cordon.web.errors import safe_next
from cordon.web.routing import ConsoleRouter
from cordon.web.session import (
    clear_session_cookie,
    cookie_names,
    new_login_nonce,
    set_login_cookie,
    set_session_cookie,
    web_session_of,
)
from cordon.web.templating import render

router = ConsoleRouter()


def _login_page(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    status: int | None = None,
    retry_after: int | None = None,
) -> Response:
    state = app_state(request)
    name = cookie_names(state.settings.api.secure_cookies).login
    nonce = request.cookies.get(name) or new_login_nonce()
    response = render(
        request,
        "login.html",
        {"next": next_path, "email": email, "error": error},
        status=status or (403 if error else 200),
        login_nonce=nonce,
    )
    if retry_after is not None:
        response.headers["retry-after"] = str(retry_after)
    set_login_cookie(response, state, nonce)
    return response


@router.get("/login", permission=Permission.PUBLIC, summary="Console: the login page")
def login_form(request: Request, next: str | None = None) -> Response:
    if web_session_of(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post(
    "/login",
    permission=Permission.PUBLIC,
    summary="Console: log in with e-mail address and password",
)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """A new session for an active member with this e-mail address and password, acting for
    the organisation of its first membership. Refusals are audited and say nothing about which
    part was wrong. After too many refusals for one account or from one client address
    (``api.login_max_failures_per_account``, ``api.login_max_failures_per_address`` within
    ``api.login_lockout_seconds``) logins are refused with 429 until the window has passed."""
    state = app_state(request)
    actor = actor_of(request, None)
    target = safe_next(next)
    api = state.settings.api
    with state.read() as conn:
        lockout = repo.login_lockout(
            conn,
            state.clock,
            email=email,
            client_ip=actor.client_ip,
            window=timedelta(seconds=api.login_lockout_seconds),
            max_per_account=api.login_max_failures_per_account,
            max_per_address=api.login_max_failures_per_address,
        )
    if lockout is not None:
        # The password is not even checked: a locked-out guesser learns nothing.
        with state.write() as conn:
            repo.record_refused_login(conn, state.clock, actor, email, repo.LOCKED_OUT)
        minutes = max(1, math.ceil((lockout.until - state.clock.now()).total_seconds() / 60))
        whose = "this account" if lockout.scope == "account" else "your address"
        return _login_page(
            request,
            next_path=target,
            email=email,
            error=f"Too many failed logins for {whose}. Logging in is locked for "
            f"{minutes} more minute{'' if minutes == 1 else 's'}; try again after that.",
            status=429,
            retry_after=max(1, math.ceil((lockout.until - state.clock.now()).total_seconds())),
        )
    with state.read() as conn:
        user = partners.authenticate_password(conn, email, password) if email else None
        memberships = partners.memberships(conn, user.id) if user is not None else []
    if user is None or not memberships:
        with state.write() as conn:
            reason = repo.BAD_CREDENTIALS if user is None else "no active membership"
            repo.record_refused_login(conn, state.clock, actor, email, reason)
        return _login_page(
            request,
            next_path=target,
            email=email,
            error="Those credentials do not open a session.",
        )
    previous = web_session_of(request)
    with state.write() as conn:
        if previous is not None:
            # A login replaces the browser's session; the one it held ends.
            repo.end_session(conn, state.clock, actor, previous.id)
        secret, _ = repo.start_session(
            conn,
            state.clock,
            actor,
            state.keys.session_key,
            user_id=user.id,
            org_id=memberships[0].org_id,
            lifetime=timedelta(seconds=state.settings.api.session_max_age_seconds),
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, state, secret)
    return response


@router.post("/logout", permission=Permission.PUBLIC, summary="Console: log out")
def logout(request: Request) -> Response:
    """End the session on the server, so that its cookie opens nothing anywhere."""
    state = app_state(request)
    session = web_session_of(request)
    if session is not None:
        principal = getattr(request.state, "session_principal", None)
        with state.write() as conn:
            repo.end_session(conn, state.clock, actor_of(request, principal), session.id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, state)
    return response


@router.post(
    "/session/organisation",
    permission=Permission.SELF_READ,
    summary="Console: act for another of your organisations",
)
def switch_organisation(
    request: Request,
    principal: CurrentPrincipal,
    org_id: Annotated[int, Form()],
) -> Response:
    state = app_state(request)
    session = web_session_of(request)
    if session is None:
        raise Problem(400, "only a console session can switch organisation")
    try:
        with state.write() as conn:
            repo.switch_organisation(
                conn, state.clock, actor_of(request, principal), session, org_id
            )
    except partners.NotFound:
        raise Problem(403, "you are not an active member of that organisation") from None
    return RedirectResponse("/", status_code=303)

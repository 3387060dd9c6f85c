"""The member's own account: who they are, their password, and their API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.partners import repo as partners
from cordon.web import repo
from cordon.web.routing import ConsoleRouter
from cordon.web.session import set_session_cookie, web_session_of
from cordon.web.templating import render

router = ConsoleRouter()


def _account_page(
    request: Request,
    principal: Principal,
    *,
    error: str | None = None,
    changed: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "account.html",
        {
            "permissions": sorted(principal.permissions),
            "error": error,
            "changed": changed,
        },
        status=status,
    )


@router.get("/account", permission=Permission.SELF_READ, summary="Console: your account")
def account(request: Request, principal: CurrentPrincipal, changed: str = "") -> Response:
    return _account_page(request, principal, changed=changed == "1")


@router.post(
    "/account/password",
    permission=Permission.SELF_READ,
    summary="Console: change your password; every other session of yours ends",
)
def change_password(
    request: Request,
    principal: CurrentPrincipal,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    repeat: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    state = app_state(request)
    session = web_session_of(request)
    if session is None:
        raise Problem(400, "a password is changed from a console session")
    if new != repeat:
        return _account_page(
            request, principal, error="The new password and its repetition differ.", status=422
        )
    with state.read() as conn:
        email = repo.user_email(conn, principal.user_id)
        if partners.authenticate_password(conn, email, current) is None:
            return _account_page(
                request, principal, error="The current password is not right.", status=422
            )
    actor = actor_of(request, principal)
    try:
        with state.write() as conn:
            partners.set_password(conn, state.clock, actor, principal.user_id, new)
            repo.end_user_sessions(conn, state.clock, actor, principal.user_id)
            secret, _ = repo.start_session(
                conn,
                state.clock,
                actor,
                state.keys.session_key,
                user_id=principal.user_id,
                org_id=principal.org_id,
                lifetime=timedelta(seconds=state.settings.api.session_max_age_seconds),
            )
    except partners.PartnerError as exc:
        return _account_page(request, principal, error=str(exc), status=422)
    response = RedirectResponse("/account?changed=1", status_code=303)
    set_session_cookie(response, state, secret)
    return response


# --- tokens -------------------------------------------------------------------------------------


def _tokens_page(
    request: Request,
    principal: Principal,
    *,
    issued: tuple[str, partners.TokenInfo] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    state = app_state(request)
    with state.read() as conn:
        tokens = partners.list_tokens(conn, user_id=principal.user_id, org_id=principal.org_id)
    now = state.clock.now()
    return render(
        request,
        "tokens.html",
        {
            "tokens": [
                {
                    "info": t,
                    "status": "revoked"
                    if t.revoked_at is not None
                    else ("expired" if t.expires_at <= now else "active"),
                }
                for t in reversed(tokens)
            ],
            "scopes": sorted(principal.permissions - {Permission.PUBLIC.value}),
            "issued": issued,
            "error": error,
        },
        status=status,
    )


@router.get(
    "/account/tokens", permission=Permission.TOKEN_MANAGE, summary="Console: your API tokens"
)
def tokens(request: Request, principal: CurrentPrincipal) -> Response:
    return _tokens_page(request, principal)


@router.post(
    "/account/tokens",
    permission=Permission.TOKEN_MANAGE,
    summary="Console: issue an API token for yourself (shown once)",
)
def issue_token(
    request: Request,
    principal: CurrentPrincipal,
    name: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[str, Form(max_length=10)] = "90",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The token's plaintext is on this one page and never again."""
    if not name.strip():
        return _tokens_page(request, principal, error="Give the token a name.", status=422)
    if not days.isdigit() or not 1 <= int(days) <= 366:
        return _tokens_page(
            request, principal, error="A token lives from 1 to 366 days.", status=422
        )
    state = app_state(request)
    try:
        with state.write() as conn:
            plaintext, info = partners.create_token(
                conn,
                state.clock,
                actor_of(request, principal),
                state.keys.token_hash_key,
                user_id=principal.user_id,
                org_id=principal.org_id,
                name=name.strip(),
                scopes=scopes if scopes else sorted(principal.permissions),
                lifetime=timedelta(days=int(days)),
            )
    except partners.PartnerError as exc:
        return _tokens_page(request, principal, error=str(exc), status=422)
    return _tokens_page(request, principal, issued=(plaintext, info), status=201)


@router.post(
    "/account/tokens/{token_id}/revoke",
    permission=Permission.TOKEN_MANAGE,
    summary="Console: revoke one of your API tokens; effective on its next use",
)
def revoke_token(token_id: str, request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    with state.read() as conn:
        mine = {t.public_id for t in partners.list_tokens(conn, user_id=principal.user_id)}
    if token_id not in mine:
        raise Problem(404, f"no token with id {token_id}")
    with state.write() as conn:
        partners.revoke_token(
            conn, state.clock, actor_of(request, principal), token_id, org_id=None
        )
    return RedirectResponse("/account/tokens", status_code=303)

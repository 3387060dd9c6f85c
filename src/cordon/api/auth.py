"""Who is calling: bearer tokens (``Authorization: Bearer cdn_…``) checked on every request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from cordon.api.problems import Problem
from cordon.api.state import app_state
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.partners import repo as partners

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cordon"'}


def current_principal(request: Request) -> Principal:
    """The authenticated principal, or a 401 problem."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    state = app_state(request)
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    principal: Principal | None = None
    if scheme.lower() == "bearer" and credential:
        with state.read() as conn:
            principal = partners.resolve_token(
                conn, state.clock, state.keys.token_hash_key, credential
            )
        if principal is None:
            raise Problem(401, "the token is unknown, expired or revoked", headers=_CHALLENGE)
    else:
        session_principal = getattr(request.state, "session_principal", None)
        if isinstance(session_principal, Principal):
            principal = session_principal
    if principal is None:
        raise Problem(
            401, "authentication required: send Authorization: Bearer <token>", headers=_CHALLENGE
        )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency admitting only principals that hold ``permission``."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission.value):
            raise Problem(403, f"this action needs the permission {permission.value}")
        return principal

    check.__name__ = f"require_{permission.name.lower()}"
    return check

"""The caller's own identity and tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.partners import repo as partners

router = CordonRouter(prefix="/v1", tags=["me"])


@router.get("/me", permission=Permission.SELF_READ, summary="Who the caller is")
def me(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        org = partners.get_org(conn, principal.org_id)
    return {
        "user_id": principal.user_id,
        "organisation": {
            "id": org.id,
            "name": org.name,
            "type": org.type.value,
            "country": org.country,
        },
        "role": principal.role.value,
        "permissions": sorted(principal.permissions),
        "token_id": principal.token_id,
    }


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="What the token is for")
    scopes: list[str] | None = Field(
        None, description="Permissions to keep (default: all of your role's)"
    )
    days: int = Field(90, ge=1, le=366, description="Lifetime in days")


def _token_json(info: partners.TokenInfo) -> dict[str, Any]:
    def iso(d: datetime | None) -> str | None:
        return None if d is None else d.isoformat().replace("+00:00", "Z")

    return {
        "id": info.public_id,
        "name": info.name,
        "scopes": info.scopes,
        "created_at": iso(info.created_at),
        "expires_at": iso(info.expires_at),
        "revoked_at": iso(info.revoked_at),
    }


@router.post(
    "/me/tokens",
    permission=Permission.TOKEN_MANAGE,
    status_code=201,
    summary="Issue an API token for yourself (shown once)",
)
def create_token(body: TokenIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
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
                name=body.name,
                scopes=body.scopes if body.scopes is not None else sorted(principal.permissions),
                lifetime=timedelta(days=body.days),
            )
    except partners.PartnerError as exc:
        raise Problem(422, str(exc)) from None
    return {**_token_json(info), "token": plaintext}


@router.get("/me/tokens", permission=Permission.TOKEN_MANAGE, summary="Your tokens")
def list_tokens(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        tokens = partners.list_tokens(conn, user_id=principal.user_id, org_id=principal.org_id)
    return {"items": [_token_json(t) for t in tokens]}


@router.delete(
    "/me/tokens/{token_id}",
    permission=Permission.TOKEN_MANAGE,
    status_code=204,
    summary="Revoke one of your tokens; effective on its next use",
)
def revoke_token(token_id: str, request: Request, principal: CurrentPrincipal) -> None:
    state = app_state(request)
    with state.read() as conn:
        mine = {t.public_id for t in partners.list_tokens(conn, user_id=principal.user_id)}
    if token_id not in mine:
        raise not_found("token", token_id)
    with state.write() as conn:
        partners.revoke_token(
            conn, state.clock, actor_of(request, principal), token_id, org_id=None
        )

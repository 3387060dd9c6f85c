"""The coalition's organisations and their members."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.partners import OrgType
from cordon.domain.permissions import Permission
from cordon.partners import repo as partners

router = CordonRouter(prefix="/v1/orgs", tags=["organisations"])


def _org_json(org: partners.Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "type": org.type.value,
        "country": org.country,
        "active": org.active,
    }


@router.get("", permission=Permission.ORG_READ, summary="The coalition's organisations")
def list_orgs(request: Request) -> dict[str, Any]:
    """The member directory: names, types and countries, which every member may know in
    order to share records and to know whom to contact."""
    state = app_state(request)
    with state.read() as conn:
        return {"items": [_org_json(o) for o in partners.list_orgs(conn)]}


@router.get("/{org_id}", permission=Permission.ORG_READ, summary="One organisation")
def get_org(org_id: int, request: Request) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        try:
            return _org_json(partners.get_org(conn, org_id))
        except partners.NotFound:
            raise not_found("organisation", org_id) from None


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    type: OrgType
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")


@router.post(
    "",
    permission=Permission.ORG_MANAGE,
    status_code=201,
    summary="Admit an organisation to the coalition (coordinator)",
)
def create_org(body: OrgIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            org = partners.create_org(
                conn,
                state.clock,
                actor_of(request, principal),
                body.name,
                body.type.value,
                body.country,
            )
    except partners.PartnerError as exc:
        raise Problem(422, str(exc)) from None
    return _org_json(org)


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    display_name: str = Field("", max_length=200)
    role: str = Field(description="admin, analyst or viewer")
    password: str | None = Field(None, description="At least 12 characters; omit for API-only")


@router.post(
    "/{org_id}/members",
    permission=Permission.USER_MANAGE,
    status_code=201,
    summary="Add a member to an organisation (its admins, or a coordinator admin)",
)
def add_member(
    org_id: int,
    body: MemberIn,
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    if org_id != principal.org_id and not principal.can(Permission.ORG_MANAGE.value):
        raise not_found("organisation", org_id)
    state = app_state(request)
    actor = actor_of(request, principal)
    try:
        with state.write() as conn:
            partners.get_org(conn, org_id)
            try:
                user = partners.find_user(conn, body.email)
            except partners.NotFound:
                user = partners.create_user(
                    conn, state.clock, actor, body.email, body.display_name, body.password
                )
            partners.add_membership(conn, state.clock, actor, user.id, org_id, body.role)
    except partners.NotFound:
        raise not_found("organisation", org_id) from None
    except partners.PartnerError as exc:
        raise Problem(422, str(exc)) from None
    return {"user_id": user.id, "email": user.email, "org_id": org_id, "role": body.role}


groups_router = CordonRouter(prefix="/v1/sharing-groups", tags=["organisations"])


def _group_json(g: partners.SharingGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "owner_org_id": g.owner_org_id,
        "member_org_ids": g.member_org_ids,
    }


@groups_router.get("", permission=Permission.ORG_READ, summary="Your organisation's sharing groups")
def list_groups(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        return {"items": [_group_json(g) for g in partners.sharing_groups(conn, principal.org_id)]}


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    member_org_ids: list[int] = Field(default_factory=list)


@groups_router.post(
    "",
    permission=Permission.USER_MANAGE,
    status_code=201,
    summary="Create a sharing group of organisations to share AMBER records with",
)
def create_group(body: GroupIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    actor = actor_of(request, principal)
    try:
        with state.write() as conn:
            group = partners.create_sharing_group(
                conn, state.clock, actor, principal.org_id, body.name
            )
            for org_id in dict.fromkeys(body.member_org_ids):
                partners.add_to_sharing_group(
                    conn, state.clock, actor, group.id, org_id, owner_org_id=principal.org_id
                )
            (made,) = [
                g for g in partners.sharing_groups(conn, principal.org_id) if g.id == group.id
            ]
    except partners.NotFound as exc:
        raise Problem(422, str(exc)) from None
    except partners.PartnerError as exc:
        raise Problem(422, str(exc)) from None
    return _group_json(made)


class GroupMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: int


@groups_router.post(
    "/{group_id}/members",
    permission=Permission.USER_MANAGE,
    status_code=204,
    summary="Add an organisation to one of your sharing groups",
)
def add_group_member(
    group_id: int, body: GroupMemberIn, request: Request, principal: CurrentPrincipal
) -> None:
    state = app_state(request)
    try:
        with state.write() as conn:
            partners.add_to_sharing_group(
                conn,
                state.clock,
                actor_of(request, principal),
                group_id,
                body.org_id,
                owner_org_id=principal.org_id,
            )
    except partners.NotFound as exc:
        if f"id {group_id}" in str(exc) and "sharing group" in str(exc):
            raise not_found("sharing group", group_id) from None
        raise Problem(422, str(exc)) from None

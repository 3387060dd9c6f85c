"""Partners: the coalition's directory; coordinators admit organisations; admins add members.

The rules are the API's: every member may read the directory (``org:read``), a coordinator admin
admits organisations (``org:manage``), and an organisation's admins (``user:manage``) manage its
own members, which a coordinator admin may do for any organisation.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.permissions import Permission
from cordon.partners import repo as partners
from cordon.web import repo
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render

router = ConsoleRouter()


def _directory(
    request: Request,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    with app_state(request).read() as conn:
        orgs = partners.list_orgs(conn)
    return render(
        request,
        "partners/list.html",
        {
            "orgs": orgs,
            "may_admit": principal.can(Permission.ORG_MANAGE.value),
            "org_types": [t.value for t in OrgType],
            "form": form or {"name": "", "type": "", "country": ""},
            "error": error,
        },
        status=status,
    )


@router.get(
    "/partners", permission=Permission.ORG_READ, summary="Console: the coalition's partners"
)
def directory(request: Request, principal: CurrentPrincipal) -> Response:
    return _directory(request, principal)


@router.post(
    "/partners",
    permission=Permission.ORG_MANAGE,
    summary="Console: admit an organisation to the coalition (coordinator)",
)
def admit(
    request: Request,
    principal: CurrentPrincipal,
    name: Annotated[str, Form(max_length=200)] = "",
    type: Annotated[str, Form(max_length=40)] = "",
    country: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    state = app_state(request)
    try:
        with state.write() as conn:
            org = partners.create_org(
                conn, state.clock, actor_of(request, principal), name, type, country
            )
    except partners.PartnerError as exc:
        form = {"name": name, "type": type, "country": country}
        return _directory(request, principal, form=form, error=str(exc), status=422)
    return RedirectResponse(f"/partners/{org.id}", status_code=303)


def _may_manage(principal: Principal, org_id: int) -> bool:
    if principal.can(Permission.ORG_MANAGE.value):
        return True
    return principal.org_id == org_id and principal.can(Permission.USER_MANAGE.value)


def _org_page(
    request: Request,
    principal: Principal,
    org_id: int,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    may_manage = _may_manage(principal, org_id)
    with app_state(request).read() as conn:
        try:
            org = partners.get_org(conn, org_id)
        except partners.NotFound:
            raise Problem(404, f"no organisation with id {org_id}") from None
        members = repo.members_of(conn, org_id) if may_manage else []
    context: dict[str, Any] = {
        "org": org,
        "may_manage": may_manage,
        "members": members,
        "roles": [r.value for r in Role],
        "form": form or {"email": "", "display_name": "", "role": "analyst"},
        "error": error,
    }
    return render(request, "partners/org.html", context, status=status)


@router.get(
    "/partners/{org_id}", permission=Permission.ORG_READ, summary="Console: one organisation"
)
def organisation(org_id: int, request: Request, principal: CurrentPrincipal) -> Response:
    return _org_page(request, principal, org_id)


@router.post(
    "/partners/{org_id}/members",
    permission=Permission.USER_MANAGE,
    summary="Console: add a member to an organisation (its admins, or a coordinator admin)",
)
def add_member(
    org_id: int,
    request: Request,
    principal: CurrentPrincipal,
    email: Annotated[str, Form(max_length=320)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """A new user (or an existing one) becomes a member with ``role``; without a password the
    account is for API tokens only."""
    if not _may_manage(principal, org_id):
        raise Problem(404, f"no organisation with id {org_id}")
    state = app_state(request)
    actor = actor_of(request, principal)
    form = {"email": email, "display_name": display_name, "role": role}
    try:
        with state.write() as conn:
            partners.get_org(conn, org_id)
            try:
                user = partners.find_user(conn, email)
            except partners.NotFound:
                user = partners.create_user(
                    conn, state.clock, actor, email, display_name, password or None
                )
            partners.add_membership(conn, state.clock, actor, user.id, org_id, role)
    except partners.NotFound:
        raise Problem(404, f"no organisation with id {org_id}") from None
    except partners.PartnerError as exc:
        return _org_page(request, principal, org_id, form=form, error=str(exc), status=422)
    return RedirectResponse(f"/partners/{org_id}", status_code=303)

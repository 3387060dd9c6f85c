"""Cases and deconfliction hits.

Cases come through the cases feature's own reads (:mod:`cordon.cases.repo`), which show a case
only to its member organisations and audit every read with the case as its purpose; a
deconfliction hit is shown as the member's side learns it (:mod:`cordon.cases.deconfliction`):
its own case, the kind of overlap, and whom to contact, nothing more.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.cases import deconfliction
from cordon.cases import repo as cases
from cordon.domain.permissions import Permission
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render

router = ConsoleRouter()

PAGE_SIZE = 50
STATUSES = ("open", "suspended", "closed")
#: Subject and overlap kinds that are names on the internet: shown defanged.
NAMED_KINDS = frozenset({"domain", "url", "site", "host"})


@router.get("/cases", permission=Permission.CASE_READ, summary="Console: the cases you may read")
def list_cases(
    request: Request,
    principal: CurrentPrincipal,
    status: str = "",
    mine: str = "",
    before_id: int | None = None,
) -> Response:
    errors: dict[str, str] = {}
    if status and status not in STATUSES:
        errors["status"] = f"{status!r} is not a status; use {', '.join(STATUSES)}"
    items: list[cases.Case] = []
    total = 0
    if not errors:
        wanted = cases.CaseFilter(status=status or None, mine=bool(mine))
        state = app_state(request)
        with state.write() as conn:
            items = cases.list_page(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                wanted,
                limit=PAGE_SIZE,
                before_id=before_id,
            )
            total = cases.count(conn, principal, wanted)
    return render(
        request,
        "cases/list.html",
        {
            "items": items,
            "total": total,
            "errors": errors,
            "status": status,
            "mine": bool(mine),
            "statuses": STATUSES,
            "me_org": principal.org_id,
            "older": items[-1].id if len(items) == PAGE_SIZE else None,
        },
    )


@router.get(
    "/cases/{case_id}",
    permission=Permission.CASE_READ,
    summary="Console: one case with its members, subjects, notes and deconfliction hits",
)
def case_page(case_id: int, request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    actor = actor_of(request, principal, cases.purpose(case_id))
    context: dict[str, Any] = {"named": NAMED_KINDS}
    try:
        with state.write() as conn:
            context["case"] = cases.get(conn, state.clock, principal, actor, case_id)
            context["participants"] = cases.participants_of(conn, case_id)
            context["subjects"] = cases.subjects_of(conn, case_id)
            context["notes"] = cases.notes_of(conn, case_id)
            context["hits"] = (
                deconfliction.list_hits(conn, state.clock, principal, actor, case_id=case_id)
                if principal.can(Permission.DECONFLICTION_READ.value)
                else None
            )
    except cases.NotFound:
        raise Problem(404, f"no case with id {case_id}") from None
    return render(request, "cases/detail.html", context)


@router.get(
    "/deconfliction",
    permission=Permission.DECONFLICTION_READ,
    summary="Console: deconfliction hits that concern your organisation",
)
def list_hits(request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    with state.write() as conn:
        hits = deconfliction.list_hits(
            conn, state.clock, principal, actor_of(request, principal), limit=PAGE_SIZE
        )
    return render(request, "cases/hits.html", {"hits": hits, "named": NAMED_KINDS})

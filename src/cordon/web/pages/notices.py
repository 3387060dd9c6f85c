"""Notices: each organisation's inbox (a payment provider's alerts, a host's notices, a
coordinator's escalations), answering a notice, and where the coalition's notices stand.

A notice is read by its recipient organisation only: the inbox and a notice's page come through
the notice engine's own reads, and answers go through its ``answer()``. The overview is made of
aggregates (how many notices per recipient, and where they stand), within the same scope as the
money metrics: an addressee-only organisation counts only its own.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.notices import repo as notices
from cordon.notices.kinds import KINDS, get_kind
from cordon.notices.policy import NoticePolicy
from cordon.notices.states import OPEN, State, TransitionError
from cordon.web import repo
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render, render_fragment

router = ConsoleRouter()

PAGE_SIZE = 50


def _filter(
    kind: str, state: str, open_only: bool, unread: bool, errors: dict[str, str]
) -> notices.NoticeFilter:
    if kind and kind not in KINDS:
        errors["kind"] = f"{kind!r} is not a kind of notice; known: {', '.join(sorted(KINDS))}"
    parsed: State | None = None
    if state:
        try:
            parsed = State(state)
        except ValueError:
            errors["state"] = f"{state!r} is not a state; use {', '.join(s.value for s in State)}"
    return notices.NoticeFilter(
        kind=kind or None, state=parsed, open_only=open_only, unread_only=unread
    )


@router.get("/inbox", permission=Permission.NOTICE_READ, summary="Console: your inbox")
def inbox(
    request: Request,
    principal: CurrentPrincipal,
    kind: str = "",
    state: str = "",
    open: str = "",
    unread: str = "",
    before_id: int | None = None,
) -> Response:
    """The notices addressed to your organisation, newest first, with how many stand where."""
    errors: dict[str, str] = {}
    wanted = _filter(kind, state, bool(open), bool(unread), errors)
    app = app_state(request)
    items: list[notices.Notice] = []
    total = 0
    per_state: list[dict[str, Any]] = []
    unread_count = 0
    if not errors:
        with app.write() as conn:
            items = notices.list_page(
                conn,
                app.clock,
                principal,
                actor_of(request, principal),
                wanted,
                limit=PAGE_SIZE,
                before_id=before_id,
            )
            total = notices.count(conn, principal, wanted)
            for s in State:
                per_state.append(
                    {
                        "label": s.value,
                        "value": notices.count(
                            conn, principal, notices.NoticeFilter(kind=kind or None, state=s)
                        ),
                    }
                )
            unread_count = notices.count(
                conn, principal, notices.NoticeFilter(kind=kind or None, unread_only=True)
            )
    base = {
        k: v
        for k, v in (
            ("kind", kind),
            ("state", state),
            ("open", "1" if open else ""),
            ("unread", "1" if unread else ""),
        )
        if v
    }
    context = {
        "items": items,
        "total": total,
        "per_state": per_state,
        "unread_count": unread_count,
        "errors": errors,
        "kinds": sorted(KINDS),
        "states": [s.value for s in State],
        "f": {"kind": kind, "state": state, "open": bool(open), "unread": bool(unread)},
        "older": urlencode({**base, "before_id": items[-1].id})
        if len(items) == PAGE_SIZE
        else None,
        "first_page": urlencode(base) if before_id is not None else None,
    }
    if request.headers.get("hx-target") == "inbox-results":
        return render_fragment("notices/_inbox.html", context)
    return render(request, "notices/inbox.html", context)


def _notice_page(
    request: Request,
    principal: Principal,
    notice_id: int,
    *,
    error: str | None = None,
    answered: bool = False,
    status: int = 200,
) -> Response:
    app = app_state(request)
    with app.write() as conn:
        found = notices.get(conn, app.clock, principal, actor_of(request, principal), notice_id)
        if found is None:
            raise Problem(404, f"no notice with id {notice_id}")
        history = notices.events(conn, notice_id)
        deliveries = notices.deliveries(conn, notice_id)
    kind = get_kind(found.kind)
    return render(
        request,
        "notices/detail.html",
        {
            "n": found,
            "kind": kind,
            "history": history,
            "deliveries": deliveries,
            "may_answer": found.state in OPEN and principal.can(Permission.NOTICE_ANSWER.value),
            "error": error,
            "answered": answered,
        },
        status=status,
    )


@router.get(
    "/inbox/{notice_id}",
    permission=Permission.NOTICE_READ,
    summary="Console: one notice addressed to your organisation (marks it read)",
)
def notice_detail(
    notice_id: int, request: Request, principal: CurrentPrincipal, answered: str = ""
) -> Response:
    return _notice_page(request, principal, notice_id, answered=answered == "1")


@router.post(
    "/inbox/{notice_id}/answer",
    permission=Permission.NOTICE_ANSWER,
    summary="Console: answer a notice addressed to your organisation",
)
def answer_notice(
    notice_id: int,
    request: Request,
    principal: CurrentPrincipal,
    answer: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Through the notice engine's ``answer()``: the answers are the notice kind's own."""
    app = app_state(request)
    if not answer:
        return _notice_page(request, principal, notice_id, error="Choose an answer.", status=422)
    try:
        with app.write() as conn:
            notices.answer(
                conn,
                app.clock,
                principal,
                actor_of(request, principal),
                NoticePolicy.from_settings(app.settings),
                notice_id,
                answer,
                note.strip() or None,
            )
    except notices.NotFound:
        raise Problem(404, f"no notice with id {notice_id}") from None
    except (notices.NoticeError, TransitionError) as exc:
        return _notice_page(request, principal, notice_id, error=str(exc), status=409)
    return RedirectResponse(f"/inbox/{notice_id}?answered=1", status_code=303)


@router.get(
    "/notices",
    permission=Permission.NOTICE_READ,
    summary="Console: where notices stand (sent, awaiting an answer, overdue, closed)",
)
def overview(request: Request, principal: CurrentPrincipal) -> Response:
    """Aggregates per recipient organisation and kind of notice; an addressee-only
    organisation sees only its own."""
    app = app_state(request)
    with app.read() as conn:
        tallies = repo.notice_tallies(conn, principal)
    totals = {
        name: sum(getattr(t, name) for t in tallies)
        for name in ("total", "awaiting", "overdue", "escalated")
    }
    # The states that occur, in the engine's order, each a column of the table.
    seen = {state for t in tallies for state in t.by_state}
    states = [s.value for s in State if s.value in seen]
    closed = sum(t.by_state.get(State.CLOSED.value, 0) for t in tallies)
    return render(
        request,
        "notices/overview.html",
        {
            "tallies": tallies,
            "totals": totals,
            "states": states,
            "closed": closed,
            "settings": app.settings.notices,
        },
    )

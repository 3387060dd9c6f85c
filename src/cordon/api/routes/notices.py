"""The inbox: notices addressed to your organisation, answers, and where else they are sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.notices import links
from cordon.notices import repo as notices
from cordon.notices.kinds import KINDS
from cordon.notices.policy import NoticePolicy
from cordon.notices.states import State, TransitionError

router = CordonRouter(prefix="/v1/notices", tags=["notices"])


def _problem(exc: notices.NoticeError | TransitionError) -> Problem:
    if isinstance(exc, notices.NotFound):
        return Problem(404, str(exc))
    if isinstance(exc, TransitionError):
        return Problem(409, str(exc))
    errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
    return Problem(422, str(exc), errors=errors)


def _filter(
    kind: str | None, state: str | None, open_only: bool, unread: bool
) -> notices.NoticeFilter:
    if kind is not None and kind not in KINDS:
        raise Problem(
            422,
            f"unknown notice kind {kind!r}; known: {', '.join(sorted(KINDS))}",
            errors=[{"field": "kind", "message": "unknown"}],
        )
    parsed: State | None = None
    if state is not None:
        try:
            parsed = State(state)
        except ValueError:
            raise Problem(
                422,
                f"unknown state {state!r}; use one of {', '.join(s.value for s in State)}",
                errors=[{"field": "state", "message": "unknown"}],
            ) from None
    return notices.NoticeFilter(kind=kind, state=parsed, open_only=open_only, unread_only=unread)


# ------------------------------------------------------------------------------ signed links
# A partner outside the coalition answers through the link in its e-mail: no login, the token
# is the proof (HMAC-signed by Cordon, naming one notice, one answer and an expiry). GET shows
# what the link will do (or, for a view link, the notice's URLs and where each stands); POST
# with the same token does it. Both live under /v1, where no console CSRF check applies.


class RespondIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=400)
    note: str | None = Field(None, max_length=2000)


def _claim(request: Request, token: str) -> links.LinkClaim:
    app = app_state(request)
    try:
        return links.read_token(links.link_key(app.settings.key_dir), token, now=app.clock.now())
    except links.LinkError as exc:
        raise Problem(403, str(exc), errors=[{"field": "token", "message": str(exc)}]) from None
    except links.SecretError as exc:
        raise Problem(503, f"links cannot be checked: {exc}") from None


@router.get(
    "/respond",
    permission=Permission.PUBLIC,
    summary="What a signed link in a notice e-mail does (no login; the token is the proof)",
)
def respond_page(request: Request, token: str) -> dict[str, Any]:
    """The notice the link names, its URLs and their state, and the answer the link records
    when POSTed (``answer`` is null for a view link)."""
    claim = _claim(request, token)
    app = app_state(request)
    with app.read() as conn:
        found = notices.load(conn, claim.notice_id)
        if found is None:
            raise not_found("notice", claim.notice_id)
        evidence = found.payload
    return {
        "notice": {
            "id": found.id,
            "kind": found.kind,
            "state": found.state.value,
            "title": found.title,
            "first_sent_at": found.first_sent_at.isoformat(),
        },
        "urls": [
            {
                k: u.get(k)
                for k in ("item_id", "url", "captured_at", "capture_sha256", "classification")
            }
            for u in evidence.get("urls") or []
        ],
        "answer": None if claim.answer == links.VIEW else claim.answer,
        "expires": claim.expires.isoformat(),
        "confirm_with": 'POST /v1/notices/respond with {"token": …}',
    }


@router.post(
    "/respond",
    permission=Permission.PUBLIC,
    summary="Record the answer a signed link carries (no login; the token is the proof)",
)
def respond(body: RespondIn, request: Request) -> dict[str, Any]:
    claim = _claim(request, body.token)
    app = app_state(request)
    try:
        with app.write() as conn:
            answered = notices.answer_by_link(
                conn,
                app.clock,
                actor_of(request, None, purpose="signed link"),
                NoticePolicy.from_settings(app.settings),
                claim,
                body.note,
            )
    except (notices.NoticeError, TransitionError) as exc:
        raise _problem(exc) from None
    return {"id": answered.id, "state": answered.state.value, "answer": answered.answer}


@router.get("", permission=Permission.NOTICE_READ, summary="Your organisation's inbox")
def inbox(
    request: Request,
    principal: CurrentPrincipal,
    kind: str | None = None,
    state: str | None = None,
    open: bool = False,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Notices addressed to your organisation, newest first; ``unread`` ones have a round
    you have not opened. Every read is audited."""
    f = _filter(kind, state, open, unread)
    app = app_state(request)
    with app.write() as conn:
        page = notices.list_page(
            conn,
            app.clock,
            principal,
            actor_of(request, principal),
            f,
            limit=limit,
            before_id=before_id,
        )
    return {
        "items": [notices.notice_as_dict(n) for n in page],
        "next_before_id": page[-1].id if len(page) == limit else None,
    }


@router.get("/count", permission=Permission.NOTICE_READ, summary="Count your notices")
def count(
    request: Request,
    principal: CurrentPrincipal,
    kind: str | None = None,
    state: str | None = None,
    open: bool = False,
    unread: bool = False,
) -> dict[str, int]:
    f = _filter(kind, state, open, unread)
    app = app_state(request)
    with app.read() as conn:
        return {"count": notices.count(conn, principal, f)}


@router.get(
    "/export",
    permission=Permission.NOTICE_EXPORT,
    summary="Export your organisation's notices as JSON Lines",
)
def export(
    request: Request,
    principal: CurrentPrincipal,
    kind: str | None = None,
    state: str | None = None,
    open: bool = False,
) -> StreamingResponse:
    f = _filter(kind, state, open, False)
    app = app_state(request)
    with app.write() as conn:
        items = [
            notices.notice_as_dict(n)
            for n in notices.export(conn, app.clock, principal, actor_of(request, principal), f)
        ]

    def lines() -> Iterator[bytes]:
        for item in items:
            yield (json.dumps(item, ensure_ascii=False) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# ------------------------------------------------------------------------------ endpoints


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["email", "webhook"]
    target: str = Field(min_length=3, max_length=500, description="E-mail address or URL")
    kinds: list[str] = Field(
        default_factory=list, description="Kinds of notice sent here; empty means all"
    )


@router.get(
    "/endpoints",
    permission=Permission.NOTICE_ENDPOINT_MANAGE,
    summary="Where your organisation receives notices besides the inbox",
)
def list_endpoints(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    app = app_state(request)
    with app.read() as conn:
        found = notices.list_endpoints(conn, principal)
    return {"items": [notices.endpoint_as_dict(e) for e in found]}


@router.post(
    "/endpoints",
    permission=Permission.NOTICE_ENDPOINT_MANAGE,
    status_code=201,
    summary="Receive notices by e-mail or signed webhook",
)
def add_endpoint(body: EndpointIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """For a webhook the answer carries ``secret``, shown this once: keep it to verify the
    ``Cordon-Signature`` header (docs/notices.md)."""
    app = app_state(request)
    try:
        with app.write() as conn:
            ep, secret = notices.add_endpoint(
                conn,
                app.clock,
                principal,
                actor_of(request, principal),
                channel=body.channel,
                target=body.target,
                kinds=body.kinds,
                key_dir=app.settings.key_dir,
            )
    except notices.NoticeError as exc:
        raise _problem(exc) from None
    out = notices.endpoint_as_dict(ep)
    if secret is not None:
        out["secret"] = secret
    return out


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    permission=Permission.NOTICE_ENDPOINT_MANAGE,
    summary="Give a webhook endpoint a new signing secret",
)
def rotate_secret(
    endpoint_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    app = app_state(request)
    try:
        with app.write() as conn:
            ep, secret = notices.rotate_secret(
                conn,
                app.clock,
                principal,
                actor_of(request, principal),
                endpoint_id,
                key_dir=app.settings.key_dir,
            )
    except notices.NoticeError as exc:
        raise _problem(exc) from None
    return {**notices.endpoint_as_dict(ep), "secret": secret}


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


@router.post(
    "/endpoints/{endpoint_id}/active",
    permission=Permission.NOTICE_ENDPOINT_MANAGE,
    summary="Turn an endpoint on or off",
)
def set_active(
    endpoint_id: int, body: ActiveIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    app = app_state(request)
    try:
        with app.write() as conn:
            ep = notices.set_endpoint_active(
                conn, app.clock, principal, actor_of(request, principal), endpoint_id, body.active
            )
    except notices.NoticeError as exc:
        raise _problem(exc) from None
    return notices.endpoint_as_dict(ep)


@router.post(
    "/deliveries/{delivery_id}/retry",
    permission=Permission.NOTICE_ENDPOINT_MANAGE,
    summary="Try an abandoned delivery again",
)
def retry_delivery(
    delivery_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    app = app_state(request)
    try:
        with app.write() as conn:
            d = notices.retry_delivery(
                conn, app.clock, principal, actor_of(request, principal), delivery_id
            )
    except notices.NoticeError as exc:
        raise _problem(exc) from None
    return {"id": d.id, "state": d.state, "attempt": d.attempt, "channel": d.channel}


# ------------------------------------------------------------------------------ one notice


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=32, description="One of the notice's answers")
    note: str | None = Field(None, max_length=5000)


@router.get(
    "/{notice_id}",
    permission=Permission.NOTICE_READ,
    summary="One notice with its deliveries and history (marks it read)",
)
def get_notice(notice_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    app = app_state(request)
    with app.write() as conn:
        found = notices.get(conn, app.clock, principal, actor_of(request, principal), notice_id)
        if found is None:
            raise not_found("notice", notice_id)
        return notices.notice_as_dict(
            found,
            deliveries_=notices.deliveries(conn, notice_id),
            events_=notices.events(conn, notice_id),
        )


@router.post(
    "/{notice_id}/answer",
    permission=Permission.NOTICE_ANSWER,
    summary="Answer a notice (account closed, not ours, under review, disputed, ...)",
)
def answer(
    notice_id: int, body: AnswerIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    app = app_state(request)
    try:
        with app.write() as conn:
            done = notices.answer(
                conn,
                app.clock,
                principal,
                actor_of(request, principal),
                NoticePolicy.from_settings(app.settings),
                notice_id,
                body.answer,
                body.note,
            )
    except (notices.NoticeError, TransitionError) as exc:
        raise _problem(exc) from None
    return notices.notice_as_dict(done)

"""Cases, their participants, notes and subjects, and deconfliction hits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.routing import CordonRouter
from cordon.api.state import AppState, actor_of, app_state
from cordon.audit.log import Actor
from cordon.cases import deconfliction, repo
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.notices.policy import NoticePolicy

router = CordonRouter(prefix="/v1/cases", tags=["cases"])
hits_router = CordonRouter(prefix="/v1/deconfliction", tags=["cases"])

TlpName = Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


def _problem(exc: repo.CaseError) -> Problem:
    if isinstance(exc, repo.NotFound):
        return Problem(404, str(exc))
    if isinstance(exc, repo.Forbidden):
        return Problem(403, str(exc))
    errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
    return Problem(422, str(exc), errors=errors)


def _deconflictor(state: AppState, actor: Actor) -> deconfliction.Deconflictor:
    return deconfliction.Deconflictor(
        state.clock, actor, NoticePolicy.from_settings(state.settings)
    )


def _actor(request: Request, principal: Principal, case_id: int | None = None) -> Actor:
    return actor_of(request, principal, repo.purpose(case_id) if case_id is not None else None)


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=32, description="network, domain, url, iban, …")
    value: str = Field(min_length=1, max_length=2048)


Subjects = list[str | SubjectIn]


def _subjects(items: Subjects) -> list[str | tuple[str, str]]:
    return [i if isinstance(i, str) else (i.kind, i.value) for i in items]


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    tlp: TlpName = "AMBER"
    reference: str | None = Field(None, max_length=200)
    contact: str | None = Field(
        None, max_length=320, description="Whom others contact (default: you)"
    )
    participants: list[int] = Field(default_factory=list, max_length=100)
    subjects: Subjects = Field(
        default_factory=list,
        max_length=repo.MAX_SUBJECTS,
        description='"kind:value" texts (or bare URLs, domains, identifiers) or {kind, value}',
    )
    red_users: list[int] = Field(default_factory=list, max_length=100)


class CasePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "suspended", "closed"] | None = None
    title: str | None = Field(None, min_length=1, max_length=300)
    contact: str | None = Field(None, min_length=1, max_length=320)
    tlp: TlpName | None = None


class ParticipantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: int


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=repo.MAX_NOTE)


class SubjectsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subjects: Subjects = Field(min_length=1, max_length=repo.MAX_SUBJECTS)


def _hits(d: deconfliction.Deconflictor, principal: Principal) -> list[int]:
    return [h.id for h in d.hits if principal.org_id in (h.org_a_id, h.org_b_id)]


@router.post("", permission=Permission.CASE_OPEN, summary="Open a case", status_code=201)
def open_case(body: CaseIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Open a case owned by your organisation. Its subjects are deconflicted at once: the
    answer lists the ids of the deconfliction hits it made (see `/v1/deconfliction`)."""
    state = app_state(request)
    actor = _actor(request, principal)
    d = _deconflictor(state, actor)
    try:
        with state.write() as conn:
            found = repo.open_case(
                conn,
                state.clock,
                principal,
                actor,
                repo.CaseIn(
                    title=body.title,
                    tlp=Tlp(body.tlp),
                    reference=body.reference,
                    contact=body.contact,
                    participants=body.participants,
                    subjects=_subjects(body.subjects),
                    red_users=body.red_users,
                ),
                deconflict=d,
            )
    except repo.CaseError as exc:
        raise _problem(exc) from None
    out = repo.case_as_dict(found)
    out["deconfliction_hits"] = _hits(d, principal)
    return out


@router.get("", permission=Permission.CASE_READ, summary="List the cases you may read")
def list_cases(
    request: Request,
    principal: CurrentPrincipal,
    status: Literal["open", "suspended", "closed"] | None = None,
    mine: bool = Query(False, description="Only cases your organisation takes part in"),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first. The listing is audited with every listed case as its purpose."""
    state = app_state(request)
    with state.write() as conn:
        page = repo.list_page(
            conn,
            state.clock,
            principal,
            _actor(request, principal),
            repo.CaseFilter(status=status, mine=mine),
            limit=limit,
            before_id=before_id,
        )
    return {
        "items": [repo.case_as_dict(c) for c in page],
        "next_before_id": page[-1].id if len(page) == limit else None,
    }


@router.get("/count", permission=Permission.CASE_READ, summary="Count the cases you may read")
def count_cases(
    request: Request,
    principal: CurrentPrincipal,
    status: Literal["open", "suspended", "closed"] | None = None,
    mine: bool = False,
) -> dict[str, int]:
    state = app_state(request)
    with state.read() as conn:
        return {"count": repo.count(conn, principal, repo.CaseFilter(status=status, mine=mine))}


@router.get("/{case_id}", permission=Permission.CASE_READ, summary="One case, in full")
def get_case(case_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The case with its participants, subjects and notes; audited with the case as purpose."""
    state = app_state(request)
    actor = _actor(request, principal, case_id)
    try:
        with state.write() as conn:
            found = repo.get(conn, state.clock, principal, actor, case_id)
            out = repo.case_as_dict(found)
            out["participants"] = [
                repo.participant_as_dict(p) for p in repo.participants_of(conn, case_id)
            ]
            out["subjects"] = [repo.subject_as_dict(s) for s in repo.subjects_of(conn, case_id)]
            out["notes"] = [repo.note_as_dict(n) for n in repo.notes_of(conn, case_id)]
    except repo.CaseError as exc:
        raise _problem(exc) from None
    return out


@router.patch(
    "/{case_id}",
    permission=Permission.CASE_OPEN,
    summary="Change a case's status, title, contact or marking",
)
def patch_case(
    case_id: int, body: CasePatch, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Owner only. A case set back to `open` is deconflicted again."""
    state = app_state(request)
    actor = _actor(request, principal, case_id)
    d = _deconflictor(state, actor)
    try:
        with state.write() as conn:
            found = repo.update_case(
                conn,
                state.clock,
                principal,
                actor,
                case_id,
                status=body.status,
                title=body.title,
                contact=body.contact,
                tlp=Tlp(body.tlp) if body.tlp else None,
                deconflict=d,
            )
    except repo.CaseError as exc:
        raise _problem(exc) from None
    out = repo.case_as_dict(found)
    out["deconfliction_hits"] = _hits(d, principal)
    return out


def _part(request: Request, principal: Principal, case_id: int, part: str) -> list[Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            return repo.read_part(
                conn, state.clock, principal, _actor(request, principal, case_id), case_id, part
            )
    except repo.CaseError as exc:
        raise _problem(exc) from None


@router.get("/{case_id}/participants", permission=Permission.CASE_READ, summary="A case's members")
def list_participants(
    case_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    items = _part(request, principal, case_id, "participants")
    return {"items": [repo.participant_as_dict(p) for p in items]}


@router.post(
    "/{case_id}/participants",
    permission=Permission.CASE_OPEN,
    summary="Add a partner organisation to a case",
)
def add_participant(
    case_id: int, body: ParticipantIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            repo.add_participant(
                conn,
                state.clock,
                principal,
                _actor(request, principal, case_id),
                case_id,
                body.org_id,
            )
            items = repo.participants_of(conn, case_id)
    except repo.CaseError as exc:
        raise _problem(exc) from None
    return {"items": [repo.participant_as_dict(p) for p in items]}


@router.delete(
    "/{case_id}/participants/{org_id}",
    permission=Permission.CASE_OPEN,
    summary="Remove a partner organisation from a case",
)
def remove_participant(
    case_id: int, org_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            repo.remove_participant(
                conn, state.clock, principal, _actor(request, principal, case_id), case_id, org_id
            )
    except repo.CaseError as exc:
        raise _problem(exc) from None
    return {"removed": org_id}


@router.get("/{case_id}/notes", permission=Permission.CASE_READ, summary="A case's notes")
def list_notes(case_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    items = _part(request, principal, case_id, "notes")
    return {"items": [repo.note_as_dict(n) for n in items]}


@router.post(
    "/{case_id}/notes",
    permission=Permission.CASE_NOTE,
    summary="Add a note to a case",
    status_code=201,
)
def add_note(
    case_id: int, body: NoteIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Any member organisation of the case may add notes."""
    state = app_state(request)
    try:
        with state.write() as conn:
            note = repo.add_note(
                conn,
                state.clock,
                principal,
                _actor(request, principal, case_id),
                case_id,
                body.text,
            )
    except repo.CaseError as exc:
        raise _problem(exc) from None
    return repo.note_as_dict(note)


@router.get("/{case_id}/subjects", permission=Permission.CASE_READ, summary="A case's subjects")
def list_subjects(case_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    items = _part(request, principal, case_id, "subjects")
    return {"items": [repo.subject_as_dict(s) for s in items]}


@router.post(
    "/{case_id}/subjects",
    permission=Permission.CASE_OPEN,
    summary="Name more subjects of a case (deconflicted at once)",
)
def add_subjects(
    case_id: int, body: SubjectsIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    actor = _actor(request, principal, case_id)
    d = _deconflictor(state, actor)
    try:
        with state.write() as conn:
            added = repo.add_subjects(
                conn, state.clock, principal, actor, case_id, _subjects(body.subjects), deconflict=d
            )
    except repo.CaseError as exc:
        raise _problem(exc) from None
    return {
        "added": [{"kind": e.kind.value, "key": e.key} for e in added],
        "deconfliction_hits": _hits(d, principal),
    }


@router.delete(
    "/{case_id}/subjects/{subject_id}",
    permission=Permission.CASE_OPEN,
    summary="Drop a subject from a case",
)
def remove_subject(
    case_id: int, subject_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            repo.remove_subject(
                conn,
                state.clock,
                principal,
                _actor(request, principal, case_id),
                case_id,
                subject_id,
            )
    except repo.CaseError as exc:
        raise _problem(exc) from None
    return {"removed": subject_id}


# ------------------------------------------------------------------------------ deconfliction


@hits_router.get(
    "",
    permission=Permission.DECONFLICTION_READ,
    summary="Deconfliction hits that concern your organisation",
)
def list_hits(
    request: Request,
    principal: CurrentPrincipal,
    case_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Each hit as your side learns it: your case, the overlapping entities, the other
    organisation and its contact, and the other case only when you may read it."""
    state = app_state(request)
    with state.write() as conn:
        items = deconfliction.list_hits(
            conn,
            state.clock,
            principal,
            _actor(request, principal),
            case_id=case_id,
            limit=limit,
            before_id=before_id,
        )
    return {"items": items}


@hits_router.get(
    "/{hit_id}", permission=Permission.DECONFLICTION_READ, summary="One deconfliction hit"
)
def get_hit(hit_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        views = deconfliction.get_hit(
            conn, state.clock, principal, _actor(request, principal), hit_id
        )
    if not views:
        raise Problem(404, f"no deconfliction hit with id {hit_id}")
    return {"items": views}

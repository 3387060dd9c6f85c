"""Outcomes: assessments, bank seed requests, outcome statistics, and the ISP block list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.partners import ADDRESSEE_ONLY_TYPES
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.outcomes import assess, blocklist, metrics, repo

router = CordonRouter(tags=["outcomes"])


def _assessment_problem(exc: assess.AssessmentError) -> Problem:
    errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
    status = 404 if str(exc).startswith("no bank seed request") else 422
    return Problem(status, str(exc), errors=errors)


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=8000, description="The URL as reported")
    url_id: int | None = None
    classification: Literal["baseline", "A1", "A2", "B1", "B2"]
    notes: str | None = Field(None, max_length=5000)
    tlp: Tlp = Tlp.AMBER
    assessed_at: datetime | None = None
    capture_id: int | None = None
    share_with: list[int] = Field(default_factory=list, description="AMBER: organisation ids")


@router.post(
    "/v1/assessments",
    permission=Permission.ASSESSMENT_CREATE,
    status_code=201,
    summary="Record an assessment of a URL's content (confirms the URL)",
)
def create_assessment(
    body: AssessmentIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The analyst viewed the content in their own secure environment; Cordon keeps the
    classification. The URL is confirmed; takedown notices and payment alerts follow."""
    app = app_state(request)
    try:
        with app.write() as conn:
            result = assess.record(
                conn,
                app.clock,
                principal,
                actor_of(request, principal),
                app.settings,
                url_id=body.url_id,
                url_text=body.url,
                classification=body.classification,
                notes=body.notes,
                tlp=body.tlp,
                assessed_at=body.assessed_at,
                capture_id=body.capture_id,
                share_with=body.share_with,
            )
    except assess.AssessmentError as exc:
        raise _assessment_problem(exc) from None
    return {
        **assess.as_dict(result.assessment),
        "page_classification": result.classification,
        "first_confirmation": result.first_confirmation,
        "seed_request_id": result.seed_request_id,
    }


@router.get("/v1/assessments", permission=Permission.ASSESSMENT_READ, summary="Assessments")
def list_assessments(
    request: Request,
    principal: CurrentPrincipal,
    url_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Assessments you may see (their own marking and owner), newest first."""
    app = app_state(request)
    with app.read() as conn:
        page = repo.list_assessments(
            conn, principal, url_id=url_id, limit=limit, before_id=before_id
        )
    return {
        "items": [assess.as_dict(a) for a in page],
        "next_before_id": page[-1].id if len(page) == limit else None,
    }


@router.get(
    "/v1/assessments/count", permission=Permission.ASSESSMENT_READ, summary="Count assessments"
)
def count_assessments(
    request: Request, principal: CurrentPrincipal, url_id: int | None = None
) -> dict[str, int]:
    app = app_state(request)
    with app.read() as conn:
        return {"count": repo.count_assessments(conn, principal, url_id=url_id)}


@router.get(
    "/v1/assessments/{assessment_id}",
    permission=Permission.ASSESSMENT_READ,
    summary="One assessment",
)
def get_assessment(
    assessment_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    app = app_state(request)
    with app.read() as conn:
        found = repo.get_assessment(conn, principal, assessment_id)
    if found is None:
        raise not_found("assessment", assessment_id)
    return assess.as_dict(found)


@router.get(
    "/v1/seed-requests",
    permission=Permission.ASSESSMENT_READ,
    summary="Pages whose hashes enough assessments made eligible to seed a bank",
)
def list_seed_requests(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Only requests built on an assessment you may see."""
    app = app_state(request)
    with app.read() as conn:
        seen = {a.url_id for a in repo.list_assessments(conn, principal, limit=100_000)}
        rows = repo.seed_requests(conn, url_ids=sorted(seen))
    return {
        "items": [
            {
                "id": r["id"],
                "url_id": r["url_id"],
                "classification": r["classification"],
                "hashes": len(r["hashes"]),
                "state": r["state"],
                "requested_at": r["requested_at"].isoformat(),
                "result": r["result"],
            }
            for r in rows
        ]
    }


class SeedSubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bank: str | int = Field(description="A bank your organisation owns, by name or id")


@router.post(
    "/v1/seed-requests/{request_id}/submit",
    permission=Permission.ASSESSMENT_CREATE,
    summary="Add a seed request's reference hashes to a bank you own",
)
def submit_seed_request(
    request_id: int, body: SeedSubmitIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    app = app_state(request)
    try:
        with app.write() as conn:
            return assess.submit_seed_request(
                conn, app.clock, principal, actor_of(request, principal), request_id, body.bank
            )
    except assess.AssessmentError as exc:
        raise _assessment_problem(exc) from None


# ------------------------------------------------------------------------------ statistics


@router.get(
    "/v1/stats/outcomes",
    permission=Permission.OUTCOME_STATS_READ,
    summary="Every outcome metric: removal, closure, repeats, reappearance",
)
def stats_outcomes(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Aggregates without URLs or identifiers (docs/outcomes.md, "Metrics")."""
    app = app_state(request)
    with app.read() as conn:
        return metrics.outcome_stats(conn, principal)


@router.get(
    "/v1/stats/removal",
    permission=Permission.OUTCOME_STATS_READ,
    summary="Time to removal (report to verified removal), by provider, ASN, country, network",
)
def stats_removal(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    app = app_state(request)
    with app.read() as conn:
        return metrics.time_to_removal(
            conn, with_networks=principal.org_type not in ADDRESSEE_ONLY_TYPES
        )


@router.get(
    "/v1/stats/closure",
    permission=Permission.OUTCOME_STATS_READ,
    summary="Time to closure of payment alerts, per payment provider",
)
def stats_closure(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    app = app_state(request)
    with app.read() as conn:
        return {"items": metrics.time_to_closure(conn, principal)}


@router.get(
    "/v1/stats/repeats",
    permission=Permission.OUTCOME_STATS_READ,
    summary="Repeats per notice kind, and the reappearance rate",
)
def stats_repeats(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    app = app_state(request)
    with app.read() as conn:
        return {"repeats": metrics.repeats(conn), "reappearance": metrics.reappearance(conn)}


# ------------------------------------------------------------------------------ block list


def _version_dict(v: blocklist.Version, *, with_list: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": v.version,
        "manifest": v.manifest,
        "signature": v.signature,
    }
    if with_list:
        out["list"] = v.text
    return out


@router.get(
    "/v1/blocklist",
    permission=Permission.BLOCKLIST_READ,
    summary="The block list (newest, or ?version=N) with its signed manifest",
)
def get_blocklist(request: Request, version: int | None = None) -> dict[str, Any]:
    app = app_state(request)
    with app.read() as conn:
        found = blocklist.get_version(conn, version)
    if found is None:
        raise not_found("block list version", version if version is not None else "latest")
    return _version_dict(found)


@router.get(
    "/v1/blocklist/list.txt",
    permission=Permission.BLOCKLIST_READ,
    summary="The block list as text, exactly the bytes the manifest's sha256 covers",
    response_class=PlainTextResponse,
)
def get_blocklist_text(request: Request, version: int | None = None) -> PlainTextResponse:
    app = app_state(request)
    with app.read() as conn:
        found = blocklist.get_version(conn, version)
    if found is None:
        raise not_found("block list version", version if version is not None else "latest")
    return PlainTextResponse(found.text, headers={"Cordon-Blocklist-Version": str(found.version)})


@router.get(
    "/v1/blocklist/diff",
    permission=Permission.BLOCKLIST_READ,
    summary="Entries added and removed since an earlier version",
)
def blocklist_diff(request: Request, since: int, to: int | None = None) -> dict[str, Any]:
    app = app_state(request)
    with app.read() as conn:
        old = blocklist.get_version(conn, since)
        new = blocklist.get_version(conn, to)
    if old is None:
        raise not_found("block list version", since)
    if new is None:
        raise not_found("block list version", to if to is not None else "latest")
    return blocklist.diff(old, new)


@router.get(
    "/v1/blocklist/public-key",
    permission=Permission.PUBLIC,
    summary="The Ed25519 public key block-list manifests are signed with (PEM)",
    response_class=PlainTextResponse,
)
def blocklist_public_key(request: Request) -> PlainTextResponse:
    app = app_state(request)
    return PlainTextResponse(blocklist.public_key_pem(app.settings.key_dir))


@router.post(
    "/v1/blocklist/publish",
    permission=Permission.BLOCKLIST_PUBLISH,
    summary="Publish a new version when the list changed (ISPs are told)",
)
def publish_blocklist(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    app = app_state(request)
    with app.write() as conn:
        version, new = blocklist.publish(
            conn,
            app.clock,
            actor_of(request, principal),
            app.settings,
            published_by=principal.user_id,
        )
    return {"new": new, **_version_dict(version, with_list=False)}


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: str = Field(min_length=1, max_length=2000, description="The listed URL or domain")
    contact: str = Field(min_length=3, max_length=320, description="Where to answer you")
    message: str = Field(min_length=1, max_length=5000)


@router.post(
    "/v1/blocklist/appeals",
    permission=Permission.PUBLIC,
    status_code=201,
    summary="Appeal as the owner of a listed URL (reaches every party that acted on it)",
)
def create_appeal(body: AppealIn, request: Request) -> dict[str, Any]:
    app = app_state(request)
    try:
        with app.write() as conn:
            return blocklist.appeal(
                conn,
                app.clock,
                actor_of(request, None, purpose="appeal"),
                app.settings,
                entry=body.entry,
                contact=body.contact,
                message=body.message,
            )
    except blocklist.BlocklistError as exc:
        errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
        raise Problem(422, str(exc), errors=errors) from None

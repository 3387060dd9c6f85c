"""Reports: submit, import, read, count and export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError

from cordon.api import paging
from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.reports import files
from cordon.reports import repo as reports
from cordon.reports.model import IdempotencyKey, ReportIn
from cordon.store import db

router = CordonRouter(prefix="/v1/reports", tags=["reports"])

_key_adapter: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return _key_adapter.validate_python(value)
    except ValidationError:
        raise Problem(
            422,
            "Idempotency-Key must be 1-200 printable ASCII characters",
            errors=[{"field": "Idempotency-Key", "message": "invalid"}],
        ) from None


def _report_problem(exc: reports.ReportError) -> Problem:
    status = 409 if isinstance(exc, reports.IdempotencyConflict) else 422
    errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
    return Problem(status, str(exc), errors=errors)


@router.post(
    "",
    permission=Permission.REPORT_CREATE,
    status_code=201,
    summary="Report one or more URLs",
    responses={200: {"description": "An idempotent retry: the report made the first time"}},
)
def create_report(
    body: ReportIn,
    request: Request,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Store a report. With an ``Idempotency-Key`` header, retries of the same request return
    the first report (200) and never store it twice; the same key with a different body is a
    409."""
    state = app_state(request)
    if len(body.urls) > state.settings.api.max_report_urls:
        raise Problem(
            422,
            f"a report carries at most {state.settings.api.max_report_urls} URLs",
            errors=[{"field": "urls", "message": "too many"}],
        )
    key = _idempotency_key(idempotency_key)
    try:
        with state.write() as conn:
            done = reports.submit(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                body,
                channel="api",
                idempotency_key=key,
            )
    except reports.ReportError as exc:
        raise _report_problem(exc) from None
    from fastapi.responses import JSONResponse

    return JSONResponse(
        reports.report_as_dict(done.report), status_code=201 if done.created else 200
    )


@router.post(
    "/import",
    permission=Permission.REPORT_CREATE,
    summary="Import reports from a CSV or JSON Lines body; all rows or none",
)
async def import_reports(
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """The body is the file itself, with ``Content-Type: text/csv`` or
    ``application/x-ndjson``. Every row is checked first; if any is wrong nothing is stored and
    the answer lists every bad row with its line and field."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl"}.get(
        ctype
    )
    if fmt is None:
        raise Problem(415, "send text/csv or application/x-ndjson")
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "the file is not UTF-8") from None
    try:
        rows, errors = files.read_any(text, fmt)
    except files.FileFormatError as exc:
        raise Problem(422, str(exc)) from None
    if errors:
        raise Problem(
            422,
            f"{len(errors)} row(s) refused; nothing was stored",
            errors=[{"line": e.line, "field": e.field, "message": e.message} for e in errors],
        )
    state = app_state(request)
    limit = state.settings.api.max_report_urls
    if sum(len(r.report.urls) for r in rows) > limit:
        raise Problem(422, f"an import carries at most {limit} URLs; split the file")

    def work() -> list[reports.RowResult]:
        with db.write(state.engine) as conn:
            return reports.import_rows(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                [(r.line, r.report, r.idempotency_key) for r in rows],
                channel="import",
            )

    from starlette.concurrency import run_in_threadpool

    try:
        results = await run_in_threadpool(work)
    except reports.ReportError as exc:
        raise _report_problem(exc) from None
    return {
        "created": sum(1 for r in results if r.created),
        "replayed": sum(1 for r in results if not r.created),
        "rows": [{"line": r.line, "report_id": r.report_id, "created": r.created} for r in results],
    }


def _filter(
    tlp: str | None,
    since: datetime | None,
    until: datetime | None,
    domain: str | None,
    own: bool,
) -> reports.ReportFilter:
    parsed: Tlp | None = None
    if tlp is not None:
        try:
            parsed = Tlp.parse(tlp)
        except ValueError as exc:
            raise Problem(422, str(exc), errors=[{"field": "tlp", "message": str(exc)}]) from None
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Problem(422, f"{name} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return reports.ReportFilter(tlp=parsed, since=since, until=until, domain=domain, own_only=own)


@router.get("", permission=Permission.REPORT_READ, summary="List reports you may see")
def list_reports(
    request: Request,
    principal: CurrentPrincipal,
    tlp: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    domain: str | None = None,
    own: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first. Page on with ``before_id`` set to ``next_before_id``."""
    f = _filter(tlp, since, until, domain, own)
    return paging.page(
        request,
        principal,
        reports.list_page,
        f,
        limit=limit,
        before_id=before_id,
        show=reports.report_as_dict,
    )


@router.get("/count", permission=Permission.REPORT_READ, summary="Count reports you may see")
def count_reports(
    request: Request,
    principal: CurrentPrincipal,
    tlp: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    domain: str | None = None,
    own: bool = False,
) -> dict[str, int]:
    f = _filter(tlp, since, until, domain, own)
    return paging.count(request, principal, reports.count, f)


@router.get(
    "/export",
    permission=Permission.REPORT_EXPORT,
    summary="Export the reports you may see as JSON Lines or CSV",
)
def export_reports(
    request: Request,
    principal: CurrentPrincipal,
    format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
    tlp: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    domain: str | None = None,
    own: bool = False,
) -> StreamingResponse:
    """Oldest first. The export is written to the audit log before the first byte."""
    f = _filter(tlp, since, until, domain, own)
    state = app_state(request)
    # The export is read and audited in one transaction before streaming starts, so that a
    # failing audit write returns an error and no data.
    with state.write() as conn:
        items = list(reports.export(conn, state.clock, principal, actor_of(request, principal), f))

    def jsonl() -> Iterator[bytes]:
        for r in items:
            yield (json.dumps(reports.report_as_dict(r), ensure_ascii=False) + "\n").encode()

    def as_csv() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(
            ["report_id", "created_at", "tlp", "url", "registrable_domain", "source_ref", "note"]
        )
        for r in items:
            for u in r.urls:
                writer.writerow(
                    [
                        r.id,
                        r.created_at.isoformat(),
                        r.tlp.value,
                        u.url,
                        u.registrable_domain,
                        r.source_ref or "",
                        r.note or "",
                    ]
                )
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
        if not items:
            yield buf.getvalue().encode()

    if format == "csv":
        return StreamingResponse(as_csv(), media_type="text/csv")
    return StreamingResponse(jsonl(), media_type="application/x-ndjson")


@router.get("/{report_id}", permission=Permission.REPORT_READ, summary="One report")
def get_report(report_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = reports.get(conn, state.clock, principal, actor_of(request, principal), report_id)
    if found is None:
        raise not_found("report", report_id)
    return reports.report_as_dict(found)

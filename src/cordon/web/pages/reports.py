"""Reports: submit URLs, upload a file of reports, list and read them.

Every read goes through the reports feature, which applies the access policy; a report the
member may not read is answered exactly as one that does not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.domain.urls import refang
from cordon.partners import repo as partners
from cordon.reports import files
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.web import repo
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render, render_fragment

router = ConsoleRouter()

PAGE_SIZE = 50


# --- listing -----------------------------------------------------------------------------------


@dataclass
class ListQuery:
    """The filters of the report list as the form holds them, and what they mean."""

    tlp: str = ""
    domain: str = ""
    since: str = ""
    until: str = ""
    own: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    def to_filter(self) -> reports.ReportFilter:
        parsed_tlp: Tlp | None = None
        if self.tlp:
            try:
                parsed_tlp = Tlp.parse(self.tlp)
            except ValueError as exc:
                self.errors["tlp"] = str(exc)
        since = self._day("since", self.since)
        until = self._day("until", self.until)
        return reports.ReportFilter(
            tlp=parsed_tlp,
            since=since,
            until=until + timedelta(days=1) if until else None,
            domain=self.domain.strip().lower() or None,
            own_only=self.own,
        )

    def _day(self, name: str, text: str) -> datetime | None:
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.errors[name] = f"{text!r} is not a date (YYYY-MM-DD)"
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    def query_string(self, **extra: Any) -> str:
        from urllib.parse import urlencode

        values: dict[str, Any] = {
            k: v
            for k, v in (
                ("tlp", self.tlp),
                ("domain", self.domain),
                ("since", self.since),
                ("until", self.until),
                ("own", "1" if self.own else ""),
            )
            if v
        }
        values.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(values)


def _org_names(request: Request) -> dict[int, str]:
    with app_state(request).read() as conn:
        return {o.id: o.name for o in partners.list_orgs(conn)}


@router.get(
    "/reports", permission=Permission.REPORT_READ, summary="Console: the reports you may see"
)
def list_reports(
    request: Request,
    principal: CurrentPrincipal,
    tlp: str = "",
    domain: str = "",
    since: str = "",
    until: str = "",
    own: str = "",
    before_id: int | None = None,
) -> Response:
    """Newest first, in pages; the filters are those of the API's list."""
    query = ListQuery(tlp=tlp, domain=domain[:255], since=since, until=until, own=bool(own))
    wanted = query.to_filter()
    state = app_state(request)
    items: list[reports.Report] = []
    total = 0
    if not query.errors:
        with state.write() as conn:
            items = reports.list_page(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                wanted,
                limit=PAGE_SIZE,
                before_id=before_id,
            )
            total = reports.count(conn, principal, wanted)
    context = {
        "query": query,
        "items": items,
        "total": total,
        "orgs": _org_names(request),
        "older": query.query_string(before_id=items[-1].id) if len(items) == PAGE_SIZE else None,
        "first_page": query.query_string() if before_id is not None else None,
        "me_org": principal.org_id,
    }
    if request.headers.get("hx-target") == "report-results":
        return render_fragment("reports/_results.html", context)
    return render(request, "reports/list.html", context)


# --- submitting ----------------------------------------------------------------------------


def _field_label(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "report"
    head = str(loc[0])
    if head == "urls" and len(loc) > 1 and isinstance(loc[1], int):
        return f"URL on line {loc[1] + 1}"
    if head == "hashes" and len(loc) > 1 and isinstance(loc[1], int):
        return f"hash on line {loc[1] + 1}"
    return {
        "urls": "URLs",
        "tlp": "TLP",
        "note": "note",
        "source_ref": "your reference",
        "share_with": "shared with",
        "red_users": "named users",
    }.get(head, head)


def _parse_hashes(text: str) -> list[dict[str, str]]:
    out = []
    for line in text.splitlines():
        for part in line.replace(";", " ").split():
            kind, sep, value = part.partition(":")
            out.append({"signal_type": kind, "signal": value if sep else ""})
    return out


def _new_form(
    request: Request,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    state = app_state(request)
    with state.read() as conn:
        orgs = [o for o in partners.list_orgs(conn) if o.id != principal.org_id and o.active]
    form = {
        "urls": "",
        "tlp": "AMBER",
        "note": "",
        "source_ref": "",
        "hashes": "",
        "share_with": [],
        "red_users": "",
        "form_key": secrets.token_urlsafe(16),
    }
    form.update(values or {})
    return render(
        request,
        "reports/new.html",
        {
            "form": form,
            "errors": errors or [],
            "orgs": orgs,
            "max_urls": state.settings.api.max_report_urls,
        },
        status=status,
    )


@router.get("/reports/new", permission=Permission.REPORT_CREATE, summary="Console: the report form")
def new_report_form(request: Request, principal: CurrentPrincipal) -> Response:
    return _new_form(request, principal)


@router.post("/reports/new", permission=Permission.REPORT_CREATE, summary="Console: report URLs")
def submit_report(
    request: Request,
    principal: CurrentPrincipal,
    urls: Annotated[str, Form()] = "",
    tlp: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form()] = "",
    source_ref: Annotated[str, Form()] = "",
    hashes: Annotated[str, Form()] = "",
    share_with: Annotated[list[str] | None, Form()] = None,
    red_users: Annotated[str, Form()] = "",
    form_key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One report of the URLs given one per line (defanged URLs are accepted). Resending the
    same form returns the report made the first time."""
    state = app_state(request)
    values = {
        "urls": urls,
        "tlp": tlp,
        "note": note,
        "source_ref": source_ref,
        "hashes": hashes,
        "share_with": list(share_with or []),
        "red_users": red_users,
        "form_key": form_key or secrets.token_urlsafe(16),
    }
    errors: list[tuple[str, str]] = []
    lines = [refang(line) for line in urls.splitlines() if line.strip()]
    if len(lines) > state.settings.api.max_report_urls:
        errors.append(("URLs", f"a report carries at most {state.settings.api.max_report_urls}"))
    share_ids: list[int] = []
    for raw in share_with or []:
        if raw.isdigit():
            share_ids.append(int(raw))
        else:
            errors.append(("shared with", f"{raw!r} is not an organisation"))
    red_ids: list[int] = []
    with state.read() as conn:
        for email in red_users.split():
            try:
                red_ids.append(partners.find_user(conn, email).id)
            except partners.NotFound:
                errors.append(("named users", f"no member has the e-mail address {email}"))
    if errors:
        return _new_form(request, principal, values=values, errors=errors, status=422)
    try:
        data = ReportIn.model_validate(
            {
                "urls": lines,
                "tlp": tlp,
                "note": note or None,
                "source_ref": source_ref or None,
                "hashes": _parse_hashes(hashes),
                "share_with": share_ids,
                "red_users": [u for u in red_ids if u != principal.user_id],
            }
        )
    except ValidationError as exc:
        errors = [(_field_label(tuple(e["loc"])), str(e["msg"])) for e in exc.errors()]
        return _new_form(request, principal, values=values, errors=errors, status=422)
    try:
        with state.write() as conn:
            done = reports.submit(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                data,
                channel="ui",
                idempotency_key=f"ui-{form_key}" if form_key else None,
            )
    except reports.ReportError as exc:
        label = _field_label((exc.field,)) if exc.field else "report"
        return _new_form(request, principal, values=values, errors=[(label, str(exc))], status=422)
    return RedirectResponse(f"/reports/{done.report.id}", status_code=303)


# --- uploading -------------------------------------------------------------------------------


def _upload_page(
    request: Request,
    *,
    errors: list[files.RowError] | None = None,
    problem: str | None = None,
    results: list[reports.RowResult] | None = None,
    filename: str = "",
    status: int = 200,
) -> Response:
    return render(
        request,
        "reports/upload.html",
        {
            "row_errors": errors or [],
            "problem": problem,
            "results": results,
            "filename": filename,
            "csv_columns": files.REQUIRED_CSV + files.OPTIONAL_CSV,
        },
        status=status,
    )


@router.get(
    "/reports/upload",
    permission=Permission.REPORT_CREATE,
    summary="Console: the form to upload a CSV or JSON Lines file of reports",
)
def upload_form(request: Request, principal: CurrentPrincipal) -> Response:
    return _upload_page(request)


@router.post(
    "/reports/upload",
    permission=Permission.REPORT_CREATE,
    summary="Console: upload a CSV or JSON Lines file of reports; all rows or none",
)
async def upload(
    request: Request,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Every row is checked first; if any is wrong nothing is stored and the page lists every
    refused row with its line and field."""
    from starlette.concurrency import run_in_threadpool

    if file is None or not file.filename:
        return await run_in_threadpool(
            lambda: _upload_page(request, problem="Choose a file to upload.", status=422)
        )
    raw = await file.read()
    return await run_in_threadpool(_import_file, request, principal, file.filename, raw)


def _import_file(request: Request, principal: Principal, name: str, raw: bytes) -> Response:
    try:
        fmt = files.format_of(name)
        text = raw.decode("utf-8-sig")
        rows, row_errors = files.read_any(text, fmt)
    except UnicodeDecodeError:
        return _upload_page(request, problem="The file is not UTF-8.", filename=name, status=422)
    except files.FileFormatError as exc:
        return _upload_page(request, problem=str(exc), filename=name, status=422)
    if row_errors:
        return _upload_page(request, errors=row_errors, filename=name, status=422)
    if not rows:
        return _upload_page(
            request, problem="The file holds no reports.", filename=name, status=422
        )
    state = app_state(request)
    limit = state.settings.api.max_report_urls
    if sum(len(r.report.urls) for r in rows) > limit:
        return _upload_page(
            request,
            problem=f"A file carries at most {limit} URLs; split it.",
            filename=name,
            status=422,
        )
    try:
        with state.write() as conn:
            results = reports.import_rows(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                [(r.line, r.report, r.idempotency_key) for r in rows],
                channel="import",
            )
    except reports.ReportError as exc:
        return _upload_page(request, problem=str(exc), filename=name, status=422)
    return _upload_page(request, results=results, filename=name)


# --- one report (registered after /reports/new and /reports/upload, which it would shadow) --


@router.get(
    "/reports/{report_id}", permission=Permission.REPORT_READ, summary="Console: one report"
)
def report_detail(report_id: int, request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    with state.write() as conn:
        found = reports.get(conn, state.clock, principal, actor_of(request, principal), report_id)
        if found is None:
            raise Problem(404, f"no report with id {report_id}")
        progress = repo.url_progress(conn, [u.id for u in found.urls])
        owner = partners.get_org(conn, found.owner_org_id)
    return render(
        request,
        "reports/detail.html",
        {"report": found, "progress": progress, "owner": owner, "me_org": principal.org_id},
    )

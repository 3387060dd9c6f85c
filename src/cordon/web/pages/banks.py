"""Hash lists (banks): the banks you may read, one bank with its settings, counts and newest
entries, its PDQ threshold (owner), importing a file into it (owner) and exporting it.

Everything goes through the banks feature (:mod:`cordon.banks.repo`), which shows a bank only
to those its marking admits and lets only its owner change it. Entries are hashes: shown as hex,
never as pictures. Exports are the API's own streamed route, opened by the console session.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.banks import files, model, repo
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.signals.formats import LineError
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render

router = ConsoleRouter()

PAGE_SIZE = 50
ENTRIES_SHOWN = 50


@router.get("/banks", permission=Permission.BANK_READ, summary="Console: the banks you may read")
def list_banks(
    request: Request, principal: CurrentPrincipal, own: str = "", before_id: int | None = None
) -> Response:
    f = repo.BankFilter(own_only=bool(own))
    state = app_state(request)
    with state.write() as conn:
        items = repo.list_banks(
            conn,
            state.clock,
            principal,
            actor_of(request, principal),
            f,
            limit=PAGE_SIZE,
            before_id=before_id,
        )
        total = repo.count_banks(conn, principal, f)
        stats = {b.id: repo.bank_stats(conn, b.id) for b in items}
        owners = repo.org_names(conn, [b.org_id for b in items])
    return render(
        request,
        "banks/list.html",
        {
            "items": items,
            "total": total,
            "stats": stats,
            "owners": owners,
            "own": bool(own),
            "me_org": principal.org_id,
            "older": items[-1].id if len(items) == PAGE_SIZE else None,
        },
    )


def _bank_page(
    request: Request,
    principal: Principal,
    ref: str,
    *,
    message: str | None = None,
    error: str | None = None,
    line_errors: list[LineError] | None = None,
    status: int = 200,
) -> Response:
    state = app_state(request)
    with state.write() as conn:
        found = repo.get_bank(conn, state.clock, principal, actor_of(request, principal), ref)
        if found is None:
            raise Problem(404, f"no bank {ref}")
        stats = repo.bank_stats(conn, found.id)
        owner = repo.org_names(conn, [found.org_id]).get(found.org_id, "")
        entries = repo.list_entries(
            conn,
            state.clock,
            principal,
            actor_of(request, principal),
            repo.EntryFilter(bank=found.id),
            limit=ENTRIES_SHOWN,
        )
    return render(
        request,
        "banks/detail.html",
        {
            "bank": found,
            "stats": stats,
            "owner": owner,
            "mine": found.org_id == principal.org_id,
            "entries": entries,
            "formats": files.FORMATS,
            "signal_types": model.BANK_SIGNAL_TYPES,
            "max_threshold": model.MAX_PDQ_THRESHOLD,
            "message": message,
            "error": error,
            "line_errors": line_errors or [],
        },
        status=status,
    )


@router.get(
    "/banks/{bank}",
    permission=Permission.BANK_READ,
    summary="Console: one bank, its settings, counts and newest entries",
)
def bank_page(bank: str, request: Request, principal: CurrentPrincipal, done: str = "") -> Response:
    messages = {"threshold": "The threshold was changed.", "import": ""}
    return _bank_page(request, principal, bank, message=messages.get(done) or None)


@router.post(
    "/banks/{bank}/threshold",
    permission=Permission.BANK_MANAGE,
    summary="Console: change a bank's PDQ match threshold (owner only)",
)
def set_threshold(
    bank: str,
    request: Request,
    principal: CurrentPrincipal,
    pdq_threshold: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if not pdq_threshold.strip().isdigit():
        return _bank_page(
            request, principal, bank, error="The threshold is a whole number.", status=422
        )
    try:
        changes = model.BankUpdate(pdq_threshold=int(pdq_threshold))
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return _bank_page(request, principal, bank, error=message, status=422)
    state = app_state(request)
    try:
        with state.write() as conn:
            got = repo.update_bank(
                conn, state.clock, principal, actor_of(request, principal), bank, changes
            )
    except repo.NotFound:
        raise Problem(404, f"no bank {bank}") from None
    except repo.BankError as exc:
        return _bank_page(request, principal, bank, error=str(exc), status=403)
    return RedirectResponse(f"/banks/{got.name}?done=threshold", status_code=303)


@router.post(
    "/banks/{bank}/import",
    permission=Permission.BANK_IMPORT,
    summary="Console: import a file into a bank (owner only); all lines or none",
)
async def import_file(
    bank: str,
    request: Request,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile | None, File()] = None,
    format: Annotated[str, Form(max_length=20)] = "pytx",
    signal_type: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Every line is checked; if any is wrong nothing is imported and the page lists the
    lines (by number) that were refused."""
    if file is None or not file.filename:
        return await run_in_threadpool(
            lambda: _bank_page(request, principal, bank, error="Choose a file.", status=422)
        )
    raw = await file.read()
    return await run_in_threadpool(
        _import, request, principal, bank, raw, format, signal_type or None
    )


def _import(
    request: Request,
    principal: Principal,
    bank: str,
    raw: bytes,
    fmt_name: str,
    signal_type: str | None,
) -> Response:
    state = app_state(request)
    try:
        fmt = files.check_format(fmt_name)
        if signal_type is not None and signal_type not in model.BANK_SIGNAL_TYPES:
            raise files.FileFormatError(f"unknown signal type {signal_type!r}")
        text = raw.decode("utf-8-sig")
        with state.write() as conn:
            done = repo.import_entries(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                bank,
                files.read(fmt, text.splitlines(keepends=True), signal_type),
                fmt=fmt,
            )
    except UnicodeDecodeError:
        return _bank_page(request, principal, bank, error="The file is not UTF-8.", status=422)
    except files.FileFormatError as exc:
        return _bank_page(request, principal, bank, error=str(exc), status=422)
    except repo.ImportRejected as exc:
        return _bank_page(
            request,
            principal,
            bank,
            error=f"{exc} Nothing was imported.",
            line_errors=exc.result.errors,
            status=422,
        )
    except repo.NotFound:
        raise Problem(404, f"no bank {bank}") from None
    except (repo.BankError, ValueError) as exc:
        return _bank_page(request, principal, bank, error=str(exc), status=422)
    summary: dict[str, Any] = done.as_dict()
    message = (
        f"Read {summary.get('read', 0)} lines: {summary.get('added', 0)} added, "
        f"{summary.get('duplicates', 0)} already present."
    )
    return _bank_page(request, principal, bank, message=message)

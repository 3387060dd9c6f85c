"""Hash lists (banks): banks, entries, opinions, quarantine review, streamed import and export."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.from_thread
from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from cordon.api import paging
from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.banks import files, model, repo
from cordon.domain.permissions import Permission
from cordon.store import db

router = CordonRouter(prefix="/v1/banks", tags=["banks"])

#: Bytes of an export sent per chunk.
EXPORT_CHUNK = 64 * 1024


def _problem(exc: repo.BankError) -> Problem:
    if isinstance(exc, repo.ImportRejected):
        r = exc.result
        return Problem(
            422,
            str(exc),
            errors=[{"line": e.line, "message": e.message} for e in r.errors],
            extra={
                "read": r.read,
                "invalid": r.invalid,
                "errors_truncated": r.invalid > len(r.errors),
            },
        )
    if isinstance(exc, repo.NotFound):
        return Problem(404, str(exc))
    if isinstance(exc, repo.NotOwner):
        return Problem(403, str(exc))
    status = 409 if isinstance(exc, repo.NameTaken) else 422
    errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
    return Problem(status, str(exc), errors=errors)


def _bad(field: str, message: str) -> Problem:
    return Problem(422, message, errors=[{"field": field, "message": message}])


def _signal_type(value: str | None) -> str | None:
    if value is not None and value not in model.BANK_SIGNAL_TYPES:
        raise _bad(
            "signal_type",
            f"unknown signal type {value!r} (one of {', '.join(model.BANK_SIGNAL_TYPES)})",
        )
    return value


def _format(value: str) -> files.Format:
    try:
        return files.check_format(value)
    except files.FileFormatError as exc:
        raise _bad("format", str(exc)) from None


# ------------------------------------------------------------------------------ banks


@router.get("", permission=Permission.BANK_READ, summary="List the banks you may read")
def list_banks(
    request: Request,
    principal: CurrentPrincipal,
    own: bool = False,
    signal_type: str | None = None,
    negative: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first; ``own`` keeps your organisation's banks only."""
    f = repo.BankFilter(own_only=own, signal_type=_signal_type(signal_type), negative=negative)
    return paging.page(
        request,
        principal,
        repo.list_banks,
        f,
        limit=limit,
        before_id=before_id,
        show=repo.bank_as_dict,
    )


@router.get("/count", permission=Permission.BANK_READ, summary="Count the banks you may read")
def count_banks(
    request: Request,
    principal: CurrentPrincipal,
    own: bool = False,
    signal_type: str | None = None,
    negative: bool | None = None,
) -> dict[str, int]:
    f = repo.BankFilter(own_only=own, signal_type=_signal_type(signal_type), negative=negative)
    return paging.count(request, principal, repo.count_banks, f)


@router.post("", permission=Permission.BANK_MANAGE, status_code=201, summary="Create a bank")
def create_bank(body: model.BankIn, request: Request, principal: CurrentPrincipal) -> Any:
    """The bank belongs to your organisation and carries its TLP marking; AMBER banks may be
    shared with organisations (``share_with``) or sharing groups, RED banks name their users."""
    state = app_state(request)
    try:
        with state.write() as conn:
            made = repo.create_bank(
                conn, state.clock, principal, actor_of(request, principal), body
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    return repo.bank_as_dict(made)


# ------------------------------------------------------------------------------ entries (any bank)


@dataclass(frozen=True)
class EntryQuery:
    """The narrowing query parameters of every entry listing and count."""

    signal_type: str | None = None
    signal: str | None = None
    category: str | None = None
    classification: str | None = None
    tag: str | None = None
    enabled: bool | None = None
    quarantined: bool | None = None


EntryParams = Annotated[EntryQuery, Depends()]


def _entry_filter(bank: str | None, q: EntryQuery) -> repo.EntryFilter:
    category, classification = q.category, q.classification
    if category is not None and category not in model.CATEGORIES:
        raise _bad(
            "category", f"unknown category {category!r} (one of {', '.join(model.CATEGORIES)})"
        )
    if classification is not None:
        try:
            classification = model.check_classification(classification)
        except ValueError as exc:
            raise _bad("classification", str(exc)) from None
    return repo.EntryFilter(
        bank=bank,
        signal_type=_signal_type(q.signal_type),
        signal=q.signal,
        category=category,
        classification=classification,
        tag=q.tag,
        enabled=q.enabled,
        quarantined=q.quarantined,
    )


def _list_entries(
    request: Request, principal: Any, f: repo.EntryFilter, limit: int, before_id: int | None
) -> dict[str, Any]:
    try:
        return paging.page(
            request,
            principal,
            repo.list_entries,
            f,
            limit=limit,
            before_id=before_id,
            show=repo.entry_as_dict,
        )
    except repo.BankError as exc:
        raise _problem(exc) from None


def _count_entries(request: Request, principal: Any, f: repo.EntryFilter) -> dict[str, int]:
    try:
        return paging.count(request, principal, repo.count_entries, f)
    except repo.BankError as exc:
        raise _problem(exc) from None


@router.get(
    "/entries", permission=Permission.BANK_READ, summary="Entries of every bank you may read"
)
def list_all_entries(
    request: Request,
    principal: CurrentPrincipal,
    q: EntryParams,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first, with opinion counts; ``signal`` (with ``signal_type``) finds one signal in
    every bank."""
    f = _entry_filter(None, q)
    return _list_entries(request, principal, f, limit, before_id)


@router.get(
    "/entries/count",
    permission=Permission.BANK_READ,
    summary="Count entries of every bank you may read",
)
def count_all_entries(
    request: Request,
    principal: CurrentPrincipal,
    q: EntryParams,
) -> dict[str, int]:
    f = _entry_filter(None, q)
    return _count_entries(request, principal, f)


@router.get(
    "/quarantined",
    permission=Permission.BANK_READ,
    summary="Entries the flood guard holds for review",
)
def list_quarantined(
    request: Request,
    principal: CurrentPrincipal,
    bank: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Quarantined entries of the banks you may read; the owner's members release them."""
    f = _entry_filter(bank, EntryQuery(quarantined=True))
    return _list_entries(request, principal, f, limit, before_id)


@router.get("/entries/{entry_id}", permission=Permission.BANK_READ, summary="One bank entry")
def get_entry(entry_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The entry with its opinion counts, and the opinions you may see (every organisation's
    for the bank's owner, your own otherwise)."""
    state = app_state(request)
    with state.write() as conn:
        found = repo.get_entry(conn, state.clock, principal, actor_of(request, principal), entry_id)
        if found is None:
            raise Problem(404, f"no bank entry with id {entry_id}")
        seen = repo.opinions_of(conn, principal, entry_id)
    out = repo.entry_as_dict(found)
    out["opinion_list"] = [repo.opinion_as_dict(o) for o in seen]
    return out


@router.put(
    "/entries/{entry_id}/opinion",
    permission=Permission.BANK_OPINION,
    summary="Confirm or dispute an entry for your organisation",
)
def set_opinion(
    entry_id: int, body: model.OpinionIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """One opinion per organisation: a new one replaces your organisation's earlier one."""
    state = app_state(request)
    try:
        with state.write() as conn:
            got = repo.set_opinion(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                entry_id,
                body.opinion,
                body.note,
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    return repo.entry_as_dict(got)


@router.delete(
    "/entries/{entry_id}/opinion",
    permission=Permission.BANK_OPINION,
    summary="Withdraw your organisation's opinion of an entry",
)
def withdraw_opinion(
    entry_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            gone = repo.withdraw_opinion(
                conn, state.clock, principal, actor_of(request, principal), entry_id
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    return {"entry_id": entry_id, "withdrawn": gone}


@router.post(
    "/entries/{entry_id}/release",
    permission=Permission.BANK_WRITE,
    summary="Release an entry the flood guard quarantined",
)
def release_entry(
    entry_id: int, body: model.ReleaseIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Members of the bank's owner only; the entry matches and alerts again."""
    state = app_state(request)
    try:
        with state.write() as conn:
            repo.review_release(
                conn, state.clock, principal, actor_of(request, principal), entry_id, body.note
            )
            found = repo.get_entry(
                conn, state.clock, principal, actor_of(request, principal), entry_id
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    assert found is not None
    return repo.entry_as_dict(found)


# ------------------------------------------------------------------------------ one bank


@router.get("/{bank}", permission=Permission.BANK_READ, summary="One bank, by name or id")
def get_bank(bank: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Its settings and entry counts."""
    state = app_state(request)
    with state.write() as conn:
        found = repo.get_bank(conn, state.clock, principal, actor_of(request, principal), bank)
        if found is None:
            raise Problem(404, f"no bank {bank}")
        stats = repo.bank_stats(conn, found.id)
        owner = repo.org_names(conn, [found.org_id]).get(found.org_id)
    out = repo.bank_as_dict(found, owner_name=owner)
    out["stats"] = repo.stats_as_dict(stats)
    return out


@router.patch("/{bank}", permission=Permission.BANK_MANAGE, summary="Change a bank's settings")
def update_bank(
    bank: str, body: model.BankUpdate, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Owner only. Fields left out stay; an empty ``default_classification`` removes it."""
    state = app_state(request)
    try:
        with state.write() as conn:
            got = repo.update_bank(
                conn, state.clock, principal, actor_of(request, principal), bank, body
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    return repo.bank_as_dict(got)


@router.delete("/{bank}", permission=Permission.BANK_MANAGE, summary="Delete a bank")
def delete_bank(bank: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Owner only. Its entries stop matching and disappear from every read; the name stays
    reserved."""
    state = app_state(request)
    try:
        with state.write() as conn:
            gone = repo.delete_bank(
                conn, state.clock, principal, actor_of(request, principal), bank
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    return {"deleted": gone.name, "id": gone.id}


@router.get("/{bank}/entries", permission=Permission.BANK_READ, summary="Entries of a bank")
def list_entries(
    bank: str,
    request: Request,
    principal: CurrentPrincipal,
    q: EntryParams,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Newest first, with opinion counts; ``classification`` filters on the effective one."""
    f = _entry_filter(bank, q)
    return _list_entries(request, principal, f, limit, before_id)


@router.get(
    "/{bank}/entries/count", permission=Permission.BANK_READ, summary="Count entries of a bank"
)
def count_entries(
    bank: str,
    request: Request,
    principal: CurrentPrincipal,
    q: EntryParams,
) -> dict[str, int]:
    f = _entry_filter(bank, q)
    return _count_entries(request, principal, f)


@router.post(
    "/{bank}/entries",
    permission=Permission.BANK_WRITE,
    summary="Add entries to a bank (duplicates are counted)",
)
def add_entries(
    bank: str, body: model.EntriesIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Owner only. Each entry's signal is normalised (lowercase hex); without a category an
    entry is ``positive`` (``negative`` in a negative bank)."""
    state = app_state(request)
    try:
        with state.write() as conn:
            done = repo.add_entries(
                conn, state.clock, principal, actor_of(request, principal), bank, body.entries
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    return done.as_dict()


def _set_enabled(
    bank: str, body: model.EntryIdsIn, request: Request, principal: Any, enabled: bool
) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            changed = repo.set_entries_enabled(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                bank,
                body.entry_ids,
                enabled,
            )
    except repo.BankError as exc:
        raise _problem(exc) from None
    return {"changed": changed, "unchanged": len(set(body.entry_ids)) - len(changed)}


@router.post(
    "/{bank}/entries/disable",
    permission=Permission.BANK_WRITE,
    summary="Disable entries without deleting them",
)
def disable_entries(
    bank: str, body: model.EntryIdsIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    return _set_enabled(bank, body, request, principal, False)


@router.post(
    "/{bank}/entries/enable", permission=Permission.BANK_WRITE, summary="Enable entries again"
)
def enable_entries(
    bank: str, body: model.EntryIdsIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    return _set_enabled(bank, body, request, principal, True)


def _body_lines(chunks: AsyncIterator[bytes]) -> Iterator[str]:
    """The request body's lines, pulled from the event loop as the worker thread needs them."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    rest = ""
    line_no = 0

    def pull() -> bytes | None:
        async def one() -> bytes | None:
            try:
                return await chunks.__anext__()
            except StopAsyncIteration:
                return None

        return anyio.from_thread.run(one)

    while True:
        chunk = pull()
        final = chunk is None
        try:
            text = decoder.decode(chunk or b"", final=final)
        except UnicodeDecodeError:
            raise files.FileFormatError(f"line {line_no + 1}: the body is not UTF-8") from None
        rest += text
        *whole, rest = rest.split("\n")
        for line in whole:
            line_no += 1
            yield line + "\n"
        if final:
            if rest:
                yield rest
            return


@router.post(
    "/{bank}/import",
    permission=Permission.BANK_IMPORT,
    summary="Import entries from a streamed file (pytx, dataset CSV or plain CSV)",
)
async def import_entries(
    bank: str,
    request: Request,
    principal: CurrentPrincipal,
    format: str = "pytx",
    signal_type: str | None = None,
    skip_invalid: bool = False,
    category: str | None = None,
    classification: str | None = None,
    source: str = "",
    tags: str = "",
) -> dict[str, Any]:
    """The body is the file itself, read as it arrives and stored in chunks in one transaction
    (bodies are capped by ``api.max_body_bytes``; larger lists go in several requests or through
    ``cordon bank import``). ``signal_type`` is the type of bare signals (pytx). Every invalid
    line is reported by number; unless ``skip_invalid`` is set, one invalid line means nothing is
    imported. Duplicates are counted, not errors. ``category``, ``classification``, ``source``
    and ``tags`` (space-separated) apply to lines that carry none."""
    fmt = _format(format)
    _signal_type(signal_type)
    state = app_state(request)
    actor = actor_of(request, principal)
    chunks = request.stream().__aiter__()

    def work() -> repo.ImportResult:
        with db.write(state.engine) as conn:
            records = files.read(fmt, _body_lines(chunks), signal_type)
            return repo.import_entries(
                conn,
                state.clock,
                principal,
                actor,
                bank,
                records,
                fmt=fmt,
                skip_invalid=skip_invalid,
                category=category,
                classification=classification,
                source=source,
                tags=tags.split(),
            )

    try:
        done = await run_in_threadpool(work)
    except files.FileFormatError as exc:
        raise _bad("body", str(exc)) from None
    except repo.BankError as exc:
        raise _problem(exc) from None
    except ValueError as exc:
        raise _bad("parameters", str(exc)) from None
    return done.as_dict()


@router.get(
    "/{bank}/export",
    permission=Permission.BANK_EXPORT,
    summary="Export a bank, streamed (pytx, dataset CSV or plain CSV)",
)
def export_entries(
    bank: str,
    request: Request,
    principal: CurrentPrincipal,
    format: str = "pytx",
    signal_type: str | None = None,
    include_disabled: bool = False,
    bare: bool = False,
) -> StreamingResponse:
    """The export is audited before any data is sent. python-threatexchange's formats hold
    ``pdq`` and ``video_md5``; Cordon's ``photo_md5`` and ``photo_sha256`` are exported in files
    of their own by naming ``signal_type``. ``bare`` writes pytx signals without their type."""
    fmt = _format(format)
    state = app_state(request)
    try:
        with state.write() as conn:
            plan = repo.plan_export(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                bank,
                fmt=fmt,
                signal_type=_signal_type(signal_type),
                include_disabled=include_disabled,
                bare=bare,
            )
    except repo.BankError as exc:
        raise _problem(exc) from None

    def body() -> Iterator[bytes]:
        with db.read(state.engine) as conn:
            buf: list[str] = []
            size = 0
            rows = repo.export_rows(conn, principal, plan)
            for line in files.render(fmt, rows, collab=plan.bank.name, bare=plan.bare):
                buf.append(line)
                size += len(line)
                if size >= EXPORT_CHUNK:
                    yield "".join(buf).encode()
                    buf, size = [], 0
            if buf:
                yield "".join(buf).encode()

    ext = "txt" if fmt == "pytx" else "csv"
    name = f"{plan.bank.name}.{'+'.join(plan.signal_types)}.{fmt}.{ext}"
    return StreamingResponse(
        body(),
        media_type=files.MEDIA_TYPES[fmt] + "; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""Following the money: payment identifiers, sightings, test purchases, ownership, merchant
descriptors, crypto transactions and metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cordon.api import paging
from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem, not_found
from cordon.api.routing import CordonRouter
from cordon.api.state import AppState, actor_of, app_state
from cordon.audit.log import Actor
from cordon.domain.partners import Principal
from cordon.domain.payments import InvalidPaymentIdentifier
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.money import crypto, descriptors, files, metrics, purchases, repo, sightings
from cordon.money.identifiers import IdentifierType, parse_identifier
from cordon.money.model import OwnershipIn, PurchaseIn, SightingIn
from cordon.notices import repo as notices
from cordon.notices.policy import NoticePolicy
from cordon.store import db

router = CordonRouter(prefix="/v1/money", tags=["money"])

_CSV_TYPES = ("text/csv", "application/csv")


def _policy(state: AppState) -> NoticePolicy:
    return NoticePolicy.from_settings(state.settings)


def _problem(exc: repo.MoneyError) -> Problem:
    if isinstance(exc, repo.NotFound):
        return Problem(404, str(exc))
    status = 409 if isinstance(exc, purchases.IdempotencyConflict) else 422
    errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
    return Problem(status, str(exc), errors=errors)


async def _csv_body(request: Request) -> str:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in _CSV_TYPES:
        raise Problem(415, "send the file as text/csv")
    raw = await request.body()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "the file is not UTF-8") from None


def _row_problem(errors: list[files.RowError]) -> Problem:
    return Problem(
        422,
        f"{len(errors)} row error(s); nothing was stored",
        errors=[{"line": e.line, "field": e.field, "message": e.message} for e in errors],
    )


def _jsonl(items: list[dict[str, Any]]) -> StreamingResponse:
    def lines() -> Iterator[bytes]:
        for item in items:
            yield (json.dumps(item, ensure_ascii=False) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# ------------------------------------------------------------------------------ identifiers


def _identifier_filter(
    type_: str | None, chain: str | None, owned: bool, site: str | None
) -> repo.IdentifierFilter:
    parsed: IdentifierType | None = None
    if type_ is not None:
        try:
            parsed = IdentifierType(type_)
        except ValueError:
            allowed = ", ".join(t.value for t in IdentifierType)
            raise Problem(
                422,
                f"unknown identifier type {type_!r}; use one of {allowed}",
                errors=[{"field": "type", "message": "unknown"}],
            ) from None
    return repo.IdentifierFilter(type=parsed, chain=chain, owned_only=owned, site=site)


def _detail(
    conn: Any,
    state: AppState,
    principal: Principal,
    actor: Actor,
    ident: repo.Identifier,
) -> dict[str, Any]:
    """An identifier with what the principal may see of it: sightings, its alerts (only the
    recipient sees an alert), test purchases and, for an address, its wallet."""
    seen = repo.sightings_of(conn, [ident.id], visible_to=principal)
    names = repo.org_names(conn, [ident.owner_org_id])
    out = repo.identifier_as_dict(
        ident, owner_name=names.get(ident.owner_org_id or 0), sightings=seen
    )
    alerts = notices.list_page(
        conn,
        state.clock,
        principal,
        actor,
        notices.NoticeFilter(subject_kind="payment_identifier", subject_id=ident.id),
    )
    out["alerts"] = [notices.notice_as_dict(n) for n in alerts]
    bought = purchases.list_page(
        conn,
        state.clock,
        principal,
        actor,
        purchases.PurchaseFilter(identifier_id=ident.id),
        limit=100,
    )
    out["test_purchases"] = [purchases.purchase_as_dict(p) for p in bought]
    if ident.type is IdentifierType.CRYPTO_ADDRESS:
        wallet = crypto.wallet_of(conn, principal, ident.key)
        out["wallet"] = None if wallet is None else crypto.wallet_as_dict(wallet)
    return out


@router.get("/identifiers", permission=Permission.MONEY_READ, summary="List payment identifiers")
def list_identifiers(
    request: Request,
    principal: CurrentPrincipal,
    type: str | None = None,
    chain: str | None = None,
    owned: bool = False,
    site: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Identifiers you may see, newest first: those your organisation owns and those seen on
    pages or in test purchases you may see. Every read is audited."""
    f = _identifier_filter(type, chain, owned, site)
    state = app_state(request)
    with state.write() as conn:
        page = repo.list_identifiers(
            conn,
            state.clock,
            principal,
            actor_of(request, principal),
            f,
            limit=limit,
            before_id=before_id,
        )
        names = repo.org_names(conn, [i.owner_org_id for i in page])
    return {
        "items": [
            repo.identifier_as_dict(i, owner_name=names.get(i.owner_org_id or 0)) for i in page
        ],
        "next_before_id": page[-1].id if len(page) == limit else None,
    }


@router.get(
    "/identifiers/count", permission=Permission.MONEY_READ, summary="Count payment identifiers"
)
def count_identifiers(
    request: Request,
    principal: CurrentPrincipal,
    type: str | None = None,
    chain: str | None = None,
    owned: bool = False,
    site: str | None = None,
) -> dict[str, int]:
    f = _identifier_filter(type, chain, owned, site)
    state = app_state(request)
    with state.read() as conn:
        return {"count": repo.count_identifiers(conn, principal, f)}


@router.get(
    "/identifiers/export",
    permission=Permission.MONEY_EXPORT,
    summary="Export the payment identifiers you may see as JSON Lines",
)
def export_identifiers(
    request: Request,
    principal: CurrentPrincipal,
    type: str | None = None,
    chain: str | None = None,
    owned: bool = False,
    site: str | None = None,
) -> StreamingResponse:
    f = _identifier_filter(type, chain, owned, site)
    state = app_state(request)
    with state.write() as conn:
        found = repo.export_identifiers(
            conn, state.clock, principal, actor_of(request, principal), f
        )
        names = repo.org_names(conn, [i.owner_org_id for i in found])
    return _jsonl(
        [repo.identifier_as_dict(i, owner_name=names.get(i.owner_org_id or 0)) for i in found]
    )


@router.get(
    "/identifiers/lookup",
    permission=Permission.MONEY_READ,
    summary="One payment identifier by its value, with sightings, purchases, alerts, wallet",
)
def lookup_identifier(
    request: Request, principal: CurrentPrincipal, value: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    """``value`` as people write it: an address, an IBAN, a checkout link, ``provider:account``
    or ``card:BIN:MERCHANT_ID``."""
    state = app_state(request)
    actor = actor_of(request, principal)
    with state.write() as conn:
        try:
            spec = parse_identifier(value, repo.registry(conn))
        except InvalidPaymentIdentifier as exc:
            raise Problem(
                422, str(exc), errors=[{"field": "value", "message": exc.reason}]
            ) from None
        ident = repo.find_identifier(conn, state.clock, principal, actor, spec.key)
        if ident is None:
            raise Problem(404, f"no payment identifier {spec.key}")
        return _detail(conn, state, principal, actor, ident)


@router.get(
    "/identifiers/{identifier_id}",
    permission=Permission.MONEY_READ,
    summary="One payment identifier, with sightings, purchases, alerts, wallet",
)
def get_identifier(
    identifier_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    actor = actor_of(request, principal)
    with state.write() as conn:
        ident = repo.get_identifier(conn, state.clock, principal, actor, identifier_id)
        if ident is None:
            raise not_found("payment identifier", identifier_id)
        return _detail(conn, state, principal, actor, ident)


# ------------------------------------------------------------------------------ sightings


@router.post(
    "/sightings",
    permission=Permission.MONEY_RECORD,
    status_code=201,
    summary="Record an identifier seen on a page (by hand)",
)
def record_sighting(body: SightingIn, request: Request, principal: CurrentPrincipal) -> Any:
    """The sighting carries your organisation and its TLP marking; an alert goes to the
    identifier's owner once its site is confirmed."""
    state = app_state(request)
    try:
        with state.write() as conn:
            done = sightings.record_by_hand(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                identifier=body.identifier,
                site_url=body.site_url,
                tlp=body.tlp,
                note=body.note,
                share_with=body.share_with,
                policy=_policy(state),
            )
    except repo.MoneyError as exc:
        raise _problem(exc) from None
    return {
        "identifier_id": done.identifier_id,
        "sighting_id": done.sighting_id,
        "new_identifier": done.new_identifier,
        "alerts": [{"action": a.action, "notice_id": a.notice_id} for a in done.alerts],
    }


# ------------------------------------------------------------------------------ test purchases


@router.post(
    "/test-purchases",
    permission=Permission.TEST_PURCHASE_CREATE,
    status_code=201,
    summary="Record a test purchase",
    responses={200: {"description": "An idempotent retry: the purchase stored the first time"}},
)
def create_purchase(
    body: PurchaseIn,
    request: Request,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> Any:
    state = app_state(request)
    try:
        with state.write() as conn:
            done = purchases.submit(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                body,
                channel="api",
                idempotency_key=idempotency_key,
                policy=_policy(state),
                threshold=state.settings.money.descriptor_threshold,
            )
    except repo.MoneyError as exc:
        raise _problem(exc) from None
    return JSONResponse(
        purchases.purchase_as_dict(done.purchase), status_code=201 if done.created else 200
    )


@router.post(
    "/test-purchases/import",
    permission=Permission.TEST_PURCHASE_CREATE,
    summary="Import test purchases from a CSV body; all rows or none",
)
async def import_purchases(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Every row is checked first; if any is wrong nothing is stored and the answer lists every
    bad row with its line and field."""
    text = await _csv_body(request)
    try:
        rows, errors = files.read_purchases(text)
    except files.FileFormatError as exc:
        raise Problem(422, str(exc)) from None
    if errors:
        raise _row_problem(errors)
    state = app_state(request)

    def work() -> list[purchases.RowResult]:
        with db.write(state.engine) as conn:
            return purchases.import_rows(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                [(r.line, r.purchase, r.idempotency_key) for r in rows],
                channel="import",
                policy=_policy(state),
                threshold=state.settings.money.descriptor_threshold,
            )

    try:
        results = await run_in_threadpool(work)
    except repo.MoneyError as exc:
        raise _problem(exc) from None
    return {
        "created": sum(1 for r in results if r.created),
        "replayed": sum(1 for r in results if not r.created),
        "rows": [
            {"line": r.line, "purchase_id": r.purchase_id, "created": r.created} for r in results
        ],
    }


def _purchase_filter(own: bool, since: datetime | None) -> purchases.PurchaseFilter:
    if since is not None and since.tzinfo is None:
        raise Problem(422, "since needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return purchases.PurchaseFilter(own_only=own, since=since)


@router.get("/test-purchases", permission=Permission.MONEY_READ, summary="List test purchases")
def list_purchases(
    request: Request,
    principal: CurrentPrincipal,
    own: bool = False,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: int | None = None,
) -> dict[str, Any]:
    f = _purchase_filter(own, since)
    return paging.page(
        request,
        principal,
        purchases.list_page,
        f,
        limit=limit,
        before_id=before_id,
        show=purchases.purchase_as_dict,
    )


@router.get(
    "/test-purchases/count", permission=Permission.MONEY_READ, summary="Count test purchases"
)
def count_purchases(
    request: Request, principal: CurrentPrincipal, own: bool = False, since: datetime | None = None
) -> dict[str, int]:
    f = _purchase_filter(own, since)
    return paging.count(request, principal, purchases.count, f)


@router.get(
    "/test-purchases/export",
    permission=Permission.MONEY_EXPORT,
    summary="Export the test purchases you may see as JSON Lines",
)
def export_purchases(
    request: Request, principal: CurrentPrincipal, own: bool = False, since: datetime | None = None
) -> StreamingResponse:
    f = _purchase_filter(own, since)
    state = app_state(request)
    with state.write() as conn:
        items = [
            purchases.purchase_as_dict(p)
            for p in purchases.export(conn, state.clock, principal, actor_of(request, principal), f)
        ]
    return _jsonl(items)


@router.get(
    "/test-purchases/{purchase_id}", permission=Permission.MONEY_READ, summary="One test purchase"
)
def get_purchase(purchase_id: int, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        found = purchases.get(
            conn, state.clock, principal, actor_of(request, principal), purchase_id
        )
    if found is None:
        raise not_found("test purchase", purchase_id)
    return purchases.purchase_as_dict(found)


# ------------------------------------------------------------------------------ ownership


@router.get(
    "/ownership",
    permission=Permission.MONEY_READ,
    summary="What your organisation registered as its own",
)
def list_ownership(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        return {"items": [repo.ownership_as_dict(o) for o in repo.list_ownership(conn, principal)]}


@router.post(
    "/ownership",
    permission=Permission.MONEY_OWNERSHIP_MANAGE,
    status_code=201,
    summary="Register a checkout provider, BIN range, deposit address or IBAN bank as yours",
)
def add_ownership(
    body: OwnershipIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Payment providers only. Identifiers it covers become yours; alerts due on them are sent
    to you at once."""
    state = app_state(request)
    actor = actor_of(request, principal)
    try:
        with state.write() as conn:
            change = repo.register_ownership(
                conn,
                state.clock,
                principal,
                actor,
                kind=body.kind,
                value=body.value,
                spec=body.spec,
            )
            raised = alerts_for(conn, state, actor, change.identifiers)
    except repo.MoneyError as exc:
        raise _problem(exc) from None
    return {
        **repo.ownership_as_dict(change.ownership),
        "identifiers": len(change.identifiers),
        "alerts": raised,
    }


def alerts_for(conn: Any, state: AppState, actor: Actor, identifier_ids: list[int]) -> int:
    from cordon.money import alerts

    done = alerts.raise_alerts(conn, state.clock, actor, _policy(state), identifier_ids)
    return sum(1 for a in done if a.action in ("issued", "reopened"))


@router.delete(
    "/ownership/{ownership_id}",
    permission=Permission.MONEY_OWNERSHIP_MANAGE,
    summary="Withdraw one of your registrations",
)
def remove_ownership(
    ownership_id: int, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    actor = actor_of(request, principal)
    try:
        with state.write() as conn:
            change = repo.remove_ownership(conn, state.clock, principal, actor, ownership_id)
            alerts_for(conn, state, actor, change.identifiers)
    except repo.MoneyError as exc:
        raise _problem(exc) from None
    return {"removed": ownership_id, "identifiers": len(change.identifiers)}


# ------------------------------------------------------------------------------ descriptors


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["confirmed", "split"]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a_id: int = Field(description="A merchant descriptor id")
    b_id: int = Field(description="Another merchant descriptor id")


@router.get(
    "/descriptors/links",
    permission=Permission.MONEY_READ,
    summary="Links between merchant descriptor variants, with their evidence",
)
def list_links(
    request: Request,
    principal: CurrentPrincipal,
    decision: Literal["auto", "confirmed", "split"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        found = descriptors.list_links(conn, principal, decision=decision, limit=limit)
    return {"items": [descriptors.link_as_dict(link) for link in found]}


@router.post(
    "/descriptors/links",
    permission=Permission.DESCRIPTOR_DECIDE,
    status_code=201,
    summary="Link two merchant descriptors by hand",
)
def add_link(body: LinkIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            link = descriptors.link_by_hand(
                conn, state.clock, principal, actor_of(request, principal), body.a_id, body.b_id
            )
    except repo.MoneyError as exc:
        raise _problem(exc) from None
    return descriptors.link_as_dict(link)


@router.post(
    "/descriptors/links/{link_id}/decision",
    permission=Permission.DESCRIPTOR_DECIDE,
    summary="Confirm or split a descriptor link",
)
def decide_link(
    link_id: int, body: DecisionIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    state = app_state(request)
    try:
        with state.write() as conn:
            link = descriptors.decide(
                conn, state.clock, principal, actor_of(request, principal), link_id, body.decision
            )
    except repo.MoneyError as exc:
        raise _problem(exc) from None
    return descriptors.link_as_dict(link)


@router.get(
    "/merchants",
    permission=Permission.MONEY_READ,
    summary="Merchants: groups of descriptor variants linked (and not split)",
)
def list_merchants(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        groups = descriptors.merchants(conn, principal)
    return {
        "items": [
            {"descriptors": [{"id": d.id, "text": d.text, "normalised": d.normalised} for d in g]}
            for g in groups
        ]
    }


# ------------------------------------------------------------------------------ crypto


@router.post(
    "/crypto/transactions/import",
    permission=Permission.CRYPTO_IMPORT,
    summary="Import crypto transactions from a CSV body; all rows or none",
)
async def import_transactions(
    request: Request,
    principal: CurrentPrincipal,
    tlp: str = "AMBER",
) -> dict[str, Any]:
    """Columns: chain, txid, time, direction (in/out), address, amount. The transactions
    become your organisation's records under ``tlp``."""
    try:
        marking = Tlp.parse(tlp)
    except ValueError as exc:
        raise Problem(422, str(exc), errors=[{"field": "tlp", "message": str(exc)}]) from None
    text = await _csv_body(request)
    try:
        txs, errors = files.read_transactions(text)
    except files.FileFormatError as exc:
        raise Problem(422, str(exc)) from None
    if errors:
        raise _row_problem(errors)
    state = app_state(request)

    def work() -> crypto.ImportResult:
        with db.write(state.engine) as conn:
            return crypto.import_transactions(
                conn, state.clock, principal, actor_of(request, principal), txs, tlp=marking
            )

    done = await run_in_threadpool(work)
    return {"created": done.created, "already_present": done.already_present}


@router.get(
    "/crypto/wallets",
    permission=Permission.MONEY_READ,
    summary="Wallets of a chain (common-input ownership) with total received",
)
def list_wallets(
    request: Request,
    principal: CurrentPrincipal,
    chain: Annotated[str, Query(pattern="^(btc|ltc|bch|eth|trx|xmr)$")] = "btc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    state = app_state(request)
    with state.read() as conn:
        found = crypto.wallets(conn, principal, chain)
    return {"items": [crypto.wallet_as_dict(w) for w in found[:limit]], "total": len(found)}


# ------------------------------------------------------------------------------ metrics


@router.get(
    "/metrics",
    permission=Permission.MONEY_METRICS_READ,
    summary="Time to alert and to closure per provider and method; payment-method mix",
)
def money_metrics(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Aggregates only. A payment provider sees its own figures."""
    state = app_state(request)
    with state.read() as conn:
        return metrics.metrics_as_dict(
            metrics.alert_metrics(conn, principal), metrics.payment_method_mix(conn, principal)
        )

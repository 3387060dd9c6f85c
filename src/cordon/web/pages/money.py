"""Following the money: payment identifiers (list, counts, one identifier) and test purchases.

Everything comes through the money feature's own reads, which apply the access policy: a
payment provider sees the identifiers it owns and its own submissions, nothing of another
provider's; an alert about an identifier is shown to its recipient organisation only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.problems import Problem
from cordon.api.state import actor_of, app_state
from cordon.domain.permissions import Permission
from cordon.domain.urls import refang
from cordon.money import crypto, purchases
from cordon.money import repo as money
from cordon.money.identifiers import IdentifierType
from cordon.notices import repo as notices
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render, render_fragment

router = ConsoleRouter()

PAGE_SIZE = 50
CHAINS = ("btc", "ltc", "bch", "eth", "trx", "xmr")


@dataclass
class IdentifierQuery:
    """The filters of the identifier list as the form holds them, and what they mean."""

    type: str = ""
    chain: str = ""
    site: str = ""
    owned: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    def to_filter(self) -> money.IdentifierFilter:
        parsed: IdentifierType | None = None
        if self.type:
            try:
                parsed = IdentifierType(self.type)
            except ValueError:
                allowed = ", ".join(t.value for t in IdentifierType)
                self.errors["type"] = f"{self.type!r} is not a type of identifier; use {allowed}"
        if self.chain and self.chain not in CHAINS:
            self.errors["chain"] = f"{self.chain!r} is not a chain; use one of {', '.join(CHAINS)}"
        return money.IdentifierFilter(
            type=parsed,
            chain=self.chain or None,
            owned_only=self.owned,
            site=refang(self.site).strip().lower() or None,
        )

    def query_string(self, **extra: Any) -> str:
        values: dict[str, Any] = {
            k: v
            for k, v in (
                ("type", self.type),
                ("chain", self.chain),
                ("site", self.site),
                ("owned", "1" if self.owned else ""),
            )
            if v
        }
        values.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(values)


@router.get(
    "/money/identifiers",
    permission=Permission.MONEY_READ,
    summary="Console: the payment identifiers you may see",
)
def list_identifiers(
    request: Request,
    principal: CurrentPrincipal,
    type: str = "",
    chain: str = "",
    site: str = "",
    owned: str = "",
    before_id: int | None = None,
) -> Response:
    """Newest first, in pages, filtered as the API's list is; with counts per type."""
    query = IdentifierQuery(type=type, chain=chain.lower(), site=site[:255], owned=bool(owned))
    wanted = query.to_filter()
    state = app_state(request)
    items: list[money.Identifier] = []
    total = 0
    per_type: list[dict[str, Any]] = []
    owners: dict[int, str] = {}
    if not query.errors:
        with state.write() as conn:
            items = money.list_identifiers(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                wanted,
                limit=PAGE_SIZE,
                before_id=before_id,
            )
            total = money.count_identifiers(conn, principal, wanted)
            for t in IdentifierType:
                narrowed = money.IdentifierFilter(
                    type=t, chain=wanted.chain, owned_only=wanted.owned_only, site=wanted.site
                )
                per_type.append(
                    {"label": t.value, "value": money.count_identifiers(conn, principal, narrowed)}
                )
            owners = money.org_names(conn, [i.owner_org_id for i in items])
    context = {
        "query": query,
        "items": items,
        "total": total,
        "per_type": per_type,
        "owners": owners,
        "types": [t.value for t in IdentifierType],
        "chains": CHAINS,
        "me_org": principal.org_id,
        "older": query.query_string(before_id=items[-1].id) if len(items) == PAGE_SIZE else None,
        "first_page": query.query_string() if before_id is not None else None,
    }
    if request.headers.get("hx-target") == "identifier-results":
        return render_fragment("money/_identifiers.html", context)
    return render(request, "money/identifiers.html", context)


@router.get(
    "/money/identifiers/{identifier_id}",
    permission=Permission.MONEY_READ,
    summary="Console: one payment identifier (sightings, sites, owner, purchases, alerts)",
)
def identifier_detail(
    identifier_id: int, request: Request, principal: CurrentPrincipal
) -> Response:
    state = app_state(request)
    actor = actor_of(request, principal)
    with state.write() as conn:
        ident = money.get_identifier(conn, state.clock, principal, actor, identifier_id)
        if ident is None:
            raise Problem(404, f"no payment identifier with id {identifier_id}")
        seen = money.sightings_of(conn, [ident.id], visible_to=principal)
        owner = money.org_names(conn, [ident.owner_org_id]).get(ident.owner_org_id or 0)
        alerts = notices.list_page(
            conn,
            state.clock,
            principal,
            actor,
            notices.NoticeFilter(subject_kind="payment_identifier", subject_id=ident.id),
        )
        bought = purchases.list_page(
            conn,
            state.clock,
            principal,
            actor,
            purchases.PurchaseFilter(identifier_id=ident.id),
            limit=100,
        )
        purchase_orgs = money.org_names(conn, [p.owner_org_id for p in bought])
        wallet = None
        if ident.type is IdentifierType.CRYPTO_ADDRESS:
            wallet = crypto.wallet_of(conn, principal, ident.key)
    sites: dict[str, dict[str, Any]] = {}
    for s in seen:
        entry = sites.setdefault(
            s.site,
            {"site": s.site, "pages": set(), "first": s.first_seen_at, "last": s.last_seen_at},
        )
        entry["pages"].add((s.url_id, s.url))
        entry["first"] = min(entry["first"], s.first_seen_at)
        entry["last"] = max(entry["last"], s.last_seen_at)
        entry["confirmed"] = entry.get("confirmed") or s.confirmed_at
    return render(
        request,
        "money/identifier.html",
        {
            "ident": ident,
            "owner": owner,
            "mine": ident.owner_org_id == principal.org_id,
            "sightings": seen,
            "sites": sorted(sites.values(), key=lambda e: e["site"]),
            "alerts": alerts,
            "purchases": bought,
            "orgs": purchase_orgs,
            "me_org": principal.org_id,
            "wallet": wallet,
        },
    )


@router.get(
    "/money/test-purchases",
    permission=Permission.MONEY_READ,
    summary="Console: the test purchases you may see",
)
def list_purchases(
    request: Request,
    principal: CurrentPrincipal,
    own: str = "",
    since: str = "",
    before_id: int | None = None,
) -> Response:
    errors: dict[str, str] = {}
    since_at: datetime | None = None
    if since:
        try:
            day = date.fromisoformat(since)
            since_at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        except ValueError:
            errors["since"] = f"{since!r} is not a date (YYYY-MM-DD)"
    wanted = purchases.PurchaseFilter(own_only=bool(own), since=since_at)
    state = app_state(request)
    items: list[purchases.Purchase] = []
    total = 0
    names: dict[int, str] = {}
    if not errors:
        with state.write() as conn:
            items = purchases.list_page(
                conn,
                state.clock,
                principal,
                actor_of(request, principal),
                wanted,
                limit=PAGE_SIZE,
                before_id=before_id,
            )
            total = purchases.count(conn, principal, wanted)
            names = money.org_names(conn, [p.owner_org_id for p in items])
    base = {k: v for k, v in (("own", "1" if own else ""), ("since", since)) if v}
    return render(
        request,
        "money/purchases.html",
        {
            "items": items,
            "total": total,
            "orgs": names,
            "own": bool(own),
            "since": since,
            "errors": errors,
            "me_org": principal.org_id,
            "older": urlencode({**base, "before_id": items[-1].id})
            if len(items) == PAGE_SIZE
            else None,
            "first_page": urlencode(base) if before_id is not None else None,
        },
    )

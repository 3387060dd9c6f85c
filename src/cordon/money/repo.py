"""Payment identifiers, their owners, sightings and confirmed sites: storage and reads.

Every read goes through the access policy (:mod:`cordon.store.access`):

* a **sighting** is visible to whoever may see a report naming a URL of its site (the
  registrable domain: the crawler finds payment pages the report did not name), or the test
  purchase that made it, or (for one an organisation recorded itself) its own marking;
* an **identifier** is visible to its owner (the payment provider it belongs to) and to
  whoever may see one of its sightings;
* a payment provider, being addressee-only, therefore sees the identifiers it owns and those
  of its own submissions, nothing else.

Reads of identifiers are always audited: a wallet or merchant account is sensitive whatever
the marking of the report that led to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.domain.partners import OrgType, Principal
from cordon.domain.payments import (
    DEFAULT_CHECKOUT_REGISTRY,
    CheckoutRegistry,
    InvalidPaymentIdentifier,
    InvalidProviderSpec,
    parse_acquirer_bin,
    parse_crypto_address,
    provider_from_mapping,
    provider_to_mapping,
)
from cordon.domain.tlp import Tlp
from cordon.domain.urls import InvalidUrl, normalize_url
from cordon.money.identifiers import (
    RESERVED_PROVIDER_NAMES,
    IdentifierSpec,
    IdentifierType,
    payment_method,
)
from cordon.store import access
from cordon.store.db import is_postgres
from cordon.store.tables import organisation, report, report_url, url
from cordon.store.tables_money import (
    money_ownership,
    payment_identifier,
    payment_sighting,
    test_purchase,
    url_confirmation,
)
from cordon.store.types import UtcDateTime
from cordon.store.urls import upsert_url

IDENTIFIER_KIND = "payment_identifier"
SIGHTING_KIND = "payment_sighting"
PURCHASE_KIND = "test_purchase"
MAX_EVIDENCE_BYTES = 16 * 1024
#: Sightings and purchases whose marking lets them be shown to an alert's recipient. AMBER is
#: included: the recipient must act on it, which is the need-to-know TLP 2.0's AMBER allows.
RELEASABLE = (Tlp.CLEAR.value, Tlp.GREEN.value, Tlp.AMBER.value)


class MoneyError(ValueError):
    """A request about payment records that cannot be carried out; ``field`` names the part."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(MoneyError):
    """No such record, or the caller may not see it: the same answer."""


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Identifier:
    id: int
    type: IdentifierType
    key: str
    value: str
    chain: str | None
    network: str | None
    provider: str | None
    account_id: str | None
    acquirer_bin: str | None
    merchant_id: str | None
    country: str | None
    bank_code: str | None
    owner_org_id: int | None
    owner_basis: str | None
    first_seen_at: datetime
    last_seen_at: datetime

    @property
    def payment_method(self) -> str:
        """card, payment_service, crypto:<chain> or bank_transfer."""
        return payment_method(self.type, self.chain)


@dataclass(frozen=True)
class Sighting:
    id: int
    identifier_id: int
    url_id: int
    url: str
    site: str
    source: str
    evidence: dict[str, Any]
    owner_org_id: int | None
    tlp: Tlp | None
    test_purchase_id: int | None
    first_seen_at: datetime
    last_seen_at: datetime
    times: int
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class Confirmation:
    url_id: int
    site: str
    confirmed_at: datetime
    capture_id: int | None
    capture_time: datetime | None
    match_summary: dict[str, Any]
    source: str


@dataclass(frozen=True)
class Ownership:
    id: int
    org_id: int
    kind: str
    value: str
    bin_low: str | None
    bin_high: str | None
    spec: dict[str, Any] | None
    created_at: datetime


def _identifier(row: Any) -> Identifier:
    return Identifier(
        id=int(row.id),
        type=IdentifierType(row.type),
        key=row.key,
        value=row.value,
        chain=row.chain,
        network=row.network,
        provider=row.provider,
        account_id=row.account_id,
        acquirer_bin=row.acquirer_bin,
        merchant_id=row.merchant_id,
        country=row.country,
        bank_code=row.bank_code,
        owner_org_id=row.owner_org_id,
        owner_basis=row.owner_basis,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
    )


def _ownership(row: Any) -> Ownership:
    return Ownership(
        id=int(row.id),
        org_id=int(row.org_id),
        kind=row.kind,
        value=row.value,
        bin_low=row.bin_low,
        bin_high=row.bin_high,
        spec=dict(row.spec) if row.spec else None,
        created_at=row.created_at,
    )


# ------------------------------------------------------------------------------ URLs


def url_id_for(conn: Connection, now: datetime, raw: str) -> int:
    """The id of a URL (normalised), stored if new. Raises :class:`MoneyError` if invalid."""
    try:
        n = normalize_url(raw)
    except InvalidUrl as exc:
        raise MoneyError(str(exc), "site_url") from None
    return upsert_url(conn, now, n)


def _site_of(conn: Connection, url_id: int) -> tuple[str, str]:
    row = conn.execute(
        select(url.c.url, url.c.registrable_domain).where(url.c.id == url_id)
    ).first()
    if row is None:
        raise MoneyError(f"no URL with id {url_id}", "url_id")
    return row.url, row.registrable_domain


# ------------------------------------------------------------------------------ registry


def registry(conn: Connection) -> CheckoutRegistry:
    """The checkout providers Cordon recognises: the shipped ones and every registered one."""
    # A JSON null is not SQL NULL on every backend: filter here.
    specs = conn.execute(
        select(money_ownership.c.spec)
        .where(money_ownership.c.kind == "checkout_provider")
        .order_by(money_ownership.c.id)
    ).scalars()
    return DEFAULT_CHECKOUT_REGISTRY.extended_from_data([dict(s) for s in specs if s])


# ------------------------------------------------------------------------------ identifiers


_NEW_IDENTIFIER_PG = (
    pg_insert(payment_identifier)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(payment_identifier.c.id)
)
_NEW_IDENTIFIER_SQLITE = (
    sqlite_insert(payment_identifier)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(payment_identifier.c.id)
)


def load_identifier(conn: Connection, identifier_id: int) -> Identifier | None:
    """The identifier, without an access check (for the feature's own work)."""
    row = conn.execute(
        select(payment_identifier).where(payment_identifier.c.id == identifier_id)
    ).first()
    return None if row is None else _identifier(row)


def identifier_by_key(conn: Connection, key: str) -> Identifier | None:
    """The identifier with ``key``, without an access check."""
    row = conn.execute(select(payment_identifier).where(payment_identifier.c.key == key)).first()
    return None if row is None else _identifier(row)


# ------------------------------------------------------------------------------ ownership


def _bin_bounds(text: str) -> tuple[str, str]:
    """8-digit bounds of a BIN (``540518``) or a range (``54051800-54051899``)."""
    low_text, sep, high_text = text.partition("-")
    try:
        low = parse_acquirer_bin(low_text)
        high = parse_acquirer_bin(high_text) if sep else low
    except InvalidPaymentIdentifier as exc:
        raise MoneyError(str(exc), "value") from None
    lo, hi = low.ljust(8, "0"), high.ljust(8, "9")
    if lo > hi:
        raise MoneyError(f"BIN range {text!r} runs backwards", "value")
    return lo, hi


def _resolve_owner(conn: Connection, spec: IdentifierSpec) -> tuple[int | None, str | None]:
    """The registered owner of an identifier and the registration that makes it so."""
    if spec.type is IdentifierType.CHECKOUT_ACCOUNT:
        cond = and_(
            money_ownership.c.kind == "checkout_provider", money_ownership.c.value == spec.provider
        )
    elif spec.type is IdentifierType.CARD_MERCHANT:
        assert spec.acquirer_bin is not None
        lo, hi = _bin_bounds(spec.acquirer_bin)
        cond = and_(
            money_ownership.c.kind == "acquirer_bin_range",
            money_ownership.c.bin_low <= lo,
            money_ownership.c.bin_high >= hi,
        )
    elif spec.type is IdentifierType.CRYPTO_ADDRESS:
        cond = and_(money_ownership.c.kind == "crypto_address", money_ownership.c.value == spec.key)
    else:
        cond = and_(
            money_ownership.c.kind == "iban_bank",
            money_ownership.c.value == f"{spec.country}:{spec.bank_code}",
        )
    row = conn.execute(
        select(money_ownership.c.org_id, money_ownership.c.kind, money_ownership.c.value)
        .where(cond)
        .order_by(money_ownership.c.id)
        .limit(1)
    ).first()
    if row is None:
        return None, None
    return int(row.org_id), f"{row.kind} {row.value}"


def _spec_of(row: Any) -> IdentifierSpec:
    return IdentifierSpec(
        type=IdentifierType(row.type),
        key=row.key,
        value=row.value,
        chain=row.chain,
        network=row.network,
        provider=row.provider,
        account_id=row.account_id,
        acquirer_bin=row.acquirer_bin,
        merchant_id=row.merchant_id,
        country=row.country,
        bank_code=row.bank_code,
    )


def reresolve_owners(conn: Connection, where: ColumnElement[bool]) -> list[int]:
    """Resolve again the owner of every identifier matching ``where``; returns those whose
    owner changed."""
    changed: list[int] = []
    for row in conn.execute(select(payment_identifier).where(where)).all():
        owner, basis = _resolve_owner(conn, _spec_of(row))
        if owner != row.owner_org_id or basis != row.owner_basis:
            conn.execute(
                update(payment_identifier)
                .where(payment_identifier.c.id == row.id)
                .values(owner_org_id=owner, owner_basis=basis)
            )
            changed.append(int(row.id))
    return changed


def _ownership_scope(kind: str, value: str, lo: str | None, hi: str | None) -> ColumnElement[bool]:
    if kind == "checkout_provider":
        return and_(
            payment_identifier.c.type == IdentifierType.CHECKOUT_ACCOUNT.value,
            payment_identifier.c.provider == value,
        )
    if kind == "acquirer_bin_range":
        return payment_identifier.c.type == IdentifierType.CARD_MERCHANT.value
    if kind == "crypto_address":
        return payment_identifier.c.key == value
    country, _, bank = value.partition(":")
    return and_(payment_identifier.c.country == country, payment_identifier.c.bank_code == bank)


@dataclass(frozen=True)
class OwnershipChange:
    """A registration and the identifiers whose owner it changed."""

    ownership: Ownership
    identifiers: list[int]


def register_ownership(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    *,
    kind: str,
    value: str,
    spec: Mapping[str, Any] | None = None,
) -> OwnershipChange:
    """Register something as the principal's payment-provider organisation's own.

    ``kind``: ``checkout_provider`` (``value`` the provider name; ``spec`` its link pattern
    unless it is one Cordon ships), ``acquirer_bin_range`` (``540518`` or
    ``54051800-54051899``), ``crypto_address`` (an exchange deposit address, optionally
    ``chain:address``), ``iban_bank`` (``CC:BANKCODE``). Identifiers already recorded that it
    covers get their owner now. Raises :class:`MoneyError` naming the bad field, or when another
    organisation registered it (or an overlapping BIN range) first.
    """
    if principal.org_type is not OrgType.PAYMENT_PROVIDER:
        raise MoneyError("only a payment-provider organisation registers what is its own")
    value = value.strip()
    lo = hi = None
    stored_spec: dict[str, Any] | None = None
    if kind == "checkout_provider":
        value = value.lower()
        if value in RESERVED_PROVIDER_NAMES:
            raise MoneyError(f"{value!r} cannot name a checkout provider", "value")
        shipped = DEFAULT_CHECKOUT_REGISTRY.get(value)
        if spec is None and shipped is None:
            raise MoneyError(
                f"checkout provider {value!r} is not one Cordon knows: give its link pattern",
                "spec",
            )
        if spec is not None:
            try:
                provider = provider_from_mapping({**spec, "name": value})
            except InvalidProviderSpec as exc:
                raise MoneyError(str(exc), "spec") from None
            stored_spec = provider_to_mapping(provider)
    elif kind == "acquirer_bin_range":
        lo, hi = _bin_bounds(value)
        value = f"{lo}-{hi}"
        overlap = conn.execute(
            select(money_ownership.c.org_id).where(
                money_ownership.c.kind == kind,
                money_ownership.c.bin_low <= hi,
                money_ownership.c.bin_high >= lo,
            )
        ).first()
        if overlap is not None:
            who = "you" if overlap.org_id == principal.org_id else "another organisation"
            raise MoneyError(f"BIN range {value} overlaps one {who} registered", "value")
    elif kind == "crypto_address":
        chain, sep, rest = value.partition(":")
        try:
            address = parse_crypto_address(rest if sep else value, chain if sep else None)
        except InvalidPaymentIdentifier as exc:
            raise MoneyError(str(exc), "value") from None
        value = f"{address.chain.value}:{address.address}"
    elif kind == "iban_bank":
        country, sep, bank = value.upper().partition(":")
        if not sep or len(country) != 2 or not country.isalpha() or not bank.isalnum():
            raise MoneyError("an IBAN bank is written CC:BANKCODE (e.g. NL:ABNA)", "value")
        value = f"{country}:{bank}"
    else:
        raise MoneyError(
            "kind must be checkout_provider, acquirer_bin_range, crypto_address or iban_bank",
            "kind",
        )
    taken = conn.execute(
        select(money_ownership.c.org_id).where(
            money_ownership.c.kind == kind, money_ownership.c.value == value
        )
    ).first()
    if taken is not None:
        who = "you" if taken.org_id == principal.org_id else "another organisation"
        raise MoneyError(f"{kind} {value} is already registered by {who}", "value")
    now = clock.now()
    oid = conn.execute(
        money_ownership.insert()
        .values(
            org_id=principal.org_id,
            kind=kind,
            value=value,
            bin_low=lo,
            bin_high=hi,
            spec=stored_spec,
            created_at=now,
            created_by=principal.user_id,
        )
        .returning(money_ownership.c.id)
    ).scalar_one()
    changed = reresolve_owners(conn, _ownership_scope(kind, value, lo, hi))
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:money_ownership:create",
        object_kind="money_ownership",
        object_ids=[int(oid)],
        details={"kind": kind, "value": value, "identifiers": len(changed)},
    )
    row = conn.execute(select(money_ownership).where(money_ownership.c.id == oid)).one()
    return OwnershipChange(_ownership(row), changed)


def remove_ownership(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, ownership_id: int
) -> OwnershipChange:
    """Withdraw one of the principal's organisation's registrations. Alerts already sent stay
    with it; identifiers it covered lose their owner (or pass to another registration)."""
    row = conn.execute(
        select(money_ownership).where(
            money_ownership.c.id == ownership_id, money_ownership.c.org_id == principal.org_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no ownership registration with id {ownership_id}")
    own = _ownership(row)
    conn.execute(delete(money_ownership).where(money_ownership.c.id == ownership_id))
    changed = reresolve_owners(
        conn, _ownership_scope(own.kind, own.value, own.bin_low, own.bin_high)
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:money_ownership:delete",
        object_kind="money_ownership",
        object_ids=[ownership_id],
        details={"kind": own.kind, "value": own.value, "identifiers": len(changed)},
    )
    return OwnershipChange(own, changed)


def list_ownership(conn: Connection, principal: Principal) -> list[Ownership]:
    """The principal's organisation's registrations (its own settings)."""
    rows = conn.execute(
        select(money_ownership)
        .where(money_ownership.c.org_id == principal.org_id)
        .order_by(money_ownership.c.id)
    ).all()
    return [_ownership(r) for r in rows]


def ownership_as_dict(o: Ownership) -> dict[str, Any]:
    return {
        "id": o.id,
        "kind": o.kind,
        "value": o.value,
        "spec": o.spec,
        "created_at": o.created_at.isoformat().replace("+00:00", "Z"),
    }


# ------------------------------------------------------------------------------ sightings


def _evidence(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    data = dict(evidence or {})
    try:
        size = len(json.dumps(data, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise MoneyError(f"evidence is not JSON: {exc}", "evidence") from None
    if size > MAX_EVIDENCE_BYTES:
        raise MoneyError(f"evidence is larger than {MAX_EVIDENCE_BYTES} bytes", "evidence")
    return data


# The bound time is typed as a bare datetime was before, so that what is stored is unchanged.
_SEEN_AT = bindparam("b_seen_at", type_=DateTime(timezone=True))
_SIGHTING_AGAIN_SQLITE = (
    update(payment_sighting)
    .where(payment_sighting.c.id == bindparam("b_id"))
    .values(
        last_seen_at=func.max(payment_sighting.c.last_seen_at, _SEEN_AT),
        times=payment_sighting.c.times + 1,
        evidence=bindparam("b_evidence", type_=payment_sighting.c.evidence.type),
    )
)
_SIGHTING_AGAIN_PG = (
    update(payment_sighting)
    .where(payment_sighting.c.id == bindparam("b_id"))
    .values(
        last_seen_at=func.greatest(payment_sighting.c.last_seen_at, _SEEN_AT),
        times=payment_sighting.c.times + 1,
        evidence=bindparam("b_evidence", type_=payment_sighting.c.evidence.type),
    )
)
_NEW_SIGHTING = payment_sighting.insert().returning(payment_sighting.c.id)


def _sighting_context(by_purchase: bool, by_owner: bool) -> Any:
    """The URL's site, the identifier with ``b_key`` and the sighting a new one would repeat, in
    one look-up: a row for every URL, with NULLs for what is not stored yet."""
    key = (by_purchase, by_owner)
    stmt = _SIGHTING_CONTEXT.get(key)
    if stmt is None:
        ident, seen = payment_identifier, payment_sighting
        same = and_(
            seen.c.identifier_id == ident.c.id,
            seen.c.url_id == url.c.id,
            seen.c.source == bindparam("b_source"),
            seen.c.test_purchase_id == bindparam("b_test_purchase_id")
            if by_purchase
            else seen.c.test_purchase_id.is_(None),
            seen.c.owner_org_id == bindparam("b_owner_org_id")
            if by_owner
            else seen.c.owner_org_id.is_(None),
        )
        stmt = (
            select(
                url.c.registrable_domain.label("site"),
                ident.c.id.label("identifier_id"),
                ident.c.owner_org_id.label("identifier_owner"),
                seen.c.id.label("sighting_id"),
                seen.c.evidence,
            )
            .select_from(
                url.outerjoin(ident, ident.c.key == bindparam("b_key")).outerjoin(seen, same)
            )
            .where(url.c.id == bindparam("b_url_id"))
        )
        _SIGHTING_CONTEXT[key] = stmt
    return stmt


_SIGHTING_CONTEXT: dict[tuple[bool, bool], Any] = {}
_SPAN_FIRST = bindparam("b_first", type_=UtcDateTime())
_SPAN_LAST = bindparam("b_last", type_=UtcDateTime())
# Either bound time may be NULL: a comparison with NULL is never true, so that end stays.
_IDENTIFIER_SPAN = (
    update(payment_identifier)
    .where(
        payment_identifier.c.id == bindparam("b_id"),
        or_(
            payment_identifier.c.first_seen_at > _SPAN_FIRST,
            payment_identifier.c.last_seen_at < _SPAN_LAST,
        ),
    )
    .values(
        first_seen_at=case(
            (payment_identifier.c.first_seen_at > _SPAN_FIRST, _SPAN_FIRST),
            else_=payment_identifier.c.first_seen_at,
        ),
        last_seen_at=case(
            (payment_identifier.c.last_seen_at < _SPAN_LAST, _SPAN_LAST),
            else_=payment_identifier.c.last_seen_at,
        ),
    )
)


@dataclass(frozen=True)
class SightingWrite:
    """What :func:`record_identifier_sighting` stored."""

    identifier_id: int
    new_identifier: bool
    owner_org_id: int | None
    sighting_id: int
    new_sighting: bool


def record_identifier_sighting(
    conn: Connection,
    now: datetime,
    spec: IdentifierSpec,
    url_id: int,
    *,
    source: str,
    evidence: Mapping[str, Any] | None,
    seen_at: datetime,
    owner_org_id: int | None = None,
    tlp: Tlp | None = None,
    test_purchase_id: int | None = None,
) -> SightingWrite:
    """Store the identifier with ``spec.key`` (its owner resolved) if it is new, and its sighting
    on URL ``url_id``, or move the last sighting time of the same one; the identifier's first
    and last sighting times follow. The URL, the identifier and the earlier sighting are read
    together, and the identifier's times move in one update.

    Raises :class:`MoneyError` for an unknown URL, bad evidence or half a marking, before
    anything is stored.
    """
    if (owner_org_id is None) != (tlp is None):
        raise MoneyError("a sighting's own marking needs both an organisation and a TLP", "tlp")
    data = _evidence(evidence)
    context = _sighting_context(test_purchase_id is not None, owner_org_id is not None)
    params = {
        "b_key": spec.key,
        "b_url_id": url_id,
        "b_source": source,
        "b_test_purchase_id": test_purchase_id,
        "b_owner_org_id": owner_org_id,
    }
    row = conn.execute(context, params).first()
    if row is None:
        raise MoneyError(f"no URL with id {url_id}", "url_id")
    created = False
    if row.identifier_id is None:
        owner, basis = _resolve_owner(conn, spec)
        new_id = conn.execute(
            _NEW_IDENTIFIER_PG if is_postgres(conn) else _NEW_IDENTIFIER_SQLITE,
            {
                "type": spec.type.value,
                "key": spec.key,
                "value": spec.value,
                "chain": spec.chain,
                "network": spec.network,
                "provider": spec.provider,
                "account_id": spec.account_id,
                "acquirer_bin": spec.acquirer_bin,
                "merchant_id": spec.merchant_id,
                "country": spec.country,
                "bank_code": spec.bank_code,
                "owner_org_id": owner,
                "owner_basis": basis,
                "first_seen_at": now,
                "last_seen_at": now,
                "created_at": now,
            },
        ).scalar_one_or_none()
        if new_id is None:
            # Stored by another transaction since the look-up: it is an existing one.
            row = conn.execute(context, params).one()
            ident_id, ident_owner = int(row.identifier_id), row.identifier_owner
        else:
            created = True
            ident_id, ident_owner = int(new_id), owner
    else:
        ident_id, ident_owner = int(row.identifier_id), row.identifier_owner
    if row.sighting_id is not None:
        conn.execute(
            _SIGHTING_AGAIN_PG if is_postgres(conn) else _SIGHTING_AGAIN_SQLITE,
            {
                "b_id": row.sighting_id,
                "b_seen_at": seen_at,
                "b_evidence": data or dict(row.evidence),
            },
        )
        sid, new_sighting = int(row.sighting_id), False
    else:
        sid = int(
            conn.execute(
                _NEW_SIGHTING,
                {
                    "identifier_id": ident_id,
                    "url_id": url_id,
                    "site": row.site,
                    "source": source,
                    "evidence": data,
                    "owner_org_id": owner_org_id,
                    "tlp": None if tlp is None else tlp.value,
                    "test_purchase_id": test_purchase_id,
                    "first_seen_at": seen_at,
                    "last_seen_at": seen_at,
                    "times": 1,
                },
            ).scalar_one()
        )
        new_sighting = True
    # An existing identifier was seen now; a new sighting may be its earliest. One made by this
    # call was first seen now, so only a sighting from before now can move that.
    last = None if created else now
    first = seen_at if new_sighting and not (created and seen_at >= now) else None
    if first is not None or last is not None:
        conn.execute(_IDENTIFIER_SPAN, {"b_id": ident_id, "b_first": first, "b_last": last})
    return SightingWrite(ident_id, created, ident_owner, sid, new_sighting)


def _sighting(row: Any) -> Sighting:
    return Sighting(
        id=int(row.id),
        identifier_id=int(row.identifier_id),
        url_id=int(row.url_id),
        url=row.url,
        site=row.site,
        source=row.source,
        evidence=dict(row.evidence),
        owner_org_id=row.owner_org_id,
        tlp=None if row.tlp is None else Tlp(row.tlp),
        test_purchase_id=row.test_purchase_id,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        times=int(row.times),
        confirmed_at=row.confirmed_at,
    )


def _sighting_select() -> Any:
    # A site is confirmed when any URL on it is.
    confirmed = (
        select(
            url_confirmation.c.site,
            func.min(url_confirmation.c.confirmed_at).label("confirmed_at"),
        )
        .group_by(url_confirmation.c.site)
        .subquery()
    )
    return (
        select(payment_sighting, url.c.url, confirmed.c.confirmed_at)
        .join(url, url.c.id == payment_sighting.c.url_id)
        .outerjoin(confirmed, confirmed.c.site == payment_sighting.c.site)
    )


def sightings_of(
    conn: Connection, identifier_ids: Sequence[int], *, visible_to: Principal | None
) -> list[Sighting]:
    """Sightings of these identifiers, oldest first; only those ``visible_to`` may see (all
    when None, for the feature's own work)."""
    if not identifier_ids:
        return []
    stmt = _sighting_select().where(payment_sighting.c.identifier_id.in_(identifier_ids))
    if visible_to is not None:
        stmt = stmt.where(sighting_visible(visible_to))
    rows = conn.execute(stmt.order_by(payment_sighting.c.first_seen_at, payment_sighting.c.id))
    return [_sighting(r) for r in rows.all()]


def sightings_on_site(conn: Connection, site: str) -> list[Sighting]:
    """Every sighting on a site (for the feature's own work; no access check)."""
    rows = conn.execute(_sighting_select().where(payment_sighting.c.site == site)).all()
    return [_sighting(r) for r in rows]


# ------------------------------------------------------------------------------ confirmations


def store_confirmation(
    conn: Connection,
    now: datetime,
    url_id: int,
    *,
    capture_id: int | None,
    capture_time: datetime | None,
    match_summary: Mapping[str, Any] | None,
    source: str,
) -> tuple[Confirmation, bool]:
    """Record that a URL's content matched; a later confirmation updates the capture it names.
    Returns (confirmation, first time)."""
    summary = _evidence(match_summary)
    _, site = _site_of(conn, url_id)
    existing = conn.execute(
        select(url_confirmation).where(url_confirmation.c.url_id == url_id)
    ).first()
    if existing is None:
        conn.execute(
            url_confirmation.insert().values(
                url_id=url_id,
                site=site,
                confirmed_at=now,
                capture_id=capture_id,
                capture_time=capture_time,
                match_summary=summary,
                source=source,
                recorded_at=now,
            )
        )
    else:
        conn.execute(
            update(url_confirmation)
            .where(url_confirmation.c.url_id == url_id)
            .values(
                capture_id=capture_id if capture_id is not None else existing.capture_id,
                capture_time=capture_time or existing.capture_time,
                match_summary=summary or dict(existing.match_summary),
                recorded_at=now,
            )
        )
    row = conn.execute(select(url_confirmation).where(url_confirmation.c.url_id == url_id)).one()
    return _confirmation(row), existing is None


def _confirmation(row: Any) -> Confirmation:
    return Confirmation(
        url_id=int(row.url_id),
        site=row.site,
        confirmed_at=row.confirmed_at,
        capture_id=row.capture_id,
        capture_time=row.capture_time,
        match_summary=dict(row.match_summary),
        source=row.source,
    )


def confirmations_on_sites(conn: Connection, sites: Iterable[str]) -> dict[str, list[Confirmation]]:
    """Confirmations of URLs on these sites, by site, oldest first."""
    wanted = sorted(set(sites))
    if not wanted:
        return {}
    out: dict[str, list[Confirmation]] = {}
    rows = conn.execute(
        select(url_confirmation)
        .where(url_confirmation.c.site.in_(wanted))
        .order_by(url_confirmation.c.confirmed_at, url_confirmation.c.url_id)
    ).all()
    for r in rows:
        out.setdefault(r.site, []).append(_confirmation(r))
    return out


def url_of(conn: Connection, url_id: int) -> str:
    """The normalised URL with this id."""
    return _site_of(conn, url_id)[0]


# ------------------------------------------------------------------------------ access


def purchase_visible(principal: Principal) -> ColumnElement[bool]:
    """Test purchases the principal may see (the policy, on the purchase's own marking)."""
    return access.visible(
        principal,
        PURCHASE_KIND,
        id_col=test_purchase.c.id,
        owner_col=test_purchase.c.owner_org_id,
        tlp_col=test_purchase.c.tlp,
    )


def sighting_visible(principal: Principal) -> ColumnElement[bool]:
    """Sightings the principal may see: through a visible report naming a URL of the same
    site, a visible test purchase, or the sighting's own marking."""
    via_report = exists(
        select(report_url.c.report_id)
        .join(report, report.c.id == report_url.c.report_id)
        .join(url, url.c.id == report_url.c.url_id)
        .where(
            url.c.registrable_domain == payment_sighting.c.site,
            access.visible(
                principal,
                "report",
                id_col=report.c.id,
                owner_col=report.c.owner_org_id,
                tlp_col=report.c.tlp,
            ),
        )
    )
    via_purchase = exists(
        select(test_purchase.c.id).where(
            test_purchase.c.id == payment_sighting.c.test_purchase_id, purchase_visible(principal)
        )
    )
    own = and_(
        payment_sighting.c.owner_org_id.is_not(None),
        payment_sighting.c.test_purchase_id.is_(None),
        access.visible(
            principal,
            SIGHTING_KIND,
            id_col=payment_sighting.c.id,
            owner_col=payment_sighting.c.owner_org_id,
            tlp_col=payment_sighting.c.tlp,
        ),
    )
    return or_(via_report, via_purchase, own)


def identifier_visible(principal: Principal) -> ColumnElement[bool]:
    """Identifiers the principal may see: its organisation owns it, or it may see a sighting."""
    owned = access.visible(
        principal,
        IDENTIFIER_KIND,
        id_col=payment_identifier.c.id,
        owner_col=payment_identifier.c.owner_org_id,
        tlp_col=literal(Tlp.AMBER_STRICT.value, String),
    )
    seen = exists(
        select(payment_sighting.c.id).where(
            payment_sighting.c.identifier_id == payment_identifier.c.id,
            sighting_visible(principal),
        )
    )
    return or_(owned, seen)


def releasable_sighting() -> ColumnElement[bool]:
    """Sightings whose marking lets them be shown to an alert's recipient (see RELEASABLE)."""
    via_report = exists(
        select(report_url.c.report_id)
        .join(report, report.c.id == report_url.c.report_id)
        .join(url, url.c.id == report_url.c.url_id)
        .where(url.c.registrable_domain == payment_sighting.c.site, report.c.tlp.in_(RELEASABLE))
    )
    via_purchase = exists(
        select(test_purchase.c.id).where(
            test_purchase.c.id == payment_sighting.c.test_purchase_id,
            test_purchase.c.tlp.in_(RELEASABLE),
        )
    )
    own = and_(
        payment_sighting.c.test_purchase_id.is_(None), payment_sighting.c.tlp.in_(RELEASABLE)
    )
    return or_(via_report, via_purchase, own)


def releasable_sightings_of(conn: Connection, identifier_id: int) -> list[Sighting]:
    """Sightings of an identifier that may go into its alert, oldest first."""
    rows = conn.execute(
        _sighting_select()
        .where(payment_sighting.c.identifier_id == identifier_id, releasable_sighting())
        .order_by(payment_sighting.c.first_seen_at, payment_sighting.c.id)
    ).all()
    return [_sighting(r) for r in rows]


def withheld_count(conn: Connection, identifier_id: int) -> int:
    """How many sightings of an identifier are too strictly marked to go into an alert."""
    total = conn.execute(
        select(func.count())
        .select_from(payment_sighting)
        .where(payment_sighting.c.identifier_id == identifier_id)
    ).scalar_one()
    shown = conn.execute(
        select(func.count())
        .select_from(payment_sighting)
        .where(payment_sighting.c.identifier_id == identifier_id, releasable_sighting())
    ).scalar_one()
    return int(total) - int(shown)


# ------------------------------------------------------------------------------ reads


@dataclass(frozen=True)
class IdentifierFilter:
    """Narrowing of an identifier list, count or export."""

    type: IdentifierType | None = None
    chain: str | None = None
    owned_only: bool = False
    site: str | None = None


def _filtered(stmt: Any, principal: Principal, f: IdentifierFilter) -> Any:
    conds: list[Any] = [identifier_visible(principal)]
    if f.type is not None:
        conds.append(payment_identifier.c.type == f.type.value)
    if f.chain:
        conds.append(payment_identifier.c.chain == f.chain.lower())
    if f.owned_only:
        conds.append(payment_identifier.c.owner_org_id == principal.org_id)
    if f.site:
        conds.append(
            exists(
                select(payment_sighting.c.id).where(
                    payment_sighting.c.identifier_id == payment_identifier.c.id,
                    payment_sighting.c.site == f.site.lower(),
                    sighting_visible(principal),
                )
            )
        )
    return stmt.where(and_(*conds))


def _audit(
    conn: Connection, clock: Clock, actor: audit.Actor, path: str, ids: Sequence[int]
) -> None:
    record_sensitive_reads(
        conn,
        clock,
        actor,
        IDENTIFIER_KIND,
        path,
        [(i, Tlp.AMBER_STRICT) for i in ids],
        always=path == "export",
    )


def get_identifier(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, identifier_id: int
) -> Identifier | None:
    """The identifier, or None when it does not exist or may not be seen (the same answer)."""
    row = conn.execute(
        select(payment_identifier).where(
            payment_identifier.c.id == identifier_id, identifier_visible(principal)
        )
    ).first()
    if row is None:
        return None
    _audit(conn, clock, actor, "read", [int(row.id)])
    return _identifier(row)


def find_identifier(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, key: str
) -> Identifier | None:
    """The identifier with ``key`` if the principal may see it."""
    row = conn.execute(
        select(payment_identifier).where(
            payment_identifier.c.key == key, identifier_visible(principal)
        )
    ).first()
    if row is None:
        return None
    _audit(conn, clock, actor, "read", [int(row.id)])
    return _identifier(row)


def list_identifiers(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: IdentifierFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Identifier]:
    """Newest first; page on with ``before_id``."""
    stmt = _filtered(select(payment_identifier), principal, f)
    if before_id is not None:
        stmt = stmt.where(payment_identifier.c.id < before_id)
    rows = conn.execute(stmt.order_by(payment_identifier.c.id.desc()).limit(limit)).all()
    found = [_identifier(r) for r in rows]
    _audit(conn, clock, actor, "list", [i.id for i in found])
    return found


def count_identifiers(conn: Connection, principal: Principal, f: IdentifierFilter) -> int:
    """How many identifiers the principal may see."""
    stmt = _filtered(select(func.count()).select_from(payment_identifier), principal, f)
    return int(conn.execute(stmt).scalar_one())


def export_identifiers(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, f: IdentifierFilter
) -> list[Identifier]:
    """Every identifier the principal may see, oldest first; audited before it is returned."""
    rows = conn.execute(
        _filtered(select(payment_identifier), principal, f).order_by(payment_identifier.c.id)
    ).all()
    found = [_identifier(r) for r in rows]
    _audit(conn, clock, actor, "export", [i.id for i in found])
    return found


def org_names(conn: Connection, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of organisations (the member directory every member may read)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = conn.execute(
        select(organisation.c.id, organisation.c.name).where(organisation.c.id.in_(wanted))
    )
    return {int(r.id): r.name for r in rows}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def identifier_as_dict(
    i: Identifier, *, owner_name: str | None = None, sightings: Sequence[Sighting] = ()
) -> dict[str, Any]:
    """The JSON form of an identifier, as the API and exports give it."""
    out: dict[str, Any] = {
        "id": i.id,
        "type": i.type.value,
        "key": i.key,
        "value": i.value,
        "payment_method": i.payment_method,
        "chain": i.chain,
        "network": i.network,
        "provider": i.provider,
        "account_id": i.account_id,
        "acquirer_bin": i.acquirer_bin,
        "merchant_id": i.merchant_id,
        "country": i.country,
        "bank_code": i.bank_code,
        "owner_org_id": i.owner_org_id,
        "owner": owner_name,
        "first_seen_at": _iso(i.first_seen_at),
        "last_seen_at": _iso(i.last_seen_at),
    }
    if sightings:
        out["sightings"] = [sighting_as_dict(s) for s in sightings]
        out["sites"] = sorted({s.site for s in sightings})
    return out


def sighting_as_dict(s: Sighting) -> dict[str, Any]:
    """The JSON form of a sighting."""
    return {
        "id": s.id,
        "url": s.url,
        "site": s.site,
        "source": s.source,
        "test_purchase_id": s.test_purchase_id,
        "first_seen_at": _iso(s.first_seen_at),
        "last_seen_at": _iso(s.last_seen_at),
        "times": s.times,
        "site_confirmed": s.confirmed_at is not None,
        "evidence": s.evidence,
    }

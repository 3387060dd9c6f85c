"""Test purchases: what a payment partner's purchase on a site revealed.

A purchase is a shared record with its owner's TLP marking, read through the access policy
like a report. Storing one records its identifiers (the card merchant, the payment-service
account), links its merchant descriptor to variants, and records a sighting of each identifier
at the purchase's page, so that an alert goes out as soon as that site is confirmed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.domain.payments import InvalidPaymentIdentifier
from cordon.domain.tlp import Tlp
from cordon.money import descriptors, repo, sightings
from cordon.money.identifiers import IdentifierSpec, card_merchant, checkout_account
from cordon.money.model import PurchaseIn
from cordon.notices.policy import NoticePolicy
from cordon.store import access
from cordon.store.tables import url
from cordon.store.tables_money import merchant_descriptor, test_purchase, test_purchase_identifier

KIND = repo.PURCHASE_KIND
#: How far in the future a purchase date may lie (clock skew between partners).
FUTURE_SLACK = timedelta(days=1)


class IdempotencyConflict(repo.MoneyError):
    """The idempotency key was used before for a different purchase."""


@dataclass(frozen=True)
class Purchase:
    id: int
    owner_org_id: int
    submitted_by: int
    tlp: Tlp
    purchased_at: datetime
    url_id: int
    site_url: str
    scheme: str | None
    descriptor: str | None
    merchant_id: str | None
    acquirer_bin: str | None
    mcc: str | None
    amount: str
    currency: str
    provider: str | None
    account: str | None
    outcome: str
    evidence_sha256: str | None
    note: str | None
    channel: str
    created_at: datetime
    identifier_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Submitted:
    purchase: Purchase
    created: bool


@dataclass(frozen=True)
class RowResult:
    line: int
    purchase_id: int
    created: bool


def _digest(data: PurchaseIn) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _specs(conn: Connection, data: PurchaseIn) -> list[IdentifierSpec]:
    specs: list[IdentifierSpec] = []
    try:
        if data.acquirer_bin and data.merchant_id:
            specs.append(card_merchant(data.acquirer_bin, data.merchant_id))
        if data.provider and data.account:
            specs.append(checkout_account(data.provider, data.account, repo.registry(conn)))
    except InvalidPaymentIdentifier as exc:
        raise repo.MoneyError(str(exc), "account" if data.account else "merchant_id") from None
    return specs


def submit(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    data: PurchaseIn,
    *,
    channel: str,
    idempotency_key: str | None = None,
    policy: NoticePolicy | None = None,
    threshold: float = 90.0,
    link: bool = True,
) -> Submitted:
    """Store a test purchase with its identifiers, descriptor and sightings, in the caller's
    transaction, and raise any alert now due.

    With ``idempotency_key``, a retry of the same purchase returns the first one; the same key
    with a different purchase raises :class:`IdempotencyConflict`. ``link=False`` leaves
    descriptor linking to the caller (an import links once at its end). Raises
    :class:`repo.MoneyError` naming the bad field; nothing is written then.
    """
    digest = _digest(data)
    if idempotency_key is not None:
        found = conn.execute(
            select(test_purchase.c.id, test_purchase.c.request_sha256).where(
                test_purchase.c.owner_org_id == principal.org_id,
                test_purchase.c.idempotency_key == idempotency_key,
            )
        ).first()
        if found is not None:
            if found.request_sha256 != digest:
                raise IdempotencyConflict(
                    "this idempotency key was used for a different test purchase",
                    "idempotency_key",
                )
            return Submitted(_load(conn, [int(found.id)])[0], created=False)
    now = clock.now()
    if data.date > now + FUTURE_SLACK:
        raise repo.MoneyError("the purchase date lies in the future", "date")
    specs = _specs(conn, data)
    url_id = repo.url_id_for(conn, now, data.site_url)
    descriptor_id: int | None = None
    new_descriptor = False
    if data.descriptor:
        descriptor_id, new_descriptor = descriptors.upsert(conn, now, data.descriptor)
    pid = int(
        conn.execute(
            test_purchase.insert()
            .values(
                owner_org_id=principal.org_id,
                submitted_by=principal.user_id,
                tlp=data.tlp.value,
                purchased_at=data.date,
                url_id=url_id,
                scheme=data.scheme,
                descriptor_id=descriptor_id,
                merchant_id=data.merchant_id,
                acquirer_bin=data.acquirer_bin,
                mcc=data.mcc,
                amount=data.amount,
                currency=data.currency,
                provider=data.provider.lower() if data.provider else None,
                account=data.account,
                outcome=data.outcome,
                evidence_sha256=data.evidence_sha256,
                note=data.note,
                channel=channel,
                idempotency_key=idempotency_key,
                request_sha256=digest,
                created_at=now,
            )
            .returning(test_purchase.c.id)
        ).scalar_one()
    )
    try:
        access.set_sharing(
            conn,
            KIND,
            pid,
            org_ids=data.share_with,
            red_user_ids=[principal.user_id] if data.tlp is Tlp.RED else [],
        )
    except ValueError as exc:
        raise repo.MoneyError(str(exc), "share_with") from None
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:test_purchase:create",
        object_kind=KIND,
        object_ids=[pid],
        details={"tlp": data.tlp.value, "channel": channel, "identifiers": len(specs)},
    )
    for spec in specs:
        recorded = sightings.record_sighting(
            conn,
            clock,
            actor,
            spec,
            url_id,
            source="test_purchase",
            evidence={"test_purchase_id": pid, "outcome": data.outcome},
            seen_at=data.date,
            test_purchase_id=pid,
            policy=policy,
        )
        conn.execute(
            test_purchase_identifier.insert().values(
                purchase_id=pid, identifier_id=recorded.identifier_id
            )
        )
    if link and new_descriptor and descriptor_id is not None:
        descriptors.link_new(conn, clock, actor, [descriptor_id], threshold)
    return Submitted(_load(conn, [pid])[0], created=True)


def import_rows(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    rows: Sequence[tuple[int, PurchaseIn, str | None]],
    *,
    channel: str,
    policy: NoticePolicy | None = None,
    threshold: float = 90.0,
) -> list[RowResult]:
    """Submit every row in the caller's transaction, then link the new descriptors once. The
    first refused row raises :class:`repo.MoneyError` naming its line and field; the caller
    rolls back the whole batch."""
    results: list[RowResult] = []
    new_descriptors: list[int] = []
    for line, data, key in rows:
        try:
            done = submit(
                conn,
                clock,
                principal,
                actor,
                data,
                channel=channel,
                idempotency_key=key,
                policy=policy,
                threshold=threshold,
                link=False,
            )
        except repo.MoneyError as exc:
            raise repo.MoneyError(f"line {line}: {exc}", f"line {line}: {exc.field}") from None
        results.append(RowResult(line, done.purchase.id, done.created))
    rows_with_descriptors = conn.execute(
        select(merchant_descriptor.c.id).where(
            merchant_descriptor.c.id.in_(
                select(test_purchase.c.descriptor_id).where(
                    test_purchase.c.id.in_([r.purchase_id for r in results if r.created])
                )
            )
        )
    ).scalars()
    new_descriptors = [int(i) for i in rows_with_descriptors]
    descriptors.link_new(conn, clock, actor, new_descriptors, threshold)
    return results


def _load(conn: Connection, ids: list[int]) -> list[Purchase]:
    if not ids:
        return []
    rows = conn.execute(
        select(test_purchase, url.c.url, merchant_descriptor.c.text.label("descriptor"))
        .join(url, url.c.id == test_purchase.c.url_id)
        .outerjoin(merchant_descriptor, merchant_descriptor.c.id == test_purchase.c.descriptor_id)
        .where(test_purchase.c.id.in_(ids))
    ).all()
    idents: dict[int, list[int]] = {i: [] for i in ids}
    for r in conn.execute(
        select(test_purchase_identifier)
        .where(test_purchase_identifier.c.purchase_id.in_(ids))
        .order_by(test_purchase_identifier.c.identifier_id)
    ):
        idents[int(r.purchase_id)].append(int(r.identifier_id))
    by_id = {
        int(r.id): Purchase(
            id=int(r.id),
            owner_org_id=int(r.owner_org_id),
            submitted_by=int(r.submitted_by),
            tlp=Tlp(r.tlp),
            purchased_at=r.purchased_at,
            url_id=int(r.url_id),
            site_url=r.url,
            scheme=r.scheme,
            descriptor=r.descriptor,
            merchant_id=r.merchant_id,
            acquirer_bin=r.acquirer_bin,
            mcc=r.mcc,
            amount=r.amount,
            currency=r.currency,
            provider=r.provider,
            account=r.account,
            outcome=r.outcome,
            evidence_sha256=r.evidence_sha256,
            note=r.note,
            channel=r.channel,
            created_at=r.created_at,
            identifier_ids=idents[int(r.id)],
        )
        for r in rows
    }
    return [by_id[i] for i in ids if i in by_id]


@dataclass(frozen=True)
class PurchaseFilter:
    """Narrowing of a list, count or export."""

    own_only: bool = False
    identifier_id: int | None = None
    since: datetime | None = None


def _filtered(stmt: Any, principal: Principal, f: PurchaseFilter) -> Any:
    conds: list[Any] = [repo.purchase_visible(principal)]
    if f.own_only:
        conds.append(test_purchase.c.owner_org_id == principal.org_id)
    if f.identifier_id is not None:
        conds.append(
            test_purchase.c.id.in_(
                select(test_purchase_identifier.c.purchase_id).where(
                    test_purchase_identifier.c.identifier_id == f.identifier_id
                )
            )
        )
    if f.since is not None:
        conds.append(test_purchase.c.purchased_at >= f.since)
    return stmt.where(and_(*conds))


def get(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, purchase_id: int
) -> Purchase | None:
    """The purchase, or None when it does not exist or may not be seen (the same answer)."""
    row = conn.execute(
        select(test_purchase.c.id, test_purchase.c.tlp).where(
            test_purchase.c.id == purchase_id, repo.purchase_visible(principal)
        )
    ).first()
    if row is None:
        return None
    record_sensitive_reads(conn, clock, actor, KIND, "read", [(int(row.id), Tlp(row.tlp))])
    return _load(conn, [int(row.id)])[0]


def list_page(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: PurchaseFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Purchase]:
    """Newest first; page on with ``before_id``."""
    stmt = _filtered(select(test_purchase.c.id, test_purchase.c.tlp), principal, f)
    if before_id is not None:
        stmt = stmt.where(test_purchase.c.id < before_id)
    rows = conn.execute(stmt.order_by(test_purchase.c.id.desc()).limit(limit)).all()
    record_sensitive_reads(
        conn, clock, actor, KIND, "list", [(int(r.id), Tlp(r.tlp)) for r in rows]
    )
    return _load(conn, [int(r.id) for r in rows])


def count(conn: Connection, principal: Principal, f: PurchaseFilter) -> int:
    """How many test purchases the principal may see."""
    stmt = _filtered(select(func.count()).select_from(test_purchase), principal, f)
    return int(conn.execute(stmt).scalar_one())


def export(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, f: PurchaseFilter
) -> Iterator[Purchase]:
    """Every purchase the principal may see, oldest first; audited before the first."""
    rows = conn.execute(
        _filtered(select(test_purchase.c.id, test_purchase.c.tlp), principal, f).order_by(
            test_purchase.c.id
        )
    ).all()
    record_sensitive_reads(
        conn, clock, actor, KIND, "export", [(int(r.id), Tlp(r.tlp)) for r in rows], always=True
    )
    ids = [int(r.id) for r in rows]
    for start in range(0, len(ids), 500):
        yield from _load(conn, ids[start : start + 500])


def purchase_as_dict(p: Purchase) -> dict[str, Any]:
    """The JSON form of a test purchase."""
    return {
        "id": p.id,
        "tlp": p.tlp.value,
        "owner_org_id": p.owner_org_id,
        "date": p.purchased_at.isoformat().replace("+00:00", "Z"),
        "site_url": p.site_url,
        "scheme": p.scheme,
        "descriptor": p.descriptor,
        "merchant_id": p.merchant_id,
        "acquirer_bin": p.acquirer_bin,
        "mcc": p.mcc,
        "amount": p.amount,
        "currency": p.currency,
        "provider": p.provider,
        "account": p.account,
        "outcome": p.outcome,
        "evidence_sha256": p.evidence_sha256,
        "note": p.note,
        "channel": p.channel,
        "created_at": p.created_at.isoformat().replace("+00:00", "Z"),
        "identifier_ids": p.identifier_ids,
    }

"""Outcome metrics of following the money: aggregates, no identifiers.

* Per payment provider and payment method: alerts, closures, hours from the first sighting of
  an identifier to its alert, hours from an alert (or its reopening) to closure.
* Payment-method mix over time: identifiers first seen per month, by method (card, payment
  service, crypto by chain, bank transfer).

Counts and durations reveal no record. A payment provider (addressee-only) sees its own
figures only; every other member sees the coalition's.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cordon.domain.partners import ADDRESSEE_ONLY_TYPES, Principal
from cordon.money.identifiers import payment_method
from cordon.notices import repo as notices
from cordon.notices.kinds import PAYMENT_ALERT
from cordon.notices.states import OPEN, State
from cordon.store.tables import organisation
from cordon.store.tables_money import notice, payment_identifier


@dataclass(frozen=True)
class ProviderMetric:
    org_id: int
    organisation: str
    payment_method: str
    alerts: int
    open: int
    closed: int
    median_hours_to_alert: float | None
    median_hours_to_closure: float | None
    closures: int


@dataclass(frozen=True)
class MixRow:
    period: str
    payment_method: str
    identifiers: int


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def alert_metrics(conn: Connection, principal: Principal) -> list[ProviderMetric]:
    """Alert figures per recipient organisation and payment method."""
    stmt = (
        select(
            notice.c.id,
            notice.c.recipient_org_id,
            notice.c.state,
            notice.c.created_at,
            payment_identifier.c.type,
            payment_identifier.c.chain,
            payment_identifier.c.first_seen_at,
            organisation.c.name,
        )
        .join(payment_identifier, payment_identifier.c.id == notice.c.subject_id)
        .join(organisation, organisation.c.id == notice.c.recipient_org_id)
        .where(notice.c.kind == PAYMENT_ALERT.name, notice.c.subject_kind == "payment_identifier")
    )
    if principal.org_type in ADDRESSEE_ONLY_TYPES:
        stmt = stmt.where(notice.c.recipient_org_id == principal.org_id)
    rows = conn.execute(stmt).all()
    closures: dict[int, list[float]] = {}
    for nid, _, seconds in notices.closures(conn, PAYMENT_ALERT.name):
        closures.setdefault(nid, []).append(seconds)
    groups: dict[tuple[int, str], list[Any]] = {}
    names: dict[int, str] = {}
    for r in rows:
        method = payment_method(r.type, r.chain)
        groups.setdefault((int(r.recipient_org_id), method), []).append(r)
        names[int(r.recipient_org_id)] = r.name
    out: list[ProviderMetric] = []
    for (org_id, method), items in sorted(groups.items()):
        to_alert = [
            max((r.created_at - r.first_seen_at).total_seconds(), 0.0) / 3600 for r in items
        ]
        to_close = [s / 3600 for r in items for s in closures.get(int(r.id), [])]
        out.append(
            ProviderMetric(
                org_id=org_id,
                organisation=names[org_id],
                payment_method=method,
                alerts=len(items),
                open=sum(1 for r in items if State(r.state) in OPEN),
                closed=sum(1 for r in items if r.state == State.CLOSED.value),
                median_hours_to_alert=_median(to_alert),
                median_hours_to_closure=_median(to_close),
                closures=len(to_close),
            )
        )
    return out


def payment_method_mix(conn: Connection, principal: Principal) -> list[MixRow]:
    """Identifiers first seen per month and payment method."""
    stmt = select(
        payment_identifier.c.type, payment_identifier.c.chain, payment_identifier.c.first_seen_at
    )
    if principal.org_type in ADDRESSEE_ONLY_TYPES:
        stmt = stmt.where(payment_identifier.c.owner_org_id == principal.org_id)
    counts: dict[tuple[str, str], int] = {}
    for r in conn.execute(stmt):
        key = (f"{r.first_seen_at:%Y-%m}", payment_method(r.type, r.chain))
        counts[key] = counts.get(key, 0) + 1
    return [MixRow(p, m, n) for (p, m), n in sorted(counts.items())]


def metrics_as_dict(providers: list[ProviderMetric], mix: list[MixRow]) -> dict[str, Any]:
    return {
        "providers": [
            {
                "org_id": m.org_id,
                "organisation": m.organisation,
                "payment_method": m.payment_method,
                "alerts": m.alerts,
                "open": m.open,
                "closed": m.closed,
                "closures": m.closures,
                "median_hours_to_alert": m.median_hours_to_alert,
                "median_hours_to_closure": m.median_hours_to_closure,
            }
            for m in providers
        ],
        "payment_method_mix": [
            {"period": r.period, "payment_method": r.payment_method, "identifiers": r.identifiers}
            for r in mix
        ],
    }

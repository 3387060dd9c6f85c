"""Alerts to payment providers: notices of kind ``payment_alert`` about one identifier.

An alert goes to the identifier's owner once the identifier is seen on a confirmed site. It
carries the evidence as data: the identifier, each confirmed site with the pages that show the
identifier, the capture time and match summary of the confirmation, and the facts of test
purchases; never imagery. Only sightings and purchases marked CLEAR, GREEN or AMBER go into it;
the number withheld is stated. While the alert is open new evidence updates what its next
round says; a closed alert is reopened when the identifier shows up on a new confirmed site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.urls import defang
from cordon.money import repo
from cordon.money.identifiers import IdentifierType
from cordon.notices import repo as notices
from cordon.notices.kinds import PAYMENT_ALERT
from cordon.notices.policy import NoticePolicy
from cordon.notices.states import OPEN, State
from cordon.store.tables import url
from cordon.store.tables_money import merchant_descriptor, test_purchase, test_purchase_identifier

SUBJECT_KIND = "payment_identifier"

_TYPE_LABEL = {
    IdentifierType.CRYPTO_ADDRESS: "crypto address",
    IdentifierType.CHECKOUT_ACCOUNT: "payment-service account",
    IdentifierType.IBAN: "bank account",
    IdentifierType.CARD_MERCHANT: "card merchant",
}


@dataclass(frozen=True)
class AlertOutcome:
    """What raising alerts did for one identifier.

    ``action``: ``issued``, ``updated`` (an open alert got new evidence), ``reopened``,
    ``unchanged``, ``no owner`` or ``no confirmed site``.
    """

    identifier_id: int
    action: str
    notice_id: int | None = None


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _purchases(conn: Connection, identifier_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(test_purchase, url.c.url, merchant_descriptor.c.text.label("descriptor"))
        .join(
            test_purchase_identifier, test_purchase_identifier.c.purchase_id == test_purchase.c.id
        )
        .join(url, url.c.id == test_purchase.c.url_id)
        .outerjoin(merchant_descriptor, merchant_descriptor.c.id == test_purchase.c.descriptor_id)
        .where(
            test_purchase_identifier.c.identifier_id == identifier_id,
            test_purchase.c.tlp.in_(repo.RELEASABLE),
        )
        .order_by(test_purchase.c.purchased_at, test_purchase.c.id)
    ).all()
    return [
        {
            "test_purchase_id": int(r.id),
            "date": _iso(r.purchased_at),
            "site_url": r.url,
            "scheme": r.scheme,
            "descriptor": r.descriptor,
            "merchant_id": r.merchant_id,
            "acquirer_bin": r.acquirer_bin,
            "mcc": r.mcc,
            "amount": r.amount,
            "currency": r.currency,
            "provider": r.provider,
            "account": r.account,
            "outcome": r.outcome,
            "evidence_sha256": r.evidence_sha256,
        }
        for r in rows
    ]


def compose(conn: Connection, ident: repo.Identifier) -> tuple[str, str, dict[str, Any]] | None:
    """Title, text and evidence of the alert about ``ident``; None while it is seen on no
    confirmed site (in a form that may be released)."""
    sightings = repo.releasable_sightings_of(conn, ident.id)
    confirmed = sorted({s.site for s in sightings if s.confirmed_at is not None})
    if not confirmed:
        return None
    confirmations = repo.confirmations_on_sites(conn, confirmed)
    sites: list[dict[str, Any]] = []
    for site in confirmed:
        shown = [s for s in sightings if s.site == site]
        first = confirmations[site][0]
        sites.append(
            {
                "site": site,
                "first_seen_at": _iso(min(s.first_seen_at for s in shown)),
                "last_seen_at": _iso(max(s.last_seen_at for s in shown)),
                "pages": sorted({s.url for s in shown}),
                "confirmed": {
                    "url": repo.url_of(conn, first.url_id),
                    "confirmed_at": _iso(first.confirmed_at),
                    "capture_id": first.capture_id,
                    "capture_time": _iso(first.capture_time),
                    "match_summary": first.match_summary,
                },
            }
        )
    purchases = _purchases(conn, ident.id)
    payload: dict[str, Any] = {
        "identifier": {
            "type": ident.type.value,
            "payment_method": ident.payment_method,
            "key": ident.key,
            "value": ident.value,
            "chain": ident.chain,
            "provider": ident.provider,
            "account_id": ident.account_id,
            "acquirer_bin": ident.acquirer_bin,
            "merchant_id": ident.merchant_id,
            "first_seen_at": _iso(ident.first_seen_at),
        },
        "sites": sites,
        "test_purchases": purchases,
        "withheld_sightings": repo.withheld_count(conn, ident.id),
        "imagery": "none: Cordon never sends pictures or other content",
    }
    label = _TYPE_LABEL[ident.type]
    title = f"Payment alert: {label} {ident.value} on {len(sites)} confirmed site(s)"
    lines = [
        f"Your {label} {ident.value} was seen on {len(sites)} site(s) whose content matched a "
        "hash list of child sexual abuse material.",
        "",
    ]
    for s in sites:
        c = s["confirmed"]
        lines.append(
            f"- {defang('https://' + s['site'])}: identifier shown on "
            f"{', '.join(defang(p) for p in s['pages'])} (first {s['first_seen_at']}); "
            f"content confirmed {c['confirmed_at']}"
            + (f", captured {c['capture_time']}" if c["capture_time"] else "")
        )
    for p in purchases:
        lines.append(
            f"- test purchase {p['date']} on {defang(p['site_url'])}: {p['scheme'] or ''} "
            f"{p['descriptor'] or ''} merchant id {p['merchant_id'] or '-'}, acquirer BIN "
            f"{p['acquirer_bin'] or '-'}, {p['amount']} {p['currency']}, {p['outcome']}"
        )
    if payload["withheld_sightings"]:
        lines.append(
            f"- {payload['withheld_sightings']} further sighting(s) withheld under their "
            "TLP marking."
        )
    lines += ["", "Links are defanged; the full evidence is in the JSON (no imagery)."]
    return title, "\n".join(lines), payload


def raise_alerts(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    identifier_ids: Iterable[int],
) -> list[AlertOutcome]:
    """Issue, update or reopen the alert about each identifier as its evidence now stands."""
    out: list[AlertOutcome] = []
    for identifier_id in dict.fromkeys(identifier_ids):
        ident = repo.load_identifier(conn, identifier_id)
        if ident is None or ident.owner_org_id is None:
            out.append(AlertOutcome(identifier_id, "no owner"))
            continue
        composed = compose(conn, ident)
        if composed is None:
            out.append(AlertOutcome(identifier_id, "no confirmed site"))
            continue
        title, body, payload = composed
        existing = notices.find(
            conn, PAYMENT_ALERT.name, ident.owner_org_id, SUBJECT_KIND, ident.id
        )
        if existing is None:
            made = notices.issue(
                conn,
                clock,
                actor,
                policy,
                kind=PAYMENT_ALERT,
                recipient_org_id=ident.owner_org_id,
                subject_kind=SUBJECT_KIND,
                subject_id=ident.id,
                title=title,
                body=body,
                payload=payload,
            )
            out.append(AlertOutcome(identifier_id, "issued", made.id))
            continue
        known = {s["site"] for s in existing.payload.get("sites", [])}
        new_sites = sorted({s["site"] for s in payload["sites"]} - known)
        if existing.state is State.CLOSED and new_sites:
            notices.reopen(
                conn,
                clock,
                actor,
                policy,
                existing.id,
                reason=f"seen again on {', '.join(new_sites)}",
                title=title,
                body=body,
                payload=payload,
            )
            out.append(AlertOutcome(identifier_id, "reopened", existing.id))
        elif existing.state in OPEN and existing.payload != payload:
            notices.update_content(conn, existing.id, title=title, body=body, payload=payload)
            out.append(AlertOutcome(identifier_id, "updated", existing.id))
        else:
            out.append(AlertOutcome(identifier_id, "unchanged", existing.id))
    return out

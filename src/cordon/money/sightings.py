"""Linking payment identifiers to sites: the entry points the crawler and the match stage call.

The contract (docs/money.md, "Linking identifiers to sites"):

* the crawler calls :func:`record_sighting` for every payment identifier it extracts from a
  page, with the URL's id and evidence as data (capture id, page context; never media);
* the match stage calls :func:`mark_url_confirmed` when a URL's content matched a hash list.

Either call, in either order, raises the alert to the identifier's owner as soon as the
identifier is seen on a confirmed site (a site is a registrable domain; one confirmed URL
confirms it). Both run in the caller's transaction and write their audit event there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.domain.payments import (
    DEFAULT_CHECKOUT_REGISTRY,
    BankAccount,
    CheckoutAccount,
    CheckoutRegistry,
    CryptoAddress,
    FoundIdentifier,
    InvalidPaymentIdentifier,
)
from cordon.domain.tlp import Tlp
from cordon.money import alerts, repo
from cordon.money.identifiers import IdentifierSpec, from_found, from_parsed, parse_identifier
from cordon.notices.policy import NoticePolicy
from cordon.pipeline import repo as work
from cordon.store import access

#: The stage told of every confirmed URL (cordon.outcomes.stages).
CONFIRMED_STAGE = "outcome_confirm"

IdentifierLike = (
    str | FoundIdentifier | CryptoAddress | BankAccount | CheckoutAccount | IdentifierSpec
)


@dataclass(frozen=True)
class SightingResult:
    """A recorded sighting and what it set off."""

    identifier_id: int
    sighting_id: int
    new_identifier: bool
    new_sighting: bool
    alerts: list[alerts.AlertOutcome]


@dataclass(frozen=True)
class ConfirmationResult:
    """A recorded confirmation and the alerts it set off."""

    confirmation: repo.Confirmation
    first: bool
    alerts: list[alerts.AlertOutcome]


def to_spec(identifier: IdentifierLike, registry: CheckoutRegistry) -> IdentifierSpec:
    """The record form of anything that names an identifier; text is parsed with ``registry``.

    Raises ``InvalidPaymentIdentifier`` for text that names none.
    """
    if isinstance(identifier, IdentifierSpec):
        return identifier
    if isinstance(identifier, FoundIdentifier):
        return from_found(identifier)
    if isinstance(identifier, str):
        return parse_identifier(identifier, registry)
    return from_parsed(identifier)


def record_sighting(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    identifier: IdentifierLike,
    url_id: int,
    *,
    source: str = "crawl",
    evidence: Mapping[str, Any] | None = None,
    seen_at: datetime | None = None,
    owner_org_id: int | None = None,
    tlp: Tlp | None = None,
    test_purchase_id: int | None = None,
    policy: NoticePolicy | None = None,
    registry: CheckoutRegistry | None = None,
) -> SightingResult:
    """Record that ``identifier`` is shown at the URL ``url_id`` and raise any alert now due.

    ``identifier`` is what the extractor returned (``FoundIdentifier``), a parsed identifier,
    or text (parsed with the checkout providers Cordon knows). ``evidence`` is small JSON
    (at most 16 KiB; a capture id, the page context) and must never hold media. A sighting of
    the same identifier at the same URL from the same source is one record whose
    ``last_seen_at`` and count move. Without ``owner_org_id``/``tlp`` the sighting's access
    follows the reports naming the URL. Raises :class:`repo.MoneyError` for an unknown URL or
    bad evidence, ``InvalidPaymentIdentifier`` for text naming no identifier.
    """
    now = clock.now()
    if isinstance(identifier, str):
        spec = to_spec(identifier, registry or repo.registry(conn))
    else:
        spec = to_spec(identifier, DEFAULT_CHECKOUT_REGISTRY)  # already parsed: not consulted
    stored = repo.record_identifier_sighting(
        conn,
        now,
        spec,
        url_id,
        source=source,
        evidence=evidence,
        seen_at=seen_at or now,
        owner_org_id=owner_org_id,
        tlp=tlp,
        test_purchase_id=test_purchase_id,
    )
    ident_id, new_ident, owner = stored.identifier_id, stored.new_identifier, stored.owner_org_id
    sid, new_sighting = stored.sighting_id, stored.new_sighting
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:payment_sighting:{'record' if new_sighting else 'seen_again'}",
        object_kind=repo.SIGHTING_KIND,
        object_ids=[sid],
        details={"identifier_id": ident_id, "url_id": url_id, "source": source},
    )
    if owner is None:
        # An alert goes to the identifier's owner: with none there is nothing to compose.
        outcomes = [alerts.AlertOutcome(ident_id, "no owner")]
    else:
        outcomes = alerts.raise_alerts(conn, clock, actor, policy or NoticePolicy(), [ident_id])
    return SightingResult(ident_id, sid, new_ident, new_sighting, outcomes)


def mark_url_confirmed(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    url_id: int,
    *,
    capture_id: int | None = None,
    capture_time: datetime | None = None,
    match_summary: Mapping[str, Any] | None = None,
    source: str = "match",
    policy: NoticePolicy | None = None,
) -> ConfirmationResult:
    """Record that the content at ``url_id`` matched a hash list, which confirms its site, and
    raise the alerts now due for every identifier seen on that site.

    ``match_summary`` is small JSON describing the match (counts, signal types, bank names;
    never media). Calling it again for the same URL updates the capture it names.
    """
    now = clock.now()
    confirmation, first = repo.store_confirmation(
        conn,
        now,
        url_id,
        capture_id=capture_id,
        capture_time=capture_time,
        match_summary=match_summary,
        source=source,
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:url:{'confirm' if first else 'reconfirm'}",
        object_kind="url",
        object_ids=[url_id],
        details={"site": confirmation.site, "capture_id": capture_id, "source": source},
    )
    identifier_ids = sorted(
        {s.identifier_id for s in repo.sightings_on_site(conn, confirmation.site)}
    )
    outcomes = alerts.raise_alerts(conn, clock, actor, policy or NoticePolicy(), identifier_ids)
    # Host, registrar and referral notices follow every confirmation (cordon.outcomes).
    work.enqueue(conn, now, CONFIRMED_STAGE, "url", [url_id], rearm=True)
    return ConfirmationResult(confirmation, first, outcomes)


def record_by_hand(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    *,
    identifier: str,
    site_url: str,
    tlp: Tlp,
    note: str | None = None,
    share_with: Sequence[int] = (),
    policy: NoticePolicy | None = None,
) -> SightingResult:
    """An analyst records an identifier seen on a page; the sighting carries the analyst's
    organisation and ``tlp`` (AMBER ones shared with ``share_with``; RED ones named to the
    analyst). Raises :class:`repo.MoneyError` naming the bad field."""
    if tlp is not Tlp.AMBER and share_with:
        raise repo.MoneyError("share_with applies to AMBER sightings only", "share_with")
    now = clock.now()
    url_id = repo.url_id_for(conn, now, site_url)
    try:
        spec = to_spec(identifier, repo.registry(conn))
    except InvalidPaymentIdentifier as exc:
        raise repo.MoneyError(str(exc), "identifier") from None
    result = record_sighting(
        conn,
        clock,
        actor,
        spec,
        url_id,
        source="analyst",
        evidence={"note": note} if note else None,
        owner_org_id=principal.org_id,
        tlp=tlp,
        policy=policy,
    )
    try:
        access.set_sharing(
            conn,
            repo.SIGHTING_KIND,
            result.sighting_id,
            org_ids=share_with,
            red_user_ids=[principal.user_id] if tlp is Tlp.RED else [],
        )
    except ValueError as exc:
        raise repo.MoneyError(str(exc), "share_with") from None
    return result

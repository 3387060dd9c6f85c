"""Screening: a partner checks a list of merchants' or customers' identifiers at onboarding.

For each item the caller learns whether Cordon knows it and, per the access policy, what it
may be told:

* ``known: false`` — nothing holds it;
* ``known: true`` with ``details`` — the caller may read records holding it: those records
  (the same as :func:`cordon.search.repo.search` gives it);
* ``known: true`` with ``contact`` only — records hold it that the caller may not read. The
  caller is told whom to contact: the owning organisation and contact of the oldest open case
  naming it, when that case is marked CLEAR, GREEN or AMBER; otherwise the coalition's
  coordinator. Never the records, the network behind them, or the case itself.

A batch with one bad item is refused whole, naming every bad item, and changes nothing. A
batch that is answered writes one audit event: counts per kind and answer, a SHA-256 of the
whole batch, and a SHA-256 of each item found known (so that an auditor can later tell whether
a given identifier was screened, without the log holding identifiers in clear).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from cordon.audit import log as audit
from cordon.cases.entities import (
    Entity,
    EntityKind,
    InvalidEntity,
    candidates,
    parse_entity,
    parse_kind,
)
from cordon.clock import Clock
from cordon.domain.partners import OrgType, Principal
from cordon.domain.tlp import Tlp
from cordon.money import repo as money
from cordon.search.repo import EntityHits, known_many, readable_hits
from cordon.store.tables import organisation
from cordon.store.tables_cases import case_file, case_subject

MAX_ITEMS = 10_000
#: Cases whose owner may be named to a screening caller.
NAMEABLE = (Tlp.CLEAR.value, Tlp.GREEN.value, Tlp.AMBER.value)
#: What screening accepts; anything else is refused by name.
SCREENABLE = frozenset(
    {
        EntityKind.URL,
        EntityKind.DOMAIN,
        EntityKind.IP,
        EntityKind.CRYPTO_ADDRESS,
        EntityKind.CHECKOUT_ACCOUNT,
        EntityKind.IBAN,
        EntityKind.CARD_MERCHANT,
        EntityKind.DESCRIPTOR,
        EntityKind.PDQ,
        EntityKind.MD5,
        EntityKind.SHA256,
        EntityKind.EMAIL,
    }
)


@dataclass(frozen=True)
class ItemError:
    index: int
    item: str
    message: str


class ScreenError(ValueError):
    """The batch cannot be screened; ``errors`` names every bad item."""

    def __init__(self, message: str, errors: list[ItemError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


@dataclass
class Answer:
    item: str
    entities: list[Entity]
    known: bool = False
    details: list[EntityHits] = field(default_factory=list)
    contact: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "item": self.item,
            "kind": self.entities[0].kind.value
            if len(self.entities) == 1
            else "/".join(e.kind.value for e in self.entities),
            "key": self.entities[0].key,
            "known": self.known,
        }
        if self.details:
            out["answer"] = "details"
            out["details"] = [d.as_dict() for d in self.details]
        elif self.known:
            out["answer"] = "contact"
            out["contact"] = self.contact
        else:
            out["answer"] = "unknown"
        return out


def parse_items(
    conn: Connection, items: list[str], kind: str | None = None
) -> list[tuple[str, list[Entity]]]:
    """Read each item as the entities it could be; refuse the batch naming every bad item."""
    if not items:
        raise ScreenError("no items to screen")
    if len(items) > MAX_ITEMS:
        raise ScreenError(f"{len(items)} items; at most {MAX_ITEMS} in one batch")
    if kind is not None:
        try:
            parse_kind(kind)
        except InvalidEntity as exc:
            raise ScreenError(str(exc)) from None
    registry = money.registry(conn)
    out: list[tuple[str, list[Entity]]] = []
    errors: list[ItemError] = []
    for n, raw in enumerate(items):
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            errors.append(ItemError(n, str(raw)[:200], "empty item"))
            continue
        try:
            found = [parse_entity(text, kind, registry)] if kind else candidates(text, registry)
        except InvalidEntity as exc:
            errors.append(ItemError(n, text[:200], str(exc)))
            continue
        found = [e for e in found if e.kind in SCREENABLE]
        if not found:
            errors.append(
                ItemError(
                    n,
                    text[:200],
                    "not a URL, domain, IP address, wallet, IBAN, checkout account, "
                    "card:BIN:MERCHANT_ID, descriptor, e-mail or hash",
                )
            )
            continue
        out.append((text, found))
    if errors:
        raise ScreenError(f"{len(errors)} bad item(s); nothing was screened", errors)
    return out


def _coordinator(conn: Connection) -> dict[str, Any]:
    row = conn.execute(
        select(organisation.c.id, organisation.c.name)
        .where(organisation.c.type == OrgType.COORDINATOR.value, organisation.c.active.is_(True))
        .order_by(organisation.c.id)
    ).first()
    if row is None:
        return {"org_id": None, "organisation": "the coalition's coordinator", "contact": None}
    return {"org_id": int(row.id), "organisation": row.name, "contact": None, "role": "coordinator"}


def _contact(
    conn: Connection, entities: list[Entity], coordinator: dict[str, Any]
) -> dict[str, Any]:
    for e in entities:
        row = conn.execute(
            select(case_file.c.owner_org_id, case_file.c.contact, organisation.c.name)
            .join(case_subject, case_subject.c.case_id == case_file.c.id)
            .join(organisation, organisation.c.id == case_file.c.owner_org_id)
            .where(
                case_subject.c.kind == e.kind.value,
                case_subject.c.key == e.key,
                case_file.c.status == "open",
                case_file.c.tlp.in_(NAMEABLE),
            )
            .order_by(case_file.c.id)
        ).first()
        if row is not None:
            return {
                "org_id": int(row.owner_org_id),
                "organisation": row.name,
                "contact": row.contact,
                "role": "case owner",
            }
    return coordinator


def screen(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    items: list[str],
    *,
    kind: str | None = None,
) -> list[Answer]:
    """Screen a batch (see the module docstring). Raises :class:`ScreenError` for a bad batch,
    before anything is written."""
    parsed = parse_items(conn, items, kind)
    every = [e for _, found in parsed for e in found]
    held = known_many(conn, every)
    coordinator: dict[str, Any] | None = None
    answers: list[Answer] = []
    for text, found in parsed:
        answer = Answer(text, found)
        hit = [e for e in found if e in held]
        if hit:
            answer.known = True
            answer.details = [
                d for d in (readable_hits(conn, principal, e) for e in hit) if d.count
            ]
            if not answer.details:
                if coordinator is None:
                    coordinator = _coordinator(conn)
                answer.contact = _contact(conn, hit, coordinator)
        answers.append(answer)
    kinds = Counter(a.entities[0].kind.value for a in answers)
    outcome = Counter(
        "details" if a.details else "contact" if a.known else "unknown" for a in answers
    )
    batch = "\n".join(sorted(e.label() for e in every)).encode()
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:screen:run",
        object_kind="screen",
        object_ids=[],
        details={
            "items": len(answers),
            "known": outcome["details"] + outcome["contact"],
            "answers": dict(sorted(outcome.items())),
            "kinds": dict(sorted(kinds.items())),
            "batch_sha256": hashlib.sha256(batch).hexdigest(),
            "known_sha256": sorted(
                hashlib.sha256(e.label().encode()).hexdigest()
                for a in answers
                if a.known
                for e in a.entities
                if e in held
            ),
        },
    )
    return answers

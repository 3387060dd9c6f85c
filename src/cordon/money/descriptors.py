"""Merchant descriptors and the links between variants of one merchant.

Descriptors come from test purchases. Each new one is compared (normalised, with rapidfuzz;
:func:`cordon.domain.payments.link_descriptors`) with every stored one; pairs scoring at least
the configured threshold (``money.descriptor_threshold``) are linked, keeping the scores as
evidence. An analyst confirms a link, splits it (kept as evidence, joining nothing), or links
two descriptors the scores missed. A merchant is a connected group of descriptors over links
that are not split.

A descriptor is visible to whoever may see a test purchase that shows it; a link to whoever
may see both its descriptors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.domain.payments import (
    InvalidPaymentIdentifier,
    descriptor_similarity,
    link_descriptors,
    normalise_descriptor,
)
from cordon.money import repo
from cordon.store.db import is_postgres
from cordon.store.tables_money import descriptor_link, merchant_descriptor, test_purchase

LINK_KIND = "descriptor_link"


@dataclass(frozen=True)
class Descriptor:
    id: int
    text: str
    normalised: str
    first_seen_at: datetime


@dataclass(frozen=True)
class Link:
    id: int
    a_id: int
    b_id: int
    a_text: str
    b_text: str
    score: float
    rule: str
    evidence: dict[str, Any]
    decision: str
    decided_by: int | None
    decided_at: datetime | None


def upsert(conn: Connection, now: datetime, text: str) -> tuple[int, bool]:
    """The id of a descriptor (whitespace collapsed), stored if new. Returns (id, new)."""
    text = " ".join(text.split())
    try:
        normalised = normalise_descriptor(text)
    except InvalidPaymentIdentifier as exc:
        raise repo.MoneyError(str(exc), "descriptor") from None
    insert = pg_insert if is_postgres(conn) else sqlite_insert
    result = conn.execute(
        insert(merchant_descriptor)
        .values(text=text, normalised=normalised, first_seen_at=now)
        .on_conflict_do_nothing(index_elements=["text"])
    )
    did = conn.execute(
        select(merchant_descriptor.c.id).where(merchant_descriptor.c.text == text)
    ).scalar_one()
    return int(did), result.rowcount == 1


def link_new(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    new_ids: Sequence[int],
    threshold: float,
) -> list[int]:
    """Link each new descriptor with every stored one scoring at least ``threshold``.

    Pairs already linked (or split) are left as they are. Returns the new links' ids.
    """
    if not new_ids:
        return []
    rows = conn.execute(select(merchant_descriptor.c.id, merchant_descriptor.c.text)).all()
    id_of = {r.text: int(r.id) for r in rows}
    new = set(new_ids)
    linkage = link_descriptors(list(id_of), threshold)
    made: list[int] = []
    now = clock.now()
    known_pairs = {
        (int(r.a_id), int(r.b_id))
        for r in conn.execute(
            select(descriptor_link.c.a_id, descriptor_link.c.b_id).where(
                descriptor_link.c.a_id.in_(new) | descriptor_link.c.b_id.in_(new)
            )
        )
    }
    for sim in linkage.links:
        a, b = id_of[sim.a], id_of[sim.b]
        if a not in new and b not in new:
            continue
        lo, hi = (a, b) if a < b else (b, a)
        first, second = (
            (sim.normalised_a, sim.normalised_b)
            if a < b
            else (
                sim.normalised_b,
                sim.normalised_a,
            )
        )
        if (lo, hi) in known_pairs:
            continue
        known_pairs.add((lo, hi))
        lid = conn.execute(
            descriptor_link.insert()
            .values(
                a_id=lo,
                b_id=hi,
                score=sim.score,
                rule=sim.rule,
                evidence={
                    "normalised_a": first,
                    "normalised_b": second,
                    "ratio": sim.ratio,
                    "token_sort_ratio": sim.token_sort_ratio,
                    "compact_ratio": sim.compact_ratio,
                    "truncation_ratio": sim.truncation_ratio,
                    "threshold": threshold,
                },
                decision="auto",
                created_at=now,
            )
            .returning(descriptor_link.c.id)
        ).scalar_one()
        made.append(int(lid))
    if made:
        audit.record(
            conn,
            clock,
            actor,
            f"{actor.source}:descriptor_link:create",
            object_kind=LINK_KIND,
            object_ids=list(made),
            details={"threshold": threshold},
        )
    return made


def descriptor_visible(principal: Principal, id_col: Any) -> ColumnElement[bool]:
    """Descriptors the principal may see: shown by a test purchase it may see."""
    return exists(
        select(test_purchase.c.id).where(
            test_purchase.c.descriptor_id == id_col, repo.purchase_visible(principal)
        )
    )


def _links_stmt(principal: Principal) -> Any:
    a = aliased(merchant_descriptor)
    b = aliased(merchant_descriptor)
    return (
        select(descriptor_link, a.c.text.label("a_text"), b.c.text.label("b_text"))
        .join(a, a.c.id == descriptor_link.c.a_id)
        .join(b, b.c.id == descriptor_link.c.b_id)
        .where(descriptor_visible(principal, a.c.id), descriptor_visible(principal, b.c.id))
    )


def _link(row: Any) -> Link:
    return Link(
        id=int(row.id),
        a_id=int(row.a_id),
        b_id=int(row.b_id),
        a_text=row.a_text,
        b_text=row.b_text,
        score=float(row.score),
        rule=row.rule,
        evidence=dict(row.evidence),
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def list_links(
    conn: Connection, principal: Principal, *, decision: str | None = None, limit: int = 200
) -> list[Link]:
    """Links between descriptors the principal may see, lowest score first (those most in
    need of a look)."""
    stmt = _links_stmt(principal)
    if decision:
        stmt = stmt.where(descriptor_link.c.decision == decision)
    rows = conn.execute(stmt.order_by(descriptor_link.c.score, descriptor_link.c.id).limit(limit))
    return [_link(r) for r in rows.all()]


def get_link(conn: Connection, principal: Principal, link_id: int) -> Link | None:
    """One link, if the principal may see both its descriptors."""
    row = conn.execute(_links_stmt(principal).where(descriptor_link.c.id == link_id)).first()
    return None if row is None else _link(row)


def decide(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    link_id: int,
    decision: str,
) -> Link:
    """An analyst confirms a link (``confirmed``) or splits it (``split``)."""
    if decision not in ("confirmed", "split"):
        raise repo.MoneyError("decision must be confirmed or split", "decision")
    if get_link(conn, principal, link_id) is None:
        raise repo.NotFound(f"no descriptor link with id {link_id}")
    conn.execute(
        update(descriptor_link)
        .where(descriptor_link.c.id == link_id)
        .values(decision=decision, decided_by=principal.user_id, decided_at=clock.now())
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:descriptor_link:{'confirm' if decision == 'confirmed' else 'split'}",
        object_kind=LINK_KIND,
        object_ids=[link_id],
    )
    found = get_link(conn, principal, link_id)
    assert found is not None
    return found


def link_by_hand(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    a_id: int,
    b_id: int,
) -> Link:
    """An analyst links two descriptors the scores did not (or confirms an existing link)."""
    if a_id == b_id:
        raise repo.MoneyError("a descriptor is not linked to itself", "b_id")
    lo, hi = sorted((a_id, b_id))
    texts: dict[int, str] = {}
    for did in (lo, hi):
        row = conn.execute(
            select(merchant_descriptor.c.text).where(
                merchant_descriptor.c.id == did,
                descriptor_visible(principal, merchant_descriptor.c.id),
            )
        ).first()
        if row is None:
            raise repo.NotFound(f"no merchant descriptor with id {did}")
        texts[did] = row.text
    now = clock.now()
    existing = conn.execute(
        select(descriptor_link.c.id).where(
            descriptor_link.c.a_id == lo, descriptor_link.c.b_id == hi
        )
    ).first()
    if existing is not None:
        return decide(conn, clock, principal, actor, int(existing.id), "confirmed")
    sim = descriptor_similarity(texts[lo], texts[hi])
    lid = conn.execute(
        descriptor_link.insert()
        .values(
            a_id=lo,
            b_id=hi,
            score=sim.score,
            rule="analyst",
            evidence={
                "normalised_a": sim.normalised_a,
                "normalised_b": sim.normalised_b,
                "ratio": sim.ratio,
                "token_sort_ratio": sim.token_sort_ratio,
                "compact_ratio": sim.compact_ratio,
                "truncation_ratio": sim.truncation_ratio,
            },
            decision="confirmed",
            decided_by=principal.user_id,
            decided_at=now,
            created_at=now,
        )
        .returning(descriptor_link.c.id)
    ).scalar_one()
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:descriptor_link:create",
        object_kind=LINK_KIND,
        object_ids=[int(lid)],
        details={"rule": "analyst"},
    )
    found = get_link(conn, principal, int(lid))
    assert found is not None
    return found


def merchants(conn: Connection, principal: Principal) -> list[list[Descriptor]]:
    """Groups of descriptors naming one merchant (over links not split), as the principal may
    see them; singletons included, largest groups first."""
    rows = conn.execute(
        select(merchant_descriptor).where(descriptor_visible(principal, merchant_descriptor.c.id))
    ).all()
    seen = {int(r.id): Descriptor(int(r.id), r.text, r.normalised, r.first_seen_at) for r in rows}
    parent = {i: i for i in seen}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for link in conn.execute(
        select(descriptor_link.c.a_id, descriptor_link.c.b_id).where(
            descriptor_link.c.decision != "split"
        )
    ):
        a, b = int(link.a_id), int(link.b_id)
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[Descriptor]] = {}
    for i in sorted(seen):
        groups.setdefault(find(i), []).append(seen[i])
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].text))


def link_as_dict(link: Link) -> dict[str, Any]:
    return {
        "id": link.id,
        "a": {"id": link.a_id, "text": link.a_text},
        "b": {"id": link.b_id, "text": link.b_text},
        "score": link.score,
        "rule": link.rule,
        "evidence": link.evidence,
        "decision": link.decision,
        "decided_at": None
        if link.decided_at is None
        else link.decided_at.isoformat().replace("+00:00", "Z"),
    }

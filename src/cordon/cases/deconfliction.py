"""Deconfliction: two organisations' open cases touching the same entities.

A case's **entities** are its subjects, plus, for a URL, the URL's site (registrable domain),
and, for a network, the network (followed through ``merged_into`` to the network it now is) and
the site of every current member, read from the graph at the time of the check. When an open
case is opened, gains subjects or is reopened, its entities are compared with those of every
other open case owned by another organisation. The entities a pair of cases shares that no
earlier hit of the same pair named make one new **hit**; both owners are told at once through
the notice engine (kind ``deconfliction``: the inbox and their channels). So each pair of cases
is told exactly once about each entity it shares.

A notice says which of the recipient's own subjects overlap, the other organisation's name and
the other case's contact. It shows the other case itself (id, title, status, marking) only when
the recipient organisation could read that case under the access policy.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cordon.audit import log as audit
from cordon.cases import repo
from cordon.cases.entities import Entity, EntityKind, parse_entity
from cordon.clock import Clock
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.urls import InvalidUrl, normalize_url
from cordon.notices import repo as notices
from cordon.notices.kinds import DECONFLICTION
from cordon.notices.policy import NoticePolicy
from cordon.store.db import is_postgres
from cordon.store.tables import organisation
from cordon.store.tables_cases import case_file, case_subject, deconfliction_hit
from cordon.store.tables_graph import graph_node, network, network_member

HIT_KIND = "deconfliction_hit"
#: Kinds whose subjects are expanded before comparing, so they are candidates for every check.
_EXPANDED = (EntityKind.NETWORK.value, EntityKind.URL.value)
_CHUNK = 500


# ------------------------------------------------------------------------------ networks


def resolve_network(conn: Connection, network_id: int) -> int | None:
    """The network ``network_id`` is now (following merges), or None if there is none."""
    seen: set[int] = set()
    current = network_id
    while current not in seen:
        seen.add(current)
        row = conn.execute(
            select(network.c.id, network.c.merged_into).where(network.c.id == current)
        ).first()
        if row is None:
            return None
        if row.merged_into is None:
            return int(row.id)
        current = int(row.merged_into)
    return current


def network_exists(conn: Connection, network_id: int) -> bool:
    return resolve_network(conn, network_id) is not None


def network_sites(conn: Connection, network_id: int) -> list[str]:
    """The sites (registrable domains) that are members of the network now."""
    rows = conn.execute(
        select(graph_node.c.key)
        .join(network_member, network_member.c.node_id == graph_node.c.id)
        .where(
            network_member.c.network_id == network_id,
            network_member.c.until.is_(None),
            graph_node.c.kind == "site",
        )
    ).scalars()
    return sorted(set(rows))


# ------------------------------------------------------------------------------ entities


def expand(conn: Connection, kind: str, key: str) -> set[Entity]:
    """The entities one subject stands for (see the module docstring)."""
    if kind == EntityKind.NETWORK.value:
        resolved = resolve_network(conn, int(key))
        if resolved is None:
            return set()
        out = {Entity(EntityKind.NETWORK, str(resolved))}
        out |= {Entity(EntityKind.DOMAIN, site) for site in network_sites(conn, resolved)}
        return out
    entity = Entity(EntityKind(kind), key)
    if kind == EntityKind.URL.value:
        try:
            return {entity, Entity(EntityKind.DOMAIN, normalize_url(key).registrable_domain)}
        except InvalidUrl:
            return {entity}
    return {entity}


def entities_of(conn: Connection, case_ids: Iterable[int]) -> dict[int, set[Entity]]:
    """Every case's entities, expanded now."""
    ids = sorted(set(case_ids))
    out: dict[int, set[Entity]] = {i: set() for i in ids}
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(case_subject.c.case_id, case_subject.c.kind, case_subject.c.key).where(
                case_subject.c.case_id.in_(ids[start : start + _CHUNK])
            )
        ).all()
        for r in rows:
            out[int(r.case_id)] |= expand(conn, r.kind, r.key)
    return out


def open_case_ids_with(conn: Connection, entities: Iterable[Entity]) -> set[int]:
    """Open cases that name one of ``entities`` directly or hold an expanded subject."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for e in entities:
        by_kind[e.kind.value].append(e.key)
    conds: list[Any] = [case_subject.c.kind.in_(_EXPANDED)]
    for kind, keys in by_kind.items():
        for start in range(0, len(keys), _CHUNK):
            conds.append(
                and_(
                    case_subject.c.kind == kind,
                    case_subject.c.key.in_(keys[start : start + _CHUNK]),
                )
            )
    rows = conn.execute(
        select(case_subject.c.case_id)
        .join(case_file, case_file.c.id == case_subject.c.case_id)
        .where(case_file.c.status == "open", or_(*conds))
        .distinct()
    ).scalars()
    return {int(r) for r in rows}


def _digest(entities: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(entities, separators=(",", ":")).encode()).hexdigest()


# ------------------------------------------------------------------------------ checking


@dataclass(frozen=True)
class Hit:
    id: int
    case_a_id: int
    case_b_id: int
    org_a_id: int
    org_b_id: int
    entities: list[tuple[str, str]]
    kinds: list[str]
    found_by_case_id: int
    created_at: datetime


def _hit(row: Any) -> Hit:
    return Hit(
        id=int(row.id),
        case_a_id=int(row.case_a_id),
        case_b_id=int(row.case_b_id),
        org_a_id=int(row.org_a_id),
        org_b_id=int(row.org_b_id),
        entities=[(str(k), str(v)) for k, v in row.entities],
        kinds=list(row.kinds),
        found_by_case_id=int(row.found_by_case_id),
        created_at=row.created_at,
    )


def check_case(
    conn: Connection, clock: Clock, actor: audit.Actor, policy: NoticePolicy, case_id: int
) -> list[Hit]:
    """Compare an open case with every other organisation's open cases; record and notify new
    hits (in the caller's transaction). Returns the new hits; none for a case not open."""
    case = repo.load(conn, case_id)
    if case is None or case.status != "open":
        return []
    mine = entities_of(conn, [case_id])[case_id]
    if not mine:
        return []
    candidates = open_case_ids_with(conn, mine) - {case_id}
    others = (
        {
            int(r.id): int(r.owner_org_id)
            for r in conn.execute(
                select(case_file.c.id, case_file.c.owner_org_id).where(
                    case_file.c.id.in_(sorted(candidates)),
                    case_file.c.owner_org_id != case.owner_org_id,
                )
            )
        }
        if candidates
        else {}
    )
    theirs = entities_of(conn, others)
    made: list[Hit] = []
    for other_id in sorted(others):
        shared = mine & theirs[other_id]
        if not shared:
            continue
        a, b = sorted((case_id, other_id))
        known: set[tuple[str, str]] = set()
        for row in conn.execute(
            select(deconfliction_hit.c.entities).where(
                deconfliction_hit.c.case_a_id == a, deconfliction_hit.c.case_b_id == b
            )
        ).scalars():
            known |= {(str(k), str(v)) for k, v in row}
        new = sorted(e.pair() for e in shared if e.pair() not in known)
        if not new:
            continue
        org_of = {case_id: case.owner_org_id, other_id: others[other_id]}
        now = clock.now()
        insert = pg_insert if is_postgres(conn) else sqlite_insert
        # Two changes racing to the same hit: the unique key lets one of them record it.
        inserted = conn.execute(
            insert(deconfliction_hit)
            .values(
                case_a_id=a,
                case_b_id=b,
                org_a_id=org_of[a],
                org_b_id=org_of[b],
                entities=[list(p) for p in new],
                entity_digest=_digest(new),
                kinds=sorted({k for k, _ in new}),
                found_by_case_id=case_id,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(deconfliction_hit.c.id)
        ).scalar_one_or_none()
        if inserted is None:
            continue
        hit_id = int(inserted)
        hit = _hit(
            conn.execute(select(deconfliction_hit).where(deconfliction_hit.c.id == hit_id)).one()
        )
        notified = _notify(conn, clock, actor, policy, hit)
        audit.record(
            conn,
            clock,
            actor,
            f"{actor.source}:deconfliction:hit",
            object_kind=HIT_KIND,
            object_ids=[hit_id],
            details={
                "cases": [a, b],
                "orgs": [org_of[a], org_of[b]],
                "kinds": hit.kinds,
                "entities": len(new),
                "notices": notified,
                "purpose": repo.purpose(case_id),
            },
        )
        made.append(hit)
    return made


class Deconflictor:
    """``check_case`` with its clock, actor and notice policy bound: what case changes call."""

    def __init__(self, clock: Clock, actor: audit.Actor, policy: NoticePolicy) -> None:
        self.clock, self.actor, self.policy = clock, actor, policy
        self.hits: list[Hit] = []

    def __call__(self, conn: Connection, case_id: int) -> None:
        self.hits += check_case(conn, self.clock, self.actor, self.policy, case_id)


def _org_row(conn: Connection, org_id: int) -> Any:
    return conn.execute(select(organisation).where(organisation.c.id == org_id)).one()


def _org_may_read(conn: Connection, org_id: int, case_id: int) -> bool:
    """Whether members of an organisation (as such, not as named users) may read a case."""
    org = _org_row(conn, org_id)
    as_org = Principal(
        user_id=0,
        org_id=org_id,
        org_type=OrgType(org.type),
        org_country=org.country,
        role=Role.VIEWER,
        permissions=frozenset(),
    )
    return (
        conn.execute(
            select(case_file.c.id).where(case_file.c.id == case_id, repo.case_visible(as_org))
        ).first()
        is not None
    )


def _view(conn: Connection, hit: Hit, own_case_id: int, may_read_other: bool) -> dict[str, Any]:
    """A hit as the owner of ``own_case_id`` learns it."""
    other_id = hit.case_b_id if own_case_id == hit.case_a_id else hit.case_a_id
    own = repo.load(conn, own_case_id)
    other = repo.load(conn, other_id)
    assert own is not None
    assert other is not None
    out: dict[str, Any] = {
        "id": hit.id,
        "found_at": hit.created_at.isoformat(),
        "your_case": {"id": own.id, "title": own.title, "status": own.status},
        "overlap": {
            "kinds": hit.kinds,
            "count": len(hit.entities),
            "entities": [{"kind": k, "key": v} for k, v in hit.entities],
        },
        "contact": {
            "org_id": other.owner_org_id,
            "organisation": other.owner_name,
            "contact": other.contact,
        },
        "other_case": None,
    }
    if may_read_other:
        out["other_case"] = {
            "id": other.id,
            "title": other.title,
            "status": other.status,
            "tlp": other.tlp.value,
        }
    return out


def _notify(
    conn: Connection, clock: Clock, actor: audit.Actor, policy: NoticePolicy, hit: Hit
) -> list[int]:
    made: list[int] = []
    for own_id, org_id, other_id in (
        (hit.case_a_id, hit.org_a_id, hit.case_b_id),
        (hit.case_b_id, hit.org_b_id, hit.case_a_id),
    ):
        view = _view(conn, hit, own_id, _org_may_read(conn, org_id, other_id))
        who = view["contact"]
        kinds = ", ".join(hit.kinds)
        body = (
            f"Your open case {own_id} ({view['your_case']['title']}) shares "
            f"{len(hit.entities)} entit{'y' if len(hit.entities) == 1 else 'ies'} ({kinds}) "
            f"with an open case of {who['organisation']}. Contact: {who['contact']}.\n"
            + "".join(f"- {k}: {v}\n" for k, v in hit.entities)
        )
        if view["other_case"] is not None:
            body += f"Their case: {other_id} ({view['other_case']['title']}).\n"
        n = notices.issue(
            conn,
            clock,
            actor,
            policy,
            kind=DECONFLICTION,
            recipient_org_id=org_id,
            subject_kind=HIT_KIND,
            subject_id=hit.id,
            title=f"Deconfliction: case {own_id} overlaps with a case of {who['organisation']}",
            body=body,
            payload={"deconfliction": view},
        )
        made.append(n.id)
    return made


# ------------------------------------------------------------------------------ reading


def list_hits(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    *,
    case_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """The hits that concern the principal's organisation (its cases on either side), newest
    first, each as its side learns it. One audit event names them."""
    org = principal.org_id
    stmt = select(deconfliction_hit).where(
        or_(deconfliction_hit.c.org_a_id == org, deconfliction_hit.c.org_b_id == org)
    )
    if case_id is not None:
        stmt = stmt.where(
            or_(deconfliction_hit.c.case_a_id == case_id, deconfliction_hit.c.case_b_id == case_id)
        )
    if before_id is not None:
        stmt = stmt.where(deconfliction_hit.c.id < before_id)
    hits = [
        _hit(r) for r in conn.execute(stmt.order_by(deconfliction_hit.c.id.desc()).limit(limit))
    ]
    out: list[dict[str, Any]] = []
    for h in hits:
        for own_id, own_org, other_id in (
            (h.case_a_id, h.org_a_id, h.case_b_id),
            (h.case_b_id, h.org_b_id, h.case_a_id),
        ):
            if own_org != org:
                continue
            visible = conn.execute(
                select(case_file.c.id).where(
                    case_file.c.id == other_id, repo.case_visible(principal)
                )
            ).first()
            out.append(_view(conn, h, own_id, visible is not None))
    if out:
        audit.record(
            conn,
            clock,
            actor,
            f"{actor.source}:deconfliction:list",
            object_kind=HIT_KIND,
            object_ids=sorted({v["id"] for v in out}),
            details={"purpose": sorted({repo.purpose(v["your_case"]["id"]) for v in out})},
        )
    return out


def get_hit(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, hit_id: int
) -> list[dict[str, Any]]:
    """One hit as the principal's organisation learns it (one view per side it owns); empty
    when it does not concern the organisation (answered as missing)."""
    row = conn.execute(select(deconfliction_hit).where(deconfliction_hit.c.id == hit_id)).first()
    if row is None or principal.org_id not in (row.org_a_id, row.org_b_id):
        return []
    found = [
        v
        for v in list_hits(conn, clock, principal, actor, limit=1, before_id=hit_id + 1)
        if v["id"] == hit_id
    ]
    return found


def entity_label(kind: str, key: str) -> str:
    return Entity(EntityKind(kind), key).label()


__all__ = [
    "Deconflictor",
    "Hit",
    "check_case",
    "entities_of",
    "entity_label",
    "expand",
    "get_hit",
    "list_hits",
    "parse_entity",
    "resolve_network",
]

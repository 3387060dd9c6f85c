"""Cases: open, read, take part, note, name subjects, change status. Every access is audited
with the case as its purpose.

Who may read a case (the access policy, :func:`case_visible`): its member organisations (the
owner and the participants), whatever their type, unless it is marked RED; and, through
:func:`cordon.store.access.visible` on the case's owner and marking, everyone the TLP rules
admit (CLEAR and GREEN cases are readable by every organisation that browses intelligence; RED
ones by their named users only). A case that may not be read is answered as a missing one.
Only the owning organisation changes a case's subjects, participants and status; every member
organisation may add notes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, func, or_, select, update

from cordon.audit import log as audit
from cordon.cases.entities import Entity, InvalidEntity, parse_entity, parse_typed
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.money import repo as money
from cordon.store import access
from cordon.store.tables import app_user, organisation
from cordon.store.tables_cases import case_file, case_note, case_participant, case_subject

KIND = "case"
STATUSES = ("open", "suspended", "closed")
MAX_SUBJECTS = 1000
MAX_NOTE = 20_000


class CaseError(ValueError):
    """A request about cases that cannot be carried out; ``field`` names the bad part."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(CaseError):
    """No such case (or the caller may not see it): the same answer."""


class Forbidden(CaseError):
    """The caller may read the case but not change it this way."""


@dataclass(frozen=True)
class Case:
    id: int
    owner_org_id: int
    owner_name: str
    opened_by: int
    title: str
    reference: str | None
    status: str
    tlp: Tlp
    contact: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class Participant:
    org_id: int
    org_name: str
    org_type: str
    role: str
    added_at: datetime


@dataclass(frozen=True)
class Note:
    id: int
    case_id: int
    author_user_id: int
    author_name: str
    author_org_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Subject:
    id: int
    case_id: int
    kind: str
    key: str
    value: str
    added_at: datetime


def purpose(case_id: int) -> str:
    """The audit purpose of every access to a case."""
    return f"case:{case_id}"


def _with_purpose(actor: audit.Actor, case_id: int) -> audit.Actor:
    return audit.Actor(
        source=actor.source,
        user_id=actor.user_id,
        org_id=actor.org_id,
        token_id=actor.token_id,
        request_id=actor.request_id,
        client_ip=actor.client_ip,
        purpose=purpose(case_id),
    )


def _audit(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    case_id: int,
    action: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    audit.record(
        conn,
        clock,
        _with_purpose(actor, case_id),
        f"{actor.source}:case:{action}",
        object_kind=KIND,
        object_ids=[case_id],
        details={"purpose": purpose(case_id), **dict(details or {})},
    )


# ------------------------------------------------------------------------------ access


def is_participant(org_id: Any, case_id_col: Any) -> ColumnElement[bool]:
    return exists().where(
        case_participant.c.case_id == case_id_col, case_participant.c.org_id == org_id
    )


def case_visible(principal: Principal) -> ColumnElement[bool]:
    """Cases the principal may read (see the module docstring)."""
    by_marking = access.visible(
        principal,
        KIND,
        id_col=case_file.c.id,
        owner_col=case_file.c.owner_org_id,
        tlp_col=case_file.c.tlp,
    )
    member = and_(
        case_file.c.tlp != Tlp.RED.value, is_participant(principal.org_id, case_file.c.id)
    )
    return or_(by_marking, member)


def _case_select() -> Any:
    return select(case_file, organisation.c.name.label("owner_name")).join(
        organisation, organisation.c.id == case_file.c.owner_org_id
    )


def _case(row: Any) -> Case:
    return Case(
        id=int(row.id),
        owner_org_id=int(row.owner_org_id),
        owner_name=row.owner_name,
        opened_by=int(row.opened_by),
        title=row.title,
        reference=row.reference,
        status=row.status,
        tlp=Tlp(row.tlp),
        contact=row.contact,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
    )


def load(conn: Connection, case_id: int) -> Case | None:
    """The case, unfiltered: for deconfliction and the engine, never an access path."""
    row = conn.execute(_case_select().where(case_file.c.id == case_id)).first()
    return None if row is None else _case(row)


def _visible_case(conn: Connection, principal: Principal, case_id: int) -> Case:
    row = conn.execute(
        _case_select().where(case_file.c.id == case_id, case_visible(principal))
    ).first()
    if row is None:
        raise NotFound(f"no case with id {case_id}")
    return _case(row)


def _owned_case(conn: Connection, principal: Principal, case_id: int) -> Case:
    found = _visible_case(conn, principal, case_id)
    if found.owner_org_id != principal.org_id or not principal.can(Permission.CASE_OPEN):
        raise Forbidden(f"only the organisation that owns case {case_id} may change it")
    return found


# ------------------------------------------------------------------------------ writing


@dataclass(frozen=True)
class CaseIn:
    """What opening a case takes (validated at the edge; subjects are parsed here)."""

    title: str
    tlp: Tlp = Tlp.AMBER
    reference: str | None = None
    contact: str | None = None
    participants: Sequence[int] = ()
    subjects: Sequence[str | tuple[str, str]] = ()
    red_users: Sequence[int] = ()


def parse_subjects(
    conn: Connection, subjects: Iterable[str | tuple[str, str]]
) -> list[tuple[Entity, str]]:
    """Normalise subjects (``kind:value`` text, or ``(kind, value)``) and check networks exist.

    Raises :class:`CaseError` naming the first bad one, by position.
    """
    from cordon.cases import deconfliction

    registry = money.registry(conn)
    out: list[tuple[Entity, str]] = []
    for n, item in enumerate(subjects):
        try:
            if isinstance(item, str):
                entity, shown = parse_typed(item, registry), item.strip()
            else:
                kind, value = item
                entity, shown = parse_entity(value, kind, registry), value.strip()
        except InvalidEntity as exc:
            raise CaseError(f"subject {n + 1}: {exc}", f"subjects[{n}]") from None
        if entity.kind.value == "network" and not deconfliction.network_exists(
            conn, int(entity.key)
        ):
            raise CaseError(f"subject {n + 1}: no network with id {entity.key}", f"subjects[{n}]")
        out.append((entity, shown[:2048]))
    if len(out) > MAX_SUBJECTS:
        raise CaseError(f"at most {MAX_SUBJECTS} subjects at once", "subjects")
    return out


def _check_orgs(conn: Connection, org_ids: Iterable[int]) -> list[int]:
    ids = sorted(set(org_ids))
    if not ids:
        return []
    found = set(
        conn.execute(
            select(organisation.c.id).where(
                organisation.c.id.in_(ids), organisation.c.active.is_(True)
            )
        ).scalars()
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise CaseError(f"no active organisation with id {missing[0]}", "participants")
    return ids


def _contact_of(conn: Connection, principal: Principal, given: str | None) -> str:
    if given and given.strip():
        return given.strip()[:320]
    row = conn.execute(
        select(app_user.c.display_name, app_user.c.email).where(app_user.c.id == principal.user_id)
    ).first()
    return f"{row.display_name} <{row.email}>"[:320] if row else "the case owner"


def _insert_subjects(
    conn: Connection, now: datetime, case_id: int, user_id: int, items: list[tuple[Entity, str]]
) -> list[Entity]:
    existing = {
        (r.kind, r.key)
        for r in conn.execute(
            select(case_subject.c.kind, case_subject.c.key).where(case_subject.c.case_id == case_id)
        )
    }
    added: list[Entity] = []
    rows: list[dict[str, Any]] = []
    for entity, shown in items:
        if entity.pair() in existing:
            continue
        existing.add(entity.pair())
        added.append(entity)
        rows.append(
            {
                "case_id": case_id,
                "kind": entity.kind.value,
                "key": entity.key,
                "value": shown,
                "added_at": now,
                "added_by": user_id,
            }
        )
    if rows:
        conn.execute(case_subject.insert(), rows)
    return added


def open_case(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    data: CaseIn,
    *,
    deconflict: Any = None,
) -> Case:
    """Open a case owned by the principal's organisation, then run deconfliction.

    ``deconflict`` is called as ``deconflict(conn, case_id)`` after the case is stored (the
    deconfliction engine with its notice policy bound); None skips it. Raises
    :class:`CaseError` naming the bad field; nothing is stored then.
    """
    if not principal.can(Permission.CASE_OPEN):
        raise Forbidden("your organisation may not open cases")
    title = data.title.strip()
    if not title or len(title) > 300:
        raise CaseError("title must be 1 to 300 characters", "title")
    if data.reference is not None and len(data.reference) > 200:
        raise CaseError("reference is longer than 200 characters", "reference")
    participants = [o for o in _check_orgs(conn, data.participants) if o != principal.org_id]
    subjects = parse_subjects(conn, data.subjects)
    now = clock.now()
    case_id = int(
        conn.execute(
            case_file.insert()
            .values(
                owner_org_id=principal.org_id,
                opened_by=principal.user_id,
                title=title,
                reference=(data.reference or "").strip() or None,
                status="open",
                tlp=data.tlp.value,
                contact=_contact_of(conn, principal, data.contact),
                created_at=now,
                updated_at=now,
            )
            .returning(case_file.c.id)
        ).scalar_one()
    )
    conn.execute(
        case_participant.insert(),
        [
            {
                "case_id": case_id,
                "org_id": principal.org_id,
                "role": "owner",
                "added_at": now,
                "added_by": principal.user_id,
            }
        ]
        + [
            {
                "case_id": case_id,
                "org_id": o,
                "role": "participant",
                "added_at": now,
                "added_by": principal.user_id,
            }
            for o in participants
        ],
    )
    if data.tlp is Tlp.RED:
        access.set_sharing(conn, KIND, case_id, red_user_ids=[principal.user_id, *data.red_users])
    added = _insert_subjects(conn, now, case_id, principal.user_id, subjects)
    _audit(
        conn,
        clock,
        actor,
        case_id,
        "open",
        {
            "tlp": data.tlp.value,
            "participants": participants,
            "subjects": len(added),
            "kinds": sorted({e.kind.value for e in added}),
        },
    )
    if deconflict is not None:
        deconflict(conn, case_id)
    found = load(conn, case_id)
    assert found is not None
    return found


def add_subjects(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    case_id: int,
    subjects: Sequence[str | tuple[str, str]],
    *,
    deconflict: Any = None,
) -> list[Entity]:
    """Name more subjects of a case (owner only); returns those that were new."""
    _owned_case(conn, principal, case_id)
    if not subjects:
        raise CaseError("no subjects given", "subjects")
    parsed = parse_subjects(conn, subjects)
    now = clock.now()
    added = _insert_subjects(conn, now, case_id, principal.user_id, parsed)
    conn.execute(update(case_file).where(case_file.c.id == case_id).values(updated_at=now))
    _audit(
        conn,
        clock,
        actor,
        case_id,
        "subject_add",
        {"subjects": len(added), "kinds": sorted({e.kind.value for e in added})},
    )
    if added and deconflict is not None:
        deconflict(conn, case_id)
    return added


def remove_subject(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    case_id: int,
    subject_id: int,
) -> None:
    """Drop a subject from a case (owner only). Deconfliction hits already made are kept."""
    _owned_case(conn, principal, case_id)
    row = conn.execute(
        select(case_subject.c.kind).where(
            case_subject.c.id == subject_id, case_subject.c.case_id == case_id
        )
    ).first()
    if row is None:
        raise NotFound(f"case {case_id} has no subject with id {subject_id}")
    conn.execute(case_subject.delete().where(case_subject.c.id == subject_id))
    conn.execute(update(case_file).where(case_file.c.id == case_id).values(updated_at=clock.now()))
    _audit(
        conn, clock, actor, case_id, "subject_remove", {"subject_id": subject_id, "kind": row.kind}
    )


def add_participant(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    case_id: int,
    org_id: int,
) -> None:
    """Make an organisation a member of a case (owner only); adding a member again is a no-op."""
    _owned_case(conn, principal, case_id)
    _check_orgs(conn, [org_id])
    present = conn.execute(
        select(case_participant.c.org_id).where(
            case_participant.c.case_id == case_id, case_participant.c.org_id == org_id
        )
    ).first()
    if present is not None:
        return
    now = clock.now()
    conn.execute(
        case_participant.insert().values(
            case_id=case_id,
            org_id=org_id,
            role="participant",
            added_at=now,
            added_by=principal.user_id,
        )
    )
    conn.execute(update(case_file).where(case_file.c.id == case_id).values(updated_at=now))
    _audit(conn, clock, actor, case_id, "participant_add", {"org_id": org_id})


def remove_participant(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    case_id: int,
    org_id: int,
) -> None:
    """End an organisation's membership of a case (owner only; the owner stays)."""
    found = _owned_case(conn, principal, case_id)
    if org_id == found.owner_org_id:
        raise CaseError("the owning organisation cannot leave its own case", "org_id")
    gone = conn.execute(
        case_participant.delete().where(
            case_participant.c.case_id == case_id, case_participant.c.org_id == org_id
        )
    ).rowcount
    if not gone:
        raise NotFound(f"organisation {org_id} does not take part in case {case_id}")
    _audit(conn, clock, actor, case_id, "participant_remove", {"org_id": org_id})


def update_case(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    case_id: int,
    *,
    status: str | None = None,
    title: str | None = None,
    contact: str | None = None,
    tlp: Tlp | None = None,
    deconflict: Any = None,
) -> Case:
    """Change a case's status, title, contact or marking (owner only).

    A case that becomes open again is deconflicted again.
    """
    found = _owned_case(conn, principal, case_id)
    values: dict[str, Any] = {}
    if status is not None:
        if status not in STATUSES:
            raise CaseError(
                f"unknown status {status!r}; use one of {', '.join(STATUSES)}", "status"
            )
        values["status"] = status
        values["closed_at"] = clock.now() if status == "closed" else None
    if title is not None:
        if not title.strip() or len(title.strip()) > 300:
            raise CaseError("title must be 1 to 300 characters", "title")
        values["title"] = title.strip()
    if contact is not None:
        if not contact.strip():
            raise CaseError("contact is empty", "contact")
        values["contact"] = contact.strip()[:320]
    if tlp is not None:
        values["tlp"] = tlp.value
    if not values:
        raise CaseError("nothing to change: give status, title, contact or tlp")
    values["updated_at"] = clock.now()
    conn.execute(update(case_file).where(case_file.c.id == case_id).values(**values))
    if tlp is Tlp.RED and found.tlp is not Tlp.RED:
        access.set_sharing(conn, KIND, case_id, red_user_ids=[found.opened_by, principal.user_id])
    changed = {k: v for k, v in values.items() if k in ("status", "tlp")}
    if "title" in values:
        changed["title"] = True
    if "contact" in values:
        changed["contact"] = True
    _audit(conn, clock, actor, case_id, "update", changed)
    if status == "open" and found.status != "open" and deconflict is not None:
        deconflict(conn, case_id)
    after = load(conn, case_id)
    assert after is not None
    return after


def add_note(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    case_id: int,
    text: str,
) -> Note:
    """Add a note to a case; any member organisation may."""
    found = _visible_case(conn, principal, case_id)
    is_member = conn.execute(
        select(case_participant.c.org_id).where(
            case_participant.c.case_id == case_id, case_participant.c.org_id == principal.org_id
        )
    ).first()
    if is_member is None or not principal.can(Permission.CASE_NOTE):
        raise Forbidden(f"only members of case {found.id} may add notes")
    body = text.strip()
    if not body or len(body) > MAX_NOTE:
        raise CaseError(f"a note is 1 to {MAX_NOTE} characters", "text")
    now = clock.now()
    note_id = int(
        conn.execute(
            case_note.insert()
            .values(
                case_id=case_id,
                author_user_id=principal.user_id,
                author_org_id=principal.org_id,
                text=body,
                created_at=now,
            )
            .returning(case_note.c.id)
        ).scalar_one()
    )
    conn.execute(update(case_file).where(case_file.c.id == case_id).values(updated_at=now))
    _audit(conn, clock, actor, case_id, "note_add", {"note_id": note_id})
    return notes_of(conn, case_id, note_id=note_id)[0]


# ------------------------------------------------------------------------------ reading


def get(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, case_id: int
) -> Case:
    """The case, audited with its purpose. Raises :class:`NotFound` when hidden or missing."""
    found = _visible_case(conn, principal, case_id)
    _audit(conn, clock, actor, case_id, "read")
    return found


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    mine: bool = False


def _filtered(stmt: Any, principal: Principal, f: CaseFilter) -> Any:
    conds: list[Any] = [case_visible(principal)]
    if f.status is not None:
        if f.status not in STATUSES:
            raise CaseError(
                f"unknown status {f.status!r}; use one of {', '.join(STATUSES)}", "status"
            )
        conds.append(case_file.c.status == f.status)
    if f.mine:
        conds.append(is_participant(principal.org_id, case_file.c.id))
    return stmt.where(and_(*conds))


def list_page(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: CaseFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Case]:
    """Cases the principal may read, newest first; one audit event names them all."""
    stmt = _filtered(_case_select(), principal, f)
    if before_id is not None:
        stmt = stmt.where(case_file.c.id < before_id)
    found = [_case(r) for r in conn.execute(stmt.order_by(case_file.c.id.desc()).limit(limit))]
    if found:
        audit.record(
            conn,
            clock,
            actor,
            f"{actor.source}:case:list",
            object_kind=KIND,
            object_ids=[c.id for c in found],
            details={"purpose": [purpose(c.id) for c in found]},
        )
    return found


def count(conn: Connection, principal: Principal, f: CaseFilter) -> int:
    """How many cases the principal may read (a number, not an access to any case)."""
    return int(
        conn.execute(
            _filtered(select(func.count()).select_from(case_file), principal, f)
        ).scalar_one()
    )


def participants_of(conn: Connection, case_id: int) -> list[Participant]:
    rows = conn.execute(
        select(case_participant, organisation.c.name, organisation.c.type)
        .join(organisation, organisation.c.id == case_participant.c.org_id)
        .where(case_participant.c.case_id == case_id)
        .order_by(case_participant.c.added_at, case_participant.c.org_id)
    ).all()
    return [Participant(int(r.org_id), r.name, r.type, r.role, r.added_at) for r in rows]


def notes_of(conn: Connection, case_id: int, *, note_id: int | None = None) -> list[Note]:
    stmt = (
        select(case_note, app_user.c.display_name)
        .join(app_user, app_user.c.id == case_note.c.author_user_id)
        .where(case_note.c.case_id == case_id)
        .order_by(case_note.c.created_at, case_note.c.id)
    )
    if note_id is not None:
        stmt = stmt.where(case_note.c.id == note_id)
    return [
        Note(
            int(r.id),
            int(r.case_id),
            int(r.author_user_id),
            r.display_name,
            int(r.author_org_id),
            r.text,
            r.created_at,
        )
        for r in conn.execute(stmt)
    ]


def subjects_of(conn: Connection, case_id: int) -> list[Subject]:
    rows = conn.execute(
        select(case_subject).where(case_subject.c.case_id == case_id).order_by(case_subject.c.id)
    ).all()
    return [Subject(int(r.id), int(r.case_id), r.kind, r.key, r.value, r.added_at) for r in rows]


def read_part(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    case_id: int,
    part: str,
) -> list[Any]:
    """Participants, notes or subjects of a case the principal may read; audited."""
    _visible_case(conn, principal, case_id)
    loaders: dict[str, Callable[[Connection, int], Sequence[Any]]] = {
        "participants": participants_of,
        "notes": notes_of,
        "subjects": subjects_of,
    }
    items = list(loaders[part](conn, case_id))
    _audit(conn, clock, actor, case_id, f"{part}_read".replace("participants", "participant"))
    return items


def org_contact(conn: Connection, org_id: int) -> str:
    """The name of an organisation."""
    name = conn.execute(select(organisation.c.name).where(organisation.c.id == org_id)).scalar()
    return str(name) if name is not None else f"organisation {org_id}"


# ------------------------------------------------------------------------------ JSON


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def case_as_dict(c: Case) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "reference": c.reference,
        "status": c.status,
        "tlp": c.tlp.value,
        "owner": {"org_id": c.owner_org_id, "name": c.owner_name},
        "contact": c.contact,
        "opened_by": c.opened_by,
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "closed_at": _iso(c.closed_at),
    }


def participant_as_dict(p: Participant) -> dict[str, Any]:
    return {
        "org_id": p.org_id,
        "name": p.org_name,
        "type": p.org_type,
        "role": p.role,
        "added_at": _iso(p.added_at),
    }


def note_as_dict(n: Note) -> dict[str, Any]:
    return {
        "id": n.id,
        "author": {"user_id": n.author_user_id, "name": n.author_name, "org_id": n.author_org_id},
        "text": n.text,
        "created_at": _iso(n.created_at),
    }


def subject_as_dict(s: Subject) -> dict[str, Any]:
    return {
        "id": s.id,
        "kind": s.kind,
        "key": s.key,
        "value": s.value,
        "added_at": _iso(s.added_at),
    }

"""Notices: issue, send in rounds, repeat, answer, reopen, escalate, deliver, and read.

Every change writes its audit event in the caller's transaction. A notice is an *addressed*
record: only members of its recipient organisation may read it (through the one access policy,
as a record owned by the recipient and marked AMBER+STRICT, so every read is audited).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    update,
)

from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.config import Settings
from cordon.domain import netpolicy
from cordon.domain.partners import OrgType, Principal
from cordon.domain.tlp import Tlp
from cordon.notices import links, mail, webhook
from cordon.notices.kinds import ESCALATION, Effect, NoticeKind, get_kind
from cordon.notices.policy import NoticePolicy
from cordon.notices.secrets import (
    SecretError,
    endpoint_secret,
    fingerprint,
    webhook_master_key,
)
from cordon.notices.states import (
    OPEN,
    State,
    TransitionError,
    after_answer,
    after_failed_verification,
    after_reappearance,
    after_send,
    after_verification,
    escalates,
    may_reopen,
    may_repeat,
    stops_repeats,
)
from cordon.pipeline import repo as work
from cordon.store import access
from cordon.store.tables import organisation
from cordon.store.tables_money import (
    notice,
    notice_delivery,
    notice_endpoint,
    notice_event,
    notice_schedule,
)

KIND = "notice"
DELIVERY_STAGE = "notice_delivery"
REPEAT_STAGE = "notice_repeat"
CHANNELS = ("inbox", "webhook", "email")
MAX_PAYLOAD_BYTES = 256 * 1024
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}")


class NoticeError(ValueError):
    """A request about notices that cannot be carried out; ``field`` names the bad part."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(NoticeError):
    """No such notice, endpoint or delivery (or the caller may not see it): the same answer."""


@dataclass(frozen=True)
class Notice:
    id: int
    kind: str
    recipient_org_id: int | None
    recipient_address: str | None
    recipient_name: str | None
    issuer_org_id: int | None
    subject_kind: str
    subject_id: int
    parent_notice_id: int | None
    state: State
    answer: str | None
    answer_note: str | None
    answered_at: datetime | None
    answered_by: int | None
    title: str
    body: str
    payload: dict[str, Any]
    created_at: datetime
    opened_at: datetime
    first_sent_at: datetime
    last_sent_at: datetime
    rounds: int
    repeats: int
    next_repeat_at: datetime | None
    escalated_at: datetime | None
    closed_at: datetime | None
    reopened: int
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        """True when the latest round has not been opened in the inbox."""
        return self.read_at is None or self.read_at < self.last_sent_at


@dataclass(frozen=True)
class NoticeEvent:
    at: datetime
    event: str
    actor_user_id: int | None
    details: dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    id: int
    notice_id: int
    round: int
    channel: str
    endpoint_id: int | None
    target: str
    attempt: int
    retry_of: int | None
    state: str
    delivery_key: str
    created_at: datetime
    due_at: datetime
    finished_at: datetime | None
    response_status: int | None
    error: str | None


@dataclass(frozen=True)
class Endpoint:
    id: int
    org_id: int
    channel: str
    target: str
    kinds: list[str]
    active: bool
    secret_version: int
    secret_fingerprint: str | None
    created_at: datetime


def _notice(row: Any) -> Notice:
    return Notice(
        id=int(row.id),
        kind=row.kind,
        recipient_org_id=None if row.recipient_org_id is None else int(row.recipient_org_id),
        recipient_address=row.recipient_address,
        recipient_name=row.recipient_name,
        issuer_org_id=row.issuer_org_id,
        subject_kind=row.subject_kind,
        subject_id=int(row.subject_id),
        parent_notice_id=row.parent_notice_id,
        state=State(row.state),
        answer=row.answer,
        answer_note=row.answer_note,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        title=row.title,
        body=row.body,
        payload=dict(row.payload),
        created_at=row.created_at,
        opened_at=row.opened_at,
        first_sent_at=row.first_sent_at,
        last_sent_at=row.last_sent_at,
        rounds=int(row.rounds),
        repeats=int(row.repeats),
        next_repeat_at=row.next_repeat_at,
        escalated_at=row.escalated_at,
        closed_at=row.closed_at,
        reopened=int(row.reopened),
        read_at=row.read_at,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row.id),
        notice_id=int(row.notice_id),
        round=int(row.round),
        channel=row.channel,
        endpoint_id=row.endpoint_id,
        target=row.target,
        attempt=int(row.attempt),
        retry_of=row.retry_of,
        state=row.state,
        delivery_key=row.delivery_key,
        created_at=row.created_at,
        due_at=row.due_at,
        finished_at=row.finished_at,
        response_status=row.response_status,
        error=row.error,
    )


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=int(row.id),
        org_id=int(row.org_id),
        channel=row.channel,
        target=row.target,
        kinds=list(row.kinds),
        active=bool(row.active),
        secret_version=int(row.secret_version),
        secret_fingerprint=row.secret_fingerprint,
        created_at=row.created_at,
    )


def _load(conn: Connection, notice_id: int, *, lock: bool = False) -> Notice | None:
    stmt = select(notice).where(notice.c.id == notice_id)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    return None if row is None else _notice(row)


def _event(
    conn: Connection,
    now: datetime,
    notice_id: int,
    event: str,
    actor: audit.Actor,
    details: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        notice_event.insert().values(
            notice_id=notice_id,
            at=now,
            event=event,
            actor_user_id=actor.user_id,
            details=dict(details or {}),
        )
    )


def _check_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    try:
        size = len(json.dumps(payload, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise NoticeError(f"notice payload is not JSON: {exc}", "payload") from None
    if size > MAX_PAYLOAD_BYTES:
        raise NoticeError(f"notice payload is larger than {MAX_PAYLOAD_BYTES} bytes", "payload")
    return dict(payload)


# ------------------------------------------------------------------------------ issuing


def find(
    conn: Connection,
    kind: str,
    recipient_org_id: int | None,
    subject_kind: str,
    subject_id: int,
    *,
    recipient_address: str | None = None,
) -> Notice | None:
    """The notice of ``kind`` to a recipient (an organisation, else an address) about a
    subject, if one was issued.

    For feature packages deciding whether to issue, update or reopen; not an access path.
    """
    who = (
        notice.c.recipient_org_id == recipient_org_id
        if recipient_org_id is not None
        else and_(
            notice.c.recipient_org_id.is_(None), notice.c.recipient_address == recipient_address
        )
    )
    row = conn.execute(
        select(notice).where(
            notice.c.kind == kind,
            who,
            notice.c.subject_kind == subject_kind,
            notice.c.subject_id == subject_id,
        )
    ).first()
    return None if row is None else _notice(row)


def load(conn: Connection, notice_id: int) -> Notice | None:
    """A notice by id, for feature packages and stages; not an access path."""
    return _load(conn, notice_id)


def notices_about(conn: Connection, subject_kind: str, subject_ids: Sequence[int]) -> list[Notice]:
    """Every notice about these subjects (for feature packages and metrics; not an access path)."""
    if not subject_ids:
        return []
    rows = conn.execute(
        select(notice)
        .where(notice.c.subject_kind == subject_kind, notice.c.subject_id.in_(subject_ids))
        .order_by(notice.c.id)
    ).all()
    return [_notice(r) for r in rows]


def issue(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    *,
    kind: NoticeKind,
    recipient_org_id: int | None,
    subject_kind: str,
    subject_id: int,
    title: str,
    body: str,
    payload: Mapping[str, Any],
    issuer_org_id: int | None = None,
    parent_notice_id: int | None = None,
    recipient_address: str | None = None,
    recipient_name: str | None = None,
    draft: bool = False,
) -> Notice:
    """Create a notice and send its first round on every channel of the recipient.

    The recipient is a member organisation (inbox, its endpoints) or, for a party outside the
    coalition, an e-mail ``recipient_address`` (such a notice is read in Cordon by its issuer
    organisation). With ``draft`` the notice is kept unsent until :func:`send_draft`.
    Raises :class:`NoticeError` when one of this kind about this subject was already issued to
    this recipient (use :func:`update_content` or :func:`reopen` then), or when no recipient
    is named.
    """
    if recipient_org_id is None and not recipient_address:
        raise NoticeError("a notice needs a recipient organisation or address", "recipient")
    if recipient_address is not None and not _is_email(recipient_address):
        raise NoticeError(f"{recipient_address!r} is not an e-mail address", "recipient")
    if (
        find(
            conn,
            kind.name,
            recipient_org_id,
            subject_kind,
            subject_id,
            recipient_address=recipient_address,
        )
        is not None
    ):
        raise NoticeError(
            f"a {kind.name} about {subject_kind} {subject_id} was already issued to "
            f"{_who(recipient_org_id, recipient_address)}"
        )
    now = clock.now()
    notice_id = conn.execute(
        notice.insert()
        .values(
            kind=kind.name,
            recipient_org_id=recipient_org_id,
            recipient_address=recipient_address,
            recipient_name=recipient_name,
            issuer_org_id=issuer_org_id,
            subject_kind=subject_kind,
            subject_id=subject_id,
            parent_notice_id=parent_notice_id,
            state=(State.DRAFT if draft else State.SENT).value,
            title=title[:300],
            body=body,
            payload=_check_payload(payload),
            created_at=now,
            opened_at=now,
            first_sent_at=now,
            last_sent_at=now,
            rounds=0 if draft else 1,
            repeats=0,
            reopened=0,
        )
        .returning(notice.c.id)
    ).scalar_one()
    if draft:
        _event(conn, now, notice_id, "drafted", actor)
        audit.record(
            conn,
            clock,
            actor,
            f"{actor.source}:notice:draft",
            object_kind=KIND,
            object_ids=[notice_id],
            details={"kind": kind.name, "recipient_org_id": recipient_org_id},
        )
    else:
        _first_round(conn, clock, actor, policy, notice_id)
    found = _load(conn, notice_id)
    assert found is not None
    return found


def _who(org_id: int | None, address: str | None) -> str:
    return f"organisation {org_id}" if org_id is not None else str(address)


def _first_round(
    conn: Connection, clock: Clock, actor: audit.Actor, policy: NoticePolicy, notice_id: int
) -> None:
    current = _load(conn, notice_id)
    assert current is not None
    kind = get_kind(current.kind)
    now = clock.now()
    _event(conn, now, notice_id, "sent", actor, {"round": 1})
    channels = _send_round(conn, now, current, 1)
    if kind.repeats:
        _schedule(conn, now, notice_id, now + policy.repeat_interval)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice:send",
        object_kind=KIND,
        object_ids=[notice_id],
        details={
            "kind": kind.name,
            "recipient_org_id": current.recipient_org_id,
            "recipient_address": current.recipient_address,
            "round": 1,
            "channels": channels,
        },
    )


def send_draft(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    notice_id: int,
    *,
    title: str,
    body: str,
    payload: Mapping[str, Any],
) -> Notice:
    """Send a draft (its content final now) as round 1. Raises :class:`TransitionError`."""
    current = _load(conn, notice_id, lock=True)
    if current is None:
        raise NotFound(f"no notice with id {notice_id}")
    after_send(current.state)
    now = clock.now()
    conn.execute(
        update(notice)
        .where(notice.c.id == notice_id)
        .values(
            state=State.SENT.value,
            title=title[:300],
            body=body,
            payload=_check_payload(payload),
            opened_at=now,
            first_sent_at=now,
            last_sent_at=now,
            rounds=1,
        )
    )
    _first_round(conn, clock, actor, policy, notice_id)
    found = _load(conn, notice_id)
    assert found is not None
    return found


def update_content(
    conn: Connection, notice_id: int, *, title: str, body: str, payload: Mapping[str, Any]
) -> None:
    """Replace what the next rounds of a notice say (new evidence while it is open)."""
    conn.execute(
        update(notice)
        .where(notice.c.id == notice_id)
        .values(title=title[:300], body=body, payload=_check_payload(payload))
    )


def reopen(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    notice_id: int,
    *,
    reason: str,
    title: str,
    body: str,
    payload: Mapping[str, Any],
    force: bool = False,
) -> Notice:
    """Reopen a closed notice with new content and send it again as a new cycle.

    ``force`` reopens from any state that is not open (the engine re-raises escalations so);
    otherwise only a closed notice of a kind that reopens. Raises :class:`TransitionError`.
    """
    current = _load(conn, notice_id, lock=True)
    if current is None:
        raise NotFound(f"no notice with id {notice_id}")
    kind = get_kind(current.kind)
    if force:
        if current.state in OPEN:
            raise TransitionError(f"the notice is {current.state.value}, not closed")
    elif not (kind.reopens and may_reopen(current.state)):
        raise TransitionError(f"a {current.state.value} {kind.name} is not reopened")
    now = clock.now()
    round_no = current.rounds + 1
    conn.execute(
        update(notice)
        .where(notice.c.id == notice_id)
        .values(
            state=State.SENT.value,
            answer=None,
            answer_note=None,
            answered_at=None,
            answered_by=None,
            title=title[:300],
            body=body,
            payload=_check_payload(payload),
            opened_at=now,
            last_sent_at=now,
            rounds=round_no,
            repeats=0,
            escalated_at=None,
            closed_at=None,
            reopened=current.reopened + 1,
        )
    )
    _event(conn, now, notice_id, "reopened", actor, {"round": round_no, "reason": reason})
    channels = _send_round(conn, now, current, round_no)
    if kind.repeats:
        _schedule(conn, now, notice_id, now + policy.repeat_interval)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice:reopen",
        object_kind=KIND,
        object_ids=[notice_id],
        details={"round": round_no, "reason": reason, "channels": channels},
    )
    found = _load(conn, notice_id)
    assert found is not None
    return found


def _send_round(conn: Connection, now: datetime, current: Notice, round_no: int) -> list[str]:
    """Create the deliveries of one round: the inbox at once, the others through the stage.

    A notice to an address outside the coalition has one delivery: an e-mail to it.
    """
    notice_id, kind, recipient_org_id = current.id, current.kind, current.recipient_org_id
    if recipient_org_id is None:
        assert current.recipient_address is not None
        did = conn.execute(
            notice_delivery.insert()
            .values(
                notice_id=notice_id,
                round=round_no,
                channel="email",
                endpoint_id=None,
                target=current.recipient_address,
                attempt=1,
                state="pending",
                delivery_key=uuid.uuid4().hex,
                created_at=now,
                due_at=now,
            )
            .returning(notice_delivery.c.id)
        ).scalar_one()
        work.enqueue(conn, now, DELIVERY_STAGE, "notice_delivery", [int(did)])
        return ["email"]
    conn.execute(
        notice_delivery.insert().values(
            notice_id=notice_id,
            round=round_no,
            channel="inbox",
            endpoint_id=None,
            target=f"organisation {recipient_org_id}",
            attempt=1,
            state="delivered",
            delivery_key=uuid.uuid4().hex,
            created_at=now,
            due_at=now,
            finished_at=now,
        )
    )
    channels = ["inbox"]
    endpoints = conn.execute(
        select(notice_endpoint).where(
            notice_endpoint.c.org_id == recipient_org_id, notice_endpoint.c.active.is_(True)
        )
    ).all()
    pending: list[int] = []
    for ep in endpoints:
        kinds = list(ep.kinds)
        if kinds and kind not in kinds:
            continue
        did = conn.execute(
            notice_delivery.insert()
            .values(
                notice_id=notice_id,
                round=round_no,
                channel=ep.channel,
                endpoint_id=ep.id,
                target=ep.target,
                attempt=1,
                state="pending",
                delivery_key=uuid.uuid4().hex,
                created_at=now,
                due_at=now,
            )
            .returning(notice_delivery.c.id)
        ).scalar_one()
        pending.append(int(did))
        channels.append(ep.channel)
    work.enqueue(conn, now, DELIVERY_STAGE, "notice_delivery", pending)
    return channels


def _schedule(conn: Connection, now: datetime, notice_id: int, due: datetime) -> None:
    """Plan the next repeat at ``due``, replacing any planned one."""
    _cancel_schedules(conn, notice_id)
    sid = conn.execute(
        notice_schedule.insert()
        .values(notice_id=notice_id, due_at=due, created_at=now, cancelled=False)
        .returning(notice_schedule.c.id)
    ).scalar_one()
    conn.execute(update(notice).where(notice.c.id == notice_id).values(next_repeat_at=due))
    work.enqueue(conn, now, REPEAT_STAGE, "notice_schedule", [int(sid)], run_at=due)


def _cancel_schedules(conn: Connection, notice_id: int) -> None:
    conn.execute(
        update(notice_schedule)
        .where(
            notice_schedule.c.notice_id == notice_id,
            notice_schedule.c.done_at.is_(None),
            notice_schedule.c.cancelled.is_(False),
        )
        .values(cancelled=True)
    )
    conn.execute(update(notice).where(notice.c.id == notice_id).values(next_repeat_at=None))


# ------------------------------------------------------------------------------ repeats


def run_repeat(
    conn: Connection, clock: Clock, actor: audit.Actor, policy: NoticePolicy, schedule_id: int
) -> str:
    """Carry out one planned repeat (the ``notice_repeat`` stage). Returns what it did.

    A cancelled or already carried-out plan does nothing. An open notice is sent again as a
    new round; after ``policy.escalate_after`` repeats in the cycle the coordinator is told
    once; the next repeat is planned.
    """
    plan = conn.execute(select(notice_schedule).where(notice_schedule.c.id == schedule_id)).first()
    if plan is None or plan.cancelled or plan.done_at is not None:
        return "nothing planned"
    now = clock.now()
    conn.execute(
        update(notice_schedule).where(notice_schedule.c.id == schedule_id).values(done_at=now)
    )
    current = _load(conn, int(plan.notice_id), lock=True)
    if current is None or not may_repeat(current.state):
        return "answered"
    kind = get_kind(current.kind)
    round_no = current.rounds + 1
    repeats = current.repeats + 1
    conn.execute(
        update(notice)
        .where(notice.c.id == current.id)
        .values(
            state=State.SENT.value,
            last_sent_at=now,
            rounds=round_no,
            repeats=repeats,
        )
    )
    _event(conn, now, current.id, "repeated", actor, {"round": round_no, "repeat": repeats})
    channels = _send_round(conn, now, current, round_no)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice:repeat",
        object_kind=KIND,
        object_ids=[current.id],
        details={"round": round_no, "repeat": repeats, "channels": channels},
    )
    if repeats >= policy.escalate_after and current.escalated_at is None:
        _escalate(conn, clock, actor, policy, current.id, f"unanswered after {repeats} repeats")
    if kind.repeats:
        _schedule(conn, now, current.id, now + policy.repeat_interval)
    return "repeated"


def _coordinators(conn: Connection) -> list[int]:
    return [
        int(i)
        for i in conn.execute(
            select(organisation.c.id)
            .where(
                organisation.c.type == OrgType.COORDINATOR.value,
                organisation.c.active.is_(True),
            )
            .order_by(organisation.c.id)
        ).scalars()
    ]


def _escalate(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    notice_id: int,
    reason: str,
) -> list[int]:
    """Tell every active coordinator organisation about a notice; returns the escalations.

    A notice whose evidence names ``escalate_to`` (organisation ids, such as the
    law-enforcement partners of the hosting country) escalates to those instead, with the
    URLs the notice lists (``urls``), which they are entitled to act on. Otherwise the
    escalation carries who was told what and when, and the answer if any; never the evidence
    itself, which stays with the notice's recipient.
    """
    current = _load(conn, notice_id)
    assert current is not None
    now = clock.now()
    if current.recipient_org_id is not None:
        recipient = conn.execute(
            select(organisation.c.name).where(organisation.c.id == current.recipient_org_id)
        ).scalar_one()
    else:
        recipient = f"{current.recipient_name or ''} <{current.recipient_address}>".strip()
    targets = [int(t) for t in current.payload.get("escalate_to") or []]
    who = "you" if targets else "the coordinator"
    title = f"Escalation: {current.kind} {current.id} to {recipient} ({reason})"
    body = (
        f"{current.kind} {current.id} to {recipient} needs {who}: {reason}.\n"
        f"Opened {current.opened_at.isoformat()}, sent {current.rounds} time(s), "
        f"{current.repeats} repeat(s) in this cycle.\n"
        + (
            f"Answer: {current.answer} ({current.answer_note or 'no note'})\n"
            if current.answer
            else ""
        )
    )
    payload = {
        "notice_id": current.id,
        "notice_kind": current.kind,
        "recipient_org_id": current.recipient_org_id,
        "recipient": recipient,
        "subject_kind": current.subject_kind,
        "subject_id": current.subject_id,
        "reason": reason,
        "state": current.state.value,
        "answer": current.answer,
        "answer_note": current.answer_note,
        "opened_at": current.opened_at.isoformat(),
        "rounds": current.rounds,
        "repeats": current.repeats,
    }
    if targets:
        payload["urls"] = list(current.payload.get("urls") or [])
    made: list[int] = []
    for coordinator in targets or _coordinators(conn):
        existing = find(conn, ESCALATION.name, coordinator, KIND, current.id)
        if existing is None:
            made.append(
                issue(
                    conn,
                    clock,
                    actor,
                    policy,
                    kind=ESCALATION,
                    recipient_org_id=coordinator,
                    subject_kind=KIND,
                    subject_id=current.id,
                    title=title,
                    body=body,
                    payload=payload,
                    parent_notice_id=current.id,
                ).id
            )
        elif existing.state in OPEN:
            update_content(conn, existing.id, title=title, body=body, payload=payload)
            made.append(existing.id)
        else:
            made.append(
                reopen(
                    conn,
                    clock,
                    actor,
                    policy,
                    existing.id,
                    reason=reason,
                    title=title,
                    body=body,
                    payload=payload,
                    force=True,
                ).id
            )
    conn.execute(update(notice).where(notice.c.id == current.id).values(escalated_at=now))
    _event(conn, now, current.id, "escalated", actor, {"reason": reason, "escalations": made})
    return made


# ------------------------------------------------------------------------------ answers


def answer(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    policy: NoticePolicy,
    notice_id: int,
    answer_name: str,
    note: str | None = None,
) -> Notice:
    """Record the recipient's answer and apply its effect.

    CLOSE: closed, time to closure kept; HOLD: repeats wait ``policy.review_hold``; DECLINE and
    DISPUTE: repeats stop and the coordinator is told. Raises :class:`NotFound` when the
    principal may not see the notice, :class:`NoticeError` for an answer the kind does not
    know, :class:`TransitionError` when the notice takes no answer.
    """
    row = conn.execute(
        select(notice.c.id).where(notice.c.id == notice_id, _visible(principal))
    ).first()
    if row is None:
        raise NotFound(f"no notice with id {notice_id}")
    return _apply_answer(
        conn, clock, actor, policy, notice_id, answer_name, note, answered_by=principal.user_id
    )


def answer_by_link(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    claim: links.LinkClaim,
    note: str | None = None,
) -> Notice:
    """Record the answer a signed link carries (the caller has verified the token).

    The same rules as :func:`answer`; the answer has no Cordon user behind it.
    """
    if _load(conn, claim.notice_id) is None:
        raise NotFound(f"no notice with id {claim.notice_id}")
    if claim.answer == links.VIEW:
        raise NoticeError("this link shows the notice; it carries no answer", "token")
    return _apply_answer(conn, clock, actor, policy, claim.notice_id, claim.answer, note)


def _apply_answer(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    notice_id: int,
    answer_name: str,
    note: str | None,
    *,
    answered_by: int | None = None,
) -> Notice:
    current = _load(conn, notice_id, lock=True)
    assert current is not None
    kind = get_kind(current.kind)
    try:
        chosen = kind.answer(answer_name)
    except ValueError as exc:
        raise NoticeError(str(exc), "answer") from None
    new_state = after_answer(current.state, chosen.effect)
    now = clock.now()
    values: dict[str, Any] = {
        "state": new_state.value,
        "answer": chosen.name,
        "answer_note": note,
        "answered_at": now,
        "answered_by": answered_by,
    }
    details: dict[str, Any] = {"answer": chosen.name, "effect": chosen.effect.value}
    if chosen.effect is Effect.CLOSE:
        values["closed_at"] = now
        seconds = (now - current.opened_at).total_seconds()
        details["seconds_open"] = seconds
        details["seconds_since_first_sent"] = (now - current.first_sent_at).total_seconds()
    conn.execute(update(notice).where(notice.c.id == notice_id).values(**values))
    _event(conn, now, notice_id, "answered", actor, details)
    if chosen.effect is Effect.HOLD:
        _schedule(conn, now, notice_id, now + policy.review_hold)
    elif stops_repeats(chosen.effect):
        _cancel_schedules(conn, notice_id)
    if chosen.effect is Effect.ACTION and kind.verify_stage:
        # The recipient says it acted: a re-crawl, not the answer, confirms it.
        work.enqueue(conn, now, kind.verify_stage, KIND, [notice_id], rearm=True)
    if chosen.effect is Effect.CLOSE:
        _event(conn, now, notice_id, "closed", actor, {"seconds_open": details["seconds_open"]})
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice:answer",
        object_kind=KIND,
        object_ids=[notice_id],
        details=details,
    )
    if escalates(chosen.effect) and kind.name != ESCALATION.name:
        _escalate(conn, clock, actor, policy, notice_id, f"answered {chosen.name}")
    found = _load(conn, notice_id)
    assert found is not None
    return found


# ------------------------------------------------------------------------------ verification


def _transition(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    notice_id: int,
    rule: Any,
    event: str,
    details: Mapping[str, Any],
) -> Notice:
    current = _load(conn, notice_id, lock=True)
    if current is None:
        raise NotFound(f"no notice with id {notice_id}")
    new_state: State = rule(current.state)
    now = clock.now()
    values: dict[str, Any] = {"state": new_state.value}
    info = dict(details)
    if new_state is State.VERIFIED:
        values["closed_at"] = now
        info["seconds_open"] = (now - current.opened_at).total_seconds()
    conn.execute(update(notice).where(notice.c.id == notice_id).values(**values))
    _event(conn, now, notice_id, event, actor, info)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice:{event}",
        object_kind=KIND,
        object_ids=[notice_id],
        details={"from": current.state.value, "to": new_state.value, **info},
    )
    found = _load(conn, notice_id)
    assert found is not None
    return found


def mark_verified(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    notice_id: int,
    details: Mapping[str, Any] | None = None,
) -> Notice:
    """A re-crawl showed everything the notice lists gone: ``verified``; repeats stop.

    Raises :class:`TransitionError` from a state that cannot be verified.
    """
    found = _transition(
        conn, clock, actor, notice_id, after_verification, "verified", details or {}
    )
    _cancel_schedules(conn, notice_id)
    return found


def mark_not_removed(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    notice_id: int,
    details: Mapping[str, Any] | None = None,
) -> Notice:
    """A re-crawl showed an ``actioned`` notice's content still there: back to ``sent``, and
    repeats resume. Raises :class:`TransitionError` from any other state."""
    found = _transition(
        conn, clock, actor, notice_id, after_failed_verification, "not_removed", details or {}
    )
    if get_kind(found.kind).repeats:
        _schedule(conn, clock.now(), notice_id, clock.now() + policy.repeat_interval)
    return found


def mark_reappeared(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    notice_id: int,
    details: Mapping[str, Any] | None = None,
) -> Notice:
    """Content of a verified notice is back; a new chain (a notice naming this one as its
    parent) follows it. Raises :class:`TransitionError` unless the notice is verified."""
    return _transition(
        conn, clock, actor, notice_id, after_reappearance, "reappeared", details or {}
    )


# ------------------------------------------------------------------------------ deliveries


@dataclass(frozen=True)
class DeliveryContext:
    """What delivering needs besides the database: settings and where the keys are."""

    settings: Settings
    key_dir: Path

    @property
    def allow(self) -> tuple[netpolicy.IPNetwork, ...]:
        return netpolicy.parse_allow_list(self.settings.notices.webhook_allow_networks)


def document(n: Notice, *, delivery: Delivery | None = None) -> dict[str, Any]:
    """The JSON a webhook body and an e-mail attachment carry for one round of a notice."""
    kind = get_kind(n.kind)
    return {
        "type": "cordon.notice",
        "delivery": delivery.delivery_key if delivery else None,
        "round": delivery.round if delivery else n.rounds,
        "notice": {
            "id": n.id,
            "kind": n.kind,
            "state": n.state.value,
            "title": n.title,
            "text": n.body,
            "evidence": n.payload,
            "subject": {"kind": n.subject_kind, "id": n.subject_id},
            "opened_at": n.opened_at.isoformat(),
            "first_sent_at": n.first_sent_at.isoformat(),
            "last_sent_at": n.last_sent_at.isoformat(),
            "repeats": n.repeats,
            "reopened": n.reopened,
            "answers": [{"name": a.name, "description": a.description} for a in kind.answers],
            "answer_with": f"POST /v1/notices/{n.id}/answer",
        },
    }


def deliver(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    policy: NoticePolicy,
    ctx: DeliveryContext,
    delivery_id: int,
) -> str:
    """Make one delivery attempt (the ``notice_delivery`` stage). Returns the new state.

    A failed attempt keeps its error; a retry is planned after the back-off as a new attempt
    until ``policy.delivery_attempts`` is reached, then the delivery is abandoned. Every attempt
    is audited.
    """
    row = conn.execute(select(notice_delivery).where(notice_delivery.c.id == delivery_id)).first()
    if row is None or row.state != "pending":
        return "nothing to do"
    d = _delivery(row)
    n = _load(conn, d.notice_id)
    assert n is not None
    now = clock.now()
    ep = None
    if d.endpoint_id is not None:
        ep_row = conn.execute(
            select(notice_endpoint).where(notice_endpoint.c.id == d.endpoint_id)
        ).first()
        ep = None if ep_row is None else _endpoint(ep_row)
    error: str | None = None
    status: int | None = None
    retryable = True
    external = d.endpoint_id is None and d.channel == "email" and d.target == n.recipient_address
    if external:
        error, retryable = _send_email(n, d, ctx, now)
    elif ep is None or not ep.active:
        error, retryable = "the endpoint was removed or turned off", False
    elif d.channel == "webhook":
        error, status, retryable = _send_webhook(n, d, ep, ctx, now)
    elif d.channel == "email":
        error, retryable = _send_email(n, d, ctx, now)
    else:
        error, retryable = f"unknown channel {d.channel!r}", False
    if error is None:
        conn.execute(
            update(notice_delivery)
            .where(notice_delivery.c.id == d.id)
            .values(state="delivered", finished_at=now, response_status=status)
        )
        outcome = "delivered"
    else:
        last = not retryable or d.attempt >= policy.delivery_attempts
        outcome = "abandoned" if last else "failed"
        conn.execute(
            update(notice_delivery)
            .where(notice_delivery.c.id == d.id)
            .values(state=outcome, finished_at=now, response_status=status, error=error[:2000])
        )
        if not last:
            _retry(conn, now, d, now + policy.retry_after(d.attempt))
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice:deliver",
        object_kind=KIND,
        object_ids=[d.notice_id],
        details={
            "delivery_id": d.id,
            "channel": d.channel,
            "round": d.round,
            "attempt": d.attempt,
            "outcome": outcome,
            "status": status,
            "error": error,
        },
    )
    return outcome


def _retry(conn: Connection, now: datetime, d: Delivery, due: datetime) -> int:
    new_id = conn.execute(
        notice_delivery.insert()
        .values(
            notice_id=d.notice_id,
            round=d.round,
            channel=d.channel,
            endpoint_id=d.endpoint_id,
            target=d.target,
            attempt=d.attempt + 1,
            retry_of=d.id,
            state="pending",
            # Receivers drop duplicates by key: one key for every attempt of one round.
            delivery_key=d.delivery_key,
            created_at=now,
            due_at=due,
        )
        .returning(notice_delivery.c.id)
    ).scalar_one()
    work.enqueue(conn, now, DELIVERY_STAGE, "notice_delivery", [int(new_id)], run_at=due)
    return int(new_id)


def _send_webhook(
    n: Notice, d: Delivery, ep: Endpoint, ctx: DeliveryContext, now: datetime
) -> tuple[str | None, int | None, bool]:
    try:
        master = webhook_master_key(ctx.key_dir)
    except (SecretError, OSError) as exc:
        return f"cannot sign: {exc}", None, True
    secret = endpoint_secret(master, ep.id, ep.secret_version)
    body = json.dumps(document(n, delivery=d), ensure_ascii=False, sort_keys=True).encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        webhook.DELIVERY_HEADER: d.delivery_key,
        webhook.NOTICE_HEADER: str(n.id),
        webhook.SIGNATURE_HEADER: webhook.sign(secret, timestamp, body),
        "User-Agent": "Cordon-Notices/1",
    }
    try:
        status = webhook.post(
            ep.target,
            body,
            headers,
            timeout=ctx.settings.notices.webhook_timeout_seconds,
            allow=ctx.allow,
        )
    except webhook.WebhookRefused as exc:
        return str(exc), None, True
    except Exception as exc:  # any transport failure is a failed attempt, retried
        return f"{type(exc).__name__}: {exc}", None, True
    if 200 <= status < 300:
        return None, status, True
    return f"the endpoint answered HTTP {status}", status, True


def _send_email(
    n: Notice, d: Delivery, ctx: DeliveryContext, now: datetime
) -> tuple[str | None, bool]:
    smtp = ctx.settings.smtp
    if not smtp.host:
        return "e-mail is disabled: smtp.host is not set", False
    kind = get_kind(n.kind)
    reports = [r for r in n.payload.get("xarf") or [] if isinstance(r, dict)]
    if n.recipient_org_id is None:
        answers = _signed_answers(n, kind, ctx, now)
        text = (
            f"{n.body}\n\nAnswer with one of these links (each valid until "
            f"{answers[1]}; it asks you to confirm):\n{answers[0]}\n\n"
            f"Notice {n.id}, round {d.round}. The evidence is attached as notice.json"
            + (", with one XARF v4 report per URL" if reports else "")
            + ".\n"
        )
    else:
        lines = "\n".join(f"  {a.name}: {a.description}" for a in kind.answers)
        text = (
            f"{n.body}\n\nAnswer in Cordon (inbox, or POST /v1/notices/{n.id}/answer) with one "
            f"of:\n{lines}\n\nNotice {n.id}, round {d.round}. The evidence is attached as "
            "notice.json.\n"
        )
    subject = f"[Cordon {n.kind} {n.id}] {n.title}"
    if d.round > 1:
        subject += f" (reminder {d.round - 1})"
    message = mail.compose(
        sender=smtp.sender,
        recipient=d.target,
        subject=subject,
        text=text,
        document=document(n, delivery=d),
        delivery_key=d.delivery_key,
        notice_id=n.id,
        sent_at=now,
        attachments=[(f"xarf-{i + 1}.json", r) for i, r in enumerate(reports)],
    )
    try:
        mail.send(smtp, ctx.key_dir, message)
    except mail.MailError as exc:
        return str(exc), True
    return None, True


def base_url(settings: Settings) -> str:
    """Where partners reach Cordon's API, for signed links."""
    configured = settings.outcomes.public_base_url
    return configured or f"http://{settings.serve.host}:{settings.serve.port}"


def _signed_answers(
    n: Notice, kind: NoticeKind, ctx: DeliveryContext, now: datetime
) -> tuple[str, str]:
    """One signed link per answer of the kind, and their expiry (ISO 8601)."""
    expires = now + timedelta(days=ctx.settings.outcomes.link_valid_days)
    try:
        key = links.link_key(ctx.key_dir)
    except (SecretError, OSError) as exc:
        return f"  (no links: {exc}); answer through the partner who sent this", expires.isoformat()
    base = base_url(ctx.settings)
    out = [
        f"  {a.name}: {a.description}\n    "
        + links.link_url(base, links.make_token(key, n.id, a.name, expires))
        for a in kind.answers
    ]
    return "\n".join(out), expires.isoformat()


def retry_delivery(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    delivery_id: int,
) -> Delivery:
    """Try an abandoned delivery again (a new attempt, due now). Recipient members only."""
    row = conn.execute(
        select(notice_delivery)
        .join(notice, notice.c.id == notice_delivery.c.notice_id)
        .where(notice_delivery.c.id == delivery_id, _visible(principal))
    ).first()
    if row is None:
        raise NotFound(f"no delivery with id {delivery_id}")
    d = _delivery(row)
    if d.state != "abandoned":
        raise NoticeError(f"delivery {delivery_id} is {d.state}; only an abandoned one is retried")
    now = clock.now()
    new_id = _retry(conn, now, d, now)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice:retry_delivery",
        object_kind=KIND,
        object_ids=[d.notice_id],
        details={"delivery_id": d.id, "new_delivery_id": new_id},
    )
    found = conn.execute(select(notice_delivery).where(notice_delivery.c.id == new_id)).first()
    return _delivery(found)


def deliveries(conn: Connection, notice_id: int) -> list[Delivery]:
    """Every delivery attempt of a notice, oldest first (the caller has checked access)."""
    rows = conn.execute(
        select(notice_delivery)
        .where(notice_delivery.c.notice_id == notice_id)
        .order_by(notice_delivery.c.id)
    ).all()
    return [_delivery(r) for r in rows]


def events(conn: Connection, notice_id: int) -> list[NoticeEvent]:
    """The history of a notice, oldest first (the caller has checked access)."""
    rows = conn.execute(
        select(notice_event)
        .where(notice_event.c.notice_id == notice_id)
        .order_by(notice_event.c.id)
    ).all()
    return [NoticeEvent(r.at, r.event, r.actor_user_id, dict(r.details)) for r in rows]


def closures(conn: Connection, kind: str) -> list[tuple[int, datetime, float]]:
    """Every closure of every notice of ``kind``: (notice id, closed at, seconds open).

    For metrics (aggregates); not an access path.
    """
    rows = conn.execute(
        select(notice_event.c.notice_id, notice_event.c.at, notice_event.c.details)
        .join(notice, notice.c.id == notice_event.c.notice_id)
        .where(notice.c.kind == kind, notice_event.c.event == "closed")
        .order_by(notice_event.c.id)
    ).all()
    return [(int(r.notice_id), r.at, float(r.details["seconds_open"])) for r in rows]


# ------------------------------------------------------------------------------ reading


def _visible(principal: Principal) -> ColumnElement[bool]:
    # An addressed record: the recipient organisation only, expressed through the one policy
    # as a record it owns under AMBER+STRICT (which also makes every read audited).
    return access.visible(
        principal,
        KIND,
        id_col=notice.c.id,
        # A notice to a party outside the coalition is read by the organisation that issued it;
        # a draft, not yet sent, only by its issuer.
        owner_col=case(
            (notice.c.state == State.DRAFT.value, notice.c.issuer_org_id),
            else_=func.coalesce(notice.c.recipient_org_id, notice.c.issuer_org_id),
        ),
        tlp_col=literal(Tlp.AMBER_STRICT.value, String),
    )


def readable(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause admitting exactly the notices the principal may read (for aggregates
    built elsewhere, such as the console's tallies)."""
    return _visible(principal)


@dataclass(frozen=True)
class NoticeFilter:
    """Narrowing of an inbox list, count or export."""

    kind: str | None = None
    state: State | None = None
    open_only: bool = False
    unread_only: bool = False
    subject_kind: str | None = None
    subject_id: int | None = None


def _filtered(stmt: Any, principal: Principal, f: NoticeFilter) -> Any:
    conds: list[Any] = [_visible(principal)]
    if f.kind:
        conds.append(notice.c.kind == f.kind)
    if f.state is not None:
        conds.append(notice.c.state == f.state.value)
    if f.open_only:
        conds.append(notice.c.state.in_([s.value for s in OPEN]))
    if f.unread_only:
        conds.append(or_(notice.c.read_at.is_(None), notice.c.read_at < notice.c.last_sent_at))
    if f.subject_kind:
        conds.append(notice.c.subject_kind == f.subject_kind)
    if f.subject_id is not None:
        conds.append(notice.c.subject_id == f.subject_id)
    return stmt.where(and_(*conds))


def _audit_reads(
    conn: Connection, clock: Clock, actor: audit.Actor, path: str, ids: list[int], *, always: bool
) -> None:
    record_sensitive_reads(
        conn, clock, actor, KIND, path, [(i, Tlp.AMBER_STRICT) for i in ids], always=always
    )


def get(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    notice_id: int,
    *,
    mark_read: bool = True,
) -> Notice | None:
    """The notice, or None when it does not exist or is not addressed to the principal's
    organisation (the same answer). Opening it marks the current round read."""
    row = conn.execute(
        select(notice.c.id).where(notice.c.id == notice_id, _visible(principal))
    ).first()
    if row is None:
        return None
    _audit_reads(conn, clock, actor, "read", [notice_id], always=False)
    if mark_read:
        conn.execute(update(notice).where(notice.c.id == notice_id).values(read_at=clock.now()))
    return _load(conn, notice_id)


def list_page(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: NoticeFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Notice]:
    """The inbox: notices addressed to the principal's organisation, newest first."""
    stmt = _filtered(select(notice), principal, f)
    if before_id is not None:
        stmt = stmt.where(notice.c.id < before_id)
    rows = conn.execute(stmt.order_by(notice.c.id.desc()).limit(limit)).all()
    found = [_notice(r) for r in rows]
    _audit_reads(conn, clock, actor, "list", [n.id for n in found], always=False)
    return found


def count(conn: Connection, principal: Principal, f: NoticeFilter) -> int:
    """How many notices the principal may see."""
    stmt = _filtered(select(func.count()).select_from(notice), principal, f)
    return int(conn.execute(stmt).scalar_one())


def export(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: NoticeFilter,
) -> Iterator[Notice]:
    """Every notice the principal may see, oldest first; audited before the first one."""
    rows = conn.execute(_filtered(select(notice), principal, f).order_by(notice.c.id)).all()
    found = [_notice(r) for r in rows]
    _audit_reads(conn, clock, actor, "export", [n.id for n in found], always=True)
    yield from found


def notice_as_dict(
    n: Notice,
    *,
    deliveries_: Sequence[Delivery] = (),
    events_: Sequence[NoticeEvent] = (),
) -> dict[str, Any]:
    """The JSON form of a notice, as the API and exports give it."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat().replace("+00:00", "Z")

    kind = get_kind(n.kind)
    out: dict[str, Any] = {
        "id": n.id,
        "kind": n.kind,
        "recipient_org_id": n.recipient_org_id,
        "recipient_address": n.recipient_address,
        "recipient_name": n.recipient_name,
        "issuer_org_id": n.issuer_org_id,
        "subject": {"kind": n.subject_kind, "id": n.subject_id},
        "parent_notice_id": n.parent_notice_id,
        "state": n.state.value,
        "answer": n.answer,
        "answer_note": n.answer_note,
        "answered_at": iso(n.answered_at),
        "answers": [{"name": a.name, "effect": a.effect.value} for a in kind.answers],
        "title": n.title,
        "text": n.body,
        "evidence": n.payload,
        "created_at": iso(n.created_at),
        "opened_at": iso(n.opened_at),
        "first_sent_at": iso(n.first_sent_at),
        "last_sent_at": iso(n.last_sent_at),
        "rounds": n.rounds,
        "repeats": n.repeats,
        "next_repeat_at": iso(n.next_repeat_at),
        "escalated_at": iso(n.escalated_at),
        "closed_at": iso(n.closed_at),
        "reopened": n.reopened,
        "unread": n.unread,
    }
    if deliveries_:
        out["deliveries"] = [
            {
                "id": d.id,
                "round": d.round,
                "channel": d.channel,
                "target": d.target,
                "attempt": d.attempt,
                "state": d.state,
                "due_at": iso(d.due_at),
                "finished_at": iso(d.finished_at),
                "response_status": d.response_status,
                "error": d.error,
            }
            for d in deliveries_
        ]
    if events_:
        out["history"] = [
            {"at": iso(e.at), "event": e.event, "details": e.details} for e in events_
        ]
    return out


# ------------------------------------------------------------------------------ endpoints


def add_endpoint(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    *,
    channel: str,
    target: str,
    kinds: Sequence[str] = (),
    key_dir: Path,
) -> tuple[Endpoint, str | None]:
    """Register where the principal's organisation receives notices.

    For a webhook, returns the signing secret, shown this once (it is derived again from the
    key directory whenever a delivery is signed and is never stored). Raises
    :class:`NoticeError` naming the bad field.
    """
    if channel not in ("email", "webhook"):
        raise NoticeError("channel must be email or webhook (the inbox is always on)", "channel")
    for k in kinds:
        try:
            get_kind(k)
        except ValueError as exc:
            raise NoticeError(str(exc), "kinds") from None
    target = target.strip()
    if channel == "webhook":
        try:
            target = webhook.check_url(target)
        except webhook.WebhookRefused as exc:
            raise NoticeError(str(exc), "target") from None
    elif not _is_email(target):
        raise NoticeError(f"{target!r} is not an e-mail address", "target")
    exists = conn.execute(
        select(notice_endpoint.c.id).where(
            notice_endpoint.c.org_id == principal.org_id,
            notice_endpoint.c.channel == channel,
            notice_endpoint.c.target == target,
        )
    ).first()
    if exists is not None:
        raise NoticeError(f"this {channel} endpoint is already registered", "target")
    now = clock.now()
    eid = int(
        conn.execute(
            notice_endpoint.insert()
            .values(
                org_id=principal.org_id,
                channel=channel,
                target=target,
                kinds=sorted(set(kinds)),
                active=True,
                secret_version=1,
                created_at=now,
                created_by=principal.user_id,
            )
            .returning(notice_endpoint.c.id)
        ).scalar_one()
    )
    secret: str | None = None
    if channel == "webhook":
        secret = _set_secret(conn, eid, 1, key_dir)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice_endpoint:create",
        object_kind="notice_endpoint",
        object_ids=[eid],
        details={"channel": channel, "kinds": sorted(set(kinds))},
    )
    return _get_endpoint(conn, eid), secret


def _is_email(value: str) -> bool:
    return _EMAIL_RE.fullmatch(value) is not None


def is_email(value: str) -> bool:
    """True when ``value`` looks like an e-mail address (the check endpoints get)."""
    return _is_email(value)


def _set_secret(conn: Connection, endpoint_id: int, version: int, key_dir: Path) -> str:
    try:
        master = webhook_master_key(key_dir, create=True)
    except SecretError as exc:
        raise NoticeError(str(exc)) from None
    secret = endpoint_secret(master, endpoint_id, version)
    conn.execute(
        update(notice_endpoint)
        .where(notice_endpoint.c.id == endpoint_id)
        .values(secret_version=version, secret_fingerprint=fingerprint(secret))
    )
    return secret


def _get_endpoint(conn: Connection, endpoint_id: int) -> Endpoint:
    return _endpoint(
        conn.execute(select(notice_endpoint).where(notice_endpoint.c.id == endpoint_id)).one()
    )


def _own_endpoint(conn: Connection, principal: Principal, endpoint_id: int) -> Endpoint:
    row = conn.execute(
        select(notice_endpoint).where(
            notice_endpoint.c.id == endpoint_id, notice_endpoint.c.org_id == principal.org_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no notice endpoint with id {endpoint_id}")
    return _endpoint(row)


def list_endpoints(conn: Connection, principal: Principal) -> list[Endpoint]:
    """The principal's organisation's endpoints (an organisation's own settings)."""
    rows = conn.execute(
        select(notice_endpoint)
        .where(notice_endpoint.c.org_id == principal.org_id)
        .order_by(notice_endpoint.c.id)
    ).all()
    return [_endpoint(r) for r in rows]


def set_endpoint_active(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    endpoint_id: int,
    active: bool,
) -> Endpoint:
    """Turn an endpoint of the principal's organisation on or off."""
    _own_endpoint(conn, principal, endpoint_id)
    conn.execute(
        update(notice_endpoint).where(notice_endpoint.c.id == endpoint_id).values(active=active)
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice_endpoint:{'enable' if active else 'disable'}",
        object_kind="notice_endpoint",
        object_ids=[endpoint_id],
    )
    return _get_endpoint(conn, endpoint_id)


def rotate_secret(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    endpoint_id: int,
    *,
    key_dir: Path,
) -> tuple[Endpoint, str]:
    """Give a webhook endpoint a new secret (shown this once); the old one stops signing."""
    ep = _own_endpoint(conn, principal, endpoint_id)
    if ep.channel != "webhook":
        raise NoticeError("only a webhook endpoint has a secret", "endpoint_id")
    secret = _set_secret(conn, endpoint_id, ep.secret_version + 1, key_dir)
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:notice_endpoint:rotate_secret",
        object_kind="notice_endpoint",
        object_ids=[endpoint_id],
        details={"version": ep.secret_version + 1},
    )
    return _get_endpoint(conn, endpoint_id), secret


def endpoint_as_dict(ep: Endpoint) -> dict[str, Any]:
    """The JSON form of an endpoint (never the secret)."""
    return {
        "id": ep.id,
        "channel": ep.channel,
        "target": ep.target,
        "kinds": ep.kinds,
        "active": ep.active,
        "secret_version": ep.secret_version if ep.channel == "webhook" else None,
        "secret_fingerprint": ep.secret_fingerprint,
        "created_at": ep.created_at.isoformat().replace("+00:00", "Z"),
    }

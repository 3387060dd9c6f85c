"""The console's own queries: login sessions, login throttling, the members of an organisation,
the pipeline progress of reported URLs, and the few aggregates the dashboard needs that no
feature module offers.

Every change writes its audit event in the caller's transaction. Records shared between
organisations (reports and what derives from them) are read through their feature modules,
which apply the access policy; the reads here that touch shared records filter with the same
policy (:func:`cordon.store.access.visible`, or a feature's clause built on it) and return only
aggregates or whether a record may be read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select, update

from cordon.attribution import repo as attributions
from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.partners import ADDRESSEE_ONLY_TYPES, Principal, Role
from cordon.notices import repo as notices
from cordon.notices.kinds import APPEAL, DECONFLICTION, ESCALATION, LE_REFERRAL, PAYMENT_ALERT
from cordon.notices.states import OPEN, State
from cordon.partners import repo as partners
from cordon.reports import repo as reports
from cordon.store import access
from cordon.store.tables import (
    app_user,
    attribution,
    audit_event,
    membership,
    organisation,
    report,
    report_url,
    url,
    work_item,
)
from cordon.store.tables_money import notice
from cordon.store.tables_web import web_session


@dataclass(frozen=True)
class WebSession:
    """A console login: who, acting for which organisation, until when."""

    id: int
    user_id: int
    org_id: int
    created_at: datetime
    expires_at: datetime
    secret_hash: bytes


@dataclass(frozen=True)
class Member:
    """A member of an organisation as its admins see it."""

    user_id: int
    email: str
    display_name: str
    role: Role
    active: bool
    has_password: bool


@dataclass(frozen=True)
class StageProgress:
    """Where one URL stands in one pipeline stage."""

    stage: str
    state: str
    attempts: int
    updated_at: datetime
    done_at: datetime | None


def _keyed(key: bytes, label: bytes, value: bytes) -> bytes:
    return hmac.new(key, label + b"\x00" + value, hashlib.sha256).digest()


def _credential_check(key: bytes, password_hash: str | None) -> bytes:
    return _keyed(key, b"credential", (password_hash or "").encode())


def secret_hash(key: bytes, secret: str) -> bytes:
    """What is stored of a session's secret: its HMAC under the deployment's session key."""
    return _keyed(key, b"session", secret.encode())


def _password_hash(conn: Connection, user_id: int) -> str | None:
    row = conn.execute(select(app_user.c.password_hash).where(app_user.c.id == user_id)).first()
    return None if row is None else row.password_hash


def start_session(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    key: bytes,
    *,
    user_id: int,
    org_id: int,
    lifetime: timedelta,
) -> tuple[str, WebSession]:
    """Open a session for an active member; returns the cookie's secret (never stored) and the
    session. Raises :class:`cordon.partners.repo.NotFound` when the user is not an active
    member of ``org_id``."""
    partners.principal_for(conn, user_id, org_id)
    secret = secrets.token_urlsafe(32)
    hashed = secret_hash(key, secret)
    now = clock.now()
    session_id = conn.execute(
        web_session.insert()
        .values(
            secret_hash=hashed,
            user_id=user_id,
            org_id=org_id,
            credential_check=_credential_check(key, _password_hash(conn, user_id)),
            created_at=now,
            expires_at=now + lifetime,
            client_ip=actor.client_ip,
        )
        .returning(web_session.c.id)
    ).scalar_one()
    audit.record(
        conn,
        clock,
        audit.Actor(
            source=actor.source,
            user_id=user_id,
            org_id=org_id,
            request_id=actor.request_id,
            client_ip=actor.client_ip,
        ),
        f"{actor.source}:session:start",
        object_kind="web_session",
        object_ids=[session_id],
    )
    return secret, WebSession(session_id, user_id, org_id, now, now + lifetime, hashed)


def resolve_session(
    conn: Connection, clock: Clock, key: bytes, secret: str
) -> tuple[WebSession, Principal] | None:
    """The session a cookie's secret stands for and its principal, or None when the session is
    unknown, ended or expired, the user's password changed since it began, or the user or the
    organisation is no longer active. Checked on every request."""
    if not secret or len(secret) > 200:
        return None
    hashed = secret_hash(key, secret)
    row = conn.execute(
        select(web_session, app_user.c.password_hash)
        .join(app_user, app_user.c.id == web_session.c.user_id)
        .where(web_session.c.secret_hash == hashed)
    ).first()
    if row is None or row.ended_at is not None or row.expires_at <= clock.now():
        return None
    if not hmac.compare_digest(
        bytes(row.credential_check), _credential_check(key, row.password_hash)
    ):
        return None
    try:
        principal = partners.principal_for(conn, row.user_id, row.org_id, source="ui")
    except partners.NotFound:
        return None
    found = WebSession(row.id, row.user_id, row.org_id, row.created_at, row.expires_at, hashed)
    return found, principal


def end_session(conn: Connection, clock: Clock, actor: audit.Actor, session_id: int) -> None:
    """End a session (log out); its cookie no longer opens anything, wherever it is."""
    conn.execute(
        update(web_session)
        .where(web_session.c.id == session_id, web_session.c.ended_at.is_(None))
        .values(ended_at=clock.now())
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:session:end",
        object_kind="web_session",
        object_ids=[session_id],
    )


def end_user_sessions(conn: Connection, clock: Clock, actor: audit.Actor, user_id: int) -> int:
    """End every open session of a user; returns how many were open."""
    ids = list(
        conn.execute(
            select(web_session.c.id).where(
                web_session.c.user_id == user_id, web_session.c.ended_at.is_(None)
            )
        ).scalars()
    )
    if ids:
        conn.execute(
            update(web_session).where(web_session.c.id.in_(ids)).values(ended_at=clock.now())
        )
        audit.record(
            conn,
            clock,
            actor,
            f"{actor.source}:session:end",
            object_kind="web_session",
            object_ids=ids,
            details={"all_of_user": user_id},
        )
    return len(ids)


def switch_organisation(
    conn: Connection, clock: Clock, actor: audit.Actor, session: WebSession, org_id: int
) -> None:
    """Make the session act for another organisation the user is an active member of.

    Raises :class:`cordon.partners.repo.NotFound` otherwise."""
    partners.principal_for(conn, session.user_id, org_id)
    conn.execute(update(web_session).where(web_session.c.id == session.id).values(org_id=org_id))
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:session:switch",
        object_kind="web_session",
        object_ids=[session.id],
        details={"org_id": org_id},
    )


def record_refused_login(
    conn: Connection, clock: Clock, actor: audit.Actor, email: str, reason: str
) -> None:
    """Audit a refused login, naming the e-mail address that was tried."""
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:session:refused",
        object_kind="web_session",
        details={"email": email.strip().lower()[:320], "reason": reason},
    )


def user_email(conn: Connection, user_id: int) -> str:
    """The e-mail address of a user. Raises :class:`cordon.partners.repo.NotFound`."""
    row = conn.execute(select(app_user.c.email).where(app_user.c.id == user_id)).first()
    if row is None:
        raise partners.NotFound(f"no user with id {user_id}")
    return str(row.email)


def members_of(conn: Connection, org_id: int) -> list[Member]:
    """The members of one organisation, by e-mail address."""
    rows = conn.execute(
        select(
            app_user.c.id,
            app_user.c.email,
            app_user.c.display_name,
            app_user.c.active,
            app_user.c.password_hash,
            membership.c.role,
        )
        .join(membership, membership.c.user_id == app_user.c.id)
        .where(membership.c.org_id == org_id)
        .order_by(app_user.c.email)
    ).all()
    return [
        Member(r.id, r.email, r.display_name, Role(r.role), r.active, bool(r.password_hash))
        for r in rows
    ]


def url_progress(conn: Connection, url_ids: list[int]) -> dict[int, list[StageProgress]]:
    """The work items of each URL, stage by stage. Callers pass only URLs of records the
    principal may read (the URLs of a report the access policy returned)."""
    out: dict[int, list[StageProgress]] = {u: [] for u in url_ids}
    if not url_ids:
        return out
    rows = conn.execute(
        select(
            work_item.c.subject_id,
            work_item.c.stage,
            work_item.c.state,
            work_item.c.attempts,
            work_item.c.updated_at,
            work_item.c.done_at,
        )
        .where(work_item.c.subject_kind == "url", work_item.c.subject_id.in_(url_ids))
        .order_by(work_item.c.subject_id, work_item.c.created_at, work_item.c.id)
    ).all()
    for r in rows:
        out[int(r.subject_id)].append(
            StageProgress(r.stage, r.state, int(r.attempts), r.updated_at, r.done_at)
        )
    return out


# --- login throttling -------------------------------------------------------------------------

#: The reason a refused login is audited with when the password was tried and was wrong; only
#: these count towards a lockout (refusals during a lockout do not prolong it).
BAD_CREDENTIALS = "bad credentials"
LOCKED_OUT = "locked out"


@dataclass(frozen=True)
class Lockout:
    """Why a login is refused before its password is checked, and until when."""

    scope: str  # "account" or "address"
    until: datetime


def login_lockout(
    conn: Connection,
    clock: Clock,
    *,
    email: str,
    client_ip: str | None,
    window: timedelta,
    max_per_account: int,
    max_per_address: int,
) -> Lockout | None:
    """The lockout in force for a login to ``email`` from ``client_ip``, or None.

    Counted from the audit log, so every process of a deployment sees the same figures: the
    refused logins (bad credentials) of the last ``window``, per e-mail address (since the
    account's last successful login) and per client address. When either reaches its limit
    the login is refused until the oldest counted refusal leaves the window.
    """
    now = clock.now()
    since = now - window
    email = email.strip().lower()[:320]
    rows = conn.execute(
        select(audit_event.c.at, audit_event.c.client_ip, audit_event.c.details)
        .where(audit_event.c.action == "ui:session:refused", audit_event.c.at > since)
        .order_by(audit_event.c.seq)
    ).all()
    failures = [r for r in rows if (r.details or {}).get("reason") == BAD_CREDENTIALS]
    account_since = since
    user = conn.execute(select(app_user.c.id).where(func.lower(app_user.c.email) == email)).first()
    if user is not None:
        last_login = conn.execute(
            select(func.max(audit_event.c.at)).where(
                audit_event.c.action == "ui:session:start",
                audit_event.c.actor_user_id == user.id,
                audit_event.c.at > since,
            )
        ).scalar_one()
        if last_login is not None:
            account_since = max(account_since, last_login)
    by_account = [
        r.at for r in failures if r.details.get("email") == email and r.at > account_since
    ]
    by_address = [r.at for r in failures if client_ip is not None and r.client_ip == client_ip]
    if len(by_account) >= max_per_account:
        return Lockout("account", by_account[-max_per_account] + window)
    if len(by_address) >= max_per_address:
        return Lockout("address", by_address[-max_per_address] + window)
    return None


# --- URLs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisibleUrl:
    """A stored URL that the reader may open: it is named by reports the reader may read."""

    id: int
    url: str
    host: str
    registrable_domain: str
    first_seen_at: datetime
    report_ids: list[int]


def _report_visible(principal: Principal) -> Any:
    return access.visible(
        principal,
        reports.KIND,
        id_col=report.c.id,
        owner_col=report.c.owner_org_id,
        tlp_col=report.c.tlp,
    )


def visible_url(conn: Connection, principal: Principal, url_id: int) -> VisibleUrl | None:
    """The URL when the principal may read at least one report naming it, with those reports
    (newest first); None otherwise, exactly as for a URL that does not exist."""
    row = conn.execute(
        select(url.c.id, url.c.url, url.c.host, url.c.registrable_domain, url.c.first_seen_at)
        .where(url.c.id == url_id)
        .where(
            exists(
                select(report_url.c.report_id)
                .join(report, report.c.id == report_url.c.report_id)
                .where(report_url.c.url_id == url.c.id, _report_visible(principal))
            )
        )
    ).first()
    if row is None:
        return None
    ids = conn.execute(
        select(report.c.id)
        .join(report_url, report_url.c.report_id == report.c.id)
        .where(report_url.c.url_id == url_id, _report_visible(principal))
        .order_by(report.c.id.desc())
    ).scalars()
    return VisibleUrl(
        int(row.id), row.url, row.host, row.registrable_domain, row.first_seen_at, list(ids)
    )


# --- dashboard aggregates -------------------------------------------------------------------------


def hosting_countries(
    conn: Connection, principal: Principal, limit: int = 15
) -> list[tuple[str, int]]:
    """Distinct URLs per hosting country, by the newest attribution of each URL the principal
    may read (the attribution feature's access clause), most first."""
    newest = select(func.max(attribution.c.id)).group_by(attribution.c.url_id)
    n = func.count().label("n")
    rows = conn.execute(
        select(attribution.c.country, n)
        .where(
            attribution.c.id.in_(newest),
            attribution.c.country.is_not(None),
            attributions.visible_clause(principal, attribution.c.url_id),
        )
        .group_by(attribution.c.country)
        .order_by(n.desc(), attribution.c.country)
        .limit(limit)
    ).all()
    return [(str(r.country), int(r.n)) for r in rows]


#: Notices to agencies about their own work: counted only by those who may read them.
_PRIVATE_KINDS = (LE_REFERRAL.name, DECONFLICTION.name, APPEAL.name)


def _notice_scope(principal: Principal) -> Any:
    """Which notices count in an aggregate for the principal. Addressee-only organisations
    (payment and hosting providers, ISPs) count only the notices they may read; every other
    member counts the coalition's takedown notices and payment alerts, as the money metrics do,
    but referrals, deconfliction notices and appeals only when they may read them (a police
    force sees no other country's referrals, not even as a number). Drafts are not sent yet and
    escalations are the coordinator's: neither is counted."""
    conds: list[Any] = [
        notice.c.kind != ESCALATION.name,
        notice.c.state != State.DRAFT.value,
    ]
    if principal.org_type in ADDRESSEE_ONLY_TYPES:
        conds.append(notices.readable(principal))
    else:
        conds.append(or_(notice.c.kind.not_in(_PRIVATE_KINDS), notices.readable(principal)))
    return and_(*conds)


@dataclass(frozen=True)
class NoticeTally:
    """Notices of one kind addressed to one recipient, by where they stand."""

    recipient: str
    recipient_type: str  # an organisation type, or "outside the coalition"
    kind: str
    total: int
    awaiting: int  # open and not yet sent again
    overdue: int  # open and sent again at least once: unanswered past the repeat interval
    escalated: int
    by_state: dict[str, int]

    @property
    def open(self) -> int:
        return self.awaiting + self.overdue


def notice_tallies(conn: Connection, principal: Principal) -> list[NoticeTally]:
    """Notices per recipient and kind (aggregates only), most open first."""
    rows = conn.execute(
        select(
            notice.c.recipient_org_id,
            notice.c.recipient_name,
            notice.c.recipient_address,
            organisation.c.name,
            organisation.c.type,
            notice.c.kind,
            notice.c.state,
            notice.c.repeats,
            notice.c.escalated_at,
        )
        .select_from(notice.outerjoin(organisation, organisation.c.id == notice.c.recipient_org_id))
        .where(_notice_scope(principal))
    ).all()
    tallies: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        if r.recipient_org_id is not None:
            who, what = str(r.name), str(r.type)
        else:
            who, what = str(r.recipient_name or r.recipient_address), "outside the coalition"
        t = tallies.setdefault(
            (who, what, r.kind),
            {
                "recipient": who,
                "recipient_type": what,
                "kind": r.kind,
                "total": 0,
                "awaiting": 0,
                "overdue": 0,
                "escalated": 0,
                "by_state": {},
            },
        )
        t["total"] += 1
        t["by_state"][r.state] = t["by_state"].get(r.state, 0) + 1
        if State(r.state) in OPEN:
            t["overdue" if r.repeats > 0 else "awaiting"] += 1
        if r.escalated_at is not None:
            t["escalated"] += 1
    out = [NoticeTally(**t) for t in tallies.values()]
    return sorted(out, key=lambda t: (-t.open, -t.total, t.recipient, t.kind))


#: Buckets of the time-to-closure distribution: (label, upper bound in hours).
CLOSURE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under 1 hour", 1),
    ("1-6 hours", 6),
    ("6-24 hours", 24),
    ("1-3 days", 72),
    ("3-7 days", 168),
    ("over 7 days", float("inf")),
)


def closure_distribution(
    conn: Connection, principal: Principal, kind: str = PAYMENT_ALERT.name
) -> list[tuple[str, int]]:
    """How long closed notices of ``kind`` were open, counted in :data:`CLOSURE_BUCKETS` (every
    closure of every cycle, as the money metrics count them), within the principal's scope of
    aggregates (:func:`_notice_scope`)."""
    in_scope = {
        int(i) for i in conn.execute(select(notice.c.id).where(_notice_scope(principal))).scalars()
    }
    counts = [0] * len(CLOSURE_BUCKETS)
    for notice_id, _, seconds in notices.closures(conn, kind):
        if notice_id not in in_scope:
            continue
        hours = seconds / 3600
        for index, (_, bound) in enumerate(CLOSURE_BUCKETS):
            if hours < bound:
                counts[index] += 1
                break
    return [(label, n) for (label, _), n in zip(CLOSURE_BUCKETS, counts, strict=True)]


@dataclass(frozen=True)
class UrlConfirmation:
    """Why a URL counts as confirmed: a picture on it matched a classified hash-list entry
    (``hash_match``) or an analyst assessed it (``assessment``)."""

    source: str
    classification: str | None
    confirmed_at: datetime


def url_confirmation_of(conn: Connection, url_id: int) -> UrlConfirmation | None:
    """The URL's confirmation, if any. Callers show it only to members who may read the URL
    (:func:`visible_url`); it carries no match details, only how and when."""
    from cordon.store.tables_money import url_confirmation

    row = conn.execute(
        select(
            url_confirmation.c.source,
            url_confirmation.c.match_summary,
            url_confirmation.c.confirmed_at,
        ).where(url_confirmation.c.url_id == url_id)
    ).first()
    if row is None:
        return None
    summary = row.match_summary if isinstance(row.match_summary, dict) else {}
    classification = summary.get("classification")
    return UrlConfirmation(
        str(row.source), str(classification) if classification else None, row.confirmed_at
    )

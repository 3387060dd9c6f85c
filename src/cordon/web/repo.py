"""The console's own queries: login sessions, the members of an organisation, and the pipeline
progress of reported URLs.

Every change writes its audit event in the caller's transaction. Records shared between
organisations (reports and what derives from them) are never read here: the console reads them
through their feature modules, which apply the access policy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.partners import Principal, Role
from cordon.partners import repo as partners
from cordon.store.tables import app_user, membership, work_item
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

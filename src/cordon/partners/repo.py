"""Queries and changes for organisations, members and tokens.

Every change writes its audit event in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, select, update
from sqlalchemy.exc import IntegrityError

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.partners import OrgType, Principal, Role, parse_country
from cordon.domain.permissions import Permission, permissions_for
from cordon.partners.credentials import (
    hash_password,
    new_token,
    parse_token,
    token_secret_hash,
    verify_password,
)
from cordon.store.tables import (
    api_token,
    app_user,
    membership,
    organisation,
    sharing_group,
    sharing_group_member,
)


class PartnerError(Exception):
    """A request about partners that cannot be carried out; the message says why."""


class NotFound(PartnerError):
    """The organisation, user or token does not exist (or may not be seen)."""


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    type: OrgType
    country: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class User:
    id: int
    email: str
    display_name: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    user_id: int
    org_id: int
    org_name: str
    org_type: OrgType
    role: Role


@dataclass(frozen=True)
class TokenInfo:
    public_id: str
    name: str
    user_id: int
    org_id: int
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _org(row: Row[Any]) -> Organisation:
    return Organisation(
        id=row.id,
        name=row.name,
        type=OrgType(row.type),
        country=row.country,
        active=row.active,
        created_at=row.created_at,
    )


def create_org(
    conn: Connection, clock: Clock, actor: audit.Actor, name: str, org_type: str, country: str
) -> Organisation:
    """Create an organisation; the name must be new."""
    name = name.strip()
    if not name:
        raise PartnerError("organisation name is empty")
    try:
        kind = OrgType(org_type)
    except ValueError:
        allowed = ", ".join(t.value for t in OrgType)
        raise PartnerError(
            f"unknown organisation type {org_type!r}; use one of {allowed}"
        ) from None
    try:
        code = parse_country(country)
    except ValueError as exc:
        raise PartnerError(str(exc)) from None
    if conn.execute(select(organisation.c.id).where(organisation.c.name == name)).first():
        raise PartnerError(f"an organisation named {name!r} exists already")
    now = clock.now()
    org_id = conn.execute(
        organisation.insert()
        .values(name=name, type=kind.value, country=code, active=True, created_at=now)
        .returning(organisation.c.id)
    ).scalar_one()
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:org:create",
        object_kind="org",
        object_ids=[org_id],
        details={"name": name, "type": kind.value, "country": code},
    )
    return Organisation(org_id, name, kind, code, True, now)


def get_org(conn: Connection, org_id: int) -> Organisation:
    row = conn.execute(select(organisation).where(organisation.c.id == org_id)).first()
    if row is None:
        raise NotFound(f"no organisation with id {org_id}")
    return _org(row)


def find_org(conn: Connection, name_or_id: str) -> Organisation:
    """An organisation by exact name or numeric id."""
    stmt = select(organisation).where(organisation.c.name == name_or_id)
    if name_or_id.isdigit():
        stmt = select(organisation).where(organisation.c.id == int(name_or_id))
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(f"no organisation {name_or_id!r}")
    return _org(row)


def list_orgs(conn: Connection) -> list[Organisation]:
    return [_org(r) for r in conn.execute(select(organisation).order_by(organisation.c.name))]


def create_user(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    email: str,
    display_name: str,
    password: str | None,
) -> User:
    """Create a user; ``password`` may be None for token-only accounts."""
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise PartnerError(f"{email!r} is not an e-mail address")
    if conn.execute(select(app_user.c.id).where(app_user.c.email == email)).first():
        raise PartnerError(f"a user with e-mail {email} exists already")
    try:
        hashed = hash_password(password) if password is not None else None
    except ValueError as exc:
        raise PartnerError(str(exc)) from None
    now = clock.now()
    user_id = conn.execute(
        app_user.insert()
        .values(
            email=email,
            display_name=display_name.strip() or email,
            password_hash=hashed,
            active=True,
            created_at=now,
        )
        .returning(app_user.c.id)
    ).scalar_one()
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:user:create",
        object_kind="user",
        object_ids=[user_id],
        details={"email": email},
    )
    return User(user_id, email, display_name.strip() or email, True, now)


def find_user(conn: Connection, email: str) -> User:
    row = conn.execute(select(app_user).where(app_user.c.email == email.strip().lower())).first()
    if row is None:
        raise NotFound(f"no user {email!r}")
    return User(row.id, row.email, row.display_name, row.active, row.created_at)


def set_password(
    conn: Connection, clock: Clock, actor: audit.Actor, user_id: int, password: str
) -> None:
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise PartnerError(str(exc)) from None
    conn.execute(update(app_user).where(app_user.c.id == user_id).values(password_hash=hashed))
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:user:set_password",
        object_kind="user",
        object_ids=[user_id],
    )


def add_membership(
    conn: Connection, clock: Clock, actor: audit.Actor, user_id: int, org_id: int, role: str
) -> None:
    """Make the user a member of the organisation with ``role`` (or change the role)."""
    try:
        parsed = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise PartnerError(f"unknown role {role!r}; use one of {allowed}") from None
    existing = conn.execute(
        select(membership.c.id).where(
            membership.c.user_id == user_id, membership.c.org_id == org_id
        )
    ).first()
    if existing:
        conn.execute(update(membership).where(membership.c.id == existing.id).values(role=parsed))
    else:
        try:
            conn.execute(
                membership.insert().values(
                    user_id=user_id, org_id=org_id, role=parsed.value, created_at=clock.now()
                )
            )
        except IntegrityError as exc:
            raise PartnerError("no such user or organisation") from exc
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:membership:set",
        object_kind="user",
        object_ids=[user_id],
        details={"org_id": org_id, "role": parsed.value},
    )


def memberships(conn: Connection, user_id: int) -> list[Membership]:
    rows = conn.execute(
        select(
            membership.c.user_id,
            membership.c.org_id,
            membership.c.role,
            organisation.c.name,
            organisation.c.type,
        )
        .join(organisation, organisation.c.id == membership.c.org_id)
        .where(membership.c.user_id == user_id, organisation.c.active.is_(True))
        .order_by(membership.c.id)
    ).all()
    return [Membership(r.user_id, r.org_id, r.name, OrgType(r.type), Role(r.role)) for r in rows]


def principal_for(
    conn: Connection,
    user_id: int,
    org_id: int | None = None,
    *,
    token_id: str | None = None,
    scopes: Sequence[str] | None = None,
    source: str = "api",
) -> Principal:
    """The principal of an active user acting for one of its organisations.

    Without ``org_id`` the user's first membership is used. Token scopes narrow the role's
    permissions; they never widen them.
    """
    stmt = (
        select(membership.c.org_id, membership.c.role, organisation.c.type, organisation.c.country)
        .join(organisation, organisation.c.id == membership.c.org_id)
        .join(app_user, app_user.c.id == membership.c.user_id)
        .where(
            membership.c.user_id == user_id,
            app_user.c.active.is_(True),
            organisation.c.active.is_(True),
        )
        .order_by(membership.c.id)
    )
    if org_id is not None:
        stmt = stmt.where(membership.c.org_id == org_id)
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound("the user is not an active member of that organisation")
    org_type, role = OrgType(row.type), Role(row.role)
    granted = {str(p) for p in permissions_for(org_type, role)}
    if scopes is not None:
        granted &= set(scopes) | {Permission.PUBLIC.value}
    return Principal(
        user_id=user_id,
        org_id=int(row.org_id),
        org_type=org_type,
        org_country=row.country,
        role=role,
        permissions=frozenset(granted),
        token_id=token_id,
        source=source,
    )


def authenticate_password(conn: Connection, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None."""
    row = conn.execute(select(app_user).where(app_user.c.email == email.strip().lower())).first()
    if row is None or not row.active:
        verify_password(None, password)
        return None
    if not verify_password(row.password_hash, password):
        return None
    return User(row.id, row.email, row.display_name, row.active, row.created_at)


def create_token(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    key: bytes,
    *,
    user_id: int,
    org_id: int,
    name: str,
    scopes: Sequence[str] | None,
    lifetime: timedelta,
) -> tuple[str, TokenInfo]:
    """Issue a token; returns its plaintext (shown once) and its stored description.

    ``scopes`` None means every permission of the member's role; otherwise each scope must be
    one of those permissions.
    """
    if lifetime <= timedelta(0) or lifetime > timedelta(days=366):
        raise PartnerError("token lifetime must be between 1 second and 366 days")
    principal = principal_for(conn, user_id, org_id)
    allowed = principal.permissions
    if scopes is None:
        chosen = sorted(allowed)
    else:
        unknown = [s for s in scopes if s not in {p.value for p in Permission}]
        if unknown:
            raise PartnerError(f"unknown scope(s): {', '.join(unknown)}")
        beyond = [s for s in scopes if s not in allowed]
        if beyond:
            raise PartnerError(f"scope(s) beyond the member's role: {', '.join(beyond)}")
        chosen = sorted(set(scopes))
    made = new_token(key)
    now = clock.now()
    conn.execute(
        api_token.insert().values(
            public_id=made.public_id,
            secret_hash=made.secret_hash,
            user_id=user_id,
            org_id=org_id,
            name=name,
            scopes=chosen,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:token:create",
        object_kind="token",
        object_ids=[made.public_id],
        details={"user_id": user_id, "org_id": org_id, "scopes": chosen},
    )
    info = TokenInfo(made.public_id, name, user_id, org_id, chosen, now, now + lifetime, None, None)
    return made.plaintext, info


def resolve_token(conn: Connection, clock: Clock, key: bytes, plaintext: str) -> Principal | None:
    """The principal a presented token stands for, or None when it is unknown, expired,
    revoked, malformed, or its member is no longer active. Checked on every request, so a
    revocation takes effect on the next one."""
    import hmac as _hmac

    parsed = parse_token(plaintext)
    if parsed is None:
        return None
    public_id, secret = parsed
    row = conn.execute(select(api_token).where(api_token.c.public_id == public_id)).first()
    if row is None:
        return None
    if not _hmac.compare_digest(bytes(row.secret_hash), token_secret_hash(key, secret)):
        return None
    now = clock.now()
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    try:
        return principal_for(
            conn, row.user_id, row.org_id, token_id=public_id, scopes=list(row.scopes)
        )
    except NotFound:
        return None


def revoke_token(
    conn: Connection, clock: Clock, actor: audit.Actor, public_id: str, *, org_id: int | None
) -> None:
    """Revoke a token. With ``org_id`` only a token of that organisation may be revoked."""
    stmt = select(api_token.c.id, api_token.c.org_id, api_token.c.revoked_at).where(
        api_token.c.public_id == public_id
    )
    row = conn.execute(stmt).first()
    if row is None or (org_id is not None and row.org_id != org_id):
        raise NotFound(f"no token {public_id!r}")
    if row.revoked_at is None:
        conn.execute(
            update(api_token).where(api_token.c.id == row.id).values(revoked_at=clock.now())
        )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:token:revoke",
        object_kind="token",
        object_ids=[public_id],
    )


def list_tokens(
    conn: Connection, *, user_id: int | None = None, org_id: int | None = None
) -> list[TokenInfo]:
    stmt = select(api_token).order_by(api_token.c.id)
    if user_id is not None:
        stmt = stmt.where(api_token.c.user_id == user_id)
    if org_id is not None:
        stmt = stmt.where(api_token.c.org_id == org_id)
    return [
        TokenInfo(
            r.public_id,
            r.name,
            r.user_id,
            r.org_id,
            list(r.scopes),
            r.created_at,
            r.expires_at,
            r.revoked_at,
            r.last_used_at,
        )
        for r in conn.execute(stmt)
    ]


def count_orgs(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(organisation)).scalar_one())


@dataclass(frozen=True)
class SharingGroup:
    id: int
    owner_org_id: int
    name: str
    member_org_ids: list[int]


def create_sharing_group(
    conn: Connection, clock: Clock, actor: audit.Actor, owner_org_id: int, name: str
) -> SharingGroup:
    """A named set of organisations an owner shares AMBER records with in one step."""
    name = name.strip()
    if not name:
        raise PartnerError("sharing group name is empty")
    exists = conn.execute(
        select(sharing_group.c.id).where(
            sharing_group.c.owner_org_id == owner_org_id, sharing_group.c.name == name
        )
    ).first()
    if exists:
        raise PartnerError(f"your organisation has a sharing group named {name!r} already")
    group_id = conn.execute(
        sharing_group.insert()
        .values(owner_org_id=owner_org_id, name=name, created_at=clock.now())
        .returning(sharing_group.c.id)
    ).scalar_one()
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:sharing_group:create",
        object_kind="sharing_group",
        object_ids=[group_id],
        details={"name": name},
    )
    return SharingGroup(group_id, owner_org_id, name, [])


def add_to_sharing_group(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    group_id: int,
    org_id: int,
    *,
    owner_org_id: int | None,
) -> None:
    """Add an organisation to a group; with ``owner_org_id`` only that owner's group."""
    group = conn.execute(select(sharing_group).where(sharing_group.c.id == group_id)).first()
    if group is None or (owner_org_id is not None and group.owner_org_id != owner_org_id):
        raise NotFound(f"no sharing group with id {group_id}")
    get_org(conn, org_id)
    present = conn.execute(
        select(sharing_group_member.c.org_id).where(
            sharing_group_member.c.group_id == group_id, sharing_group_member.c.org_id == org_id
        )
    ).first()
    if present is None:
        conn.execute(sharing_group_member.insert().values(group_id=group_id, org_id=org_id))
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:sharing_group:add",
        object_kind="sharing_group",
        object_ids=[group_id],
        details={"org_id": org_id},
    )


def sharing_groups(conn: Connection, owner_org_id: int) -> list[SharingGroup]:
    """The sharing groups an organisation owns, with their members."""
    groups = conn.execute(
        select(sharing_group)
        .where(sharing_group.c.owner_org_id == owner_org_id)
        .order_by(sharing_group.c.name)
    ).all()
    members: dict[int, list[int]] = {g.id: [] for g in groups}
    if groups:
        for row in conn.execute(
            select(sharing_group_member).where(sharing_group_member.c.group_id.in_(list(members)))
        ):
            members[row.group_id].append(int(row.org_id))
    return [SharingGroup(g.id, g.owner_org_id, g.name, sorted(members[g.id])) for g in groups]

"""Helpers for tests: partners and tokens made in one line."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Connection

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.partners import Principal
from cordon.keys import Keys
from cordon.partners import repo as partners

CLI_ACTOR = Actor(source="cli")


def make_member(
    conn: Connection,
    clock: FrozenClock,
    *,
    org_type: str,
    role: str = "analyst",
    country: str = "NL",
    org_name: str | None = None,
) -> Principal:
    """A new organisation of ``org_type`` with one member of ``role``; returns the member."""
    name = org_name or f"{org_type}-{uuid.uuid4().hex[:8]}"
    org = partners.create_org(conn, clock, CLI_ACTOR, name, org_type, country)
    user = partners.create_user(
        conn, clock, CLI_ACTOR, f"{uuid.uuid4().hex[:10]}@{org_type}.test", name, None
    )
    partners.add_membership(conn, clock, CLI_ACTOR, user.id, org.id, role)
    return partners.principal_for(conn, user.id, org.id)


def token_for(
    conn: Connection,
    clock: FrozenClock,
    keys: Keys,
    principal: Principal,
    days: int = 30,
) -> str:
    plaintext, _ = partners.create_token(
        conn,
        clock,
        CLI_ACTOR,
        keys.token_hash_key,
        user_id=principal.user_id,
        org_id=principal.org_id,
        name="test",
        scopes=None,
        lifetime=timedelta(days=days),
    )
    return plaintext

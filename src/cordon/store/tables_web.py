"""Tables of the web console: login sessions.

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes
it. A session is kept on the server so that logging out, a password change or a deactivated
member ends it at once, wherever its cookie has gone.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, String, Table

from cordon.store.tables import metadata
from cordon.store.types import Id, UtcDateTime

web_session = Table(
    "web_session",
    metadata,
    Column("id", Id, primary_key=True),
    # HMAC of the cookie's secret under the deployment's session key; the secret is never stored.
    Column("secret_hash", LargeBinary(32), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("app_user.id"), nullable=False),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False),
    # HMAC of the user's password hash when the session began: a new password ends the session.
    Column("credential_check", LargeBinary(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("client_ip", String(64), nullable=True),
    Index("ix_web_session_user", "user_id"),
)

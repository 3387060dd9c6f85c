"""web: console login sessions

Revision ID: 0005_web
Revises: 0004_crawl
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0005_web"
down_revision = "0004_crawl"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", Id, nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("org_id", Id, nullable=False),
        sa.Column("credential_check", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_web_session_org_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_web_session_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_web_session_secret_hash")),
    )
    op.create_index("ix_web_session_user", "web_session", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_session_user", table_name="web_session")
    op.drop_table("web_session")

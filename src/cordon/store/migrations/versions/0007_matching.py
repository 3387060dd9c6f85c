"""matching: sightings, matches, flood guard

Revision ID: 0007_matching
Revises: 0006_banks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0007_matching"
down_revision = "0006_banks"
branch_labels = None
depends_on = None

_TLP = "tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')"


def upgrade() -> None:
    op.create_table(
        "sighting",
        sa.Column("id", Id, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("media_sighting_id", Id, nullable=True),
        sa.Column("capture_id", Id, nullable=True),
        sa.Column("url_id", Id, nullable=True),
        sa.Column("org_id", Id, nullable=True),
        sa.Column("user_id", Id, nullable=True),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("signal", sa.String(length=128), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("seen_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('capture','api')", name=op.f("ck_sighting_source")),
        sa.CheckConstraint(_TLP, name=op.f("ck_sighting_tlp")),
        sa.CheckConstraint(
            "(source = 'capture') = (capture_id IS NOT NULL)",
            name=op.f("ck_sighting_capture_source_has_capture"),
        ),
        sa.CheckConstraint(
            "(source = 'api') = (org_id IS NOT NULL)", name=op.f("ck_sighting_api_source_has_org")
        ),
        sa.ForeignKeyConstraint(
            ["media_sighting_id"],
            ["media_sighting.id"],
            name=op.f("fk_sighting_media_sighting_id_media_sighting"),
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["capture.id"], name=op.f("fk_sighting_capture_id_capture")
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_sighting_url_id_url")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_sighting_org_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_sighting_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sighting")),
        sa.UniqueConstraint(
            "media_sighting_id", "signal_type", name="uq_sighting_media_signal_type"
        ),
    )
    op.create_index("ix_sighting_signal", "sighting", ["signal_type", "signal"], unique=False)
    op.create_index("ix_sighting_capture", "sighting", ["capture_id"], unique=False)
    op.create_index("ix_sighting_type_id", "sighting", ["signal_type", "id"], unique=False)

    op.create_table(
        "sighting_match",
        sa.Column("id", Id, nullable=False),
        sa.Column("sighting_id", Id, nullable=False),
        sa.Column("entry_id", Id, nullable=False),
        sa.Column("bank_id", Id, nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("retroactive", sa.Boolean(), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=True),
        sa.Column("matched_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("reference_state", sa.String(length=16), nullable=False),
        sa.Column("reference_pdq", sa.String(length=64), nullable=True),
        sa.Column("reference_quality", sa.Integer(), nullable=True),
        sa.Column("reference_error", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active','suppressed','quarantined')", name=op.f("ck_sighting_match_status")
        ),
        sa.CheckConstraint(
            "reference_state IN ('not_needed','computed','failed')",
            name=op.f("ck_sighting_match_reference_state"),
        ),
        sa.ForeignKeyConstraint(
            ["sighting_id"], ["sighting.id"], name=op.f("fk_sighting_match_sighting_id_sighting")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["bank_entry.id"], name=op.f("fk_sighting_match_entry_id_bank_entry")
        ),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["bank.id"], name=op.f("fk_sighting_match_bank_id_bank")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sighting_match")),
        sa.UniqueConstraint("sighting_id", "entry_id", name="uq_sighting_match_sighting_entry"),
    )
    op.create_index(
        "ix_sighting_match_entry_at", "sighting_match", ["entry_id", "matched_at"], unique=False
    )
    op.create_index("ix_sighting_match_bank", "sighting_match", ["bank_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sighting_match_bank", table_name="sighting_match")
    op.drop_index("ix_sighting_match_entry_at", table_name="sighting_match")
    op.drop_table("sighting_match")
    op.drop_index("ix_sighting_type_id", table_name="sighting")
    op.drop_index("ix_sighting_capture", table_name="sighting")
    op.drop_index("ix_sighting_signal", table_name="sighting")
    op.drop_table("sighting")

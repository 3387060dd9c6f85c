"""banks: hash lists, entries, opinions, change log

Revision ID: 0006_banks
Revises: 0005_web
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0006_banks"
down_revision = "0005_web"
branch_labels = None
depends_on = None

_CLASSIFICATIONS = "('baseline','A1','A2','B1','B2')"


def upgrade() -> None:
    op.create_table(
        "bank",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("org_id", Id, nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("signal_types", sa.JSON(), nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Boolean(), nullable=False),
        sa.Column("default_classification", sa.String(length=16), nullable=True),
        sa.Column("match_dihedral", sa.Boolean(), nullable=False),
        sa.Column("match_trimmed", sa.Boolean(), nullable=False),
        sa.Column("match_low_quality", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", Id, nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')", name=op.f("ck_bank_tlp")
        ),
        sa.CheckConstraint(
            "pdq_threshold >= 0 AND pdq_threshold <= 256", name=op.f("ck_bank_pdq_threshold")
        ),
        sa.CheckConstraint(
            f"default_classification IS NULL OR default_classification IN {_CLASSIFICATIONS}",
            name=op.f("ck_bank_default_classification"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_bank_org_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_bank_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank")),
        sa.UniqueConstraint("name", name=op.f("uq_bank_name")),
    )
    op.create_index("ix_bank_org", "bank", ["org_id"], unique=False)

    op.create_table(
        "bank_entry",
        sa.Column("id", Id, nullable=False),
        sa.Column("bank_id", Id, nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("signal", sa.String(length=128), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("added_by_org_id", Id, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("quarantined_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("quarantine_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            f"classification IS NULL OR classification IN {_CLASSIFICATIONS}",
            name=op.f("ck_bank_entry_classification"),
        ),
        sa.CheckConstraint(
            "category IN ('positive','negative','disputed','investigation_seed')",
            name=op.f("ck_bank_entry_category"),
        ),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"], name=op.f("fk_bank_entry_bank_id_bank")),
        sa.ForeignKeyConstraint(
            ["added_by_org_id"],
            ["organisation.id"],
            name=op.f("fk_bank_entry_added_by_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entry")),
        sa.UniqueConstraint("bank_id", "signal_type", "signal", name="uq_bank_entry_signal"),
    )
    op.create_index("ix_bank_entry_signal", "bank_entry", ["signal_type", "signal"], unique=False)
    op.create_index("ix_bank_entry_bank", "bank_entry", ["bank_id", "id"], unique=False)

    op.create_table(
        "bank_entry_opinion",
        sa.Column("id", Id, nullable=False),
        sa.Column("entry_id", Id, nullable=False),
        sa.Column("org_id", Id, nullable=False),
        sa.Column("opinion", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by_user_id", Id, nullable=True),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "opinion IN ('confirm','dispute')", name=op.f("ck_bank_entry_opinion_opinion")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bank_entry.id"],
            name=op.f("fk_bank_entry_opinion_entry_id_bank_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisation.id"],
            name=op.f("fk_bank_entry_opinion_org_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["app_user.id"],
            name=op.f("fk_bank_entry_opinion_by_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entry_opinion")),
        sa.UniqueConstraint("entry_id", "org_id", name="uq_bank_entry_opinion_entry_org"),
    )

    op.create_table(
        "bank_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", Id, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_bank_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_head")),
    )
    op.execute("INSERT INTO bank_head (id, last_seq) VALUES (1, 0)")

    op.create_table(
        "bank_change",
        sa.Column("seq", Id, autoincrement=False, nullable=False),
        sa.Column("bank_id", Id, nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("entry_id_from", Id, nullable=True),
        sa.Column("entry_id_to", Id, nullable=True),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "op IN ('add','disable','enable','quarantine','release','delete_bank','update_bank')",
            name=op.f("ck_bank_change_op"),
        ),
        sa.CheckConstraint(
            "(entry_id_from IS NULL) = (entry_id_to IS NULL)", name=op.f("ck_bank_change_range")
        ),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"], name=op.f("fk_bank_change_bank_id_bank")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_bank_change")),
    )
    op.create_index("ix_bank_change_bank", "bank_change", ["bank_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bank_change_bank", table_name="bank_change")
    op.drop_table("bank_change")
    op.drop_table("bank_head")
    op.drop_table("bank_entry_opinion")
    op.drop_index("ix_bank_entry_bank", table_name="bank_entry")
    op.drop_index("ix_bank_entry_signal", table_name="bank_entry")
    op.drop_table("bank_entry")
    op.drop_index("ix_bank_org", table_name="bank")
    op.drop_table("bank")

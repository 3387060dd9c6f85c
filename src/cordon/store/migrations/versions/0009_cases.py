"""cases: cases, participants, notes, subjects and deconfliction hits

Revision ID: 0009_cases
Revises: 0008_graph
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0009_cases"
down_revision = "0008_graph"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_file",
        sa.Column("id", Id, nullable=False),
        sa.Column("owner_org_id", Id, nullable=False),
        sa.Column("opened_by", Id, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open','suspended','closed')", name=op.f("ck_case_file_status")
        ),
        sa.CheckConstraint(
            "tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')", name=op.f("ck_case_file_tlp")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["app_user.id"], name=op.f("fk_case_file_opened_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisation.id"],
            name=op.f("fk_case_file_owner_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_file")),
    )
    op.create_index(
        "ix_case_file_owner_status", "case_file", ["owner_org_id", "status"], unique=False
    )
    op.create_table(
        "case_note",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("author_user_id", Id, nullable=False),
        sa.Column("author_org_id", Id, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_org_id"],
            ["organisation.id"],
            name=op.f("fk_case_note_author_org_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"], ["app_user.id"], name=op.f("fk_case_note_author_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_case_note_case_id_case_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    op.create_index("ix_case_note_case", "case_note", ["case_id", "created_at"], unique=False)
    op.create_table(
        "case_participant",
        sa.Column("case_id", Id, nullable=False),
        sa.Column("org_id", Id, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("added_by", Id, nullable=True),
        sa.CheckConstraint(
            "role IN ('owner','participant')", name=op.f("ck_case_participant_role")
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["app_user.id"], name=op.f("fk_case_participant_added_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_case_participant_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_case_participant_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("case_id", "org_id", name=op.f("pk_case_participant")),
    )
    op.create_index("ix_case_participant_org", "case_participant", ["org_id"], unique=False)
    op.create_table(
        "case_subject",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("added_by", Id, nullable=True),
        sa.ForeignKeyConstraint(
            ["added_by"], ["app_user.id"], name=op.f("fk_case_subject_added_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_case_subject_case_id_case_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_subject")),
        sa.UniqueConstraint("case_id", "kind", "key", name="uq_case_subject_case_kind_key"),
    )
    op.create_index("ix_case_subject_kind_key", "case_subject", ["kind", "key"], unique=False)
    op.create_table(
        "deconfliction_hit",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_a_id", Id, nullable=False),
        sa.Column("case_b_id", Id, nullable=False),
        sa.Column("org_a_id", Id, nullable=False),
        sa.Column("org_b_id", Id, nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("entity_digest", sa.String(length=64), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("found_by_case_id", Id, nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("case_a_id < case_b_id", name=op.f("ck_deconfliction_hit_ordered")),
        sa.ForeignKeyConstraint(
            ["case_a_id"], ["case_file.id"], name=op.f("fk_deconfliction_hit_case_a_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["case_b_id"], ["case_file.id"], name=op.f("fk_deconfliction_hit_case_b_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["org_a_id"],
            ["organisation.id"],
            name=op.f("fk_deconfliction_hit_org_a_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["org_b_id"],
            ["organisation.id"],
            name=op.f("fk_deconfliction_hit_org_b_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deconfliction_hit")),
        sa.UniqueConstraint(
            "case_a_id", "case_b_id", "entity_digest", name="uq_deconfliction_hit_pair_entities"
        ),
    )
    op.create_index("ix_deconfliction_hit_case_b", "deconfliction_hit", ["case_b_id"], unique=False)
    op.create_index("ix_deconfliction_hit_org_a", "deconfliction_hit", ["org_a_id"], unique=False)
    op.create_index("ix_deconfliction_hit_org_b", "deconfliction_hit", ["org_b_id"], unique=False)


def downgrade() -> None:
    for table in ("deconfliction_hit", "case_subject", "case_note", "case_participant"):
        op.drop_table(table)
    op.drop_table("case_file")

"""outcomes: assessments, host notices, block list

Creates the tables of :mod:`cordon.store.tables_outcomes` and extends ``notice``: a recipient
may be an e-mail address outside the coalition (``recipient_address``, ``recipient_name``;
``recipient_org_id`` becomes optional) and the takedown states join the state check.

Revision ID: 0010_outcomes
Revises: 0009_cases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0010_outcomes"
down_revision = "0009_cases"
branch_labels = None
depends_on = None

OLD_STATES = "state IN ('sent','under_review','closed','declined','disputed')"
NEW_STATES = (
    "state IN ('draft','sent','under_review','acknowledged','actioned','verified','reappeared',"
    "'closed','declined','disputed')"
)
RECIPIENT = "recipient_org_id IS NOT NULL OR recipient_address IS NOT NULL"


def _old_notice() -> sa.Table:
    """``notice`` as 0003_money made it: the source of SQLite's table rebuild."""
    meta = sa.MetaData()
    for name in ("organisation", "app_user"):
        sa.Table(name, meta, sa.Column("id", Id, primary_key=True))
    return sa.Table(
        "notice",
        meta,
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "recipient_org_id",
            Id,
            sa.ForeignKey("organisation.id", name="fk_notice_recipient_org_id_organisation"),
            nullable=False,
        ),
        sa.Column(
            "issuer_org_id",
            Id,
            sa.ForeignKey("organisation.id", name="fk_notice_issuer_org_id_organisation"),
            nullable=True,
        ),
        sa.Column("subject_kind", sa.String(32), nullable=False),
        sa.Column("subject_id", Id, nullable=False),
        sa.Column(
            "parent_notice_id",
            Id,
            sa.ForeignKey("notice.id", name="fk_notice_parent_notice_id_notice"),
            nullable=True,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answer", sa.String(32), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answered_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "answered_by",
            Id,
            sa.ForeignKey("app_user.id", name="fk_notice_answered_by_app_user"),
            nullable=True,
        ),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("first_sent_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("next_repeat_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("read_at", UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(OLD_STATES, name="ck_notice_state"),
        sa.UniqueConstraint(
            "kind", "recipient_org_id", "subject_kind", "subject_id", name="uq_notice_subject"
        ),
        sa.Index("ix_notice_recipient_state", "recipient_org_id", "state"),
        sa.Index("ix_notice_subject", "subject_kind", "subject_id"),
    )


def _alter_notice(*, forward: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # The rebuild drops and renames ``notice`` while other tables point at it: the
        # references are checked at commit, when the rebuilt table holds every row again.
        op.execute("PRAGMA defer_foreign_keys = ON")
    kwargs = {"recreate": "always", "copy_from": _old_notice()} if sqlite else {}
    with op.batch_alter_table("notice", **kwargs) as batch:  # type: ignore[arg-type]  # per dialect
        if forward:
            batch.alter_column("recipient_org_id", existing_type=Id, nullable=True)
            batch.add_column(sa.Column("recipient_address", sa.String(320), nullable=True))
            batch.add_column(sa.Column("recipient_name", sa.String(255), nullable=True))
            batch.drop_constraint(op.f("ck_notice_state"), type_="check")
            batch.create_check_constraint(op.f("ck_notice_state"), NEW_STATES)
            batch.create_check_constraint(op.f("ck_notice_recipient"), RECIPIENT)
        else:
            batch.drop_constraint(op.f("ck_notice_recipient"), type_="check")
            batch.drop_constraint(op.f("ck_notice_state"), type_="check")
            batch.create_check_constraint(op.f("ck_notice_state"), OLD_STATES)
            batch.drop_column("recipient_name")
            batch.drop_column("recipient_address")
            batch.alter_column("recipient_org_id", existing_type=Id, nullable=False)


def upgrade() -> None:
    _alter_notice(forward=True)
    tlp = "tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')"
    classes = "classification IN ('baseline','A1','A2','B1','B2')"
    op.create_table(
        "assessment",
        sa.Column("id", Id, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("capture_id", Id, nullable=True),
        sa.Column("classification", sa.String(length=8), nullable=False),
        sa.Column("analyst_user_id", Id, nullable=False),
        sa.Column("owner_org_id", Id, nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("assessed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(classes, name=op.f("ck_assessment_classification")),
        sa.CheckConstraint(tlp, name=op.f("ck_assessment_tlp")),
        sa.ForeignKeyConstraint(
            ["analyst_user_id"],
            ["app_user.id"],
            name=op.f("fk_assessment_analyst_user_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisation.id"],
            name=op.f("fk_assessment_owner_org_id_organisation"),
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_assessment_url_id_url")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
    )
    op.create_index("ix_assessment_url", "assessment", ["url_id"], unique=False)
    op.create_table(
        "bank_seed_request",
        sa.Column("id", Id, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("capture_id", Id, nullable=True),
        sa.Column("classification", sa.String(length=8), nullable=False),
        sa.Column("assessment_ids", sa.JSON(), nullable=False),
        sa.Column("hashes", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending','submitted')", name=op.f("ck_bank_seed_request_state")
        ),
        sa.ForeignKeyConstraint(
            ["url_id"], ["url.id"], name=op.f("fk_bank_seed_request_url_id_url")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_seed_request")),
        sa.UniqueConstraint("url_id", name=op.f("uq_bank_seed_request_url_id")),
    )
    op.create_table(
        "notice_item",
        sa.Column("id", Id, nullable=False),
        sa.Column("notice_id", Id, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("capture_id", Id, nullable=True),
        sa.Column("captured_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("capture_sha256", sa.String(length=64), nullable=True),
        sa.Column("classification", sa.String(length=8), nullable=False),
        sa.Column("detection_method", sa.String(length=16), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("attribution_id", Id, nullable=True),
        sa.Column("provider", sa.String(length=255), nullable=True),
        sa.Column("asn", Id, nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("reported_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("removed_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("removal_capture_id", Id, nullable=True),
        sa.Column("reappeared_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("previous_item_id", Id, nullable=True),
        sa.Column("xarf", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "role IN ('host','cdn','registrar','referral')", name=op.f("ck_notice_item_role")
        ),
        sa.CheckConstraint(
            "state IN ('listed','removed','reappeared')", name=op.f("ck_notice_item_state")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_item_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["previous_item_id"],
            ["notice_item.id"],
            name=op.f("fk_notice_item_previous_item_id_notice_item"),
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_notice_item_url_id_url")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_item")),
        sa.UniqueConstraint("notice_id", "url_id", name="uq_notice_item_notice_url"),
    )
    op.create_index("ix_notice_item_url", "notice_item", ["url_id"], unique=False)
    op.create_table(
        "notice_watch",
        sa.Column("notice_id", Id, nullable=False),
        sa.Column("last_request_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("watch_until", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_watch_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_notice_watch")),
    )
    op.create_table(
        "verify_plan",
        sa.Column("id", Id, nullable=False),
        sa.Column("notice_id", Id, nullable=False),
        sa.Column("due_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_verify_plan_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verify_plan")),
    )
    op.create_index(op.f("ix_verify_plan_notice_id"), "verify_plan", ["notice_id"], unique=False)
    op.create_table(
        "blocklist_version",
        sa.Column("id", Id, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_by", Id, nullable=True),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("list_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["app_user.id"],
            name=op.f("fk_blocklist_version_published_by_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocklist_version")),
        sa.UniqueConstraint("version", name=op.f("uq_blocklist_version_version")),
    )
    op.create_table(
        "blocklist_appeal",
        sa.Column("id", Id, nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("url_ids", sa.JSON(), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("notice_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocklist_appeal")),
    )


def downgrade() -> None:
    for name in (
        "blocklist_appeal",
        "blocklist_version",
        "verify_plan",
        "notice_watch",
        "notice_item",
        "bank_seed_request",
        "assessment",
    ):
        op.drop_table(name)
    # Notices to parties outside the coalition have no place in the older table.
    op.execute(
        "DELETE FROM notice_event WHERE notice_id IN (SELECT id FROM notice "
        "WHERE recipient_org_id IS NULL)"
    )
    _alter_notice(forward=False)

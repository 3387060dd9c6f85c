"""money and notices: payment identifiers, sightings, confirmations, ownership, test purchases,
descriptors, crypto transactions; the notice engine's notices, events, endpoints, deliveries and
schedules

Revision ID: 0003_money
Revises: 0002_attribution
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0003_money"
down_revision = "0002_attribution"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_descriptor",
        sa.Column("id", Id, nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("normalised", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_descriptor")),
        sa.UniqueConstraint("text", name=op.f("uq_merchant_descriptor_text")),
    )
    op.create_index(
        op.f("ix_merchant_descriptor_normalised"),
        "merchant_descriptor",
        ["normalised"],
        unique=False,
    )

    op.create_table(
        "crypto_tx",
        sa.Column("id", Id, nullable=False),
        sa.Column("owner_org_id", Id, nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("txid", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("imported_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')", name=op.f("ck_crypto_tx_tlp")
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisation.id"],
            name=op.f("fk_crypto_tx_owner_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crypto_tx")),
        sa.UniqueConstraint("owner_org_id", "chain", "txid", name="uq_crypto_tx_owner_chain_txid"),
    )
    op.create_table(
        "descriptor_link",
        sa.Column("id", Id, nullable=False),
        sa.Column("a_id", Id, nullable=False),
        sa.Column("b_id", Id, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by", Id, nullable=True),
        sa.Column("decided_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('auto','confirmed','split')", name=op.f("ck_descriptor_link_decision")
        ),
        sa.CheckConstraint("a_id < b_id", name=op.f("ck_descriptor_link_ordered")),
        sa.ForeignKeyConstraint(
            ["a_id"],
            ["merchant_descriptor.id"],
            name=op.f("fk_descriptor_link_a_id_merchant_descriptor"),
        ),
        sa.ForeignKeyConstraint(
            ["b_id"],
            ["merchant_descriptor.id"],
            name=op.f("fk_descriptor_link_b_id_merchant_descriptor"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["app_user.id"], name=op.f("fk_descriptor_link_decided_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_descriptor_link")),
        sa.UniqueConstraint("a_id", "b_id", name="uq_descriptor_link_pair"),
    )
    op.create_index("ix_descriptor_link_b", "descriptor_link", ["b_id"], unique=False)

    op.create_table(
        "money_ownership",
        sa.Column("id", Id, nullable=False),
        sa.Column("org_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("bin_low", sa.String(length=8), nullable=True),
        sa.Column("bin_high", sa.String(length=8), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", Id, nullable=True),
        sa.CheckConstraint(
            "kind IN ('checkout_provider','acquirer_bin_range','crypto_address','iban_bank')",
            name=op.f("ck_money_ownership_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_money_ownership_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_money_ownership_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_ownership")),
        sa.UniqueConstraint("kind", "value", name="uq_money_ownership_kind_value"),
    )
    op.create_index(op.f("ix_money_ownership_org_id"), "money_ownership", ["org_id"], unique=False)

    op.create_table(
        "notice",
        sa.Column("id", Id, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient_org_id", Id, nullable=False),
        sa.Column("issuer_org_id", Id, nullable=True),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", Id, nullable=False),
        sa.Column("parent_notice_id", Id, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answered_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", Id, nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
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
        sa.CheckConstraint(
            "state IN ('sent','under_review','closed','declined','disputed')",
            name=op.f("ck_notice_state"),
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["app_user.id"], name=op.f("fk_notice_answered_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_org_id"],
            ["organisation.id"],
            name=op.f("fk_notice_issuer_org_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_notice_id"], ["notice.id"], name=op.f("fk_notice_parent_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_org_id"],
            ["organisation.id"],
            name=op.f("fk_notice_recipient_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint(
            "kind", "recipient_org_id", "subject_kind", "subject_id", name="uq_notice_subject"
        ),
    )
    op.create_index(
        "ix_notice_recipient_state", "notice", ["recipient_org_id", "state"], unique=False
    )
    op.create_index("ix_notice_subject", "notice", ["subject_kind", "subject_id"], unique=False)

    op.create_table(
        "notice_endpoint",
        sa.Column("id", Id, nullable=False),
        sa.Column("org_id", Id, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("secret_fingerprint", sa.String(length=16), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", Id, nullable=True),
        sa.CheckConstraint(
            "channel IN ('email','webhook')", name=op.f("ck_notice_endpoint_channel")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_notice_endpoint_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_notice_endpoint_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_endpoint")),
        sa.UniqueConstraint("org_id", "channel", "target", name="uq_notice_endpoint_target"),
    )
    op.create_index(op.f("ix_notice_endpoint_org_id"), "notice_endpoint", ["org_id"], unique=False)

    op.create_table(
        "payment_identifier",
        sa.Column("id", Id, nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=True),
        sa.Column("network", sa.String(length=16), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("acquirer_bin", sa.String(length=8), nullable=True),
        sa.Column("merchant_id", sa.String(length=15), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("bank_code", sa.String(length=32), nullable=True),
        sa.Column("owner_org_id", Id, nullable=True),
        sa.Column("owner_basis", sa.String(length=200), nullable=True),
        sa.Column("first_seen_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "type IN ('crypto_address','checkout_account','iban','card_merchant')",
            name=op.f("ck_payment_identifier_type"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisation.id"],
            name=op.f("fk_payment_identifier_owner_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_identifier")),
        sa.UniqueConstraint("key", name=op.f("uq_payment_identifier_key")),
    )
    op.create_index(
        "ix_payment_identifier_owner", "payment_identifier", ["owner_org_id"], unique=False
    )
    op.create_index(
        "ix_payment_identifier_type", "payment_identifier", ["type", "chain"], unique=False
    )

    op.create_table(
        "test_purchase",
        sa.Column("id", Id, nullable=False),
        sa.Column("owner_org_id", Id, nullable=False),
        sa.Column("submitted_by", Id, nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("purchased_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("scheme", sa.String(length=24), nullable=True),
        sa.Column("descriptor_id", Id, nullable=True),
        sa.Column("merchant_id", sa.String(length=15), nullable=True),
        sa.Column("acquirer_bin", sa.String(length=8), nullable=True),
        sa.Column("mcc", sa.String(length=4), nullable=True),
        sa.Column("amount", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')",
            name=op.f("ck_test_purchase_tlp"),
        ),
        sa.ForeignKeyConstraint(
            ["descriptor_id"],
            ["merchant_descriptor.id"],
            name=op.f("fk_test_purchase_descriptor_id_merchant_descriptor"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisation.id"],
            name=op.f("fk_test_purchase_owner_org_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["app_user.id"], name=op.f("fk_test_purchase_submitted_by_app_user")
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_test_purchase_url_id_url")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_purchase")),
        sa.UniqueConstraint("owner_org_id", "idempotency_key", name="uq_test_purchase_idempotency"),
    )
    op.create_index(
        "ix_test_purchase_owner_created",
        "test_purchase",
        ["owner_org_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_test_purchase_url", "test_purchase", ["url_id"], unique=False)

    op.create_table(
        "url_confirmation",
        sa.Column("url_id", Id, nullable=False),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("confirmed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("capture_id", Id, nullable=True),
        sa.Column("capture_time", UtcDateTime(timezone=True), nullable=True),
        sa.Column("match_summary", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["url_id"], ["url.id"], name=op.f("fk_url_confirmation_url_id_url")
        ),
        sa.PrimaryKeyConstraint("url_id", name=op.f("pk_url_confirmation")),
    )
    op.create_index(op.f("ix_url_confirmation_site"), "url_confirmation", ["site"], unique=False)

    op.create_table(
        "crypto_tx_io",
        sa.Column("id", Id, nullable=False),
        sa.Column("tx_id", Id, nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("address_key", sa.String(length=300), nullable=False),
        sa.Column("amount", sa.String(length=48), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("direction IN ('in','out')", name=op.f("ck_crypto_tx_io_direction")),
        sa.ForeignKeyConstraint(
            ["tx_id"], ["crypto_tx.id"], name=op.f("fk_crypto_tx_io_tx_id_crypto_tx")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crypto_tx_io")),
    )
    op.create_index("ix_crypto_tx_io_address", "crypto_tx_io", ["address_key"], unique=False)
    op.create_index(op.f("ix_crypto_tx_io_tx_id"), "crypto_tx_io", ["tx_id"], unique=False)

    op.create_table(
        "notice_delivery",
        sa.Column("id", Id, nullable=False),
        sa.Column("notice_id", Id, nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("endpoint_id", Id, nullable=True),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_of", Id, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("delivery_key", sa.String(length=40), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending','delivered','failed','abandoned')",
            name=op.f("ck_notice_delivery_state"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["notice_endpoint.id"],
            name=op.f("fk_notice_delivery_endpoint_id_notice_endpoint"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_delivery_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["retry_of"],
            ["notice_delivery.id"],
            name=op.f("fk_notice_delivery_retry_of_notice_delivery"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_delivery")),
    )
    op.create_index(
        op.f("ix_notice_delivery_notice_id"), "notice_delivery", ["notice_id"], unique=False
    )
    op.create_index("ix_notice_delivery_state", "notice_delivery", ["state"], unique=False)

    op.create_table(
        "notice_event",
        sa.Column("id", Id, nullable=False),
        sa.Column("notice_id", Id, nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("actor_user_id", Id, nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_event_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_event")),
    )
    op.create_index(op.f("ix_notice_event_notice_id"), "notice_event", ["notice_id"], unique=False)

    op.create_table(
        "notice_schedule",
        sa.Column("id", Id, nullable=False),
        sa.Column("notice_id", Id, nullable=False),
        sa.Column("due_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_schedule_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_schedule")),
    )
    op.create_index(
        op.f("ix_notice_schedule_notice_id"), "notice_schedule", ["notice_id"], unique=False
    )

    op.create_table(
        "payment_sighting",
        sa.Column("id", Id, nullable=False),
        sa.Column("identifier_id", Id, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("owner_org_id", Id, nullable=True),
        sa.Column("tlp", sa.String(length=16), nullable=True),
        sa.Column("test_purchase_id", Id, nullable=True),
        sa.Column("first_seen_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "tlp IS NULL OR tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')",
            name=op.f("ck_payment_sighting_tlp"),
        ),
        sa.CheckConstraint(
            "(owner_org_id IS NULL) = (tlp IS NULL)", name=op.f("ck_payment_sighting_own_marking")
        ),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["payment_identifier.id"],
            name=op.f("fk_payment_sighting_identifier_id_payment_identifier"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisation.id"],
            name=op.f("fk_payment_sighting_owner_org_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["test_purchase_id"],
            ["test_purchase.id"],
            name=op.f("fk_payment_sighting_test_purchase_id_test_purchase"),
        ),
        sa.ForeignKeyConstraint(
            ["url_id"], ["url.id"], name=op.f("fk_payment_sighting_url_id_url")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_sighting")),
    )
    op.create_index(
        "ix_payment_sighting_identifier",
        "payment_sighting",
        ["identifier_id", "first_seen_at"],
        unique=False,
    )
    op.create_index("ix_payment_sighting_site", "payment_sighting", ["site"], unique=False)
    op.create_index("ix_payment_sighting_url", "payment_sighting", ["url_id"], unique=False)

    op.create_table(
        "test_purchase_identifier",
        sa.Column("purchase_id", Id, nullable=False),
        sa.Column("identifier_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["payment_identifier.id"],
            name=op.f("fk_test_purchase_identifier_identifier_id_payment_identifier"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["test_purchase.id"],
            name=op.f("fk_test_purchase_identifier_purchase_id_test_purchase"),
        ),
        sa.PrimaryKeyConstraint(
            "purchase_id", "identifier_id", name=op.f("pk_test_purchase_identifier")
        ),
    )
    op.create_index(
        "ix_test_purchase_identifier_identifier",
        "test_purchase_identifier",
        ["identifier_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_test_purchase_identifier_identifier", table_name="test_purchase_identifier")

    op.drop_table("test_purchase_identifier")
    op.drop_index("ix_payment_sighting_url", table_name="payment_sighting")
    op.drop_index("ix_payment_sighting_site", table_name="payment_sighting")
    op.drop_index("ix_payment_sighting_identifier", table_name="payment_sighting")

    op.drop_table("payment_sighting")
    op.drop_index(op.f("ix_notice_schedule_notice_id"), table_name="notice_schedule")

    op.drop_table("notice_schedule")
    op.drop_index(op.f("ix_notice_event_notice_id"), table_name="notice_event")

    op.drop_table("notice_event")
    op.drop_index("ix_notice_delivery_state", table_name="notice_delivery")
    op.drop_index(op.f("ix_notice_delivery_notice_id"), table_name="notice_delivery")

    op.drop_table("notice_delivery")
    op.drop_index(op.f("ix_crypto_tx_io_tx_id"), table_name="crypto_tx_io")
    op.drop_index("ix_crypto_tx_io_address", table_name="crypto_tx_io")

    op.drop_table("crypto_tx_io")
    op.drop_index(op.f("ix_url_confirmation_site"), table_name="url_confirmation")

    op.drop_table("url_confirmation")
    op.drop_index("ix_test_purchase_url", table_name="test_purchase")
    op.drop_index("ix_test_purchase_owner_created", table_name="test_purchase")

    op.drop_table("test_purchase")
    op.drop_index("ix_payment_identifier_type", table_name="payment_identifier")
    op.drop_index("ix_payment_identifier_owner", table_name="payment_identifier")

    op.drop_table("payment_identifier")
    op.drop_index(op.f("ix_notice_endpoint_org_id"), table_name="notice_endpoint")

    op.drop_table("notice_endpoint")
    op.drop_index("ix_notice_subject", table_name="notice")
    op.drop_index("ix_notice_recipient_state", table_name="notice")

    op.drop_table("notice")
    op.drop_index(op.f("ix_money_ownership_org_id"), table_name="money_ownership")

    op.drop_table("money_ownership")
    op.drop_index("ix_descriptor_link_b", table_name="descriptor_link")

    op.drop_table("descriptor_link")
    op.drop_table("crypto_tx")
    op.drop_index(op.f("ix_merchant_descriptor_normalised"), table_name="merchant_descriptor")

    op.drop_table("merchant_descriptor")

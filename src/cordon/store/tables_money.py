"""Tables of the notice engine and of the money feature (payment identifiers, test purchases,
ownership, descriptors, crypto transactions).

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes
it. As everywhere, nothing takes a default time from the database.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cordon.store.tables import TLP_VALUES, metadata
from cordon.store.types import Id, UtcDateTime

# --- notices -------------------------------------------------------------------------------------
# One engine for every message to a partner. A notice is addressed to one organisation about one
# subject (a payment identifier, a URL, ...); it is sent in rounds (the first send, repeats, a
# reopening), each round delivered on every channel the recipient has set up.

NOTICE_STATES = (
    "('draft','sent','under_review','acknowledged','actioned','verified','reappeared',"
    "'closed','declined','disputed')"
)

notice = Table(
    "notice",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(32), nullable=False),
    # A member organisation, or (for a party outside the coalition, such as a hosting
    # provider's abuse desk) an e-mail address; migration 0010_outcomes.
    Column("recipient_org_id", Id, ForeignKey("organisation.id"), nullable=True),
    Column("recipient_address", String(320), nullable=True),
    Column("recipient_name", String(255), nullable=True),
    Column("issuer_org_id", Id, ForeignKey("organisation.id"), nullable=True),
    Column("subject_kind", String(32), nullable=False),
    Column("subject_id", Id, nullable=False),
    Column("parent_notice_id", Id, ForeignKey("notice.id"), nullable=True),
    Column("state", String(16), nullable=False),
    Column("answer", String(32), nullable=True),
    Column("answer_note", Text, nullable=True),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("answered_by", Id, ForeignKey("app_user.id"), nullable=True),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    # The evidence as data (never media): what webhooks and the JSON attachment carry.
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Start of the current cycle: creation, or the latest reopening.
    Column("opened_at", UtcDateTime, nullable=False),
    Column("first_sent_at", UtcDateTime, nullable=False),
    Column("last_sent_at", UtcDateTime, nullable=False),
    Column("rounds", Integer, nullable=False),
    # Repeats in the current cycle (reset by a reopening).
    Column("repeats", Integer, nullable=False),
    Column("next_repeat_at", UtcDateTime, nullable=True),
    Column("escalated_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("reopened", Integer, nullable=False),
    Column("read_at", UtcDateTime, nullable=True),
    UniqueConstraint(
        "kind", "recipient_org_id", "subject_kind", "subject_id", name="uq_notice_subject"
    ),
    CheckConstraint(f"state IN {NOTICE_STATES}", name="state"),
    CheckConstraint(
        "recipient_org_id IS NOT NULL OR recipient_address IS NOT NULL", name="recipient"
    ),
    Index("ix_notice_recipient_state", "recipient_org_id", "state"),
    Index("ix_notice_subject", "subject_kind", "subject_id"),
)

# What happened to a notice, in order: sent, repeated, answered, reopened, escalated, closed.
notice_event = Table(
    "notice_event",
    metadata,
    Column("id", Id, primary_key=True),
    Column("notice_id", Id, ForeignKey("notice.id"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("event", String(24), nullable=False),
    Column("actor_user_id", Id, nullable=True),
    Column("details", JSON, nullable=False),
)

# Where an organisation receives notices besides its in-app inbox. Webhook secrets are never
# stored: they are derived from a key in the key directory and the endpoint's secret_version.
notice_endpoint = Table(
    "notice_endpoint",
    metadata,
    Column("id", Id, primary_key=True),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("target", String(500), nullable=False),
    # Kinds of notice sent here; empty means every kind.
    Column("kinds", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("secret_version", Integer, nullable=False),
    Column("secret_fingerprint", String(16), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Id, ForeignKey("app_user.id"), nullable=True),
    UniqueConstraint("org_id", "channel", "target", name="uq_notice_endpoint_target"),
    CheckConstraint("channel IN ('email','webhook')", name="channel"),
)

# One attempt to deliver one round of a notice on one channel. A failed attempt keeps its error
# and names the attempt that retries it, so every try can be shown.
notice_delivery = Table(
    "notice_delivery",
    metadata,
    Column("id", Id, primary_key=True),
    Column("notice_id", Id, ForeignKey("notice.id"), nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("endpoint_id", Id, ForeignKey("notice_endpoint.id"), nullable=True),
    Column("target", String(500), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("retry_of", Id, ForeignKey("notice_delivery.id"), nullable=True),
    Column("state", String(16), nullable=False),
    # Receivers use it to drop a repeated delivery of the same attempt chain.
    Column("delivery_key", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("response_status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    CheckConstraint("state IN ('pending','delivered','failed','abandoned')", name="state"),
    Index("ix_notice_delivery_state", "state"),
)

# A planned repeat of a notice; cancelled when the notice is answered, reopened or held.
notice_schedule = Table(
    "notice_schedule",
    metadata,
    Column("id", Id, primary_key=True),
    Column("notice_id", Id, ForeignKey("notice.id"), nullable=False, index=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    Column("cancelled", Boolean, nullable=False),
)

# --- money: payment identifiers -------------------------------------------------------------------

IDENTIFIER_TYPES = "('crypto_address','checkout_account','iban','card_merchant')"

payment_identifier = Table(
    "payment_identifier",
    metadata,
    Column("id", Id, primary_key=True),
    Column("type", String(24), nullable=False),
    # The normalised form two sightings share: chain:address, provider:account, IBAN,
    # card:acquirer_bin:merchant_id.
    Column("key", String(300), nullable=False, unique=True),
    Column("value", String(300), nullable=False),
    Column("chain", String(8), nullable=True),
    Column("network", String(16), nullable=True),
    Column("provider", String(64), nullable=True),
    Column("account_id", String(128), nullable=True),
    Column("acquirer_bin", String(8), nullable=True),
    Column("merchant_id", String(15), nullable=True),
    Column("country", String(2), nullable=True),
    Column("bank_code", String(32), nullable=True),
    # The payment provider the identifier belongs to, from its registrations; alerts go there.
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=True),
    Column("owner_basis", String(200), nullable=True),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(f"type IN {IDENTIFIER_TYPES}", name="type"),
    Index("ix_payment_identifier_owner", "owner_org_id"),
    Index("ix_payment_identifier_type", "type", "chain"),
)

# An identifier seen on a page of a site. Its access follows the reports that name the URL;
# a sighting an organisation records itself (an analyst, a test purchase) also carries that
# organisation and a marking of its own.
payment_sighting = Table(
    "payment_sighting",
    metadata,
    Column("id", Id, primary_key=True),
    Column("identifier_id", Id, ForeignKey("payment_identifier.id"), nullable=False),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False),
    Column("site", String(255), nullable=False),
    Column("source", String(32), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=True),
    Column("tlp", String(16), nullable=True),
    Column("test_purchase_id", Id, ForeignKey("test_purchase.id"), nullable=True),
    # One row per identifier, URL and source: a re-crawl that sees it again moves last_seen_at.
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("times", Integer, nullable=False),
    CheckConstraint("(owner_org_id IS NULL) = (tlp IS NULL)", name="own_marking"),
    CheckConstraint(f"tlp IS NULL OR tlp IN {TLP_VALUES}", name="tlp"),
    Index("ix_payment_sighting_identifier", "identifier_id", "first_seen_at"),
    Index("ix_payment_sighting_url", "url_id"),
    Index("ix_payment_sighting_site", "site"),
)

# A URL whose content matched a hash list: set by the match stage (or an analyst). Alerts go
# out for identifiers seen on a confirmed site.
url_confirmation = Table(
    "url_confirmation",
    metadata,
    Column("url_id", Id, ForeignKey("url.id"), primary_key=True),
    Column("site", String(255), nullable=False, index=True),
    Column("confirmed_at", UtcDateTime, nullable=False),
    Column("capture_id", Id, nullable=True),
    Column("capture_time", UtcDateTime, nullable=True),
    Column("match_summary", JSON, nullable=False),
    Column("source", String(32), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# What a payment provider registers as its own.
OWNERSHIP_KINDS = "('checkout_provider','acquirer_bin_range','crypto_address','iban_bank')"

money_ownership = Table(
    "money_ownership",
    metadata,
    Column("id", Id, primary_key=True),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("value", String(300), nullable=False),
    # BIN ranges as 8-digit bounds, so that text order is numeric order.
    Column("bin_low", String(8), nullable=True),
    Column("bin_high", String(8), nullable=True),
    # A checkout provider's link pattern (cordon.domain.payments.provider_to_mapping form).
    Column("spec", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Id, ForeignKey("app_user.id"), nullable=True),
    UniqueConstraint("kind", "value", name="uq_money_ownership_kind_value"),
    CheckConstraint(f"kind IN {OWNERSHIP_KINDS}", name="kind"),
)

# --- money: test purchases and descriptors -------------------------------------------------------

merchant_descriptor = Table(
    "merchant_descriptor",
    metadata,
    Column("id", Id, primary_key=True),
    Column("text", String(200), nullable=False, unique=True),
    Column("normalised", String(200), nullable=False, index=True),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

# Two descriptors that name one merchant, with the scores that linked them. An analyst
# confirms a link or splits it; a split link is kept as evidence but joins nothing.
descriptor_link = Table(
    "descriptor_link",
    metadata,
    Column("id", Id, primary_key=True),
    Column("a_id", Id, ForeignKey("merchant_descriptor.id"), nullable=False),
    Column("b_id", Id, ForeignKey("merchant_descriptor.id"), nullable=False),
    Column("score", Float, nullable=False),
    Column("rule", String(32), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("decided_by", Id, ForeignKey("app_user.id"), nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("a_id", "b_id", name="uq_descriptor_link_pair"),
    CheckConstraint("a_id < b_id", name="ordered"),
    CheckConstraint("decision IN ('auto','confirmed','split')", name="decision"),
    Index("ix_descriptor_link_b", "b_id"),
)

test_purchase = Table(
    "test_purchase",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("submitted_by", Id, ForeignKey("app_user.id"), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("purchased_at", UtcDateTime, nullable=False),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False),
    Column("scheme", String(24), nullable=True),
    Column("descriptor_id", Id, ForeignKey("merchant_descriptor.id"), nullable=True),
    Column("merchant_id", String(15), nullable=True),
    Column("acquirer_bin", String(8), nullable=True),
    Column("mcc", String(4), nullable=True),
    Column("amount", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("provider", String(64), nullable=True),
    Column("account", String(128), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("evidence_sha256", String(64), nullable=True),
    Column("note", Text, nullable=True),
    Column("channel", String(16), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    # What was asked, to tell a replay from a different purchase under one key.
    Column("request_sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("owner_org_id", "idempotency_key", name="uq_test_purchase_idempotency"),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
    Index("ix_test_purchase_owner_created", "owner_org_id", "created_at"),
    Index("ix_test_purchase_url", "url_id"),
)

test_purchase_identifier = Table(
    "test_purchase_identifier",
    metadata,
    Column("purchase_id", Id, ForeignKey("test_purchase.id"), primary_key=True),
    Column("identifier_id", Id, ForeignKey("payment_identifier.id"), primary_key=True),
    Index("ix_test_purchase_identifier_identifier", "identifier_id"),
)

# --- money: crypto transactions ---------------------------------------------------------------

crypto_tx = Table(
    "crypto_tx",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("chain", String(8), nullable=False),
    Column("txid", String(128), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    UniqueConstraint("owner_org_id", "chain", "txid", name="uq_crypto_tx_owner_chain_txid"),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
)

crypto_tx_io = Table(
    "crypto_tx_io",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tx_id", Id, ForeignKey("crypto_tx.id"), nullable=False, index=True),
    Column("direction", String(3), nullable=False),
    # chain:address, the key of payment_identifier.
    Column("address_key", String(300), nullable=False),
    # Decimal text in coin units; summed with Python's Decimal, never as floats.
    Column("amount", String(48), nullable=False),
    Column("position", Integer, nullable=False),
    CheckConstraint("direction IN ('in','out')", name="direction"),
    Index("ix_crypto_tx_io_address", "address_key"),
)

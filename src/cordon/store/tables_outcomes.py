"""Tables of assessments, notice batches, XARF reports and the ISP block list.

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes it.
Migration ``0010_outcomes`` also extends the notice table of :mod:`cordon.store.tables_money`
(recipients outside the coalition, the takedown states).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cordon.store import tables_money  # noqa: F401  # the notice table items point at
from cordon.store.tables import TLP_VALUES, metadata
from cordon.store.types import Id, UtcDateTime

CLASSIFICATIONS = "('baseline','A1','A2','B1','B2')"

# An analyst's assessment of the content at a URL, made in the analyst's own secure
# environment (Cordon never shows content). It confirms the URL with its classification.
assessment = Table(
    "assessment",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False),
    Column("capture_id", Id, nullable=True),
    Column("classification", String(8), nullable=False),
    Column("analyst_user_id", Id, ForeignKey("app_user.id"), nullable=False),
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("assessed_at", UtcDateTime, nullable=False),
    Column("notes", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(f"classification IN {CLASSIFICATIONS}", name="classification"),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
    Index("ix_assessment_url", "url_id"),
)

# Enough independent assessments make a page's reference hashes eligible to seed a bank.
bank_seed_request = Table(
    "bank_seed_request",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False, unique=True),
    Column("capture_id", Id, nullable=True),
    Column("classification", String(8), nullable=False),
    Column("assessment_ids", JSON, nullable=False),
    # The page's media sightings as hashes only: sha256, md5, pdq, pdq_quality.
    Column("hashes", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=True),
    Column("result", JSON, nullable=True),
    CheckConstraint("state IN ('pending','submitted')", name="state"),
)

# One URL in one takedown notice (host, registrar or referral), with the evidence sent about
# it and what became of it. A notice lists every URL of its recipient's batch window.
ITEM_STATES = "('listed','removed','reappeared')"

notice_item = Table(
    "notice_item",
    metadata,
    Column("id", Id, primary_key=True),
    Column("notice_id", Id, ForeignKey("notice.id"), nullable=False),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("capture_id", Id, nullable=True),
    Column("captured_at", UtcDateTime, nullable=True),
    Column("capture_sha256", String(64), nullable=True),
    Column("classification", String(8), nullable=False),
    Column("detection_method", String(16), nullable=False),
    Column("match", JSON, nullable=False),
    Column("attribution_id", Id, nullable=True),
    Column("provider", String(255), nullable=True),
    Column("asn", Id, nullable=True),
    Column("country", String(2), nullable=True),
    Column("reported_at", UtcDateTime, nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("removed_at", UtcDateTime, nullable=True),
    Column("removal_capture_id", Id, nullable=True),
    Column("reappeared_at", UtcDateTime, nullable=True),
    # The item of an earlier chain this one follows (same URL back, or same pictures).
    Column("previous_item_id", Id, ForeignKey("notice_item.id"), nullable=True),
    Column("xarf", JSON, nullable=False),
    UniqueConstraint("notice_id", "url_id", name="uq_notice_item_notice_url"),
    CheckConstraint(f"state IN {ITEM_STATES}", name="state"),
    CheckConstraint("role IN ('host','cdn','registrar','referral')", name="role"),
    Index("ix_notice_item_url", "url_id"),
)

# Verification of a takedown notice: when its URLs were last asked to be re-crawled.
notice_watch = Table(
    "notice_watch",
    metadata,
    Column("notice_id", Id, ForeignKey("notice.id"), primary_key=True),
    Column("last_request_at", UtcDateTime, nullable=True),
    Column("passes", Integer, nullable=False),
    Column("watch_until", UtcDateTime, nullable=True),
)

# A planned verification pass over a takedown notice; a new plan cancels the ones waiting.
verify_plan = Table(
    "verify_plan",
    metadata,
    Column("id", Id, primary_key=True),
    Column("notice_id", Id, ForeignKey("notice.id"), nullable=False, index=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    Column("cancelled", Boolean, nullable=False),
)

# A published version of the ISP block list, with its signed manifest.
blocklist_version = Table(
    "blocklist_version",
    metadata,
    Column("id", Id, primary_key=True),
    Column("version", Integer, nullable=False, unique=True),
    Column("published_at", UtcDateTime, nullable=False),
    Column("published_by", Id, ForeignKey("app_user.id"), nullable=True),
    # [{"kind": "url"|"domain", "value": ..., "url_ids": [...]}], sorted.
    Column("entries", JSON, nullable=False),
    Column("list_sha256", String(64), nullable=False),
    Column("manifest", JSON, nullable=False),
    Column("signature", String(128), nullable=False),
    Column("key_id", String(16), nullable=False),
)

# An appeal by the owner of a listed or noticed URL; every party that acted is told.
blocklist_appeal = Table(
    "blocklist_appeal",
    metadata,
    Column("id", Id, primary_key=True),
    Column("entry", Text, nullable=False),
    Column("url_ids", JSON, nullable=False),
    Column("contact", String(320), nullable=False),
    Column("message", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("notice_ids", JSON, nullable=False),
)

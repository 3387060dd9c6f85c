"""Tables of the crawler: crawl schedules, captures, media sightings, indicators and evidence.

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes
it. A capture is derived from the reports that led to it (``capture_report``): it carries the
strictest of their markings and is readable only by members who may read every one of them.
Media sightings, indicators and evidence are parts of their capture and are read through it.
No column ever holds media bytes: pictures are represented by their hashes only, and the
evidence record holds page text with inline pictures replaced by their hashes.
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
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cordon.store.tables import TLP_VALUES, metadata
from cordon.store.types import Id, UtcDateTime

CAPTURE_OUTCOMES = "('live','gone','failed','blocked')"
SCHEDULE_STATES = "('new','live','gone','failed','blocked')"
CRAWL_REASONS = "('first','verify','periodic','retry','referrer','manual')"

# When and why each URL is crawled next, and what it was last found to be. The work item of the
# ``crawl`` stage carries the time; this row carries the reason and the URL's life: when it was
# last seen live and since when it is gone (what time-to-removal metrics read).
crawl_schedule = Table(
    "crawl_schedule",
    metadata,
    Column("url_id", Id, ForeignKey("url.id"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("crawls", Integer, nullable=False),
    Column("depth", Integer, nullable=False),
    Column("next_reason", String(16), nullable=False),
    Column("next_crawl_at", UtcDateTime, nullable=True),
    Column("last_capture_id", Id, nullable=True),
    Column("last_crawled_at", UtcDateTime, nullable=True),
    Column("first_live_at", UtcDateTime, nullable=True),
    Column("last_live_at", UtcDateTime, nullable=True),
    Column("gone_since", UtcDateTime, nullable=True),
    Column("gone_reason", String(64), nullable=True),
    CheckConstraint(f"state IN {SCHEDULE_STATES}", name="state"),
    CheckConstraint(f"next_reason IN {CRAWL_REASONS}", name="next_reason"),
    Index("ix_crawl_schedule_state", "state"),
)

capture = Table(
    "capture",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False),
    # The URL's n-th crawl: unique with url_id, so that one crawl is never stored twice.
    Column("seq", Integer, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("outcome_reason", Text, nullable=True),
    Column("requested_url", Text, nullable=False),
    Column("final_url", Text, nullable=True),
    Column("final_host", String(255), nullable=True),
    Column("status", Integer, nullable=True),
    Column("http_version", String(16), nullable=True),
    # The address the page was actually fetched from (after pinning), for attribution.
    Column("connected_address", String(45), nullable=True),
    Column("connected_port", Integer, nullable=True),
    Column("resolver", String(255), nullable=False),
    Column("egress_profile", String(64), nullable=True),
    Column("egress_proxy", String(255), nullable=True),
    Column("resolved", JSON, nullable=False),
    Column("redirects", JSON, nullable=False),
    Column("tls", JSON, nullable=True),
    Column("headers", JSON, nullable=False),
    Column("timings", JSON, nullable=False),
    Column("content_type", String(255), nullable=True),
    Column("page_bytes", Integer, nullable=True),
    Column("page_sha256", LargeBinary(32), nullable=True),
    Column("budget", JSON, nullable=False),
    Column("cloaking", Boolean, nullable=False),
    Column("cloaking_detail", JSON, nullable=False),
    Column("template_fingerprint", String(64), nullable=True),
    Column("media_count", Integer, nullable=False),
    Column("indicator_count", Integer, nullable=False),
    Column("fetcher_version", String(64), nullable=False),
    UniqueConstraint("url_id", "seq", name="uq_capture_url_seq"),
    CheckConstraint(f"outcome IN {CAPTURE_OUTCOMES}", name="outcome"),
    CheckConstraint(f"reason IN {CRAWL_REASONS}", name="reason"),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
    Index("ix_capture_url_started", "url_id", "started_at"),
    Index("ix_capture_finished", "finished_at"),
)

# The reports a capture was derived from: its marking and its readers come from them.
capture_report = Table(
    "capture_report",
    metadata,
    Column("capture_id", Id, ForeignKey("capture.id"), primary_key=True),
    Column("report_id", Id, ForeignKey("report.id"), primary_key=True),
    Index("ix_capture_report_report", "report_id"),
)

# One picture seen by one capture: its hashes, never its bytes. The ``match`` stage compares
# them with the banks (subject: the capture).
media_sighting = Table(
    "media_sighting",
    metadata,
    Column("id", Id, primary_key=True),
    Column("capture_id", Id, ForeignKey("capture.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("url", Text, nullable=False),
    Column("embed", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("http_status", Integer, nullable=True),
    Column("fetched_address", String(45), nullable=True),
    Column("declared_type", String(100), nullable=True),
    Column("sniffed_type", String(32), nullable=True),
    Column("bytes", Integer, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("pdq", String(64), nullable=True),
    Column("pdq_quality", Integer, nullable=True),
    # Dihedral and border-trimmed PDQ hashes ({name: hex}), for matching rotated, flipped and
    # bordered copies.
    Column("pdq_variants", JSON, nullable=False),
    Column("md5", String(32), nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("variants_seen", JSON, nullable=False),
    UniqueConstraint("capture_id", "position", name="uq_media_sighting_capture_position"),
    CheckConstraint(
        "status IN ('hashed','refused','failed','budget','not_picture','skipped')", name="status"
    ),
    Index("ix_media_sighting_sha256", "sha256"),
    Index("ix_media_sighting_md5", "md5"),
    Index("ix_media_sighting_pdq", "pdq"),
)

# Indicators read from a capture's page: payment identifiers (validated), analytics and tag
# ids, contact e-mails, messenger handles, outbound links.
capture_indicator = Table(
    "capture_indicator",
    metadata,
    Column("id", Id, primary_key=True),
    Column("capture_id", Id, ForeignKey("capture.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("key", String(512), nullable=False),
    Column("value", Text, nullable=False),
    Column("detail", JSON, nullable=False),
    # Which fetches of the page showed it (``base``, ``referrer``, ``agent``).
    Column("variants_seen", JSON, nullable=False),
    UniqueConstraint("capture_id", "kind", "key", name="uq_capture_indicator_capture_kind_key"),
    Index("ix_capture_indicator_kind_key", "kind", "key"),
)

# The capture's evidence: one gzip-compressed WARC file of text records (the page as fetched
# with inline pictures replaced by their hashes, and a metadata record per picture carrying only
# its hashes).
capture_evidence = Table(
    "capture_evidence",
    metadata,
    Column("capture_id", Id, ForeignKey("capture.id"), primary_key=True),
    Column("format", String(32), nullable=False),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("warc", LargeBinary, nullable=False),
)

# Links from captured pages to URLs. ``queued`` links were put on the crawl queue (the URL's
# captures then derive from the linking capture's reports); links from other sites also give
# the URL a referrer for its cloaking probe.
crawl_link = Table(
    "crawl_link",
    metadata,
    Column("id", Id, primary_key=True),
    Column("from_capture_id", Id, ForeignKey("capture.id"), nullable=False),
    Column("to_url_id", Id, ForeignKey("url.id"), nullable=False),
    Column("queued", Boolean, nullable=False),
    # A link from a page of another registrable domain: what a referrer-gated page expects.
    Column("cross_site", Boolean, nullable=False),
    UniqueConstraint("from_capture_id", "to_url_id", name="uq_crawl_link_from_to"),
    Index("ix_crawl_link_to", "to_url_id"),
)

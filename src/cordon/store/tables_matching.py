"""Tables of matching: sightings of hashes and their matches against bank entries.

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes it.

A sighting is one hash seen once: from a crawled picture (``source = 'capture'``: one row per
signal type of the picture's ``media_sighting``) or from a match call (``source = 'api'``, owned
by the caller's organisation with the TLP marking the caller gave). A capture's sightings are read
through their capture; an API sighting is a shared record of kind ``sighting``. A match links a
sighting to a bank entry; it may be read by those who may read both its sighting and its bank.
No column holds media: only hashes.
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

from cordon.store import tables_banks as _banks  # noqa: F401  # bank_entry, which matches refer to
from cordon.store.tables import TLP_VALUES, metadata
from cordon.store.types import Id, UtcDateTime

SIGHTING_SOURCES = "('capture','api')"
MATCH_STATUSES = "('active','suppressed','quarantined')"
REFERENCE_STATES = "('not_needed','computed','failed')"

sighting = Table(
    "sighting",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source", String(16), nullable=False),
    # Where a crawled picture was seen (source 'capture').
    Column("media_sighting_id", Id, ForeignKey("media_sighting.id"), nullable=True),
    Column("capture_id", Id, ForeignKey("capture.id"), nullable=True),
    Column("url_id", Id, ForeignKey("url.id"), nullable=True),
    # Who sent it (source 'api'): the caller's organisation and user, and the caller's marking.
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=True),
    Column("user_id", Id, ForeignKey("app_user.id"), nullable=True),
    Column("tlp", String(16), nullable=False),
    Column("signal_type", String(32), nullable=False),
    Column("signal", String(128), nullable=False),
    Column("quality", Integer, nullable=True),
    # Dihedral and border-trimmed PDQ hashes of the same picture ({name: hex}).
    Column("variants", JSON, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("media_sighting_id", "signal_type", name="uq_sighting_media_signal_type"),
    CheckConstraint(f"source IN {SIGHTING_SOURCES}", name="source"),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
    CheckConstraint(
        "(source = 'capture') = (capture_id IS NOT NULL)", name="capture_source_has_capture"
    ),
    CheckConstraint("(source = 'api') = (org_id IS NOT NULL)", name="api_source_has_org"),
    Index("ix_sighting_signal", "signal_type", "signal"),
    Index("ix_sighting_capture", "capture_id"),
    Index("ix_sighting_type_id", "signal_type", "id"),
)

sighting_match = Table(
    "sighting_match",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sighting_id", Id, ForeignKey("sighting.id"), nullable=False),
    Column("entry_id", Id, ForeignKey("bank_entry.id"), nullable=False),
    Column("bank_id", Id, ForeignKey("bank.id"), nullable=False),
    Column("signal_type", String(32), nullable=False),
    Column("distance", Integer, nullable=False),
    # Which hash of the sighting matched: 'original', a dihedral name, 'trimmed' or
    # 'trimmed/<dihedral name>'.
    Column("variant", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("retroactive", Boolean, nullable=False),
    Column("classification", String(16), nullable=True),
    Column("matched_at", UtcDateTime, nullable=False),
    # The reference-path PDQ hash of the matched picture, computed from a fresh fetch.
    Column("reference_state", String(16), nullable=False),
    Column("reference_pdq", String(64), nullable=True),
    Column("reference_quality", Integer, nullable=True),
    Column("reference_error", Text, nullable=True),
    # Whether this match confirmed its URL (money.sightings.mark_url_confirmed).
    Column("confirmed", Boolean, nullable=False),
    UniqueConstraint("sighting_id", "entry_id", name="uq_sighting_match_sighting_entry"),
    CheckConstraint(f"status IN {MATCH_STATUSES}", name="status"),
    CheckConstraint(f"reference_state IN {REFERENCE_STATES}", name="reference_state"),
    Index("ix_sighting_match_entry_at", "entry_id", "matched_at"),
    Index("ix_sighting_match_bank", "bank_id"),
)

__all__ = ["metadata", "sighting", "sighting_match"]

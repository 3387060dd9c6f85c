"""Tables of hash lists (banks), their entries, opinions and change log.

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes it.

A bank is a shared record (owner organisation ``org_id`` and a TLP marking, read through
``cordon.store.access.visible`` as kind ``bank``); its entries and their opinions are readable
exactly by those who may read the bank. Every change to entries or to a bank's matching settings
writes rows to ``bank_change`` in the same transaction: a gap-free sequence in commit order (handed
out under the row lock of ``bank_head``, as the audit log's ``audit_head`` does) from which match
indexes refresh incrementally. A change row covers an inclusive range of entry ids, so an import
of a million entries is one or a few rows.
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

from cordon.store.tables import TLP_VALUES, metadata
from cordon.store.types import Id, UtcDateTime

CLASSIFICATIONS = "('baseline','A1','A2','B1','B2')"
ENTRY_CATEGORIES = "('positive','negative','disputed','investigation_seed')"
CHANGE_OPS = "('add','disable','enable','quarantine','release','delete_bank','update_bank')"

bank = Table(
    "bank",
    metadata,
    Column("id", Id, primary_key=True),
    # HMA's bank names: upper-case words, digits and underscores, starting with a letter.
    Column("name", String(64), nullable=False, unique=True),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("signal_types", JSON, nullable=False),
    Column("pdq_threshold", Integer, nullable=False, default=31),
    # A negative bank lists known false positives: a match against it suppresses matches of the
    # same signal in other banks.
    Column("negative", Boolean, nullable=False, default=False),
    Column("default_classification", String(16), nullable=True),
    Column("match_dihedral", Boolean, nullable=False, default=False),
    Column("match_trimmed", Boolean, nullable=False, default=False),
    Column("match_low_quality", Boolean, nullable=False, default=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_by", Id, ForeignKey("app_user.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
    CheckConstraint("pdq_threshold >= 0 AND pdq_threshold <= 256", name="pdq_threshold"),
    CheckConstraint(
        f"default_classification IS NULL OR default_classification IN {CLASSIFICATIONS}",
        name="default_classification",
    ),
    Index("ix_bank_org", "org_id"),
)

bank_entry = Table(
    "bank_entry",
    metadata,
    Column("id", Id, primary_key=True),
    Column("bank_id", Id, ForeignKey("bank.id"), nullable=False),
    Column("signal_type", String(32), nullable=False),
    # Normalised by the signal type: lowercase hexadecimal.
    Column("signal", String(128), nullable=False),
    Column("classification", String(16), nullable=True),
    Column("category", String(24), nullable=False),
    Column("source", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("added_by_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("quarantined_at", UtcDateTime, nullable=True),
    Column("quarantine_reason", Text, nullable=True),
    UniqueConstraint("bank_id", "signal_type", "signal", name="uq_bank_entry_signal"),
    CheckConstraint(
        f"classification IS NULL OR classification IN {CLASSIFICATIONS}", name="classification"
    ),
    CheckConstraint(f"category IN {ENTRY_CATEGORIES}", name="category"),
    Index("ix_bank_entry_signal", "signal_type", "signal"),
    Index("ix_bank_entry_bank", "bank_id", "id"),
)

bank_entry_opinion = Table(
    "bank_entry_opinion",
    metadata,
    Column("id", Id, primary_key=True),
    Column("entry_id", Id, ForeignKey("bank_entry.id"), nullable=False),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("opinion", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("by_user_id", Id, ForeignKey("app_user.id"), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    # One opinion per organisation and entry: a new one replaces the old.
    UniqueConstraint("entry_id", "org_id", name="uq_bank_entry_opinion_entry_org"),
    CheckConstraint("opinion IN ('confirm','dispute')", name="opinion"),
)

bank_head = Table(
    "bank_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    # The newest change's seq; its row lock hands out gap-free sequence numbers.
    Column("last_seq", Id, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

bank_change = Table(
    "bank_change",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("bank_id", Id, ForeignKey("bank.id"), nullable=False),
    Column("op", String(16), nullable=False),
    # Inclusive range of entry ids; both NULL for changes of the bank itself.
    Column("entry_id_from", Id, nullable=True),
    Column("entry_id_to", Id, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    CheckConstraint(f"op IN {CHANGE_OPS}", name="op"),
    CheckConstraint("(entry_id_from IS NULL) = (entry_id_to IS NULL)", name="range"),
    Index("ix_bank_change_bank", "bank_id", "seq"),
)

__all__ = ["bank", "bank_change", "bank_entry", "bank_entry_opinion", "bank_head", "metadata"]

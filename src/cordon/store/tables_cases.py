"""Tables of cases, their participants and notes, and deconfliction hits.

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes it.
A case is a shared record (owner organisation, TLP); its participant organisations are its
members. Its subjects are entities as normalised ``(kind, key)`` pairs, the same keys the rest
of Cordon stores (registrable domains, canonical URLs, payment identifier keys, hashes), so that
two cases touching one entity meet on equal keys.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cordon.store.tables import TLP_VALUES, metadata
from cordon.store.types import Id, UtcDateTime

CASE_STATUSES = "('open','suspended','closed')"

# ``case`` is an SQL keyword; the record is a case file.
case_file = Table(
    "case_file",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("opened_by", Id, ForeignKey("app_user.id"), nullable=False),
    Column("title", String(300), nullable=False),
    # The owner's own reference (a file number), shown to its members only.
    Column("reference", String(200), nullable=True),
    Column("status", String(16), nullable=False),
    Column("tlp", String(16), nullable=False),
    # Whom other organisations contact about the case: what a deconfliction hit reveals.
    Column("contact", String(320), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    CheckConstraint(f"status IN {CASE_STATUSES}", name="status"),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
    Index("ix_case_file_owner_status", "owner_org_id", "status"),
)

# The organisations taking part in a case; the owner is one of them.
case_participant = Table(
    "case_participant",
    metadata,
    Column("case_id", Id, ForeignKey("case_file.id"), primary_key=True),
    Column("org_id", Id, ForeignKey("organisation.id"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("added_by", Id, ForeignKey("app_user.id"), nullable=True),
    CheckConstraint("role IN ('owner','participant')", name="role"),
    Index("ix_case_participant_org", "org_id"),
)

case_note = Table(
    "case_note",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", Id, ForeignKey("case_file.id"), nullable=False),
    Column("author_user_id", Id, ForeignKey("app_user.id"), nullable=False),
    Column("author_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_case_note_case", "case_id", "created_at"),
)

# What a case is about: a network, sites, URLs or identifiers, each as a normalised entity.
case_subject = Table(
    "case_subject",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", Id, ForeignKey("case_file.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("key", String(512), nullable=False),
    # As the member typed it, for display.
    Column("value", String(2048), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("added_by", Id, ForeignKey("app_user.id"), nullable=True),
    UniqueConstraint("case_id", "kind", "key", name="uq_case_subject_case_kind_key"),
    Index("ix_case_subject_kind_key", "kind", "key"),
)

# Two open cases of different organisations touching the same entities. One row per pair of
# cases and set of entities first found shared together; both owners were told once.
deconfliction_hit = Table(
    "deconfliction_hit",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_a_id", Id, ForeignKey("case_file.id"), nullable=False),
    Column("case_b_id", Id, ForeignKey("case_file.id"), nullable=False),
    Column("org_a_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("org_b_id", Id, ForeignKey("organisation.id"), nullable=False),
    # [[kind, key], ...], sorted: the entities both cases hold.
    Column("entities", JSON, nullable=False),
    # SHA-256 of the sorted entities: what makes a hit unique within its pair of cases.
    Column("entity_digest", String(64), nullable=False),
    Column("kinds", JSON, nullable=False),
    # Which case's change found it.
    Column("found_by_case_id", Id, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint(
        "case_a_id", "case_b_id", "entity_digest", name="uq_deconfliction_hit_pair_entities"
    ),
    CheckConstraint("case_a_id < case_b_id", name="ordered"),
    Index("ix_deconfliction_hit_org_a", "org_a_id"),
    Index("ix_deconfliction_hit_org_b", "org_b_id"),
    Index("ix_deconfliction_hit_case_b", "case_b_id"),
)

__all__ = [
    "case_file",
    "case_note",
    "case_participant",
    "case_subject",
    "deconfliction_hit",
    "metadata",
]

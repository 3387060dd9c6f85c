"""Tables of the entity graph and the networks found in it.

They join the one ``metadata`` of :mod:`cordon.store.tables`; importing this module completes it.

The graph is derived: every edge names the record that proves it (a capture, an attribution, a
payment sighting) and is readable only by those who may read that record. A node is readable when
at least one of its edges is. A network ("brand") is a set of site nodes that share telling
identifiers; it keeps its id while it grows, and a merge or split is recorded as an event.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from cordon.store.tables import TLP_VALUES, metadata
from cordon.store.types import Id, UtcDateTime

NODE_KINDS = (
    "('site','url','ip','asn','provider','registrar','cdn','media_pdq','media_md5',"
    "'media_sha256','bank_entry','payment','analytics','email','messenger','template')"
)
PROOF_KINDS = "('capture','attribution','payment_sighting','sighting_match')"
NETWORK_STATUSES = "('active','merged','dissolved')"
NETWORK_EVENT_KINDS = "('created','grew','shrank','merged','split','hop','reappeared')"

# One entity: a site (registrable domain), a URL, an address, an identifier, a media hash.
# ``key`` is its normalised form (the form two sightings share); ``ref_id`` the id of the row it
# stands for in its own table, where there is one (url.id, payment_identifier.id).
graph_node = Table(
    "graph_node",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("key", String(512), nullable=False),
    Column("label", String(512), nullable=True),
    Column("ref_id", Id, nullable=True),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    UniqueConstraint("kind", "key", name="uq_graph_node_kind_key"),
    CheckConstraint(f"kind IN {NODE_KINDS}", name="kind"),
)

# One observed link between two entities, e.g. a site that shows a wallet. One row per link and
# per *scope* of access: ``scope`` is ``url:<id>`` for links read from a URL's captures or
# attributions (whose readers are decided by the reports naming that URL) and
# ``<proof_kind>:<id>`` for records with a marking of their own. ``proof_kind``/``proof_id`` name
# the first record that proved it (what the access policy checks); ``last_proof_id`` the latest.
graph_edge = Table(
    "graph_edge",
    metadata,
    Column("id", Id, primary_key=True),
    Column("src_id", Id, ForeignKey("graph_node.id"), nullable=False),
    Column("dst_id", Id, ForeignKey("graph_node.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("weight", Float, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("proof_kind", String(24), nullable=False),
    Column("proof_id", Id, nullable=False),
    Column("last_proof_id", Id, nullable=False),
    Column("scope", String(64), nullable=False),
    # The URL whose reports decide who may read URL-derived proofs.
    Column("url_id", Id, ForeignKey("url.id"), nullable=True),
    # The organisation that contributed the proving record (a report's owner, a purchaser).
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=True),
    # The strictest marking of the proving record when the edge was recorded (informational: the
    # access policy is always asked about the record itself).
    Column("tlp", String(16), nullable=True),
    UniqueConstraint("src_id", "dst_id", "kind", "scope", name="uq_graph_edge_link_scope"),
    CheckConstraint(f"proof_kind IN {PROOF_KINDS}", name="proof_kind"),
    CheckConstraint(f"tlp IS NULL OR tlp IN {TLP_VALUES}", name="tlp"),
    Index("ix_graph_edge_src", "src_id"),
    Index("ix_graph_edge_dst", "dst_id"),
    Index("ix_graph_edge_proof", "proof_kind", "proof_id"),
)

# How far incremental ingest has read each source table (the highest id ingested).
graph_checkpoint = Table(
    "graph_checkpoint",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("last_id", Id, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

network = Table(
    "network",
    metadata,
    Column("id", Id, primary_key=True),
    Column("label", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("merged_into", Id, ForeignKey("network.id"), nullable=True),
    Column("score", Float, nullable=False),
    # [{"factor": ..., "value": ..., "points": ..., "why": ...}], beside the number.
    Column("score_reasons", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("size", Integer, nullable=False),
    # Earliest and latest sighting of any member.
    Column("first_seen", UtcDateTime, nullable=True),
    Column("last_seen", UtcDateTime, nullable=True),
    CheckConstraint(f"status IN {NETWORK_STATUSES}", name="status"),
    Index("ix_network_status_score", "status", "score"),
)

# A site node's membership of a network; ``until`` is set when it leaves (split, merge).
network_member = Table(
    "network_member",
    metadata,
    Column("id", Id, primary_key=True),
    Column("network_id", Id, ForeignKey("network.id"), nullable=False),
    Column("node_id", Id, ForeignKey("graph_node.id"), nullable=False),
    Column("since", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=True),
    Index("ix_network_member_network", "network_id", "until"),
    Index("ix_network_member_node", "node_id", "until"),
)

network_event = Table(
    "network_event",
    metadata,
    Column("id", Id, primary_key=True),
    Column("network_id", Id, ForeignKey("network.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("other_network_id", Id, ForeignKey("network.id"), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("details", JSON, nullable=False),
    CheckConstraint(f"kind IN {NETWORK_EVENT_KINDS}", name="kind"),
    Index("ix_network_event_network_at", "network_id", "at"),
)

__all__ = [
    "graph_checkpoint",
    "graph_edge",
    "graph_node",
    "metadata",
    "network",
    "network_event",
    "network_member",
]

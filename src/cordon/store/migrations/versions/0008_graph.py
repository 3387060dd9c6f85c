"""graph: entity graph and networks

Revision ID: 0008_graph
Revises: 0007_matching
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0008_graph"
down_revision = "0007_matching"
branch_labels = None
depends_on = None

_NODE_KINDS = (
    "kind IN ('site','url','ip','asn','provider','registrar','cdn','media_pdq','media_md5',"
    "'media_sha256','bank_entry','payment','analytics','email','messenger','template')"
)
_TLP = "('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')"


def upgrade() -> None:
    op.create_table(
        "graph_node",
        sa.Column("id", Id, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("label", sa.String(length=512), nullable=True),
        sa.Column("ref_id", Id, nullable=True),
        sa.Column("first_seen", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_NODE_KINDS, name=op.f("ck_graph_node_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_node")),
        sa.UniqueConstraint("kind", "key", name="uq_graph_node_kind_key"),
    )
    op.create_table(
        "graph_edge",
        sa.Column("id", Id, nullable=False),
        sa.Column("src_id", Id, nullable=False),
        sa.Column("dst_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("first_seen", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", UtcDateTime(timezone=True), nullable=False),
        sa.Column("proof_kind", sa.String(length=24), nullable=False),
        sa.Column("proof_id", Id, nullable=False),
        sa.Column("last_proof_id", Id, nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("url_id", Id, nullable=True),
        sa.Column("org_id", Id, nullable=True),
        sa.Column("tlp", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "proof_kind IN ('capture','attribution','payment_sighting','sighting_match')",
            name=op.f("ck_graph_edge_proof_kind"),
        ),
        sa.CheckConstraint(f"tlp IS NULL OR tlp IN {_TLP}", name=op.f("ck_graph_edge_tlp")),
        sa.ForeignKeyConstraint(
            ["src_id"], ["graph_node.id"], name=op.f("fk_graph_edge_src_id_graph_node")
        ),
        sa.ForeignKeyConstraint(
            ["dst_id"], ["graph_node.id"], name=op.f("fk_graph_edge_dst_id_graph_node")
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_graph_edge_url_id_url")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_graph_edge_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_edge")),
        sa.UniqueConstraint("src_id", "dst_id", "kind", "scope", name="uq_graph_edge_link_scope"),
    )
    op.create_index("ix_graph_edge_src", "graph_edge", ["src_id"], unique=False)
    op.create_index("ix_graph_edge_dst", "graph_edge", ["dst_id"], unique=False)
    op.create_index("ix_graph_edge_proof", "graph_edge", ["proof_kind", "proof_id"], unique=False)

    op.create_table(
        "graph_checkpoint",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_id", Id, nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_graph_checkpoint")),
    )

    op.create_table(
        "network",
        sa.Column("id", Id, nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("merged_into", Id, nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("score_reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_seen", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_seen", UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active','merged','dissolved')", name=op.f("ck_network_status")
        ),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["network.id"], name=op.f("fk_network_merged_into_network")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network")),
    )
    op.create_index("ix_network_status_score", "network", ["status", "score"], unique=False)

    op.create_table(
        "network_member",
        sa.Column("id", Id, nullable=False),
        sa.Column("network_id", Id, nullable=False),
        sa.Column("node_id", Id, nullable=False),
        sa.Column("since", UtcDateTime(timezone=True), nullable=False),
        sa.Column("until", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"], ["network.id"], name=op.f("fk_network_member_network_id_network")
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["graph_node.id"], name=op.f("fk_network_member_node_id_graph_node")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_member")),
    )
    op.create_index(
        "ix_network_member_network", "network_member", ["network_id", "until"], unique=False
    )
    op.create_index("ix_network_member_node", "network_member", ["node_id", "until"], unique=False)

    op.create_table(
        "network_event",
        sa.Column("id", Id, nullable=False),
        sa.Column("network_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("other_network_id", Id, nullable=True),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('created','grew','shrank','merged','split','hop','reappeared')",
            name=op.f("ck_network_event_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["network.id"], name=op.f("fk_network_event_network_id_network")
        ),
        sa.ForeignKeyConstraint(
            ["other_network_id"],
            ["network.id"],
            name=op.f("fk_network_event_other_network_id_network"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_event")),
    )
    op.create_index(
        "ix_network_event_network_at", "network_event", ["network_id", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_network_event_network_at", table_name="network_event")
    op.drop_table("network_event")
    op.drop_index("ix_network_member_node", table_name="network_member")
    op.drop_index("ix_network_member_network", table_name="network_member")
    op.drop_table("network_member")
    op.drop_index("ix_network_status_score", table_name="network")
    op.drop_table("network")
    op.drop_table("graph_checkpoint")
    op.drop_index("ix_graph_edge_proof", table_name="graph_edge")
    op.drop_index("ix_graph_edge_dst", table_name="graph_edge")
    op.drop_index("ix_graph_edge_src", table_name="graph_edge")
    op.drop_table("graph_edge")
    op.drop_table("graph_node")

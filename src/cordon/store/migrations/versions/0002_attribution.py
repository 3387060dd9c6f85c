"""attribution: hosting observations, hops, jurisdiction coverage and routes

Revision ID: 0002_attribution
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0002_attribution"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution",
        sa.Column("id", Id, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("registrable_domain", sa.String(length=255), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("capture_id", Id, nullable=True),
        sa.Column("observed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.Column("asn", Id, nullable=True),
        sa.Column("as_org", sa.String(length=255), nullable=True),
        sa.Column("prefix", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("provider", sa.String(length=255), nullable=True),
        sa.Column("abuse_email", sa.String(length=320), nullable=True),
        sa.Column("cdn", sa.String(length=64), nullable=True),
        sa.Column("origin_status", sa.String(length=16), nullable=False),
        sa.Column("origin_address", sa.String(length=45), nullable=True),
        sa.Column("origin_provider", sa.String(length=255), nullable=True),
        sa.Column("origin_country", sa.String(length=2), nullable=True),
        sa.Column("registrar", sa.String(length=255), nullable=True),
        sa.Column("registrar_iana_id", sa.Integer(), nullable=True),
        sa.Column("registrar_abuse_email", sa.String(length=320), nullable=True),
        sa.Column("registrar_country", sa.String(length=2), nullable=True),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.CheckConstraint("basis IN ('dns','connection')", name=op.f("ck_attribution_basis")),
        sa.CheckConstraint(
            "origin_status IN ('direct','unknown','candidate','confirmed')",
            name=op.f("ck_attribution_origin_status"),
        ),
        sa.CheckConstraint(
            "status IN ('complete','partial','failed')", name=op.f("ck_attribution_status")
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_attribution_url_id_url")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution")),
    )
    op.create_index("ix_attribution_url_observed", "attribution", ["url_id", "observed_at"])
    op.create_index("ix_attribution_asn", "attribution", ["asn"])
    op.create_index("ix_attribution_country", "attribution", ["country"])

    op.create_table(
        "attribution_hop",
        sa.Column("id", Id, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("from_attribution_id", Id, nullable=False),
        sa.Column("to_attribution_id", Id, nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("old_host", sa.String(length=255), nullable=False),
        sa.Column("new_host", sa.String(length=255), nullable=False),
        sa.Column("old_provider", sa.String(length=255), nullable=True),
        sa.Column("new_provider", sa.String(length=255), nullable=True),
        sa.Column("old_asn", Id, nullable=True),
        sa.Column("new_asn", Id, nullable=True),
        sa.Column("old_country", sa.String(length=2), nullable=True),
        sa.Column("new_country", sa.String(length=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_attribution_id"],
            ["attribution.id"],
            name=op.f("fk_attribution_hop_from_attribution_id_attribution"),
        ),
        sa.ForeignKeyConstraint(
            ["to_attribution_id"],
            ["attribution.id"],
            name=op.f("fk_attribution_hop_to_attribution_id_attribution"),
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_attribution_hop_url_id_url")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_hop")),
        sa.UniqueConstraint("to_attribution_id", name=op.f("uq_attribution_hop_to_attribution_id")),
    )
    op.create_index("ix_attribution_hop_url_at", "attribution_hop", ["url_id", "at"])
    op.create_index("ix_attribution_hop_at", "attribution_hop", ["at"])

    op.create_table(
        "jurisdiction_coverage",
        sa.Column("org_id", Id, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisation.id"],
            name=op.f("fk_jurisdiction_coverage_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("org_id", "country", name=op.f("pk_jurisdiction_coverage")),
    )

    op.create_table(
        "jurisdiction_route",
        sa.Column("id", Id, nullable=False),
        sa.Column("attribution_id", Id, nullable=False),
        sa.Column("org_id", Id, nullable=False),
        sa.Column("org_type", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attribution_id"],
            ["attribution.id"],
            name=op.f("fk_jurisdiction_route_attribution_id_attribution"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_jurisdiction_route_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jurisdiction_route")),
        sa.UniqueConstraint(
            "attribution_id", "org_id", name="uq_jurisdiction_route_attribution_org"
        ),
    )
    op.create_index(
        "ix_jurisdiction_route_attribution_id", "jurisdiction_route", ["attribution_id"]
    )
    op.create_index("ix_jurisdiction_route_org_id", "jurisdiction_route", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_jurisdiction_route_org_id", table_name="jurisdiction_route")
    op.drop_index("ix_jurisdiction_route_attribution_id", table_name="jurisdiction_route")
    op.drop_table("jurisdiction_route")
    op.drop_table("jurisdiction_coverage")
    op.drop_index("ix_attribution_hop_at", table_name="attribution_hop")
    op.drop_index("ix_attribution_hop_url_at", table_name="attribution_hop")
    op.drop_table("attribution_hop")
    op.drop_index("ix_attribution_country", table_name="attribution")
    op.drop_index("ix_attribution_asn", table_name="attribution")
    op.drop_index("ix_attribution_url_observed", table_name="attribution")
    op.drop_table("attribution")

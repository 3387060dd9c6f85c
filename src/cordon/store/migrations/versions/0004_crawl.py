"""crawl: schedules, captures, media sightings, indicators, evidence, links

Revision ID: 0004_crawl
Revises: 0003_money
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cordon.store.types import Id, UtcDateTime

revision = "0004_crawl"
down_revision = "0003_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture",
        sa.Column("id", Id, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("requested_url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("final_host", sa.String(length=255), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("http_version", sa.String(length=16), nullable=True),
        sa.Column("connected_address", sa.String(length=45), nullable=True),
        sa.Column("connected_port", sa.Integer(), nullable=True),
        sa.Column("resolver", sa.String(length=255), nullable=False),
        sa.Column("egress_profile", sa.String(length=64), nullable=True),
        sa.Column("egress_proxy", sa.String(length=255), nullable=True),
        sa.Column("resolved", sa.JSON(), nullable=False),
        sa.Column("redirects", sa.JSON(), nullable=False),
        sa.Column("tls", sa.JSON(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("page_bytes", sa.Integer(), nullable=True),
        sa.Column("page_sha256", sa.LargeBinary(length=32), nullable=True),
        sa.Column("budget", sa.JSON(), nullable=False),
        sa.Column("cloaking", sa.Boolean(), nullable=False),
        sa.Column("cloaking_detail", sa.JSON(), nullable=False),
        sa.Column("template_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("media_count", sa.Integer(), nullable=False),
        sa.Column("indicator_count", sa.Integer(), nullable=False),
        sa.Column("fetcher_version", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('live','gone','failed','blocked')", name=op.f("ck_capture_outcome")
        ),
        sa.CheckConstraint(
            "reason IN ('first','verify','periodic','retry','referrer','manual')",
            name=op.f("ck_capture_reason"),
        ),
        sa.CheckConstraint(
            "tlp IN ('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')", name=op.f("ck_capture_tlp")
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_capture_url_id_url")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture")),
        sa.UniqueConstraint("url_id", "seq", name="uq_capture_url_seq"),
    )
    op.create_index("ix_capture_finished", "capture", ["finished_at"], unique=False)
    op.create_index("ix_capture_url_started", "capture", ["url_id", "started_at"], unique=False)

    op.create_table(
        "crawl_schedule",
        sa.Column("url_id", Id, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("crawls", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("next_reason", sa.String(length=16), nullable=False),
        sa.Column("next_crawl_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_capture_id", Id, nullable=True),
        sa.Column("last_crawled_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("first_live_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_live_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("gone_since", UtcDateTime(timezone=True), nullable=True),
        sa.Column("gone_reason", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "next_reason IN ('first','verify','periodic','retry','referrer','manual')",
            name=op.f("ck_crawl_schedule_next_reason"),
        ),
        sa.CheckConstraint(
            "state IN ('new','live','gone','failed','blocked')",
            name=op.f("ck_crawl_schedule_state"),
        ),
        sa.ForeignKeyConstraint(["url_id"], ["url.id"], name=op.f("fk_crawl_schedule_url_id_url")),
        sa.PrimaryKeyConstraint("url_id", name=op.f("pk_crawl_schedule")),
    )
    op.create_index("ix_crawl_schedule_state", "crawl_schedule", ["state"], unique=False)

    op.create_table(
        "capture_evidence",
        sa.Column("capture_id", Id, nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("warc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["capture.id"], name=op.f("fk_capture_evidence_capture_id_capture")
        ),
        sa.PrimaryKeyConstraint("capture_id", name=op.f("pk_capture_evidence")),
    )
    op.create_table(
        "capture_indicator",
        sa.Column("id", Id, nullable=False),
        sa.Column("capture_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("variants_seen", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["capture.id"], name=op.f("fk_capture_indicator_capture_id_capture")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_indicator")),
        sa.UniqueConstraint(
            "capture_id", "kind", "key", name="uq_capture_indicator_capture_kind_key"
        ),
    )
    op.create_index(
        "ix_capture_indicator_kind_key", "capture_indicator", ["kind", "key"], unique=False
    )

    op.create_table(
        "capture_report",
        sa.Column("capture_id", Id, nullable=False),
        sa.Column("report_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["capture.id"], name=op.f("fk_capture_report_capture_id_capture")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_capture_report_report_id_report")
        ),
        sa.PrimaryKeyConstraint("capture_id", "report_id", name=op.f("pk_capture_report")),
    )
    op.create_index("ix_capture_report_report", "capture_report", ["report_id"], unique=False)

    op.create_table(
        "crawl_link",
        sa.Column("id", Id, nullable=False),
        sa.Column("from_capture_id", Id, nullable=False),
        sa.Column("to_url_id", Id, nullable=False),
        sa.Column("queued", sa.Boolean(), nullable=False),
        sa.Column("cross_site", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_capture_id"], ["capture.id"], name=op.f("fk_crawl_link_from_capture_id_capture")
        ),
        sa.ForeignKeyConstraint(
            ["to_url_id"], ["url.id"], name=op.f("fk_crawl_link_to_url_id_url")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_link")),
        sa.UniqueConstraint("from_capture_id", "to_url_id", name="uq_crawl_link_from_to"),
    )
    op.create_index("ix_crawl_link_to", "crawl_link", ["to_url_id"], unique=False)

    op.create_table(
        "media_sighting",
        sa.Column("id", Id, nullable=False),
        sa.Column("capture_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("embed", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("fetched_address", sa.String(length=45), nullable=True),
        sa.Column("declared_type", sa.String(length=100), nullable=True),
        sa.Column("sniffed_type", sa.String(length=32), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("pdq_variants", sa.JSON(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("variants_seen", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status IN ('hashed','refused','failed','budget','not_picture','skipped')",
            name=op.f("ck_media_sighting_status"),
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["capture.id"], name=op.f("fk_media_sighting_capture_id_capture")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_sighting")),
        sa.UniqueConstraint("capture_id", "position", name="uq_media_sighting_capture_position"),
    )
    op.create_index("ix_media_sighting_md5", "media_sighting", ["md5"], unique=False)
    op.create_index("ix_media_sighting_pdq", "media_sighting", ["pdq"], unique=False)
    op.create_index("ix_media_sighting_sha256", "media_sighting", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_media_sighting_sha256", table_name="media_sighting")
    op.drop_index("ix_media_sighting_pdq", table_name="media_sighting")
    op.drop_index("ix_media_sighting_md5", table_name="media_sighting")

    op.drop_table("media_sighting")
    op.drop_index("ix_crawl_link_to", table_name="crawl_link")

    op.drop_table("crawl_link")
    op.drop_index("ix_capture_report_report", table_name="capture_report")

    op.drop_table("capture_report")
    op.drop_index("ix_capture_indicator_kind_key", table_name="capture_indicator")

    op.drop_table("capture_indicator")
    op.drop_table("capture_evidence")
    op.drop_index("ix_crawl_schedule_state", table_name="crawl_schedule")

    op.drop_table("crawl_schedule")
    op.drop_index("ix_capture_url_started", table_name="capture")
    op.drop_index("ix_capture_finished", table_name="capture")

    op.drop_table("capture")

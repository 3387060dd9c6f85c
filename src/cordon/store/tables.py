"""Every table of Cordon, in SQLAlchemy Core.

Shared records carry ``owner_org_id`` and ``tlp``; who else may read them is decided only by
``cordon.store.access``. Nothing here takes a default time from the database: times come from
the application's :class:`~cordon.clock.Clock`.
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
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cordon.store.types import Id, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TLP_VALUES = "('CLEAR','GREEN','AMBER','AMBER+STRICT','RED')"

# --- partners, people, access ---------------------------------------------------------------

organisation = Table(
    "organisation",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("country", String(2), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

app_user = Table(
    "app_user",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

membership = Table(
    "membership",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("app_user.id"), nullable=False),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("user_id", "org_id", name="uq_membership_user_org"),
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", Id, primary_key=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("user_id", Id, ForeignKey("app_user.id"), nullable=False),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("last_used_at", UtcDateTime, nullable=True),
)

sharing_group = Table(
    "sharing_group",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("owner_org_id", "name", name="uq_sharing_group_owner_name"),
)

sharing_group_member = Table(
    "sharing_group_member",
    metadata,
    Column("group_id", Id, ForeignKey("sharing_group.id"), primary_key=True),
    Column("org_id", Id, ForeignKey("organisation.id"), primary_key=True),
)

# AMBER records are shared with named organisations or sharing groups; RED records with named
# users. One pair of tables serves every kind of record, keyed by (kind, record id).
record_share = Table(
    "record_share",
    metadata,
    Column("id", Id, primary_key=True),
    Column("record_kind", String(32), nullable=False),
    Column("record_id", Id, nullable=False),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=True),
    Column("group_id", Id, ForeignKey("sharing_group.id"), nullable=True),
    CheckConstraint("(org_id IS NULL) <> (group_id IS NULL)", name="one_target"),
    Index("ix_record_share_record", "record_kind", "record_id"),
)

record_red_user = Table(
    "record_red_user",
    metadata,
    Column("record_kind", String(32), primary_key=True),
    Column("record_id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("app_user.id"), primary_key=True),
)

# --- audit -------------------------------------------------------------------------------------

audit_event = Table(
    "audit_event",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("action", String(120), nullable=False),
    Column("actor_user_id", Id, nullable=True),
    Column("actor_org_id", Id, nullable=True),
    Column("token_id", String(32), nullable=True),
    Column("object_kind", String(32), nullable=True),
    Column("object_ids", JSON, nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("purpose", String(200), nullable=True),
    Column("details", JSON, nullable=False),
    # The previous event's leaf hash: the chain that shows where events were moved or inserted.
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False, unique=True),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    # The number of events; its row lock hands out gap-free sequence numbers.
    Column("size", Id, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tree_size", Id, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
)

# --- pipeline ------------------------------------------------------------------------------------

work_item = Table(
    "work_item",
    metadata,
    Column("id", Id, primary_key=True),
    Column("stage", String(64), nullable=False),
    Column("subject_kind", String(32), nullable=False),
    Column("subject_id", Id, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_run_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    UniqueConstraint("stage", "subject_kind", "subject_id", name="uq_work_item_subject"),
    CheckConstraint("state IN ('pending','leased','done','dead')", name="state"),
    Index("ix_work_item_claim", "stage", "state", "next_run_at"),
)

# --- reports and urls ----------------------------------------------------------------------------

url = Table(
    "url",
    metadata,
    Column("id", Id, primary_key=True),
    # URLs can be longer than a btree key may be; uniqueness rides on the digest.
    Column("url_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("scheme", String(8), nullable=False),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=True),
    Column("registrable_domain", String(255), nullable=False),
    Column("suffix", String(255), nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Index("ix_url_registrable_domain", "registrable_domain"),
)

report = Table(
    "report",
    metadata,
    Column("id", Id, primary_key=True),
    Column("owner_org_id", Id, ForeignKey("organisation.id"), nullable=False),
    Column("submitted_by", Id, ForeignKey("app_user.id"), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("note", Text, nullable=True),
    Column("source_ref", String(500), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_hash", LargeBinary(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("owner_org_id", "idempotency_key", name="uq_report_idempotency"),
    CheckConstraint(f"tlp IN {TLP_VALUES}", name="tlp"),
    Index("ix_report_owner_created", "owner_org_id", "created_at"),
)

report_url = Table(
    "report_url",
    metadata,
    Column("report_id", Id, ForeignKey("report.id"), primary_key=True),
    Column("url_id", Id, ForeignKey("url.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_report_url_url", "url_id"),
)

report_hash = Table(
    "report_hash",
    metadata,
    Column("id", Id, primary_key=True),
    Column("report_id", Id, ForeignKey("report.id"), nullable=False, index=True),
    Column("signal_type", String(32), nullable=False),
    Column("signal", String(128), nullable=False),
)

# --- attribution and jurisdiction ------------------------------------------------------------
# Who hosts a reported URL, who fronts it, who registered it, and whom to tell. An attribution
# is one observation of one URL's host at one time; its access is derived from the reports that
# name the URL (strictest marking, owners of those reports), so it carries no marking of its own.

ATTRIBUTION_STATUS = "('complete','partial','failed')"
ORIGIN_STATUS = "('direct','unknown','candidate','confirmed')"

attribution = Table(
    "attribution",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("registrable_domain", String(255), nullable=False),
    # 'dns': our own resolution; 'connection': the address a crawler actually connected to.
    Column("basis", String(16), nullable=False),
    Column("capture_id", Id, nullable=True),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("address", String(45), nullable=True),
    Column("asn", Id, nullable=True),
    Column("as_org", String(255), nullable=True),
    Column("prefix", String(64), nullable=True),
    Column("country", String(2), nullable=True),
    Column("provider", String(255), nullable=True),
    Column("abuse_email", String(320), nullable=True),
    Column("cdn", String(64), nullable=True),
    Column("origin_status", String(16), nullable=False),
    Column("origin_address", String(45), nullable=True),
    Column("origin_provider", String(255), nullable=True),
    Column("origin_country", String(2), nullable=True),
    Column("registrar", String(255), nullable=True),
    Column("registrar_iana_id", Integer, nullable=True),
    Column("registrar_abuse_email", String(320), nullable=True),
    Column("registrar_country", String(2), nullable=True),
    # The whole chain (DNS answers, networks, RDAP contacts, CDN evidence) and every failure.
    Column("chain", JSON, nullable=False),
    Column("failures", JSON, nullable=False),
    Column("routing", JSON, nullable=False),
    CheckConstraint(f"status IN {ATTRIBUTION_STATUS}", name="status"),
    CheckConstraint(f"origin_status IN {ORIGIN_STATUS}", name="origin_status"),
    CheckConstraint("basis IN ('dns','connection')", name="basis"),
    Index("ix_attribution_url_observed", "url_id", "observed_at"),
    Index("ix_attribution_asn", "asn"),
    Index("ix_attribution_country", "country"),
)

# A move of a URL's hosting to another provider, country, registrar or domain.
attribution_hop = Table(
    "attribution_hop",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url_id", Id, ForeignKey("url.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("from_attribution_id", Id, ForeignKey("attribution.id"), nullable=False),
    Column("to_attribution_id", Id, ForeignKey("attribution.id"), nullable=False, unique=True),
    Column("changes", JSON, nullable=False),
    Column("old_host", String(255), nullable=False),
    Column("new_host", String(255), nullable=False),
    Column("old_provider", String(255), nullable=True),
    Column("new_provider", String(255), nullable=True),
    Column("old_asn", Id, nullable=True),
    Column("new_asn", Id, nullable=True),
    Column("old_country", String(2), nullable=True),
    Column("new_country", String(2), nullable=True),
    Index("ix_attribution_hop_url_at", "url_id", "at"),
    Index("ix_attribution_hop_at", "at"),
)

# Countries a hotline or law-enforcement partner covers; none listed means its own country.
jurisdiction_coverage = Table(
    "jurisdiction_coverage",
    metadata,
    Column("org_id", Id, ForeignKey("organisation.id"), primary_key=True),
    Column("country", String(2), primary_key=True),
)

# Whom an attribution's routing decision names, and why; the notice engine sends referrals.
jurisdiction_route = Table(
    "jurisdiction_route",
    metadata,
    Column("id", Id, primary_key=True),
    Column("attribution_id", Id, ForeignKey("attribution.id"), nullable=False, index=True),
    Column("org_id", Id, ForeignKey("organisation.id"), nullable=False, index=True),
    Column("org_type", String(32), nullable=False),
    Column("country", String(2), nullable=True),
    Column("reason", Text, nullable=False),
    UniqueConstraint("attribution_id", "org_id", name="uq_jurisdiction_route_attribution_org"),
)

"""Permissions as ``resource:action`` names, and which role grants which.

Every API route declares one of these; a route without one cannot be registered. Whether a
particular *record* may be read is a separate question answered by the access policy
(``cordon.store.access``): a permission says what kind of action a member may attempt at all.
"""

from __future__ import annotations

from enum import StrEnum

from cordon.domain.partners import ADDRESSEE_ONLY_TYPES, OrgType, Role


class Permission(StrEnum):
    """What an authenticated member may attempt."""

    PUBLIC = "public:read"  # liveness and readiness: no authentication
    SELF_READ = "self:read"
    REPORT_CREATE = "report:create"
    REPORT_READ = "report:read"
    REPORT_EXPORT = "report:export"
    ORG_READ = "org:read"
    ORG_MANAGE = "org:manage"
    USER_MANAGE = "user:manage"
    TOKEN_MANAGE = "token:manage"  # noqa: S105  # a permission name
    AUDIT_READ = "audit:read"
    WORK_READ = "work:read"
    ATTRIBUTION_READ = "attribution:read"
    MONEY_READ = "money:read"
    MONEY_EXPORT = "money:export"
    MONEY_RECORD = "money:record"
    MONEY_METRICS_READ = "money_metrics:read"
    MONEY_OWNERSHIP_MANAGE = "money_ownership:manage"
    TEST_PURCHASE_CREATE = "test_purchase:create"
    DESCRIPTOR_DECIDE = "descriptor:decide"
    CRYPTO_IMPORT = "crypto_tx:import"
    NOTICE_READ = "notice:read"
    NOTICE_EXPORT = "notice:export"
    NOTICE_ANSWER = "notice:answer"
    NOTICE_ENDPOINT_MANAGE = "notice_endpoint:manage"
    CAPTURE_READ = "capture:read"
    CAPTURE_EXPORT = "capture:export"
    BANK_READ = "bank:read"
    BANK_MANAGE = "bank:manage"
    BANK_WRITE = "bank:write"
    BANK_IMPORT = "bank:import"
    BANK_EXPORT = "bank:export"
    BANK_OPINION = "bank:opinion"
    MATCH_QUERY = "match:query"
    MATCH_READ = "match:read"
    CASE_READ = "case:read"
    CASE_OPEN = "case:open"
    CASE_NOTE = "case:note"
    DECONFLICTION_READ = "deconfliction:read"
    DECONFLICTION_EXCHANGE = "deconfliction:exchange"
    SEARCH_READ = "search:read"
    SCREEN_RUN = "screen:run"
    NETWORK_READ = "network:read"
    NETWORK_EXPORT = "network:export"
    GRAPH_READ = "graph:read"
    ASSESSMENT_READ = "assessment:read"
    ASSESSMENT_CREATE = "assessment:create"
    OUTCOME_STATS_READ = "outcome_stats:read"
    BLOCKLIST_READ = "blocklist:read"
    BLOCKLIST_PUBLISH = "blocklist:publish"


_READ = frozenset(
    {
        Permission.SELF_READ,
        Permission.REPORT_READ,
        Permission.ORG_READ,
        Permission.MONEY_READ,
        Permission.MONEY_METRICS_READ,
        Permission.NOTICE_READ,
    }
)
_READ |= {Permission.CAPTURE_READ, Permission.ATTRIBUTION_READ}
_READ |= {Permission.MATCH_READ}
# Cases: every member may read the cases its organisation takes part in and search what it may
# see; screening is an onboarding check any partner may run (the answers follow the policy).
_READ |= {Permission.CASE_READ, Permission.SEARCH_READ, Permission.SCREEN_RUN}
# The entity graph and its networks: intelligence, so never for addressee-only partners (below).
_READ |= {Permission.NETWORK_READ, Permission.GRAPH_READ}
_ANALYST = _READ | {Permission.REPORT_CREATE, Permission.REPORT_EXPORT, Permission.TOKEN_MANAGE}
_ANALYST |= {
    Permission.MONEY_EXPORT,
    Permission.MONEY_RECORD,
    Permission.TEST_PURCHASE_CREATE,
    Permission.DESCRIPTOR_DECIDE,
    Permission.CRYPTO_IMPORT,
    Permission.NOTICE_EXPORT,
    Permission.NOTICE_ANSWER,
}
_ANALYST |= {Permission.CAPTURE_EXPORT}
# Banks: every member reads the banks the policy lets it see; analysts curate entries, import,
# export and give opinions; creating a bank or changing how it matches is an admin's decision.
_READ |= {Permission.BANK_READ}
_ANALYST |= {Permission.BANK_READ, Permission.BANK_WRITE, Permission.BANK_IMPORT}
_ANALYST |= {Permission.BANK_EXPORT, Permission.BANK_OPINION}
_ANALYST |= {Permission.MATCH_QUERY}
_ANALYST |= {Permission.CASE_NOTE}
_ANALYST |= {Permission.NETWORK_EXPORT}
# Outcomes: statistics and the block list are for every member; assessing is an analyst's.
_READ |= {Permission.ASSESSMENT_READ, Permission.OUTCOME_STATS_READ, Permission.BLOCKLIST_READ}
_ANALYST |= {Permission.ASSESSMENT_READ, Permission.OUTCOME_STATS_READ}
_ANALYST |= {Permission.BLOCKLIST_READ, Permission.ASSESSMENT_CREATE}
_ADMIN = _ANALYST | {Permission.USER_MANAGE}
_ADMIN |= {Permission.MONEY_OWNERSHIP_MANAGE, Permission.NOTICE_ENDPOINT_MANAGE}
_ADMIN |= {Permission.BANK_MANAGE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _READ | {Permission.TOKEN_MANAGE},
    Role.ANALYST: frozenset(_ANALYST),
    Role.ADMIN: frozenset(_ADMIN),
}

#: Granted on top of the role to members of a coordinator organisation's admins.
#: Queue sizes are coalition-wide figures, so they are the coordinator's to read.
COORDINATOR_ADMIN_EXTRA = frozenset(
    {Permission.ORG_MANAGE, Permission.AUDIT_READ, Permission.WORK_READ}
)


#: Reading the entity graph and networks; payment providers, hosts and ISPs never browse it.
GRAPH_PERMISSIONS = frozenset(
    {Permission.NETWORK_READ, Permission.NETWORK_EXPORT, Permission.GRAPH_READ}
)

#: Organisations that investigate: they open cases and are told of deconfliction hits.
CASE_OPENING_TYPES = frozenset({OrgType.LAW_ENFORCEMENT, OrgType.HOTLINE, OrgType.COORDINATOR})


def permissions_for(org_type: OrgType, role: Role) -> frozenset[Permission]:
    """Everything a member with ``role`` in an organisation of ``org_type`` may attempt."""
    granted = set(ROLE_PERMISSIONS[role])
    if org_type is OrgType.COORDINATOR and role is Role.ADMIN:
        granted |= COORDINATOR_ADMIN_EXTRA
        # Cross-deployment deconfliction exchanges the coalition's keyed hashes.
        granted.add(Permission.DECONFLICTION_EXCHANGE)
    if org_type in CASE_OPENING_TYPES:
        granted.add(Permission.DECONFLICTION_READ)
        if role is not Role.VIEWER:
            granted.add(Permission.CASE_OPEN)
    if org_type is OrgType.COORDINATOR and role is Role.ADMIN:
        granted.add(Permission.BLOCKLIST_PUBLISH)
    if org_type in ADDRESSEE_ONLY_TYPES:
        granted -= GRAPH_PERMISSIONS
        # They act on what is addressed to them; they do not assess content.
        granted -= {Permission.ASSESSMENT_CREATE}
    granted.add(Permission.PUBLIC)
    return frozenset(granted)

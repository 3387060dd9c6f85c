"""Permissions as ``resource:action`` names, and which role grants which.

Every API route declares one of these; a route without one cannot be registered. Whether a
particular *record* may be read is a separate question answered by the access policy
(``cordon.store.access``): a permission says what kind of action a member may attempt at all.
"""

from __future__ import annotations

from enum import StrEnum

from cordon.domain.partners import OrgType, Role


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
_ADMIN = _ANALYST | {Permission.USER_MANAGE}
_ADMIN |= {Permission.MONEY_OWNERSHIP_MANAGE, Permission.NOTICE_ENDPOINT_MANAGE}

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


def permissions_for(org_type: OrgType, role: Role) -> frozenset[Permission]:
    """Everything a member with ``role`` in an organisation of ``org_type`` may attempt."""
    granted = set(ROLE_PERMISSIONS[role])
    if org_type is OrgType.COORDINATOR and role is Role.ADMIN:
        granted |= COORDINATOR_ADMIN_EXTRA
    granted.add(Permission.PUBLIC)
    return frozenset(granted)

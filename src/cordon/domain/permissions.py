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


_READ = frozenset(
    {
        Permission.SELF_READ,
        Permission.REPORT_READ,
        Permission.ORG_READ,
    }
)
_ANALYST = _READ | {Permission.REPORT_CREATE, Permission.REPORT_EXPORT, Permission.TOKEN_MANAGE}
_ADMIN = _ANALYST | {Permission.USER_MANAGE, Permission.WORK_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _READ | {Permission.TOKEN_MANAGE},
    Role.ANALYST: frozenset(_ANALYST),
    Role.ADMIN: frozenset(_ADMIN),
}

#: Granted on top of the role to members of a coordinator organisation's admins.
COORDINATOR_ADMIN_EXTRA = frozenset({Permission.ORG_MANAGE, Permission.AUDIT_READ})


def permissions_for(org_type: OrgType, role: Role) -> frozenset[Permission]:
    """Everything a member with ``role`` in an organisation of ``org_type`` may attempt."""
    granted = set(ROLE_PERMISSIONS[role])
    if org_type is OrgType.COORDINATOR and role is Role.ADMIN:
        granted |= COORDINATOR_ADMIN_EXTRA
    granted.add(Permission.PUBLIC)
    return frozenset(granted)

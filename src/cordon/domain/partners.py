"""Organisations, roles and who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pycountry


class OrgType(StrEnum):
    """The kinds of partner in the coalition."""

    LAW_ENFORCEMENT = "law_enforcement"
    HOTLINE = "hotline"
    PAYMENT_PROVIDER = "payment_provider"
    HOSTING_PROVIDER = "hosting_provider"
    ISP = "isp"
    TECHNOLOGY = "technology"
    NGO = "ngo"
    COORDINATOR = "coordinator"


#: Partners that act on what is addressed to them and never browse the intelligence graph.
ADDRESSEE_ONLY_TYPES = frozenset({OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP})


class Role(StrEnum):
    """A member's role inside its organisation."""

    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"


def parse_country(code: str) -> str:
    """Validate an ISO 3166-1 alpha-2 code and return it upper-case.

    Raises ``ValueError`` naming the bad code.
    """
    value = code.strip().upper()
    if len(value) != 2 or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return value


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a member of one organisation, through a session, a token or the CLI."""

    user_id: int
    org_id: int
    org_type: OrgType
    org_country: str
    role: Role
    permissions: frozenset[str]
    token_id: str | None = None
    source: str = "api"

    def can(self, permission: str) -> bool:
        """True when this principal holds ``permission``."""
        return permission in self.permissions

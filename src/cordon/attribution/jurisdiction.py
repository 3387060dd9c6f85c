"""Jurisdiction routing: which partners cover where a site is hosted, and why.

Pure rules, no I/O. The countries that matter (:class:`Basis`) come from an attribution: the
hosting country (the origin's when it is known, and the CDN's when a CDN fronts the site) and
the registrar's country when RDAP gives it. For each, the hotlines and law-enforcement partners
that cover the country are routed to; a country that no partner covers, or a hosting country
that is unknown, goes to the coordinator. Every route and every gap is stated as a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cordon.attribution.model import HostAttribution

BasisRole = Literal["hosting", "origin", "cdn", "registrar"]
#: Partner types that act on a country's referrals.
COVERING_TYPES = ("hotline", "law_enforcement")
COORDINATOR = "coordinator"
_TYPE_LABEL = {"hotline": "hotline", "law_enforcement": "law enforcement"}
_ROLE_LABEL = {
    "hosting": "hosting country",
    "origin": "origin server's country",
    "cdn": "country of the CDN fronting the site",
    "registrar": "registrar's country",
}


@dataclass(frozen=True, slots=True)
class Partner:
    """A partner organisation and the countries it covers (its own unless configured)."""

    org_id: int
    name: str
    org_type: str
    countries: frozenset[str]


@dataclass(frozen=True, slots=True)
class Basis:
    """A country that decides routing, and where it comes from."""

    role: BasisRole
    country: str | None
    party: str | None = None

    def describe(self) -> str:
        where = self.country or "unknown"
        party = f" ({self.party})" if self.party else ""
        return f"{_ROLE_LABEL[self.role]} {where}{party}"

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "country": self.country, "party": self.party}


@dataclass(frozen=True, slots=True)
class Route:
    """One partner to refer to, for one country (None: no country could be decided)."""

    org_id: int
    name: str
    org_type: str
    country: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "name": self.name,
            "org_type": self.org_type,
            "country": self.country,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """Whom to tell and why."""

    bases: tuple[Basis, ...]
    routes: tuple[Route, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bases": [b.to_dict() for b in self.bases],
            "routes": [r.to_dict() for r in self.routes],
            "reasons": list(self.reasons),
        }


def bases_of(found: HostAttribution) -> tuple[Basis, ...]:
    """The countries that decide routing for an attribution."""
    out: list[Basis] = []
    network = found.network
    if network is None:
        out.append(Basis("hosting", None))
    elif found.cdn is None:
        out.append(Basis("hosting", network.country, network.provider))
    else:
        origin = found.origin.network
        if origin is not None:
            out.append(Basis("origin", origin.country, origin.provider))
        out.append(Basis("cdn", network.country, found.cdn.name))
    registrar = found.registrar
    if registrar is not None and registrar.country:
        out.append(Basis("registrar", registrar.country, registrar.name))
    return tuple(out)


def decide(bases: Sequence[Basis], partners: Iterable[Partner]) -> Decision:
    """Route to the hotlines and law-enforcement partners covering each basis country; to the
    coordinator where no partner covers it or the hosting country is unknown."""
    pool = sorted(partners, key=lambda p: (p.org_type, p.name, p.org_id))
    routes: dict[int, Route] = {}
    reasons: list[str] = []
    uncovered: list[Basis] = []

    def add(partner: Partner, country: str | None, reason: str) -> None:
        known = routes.get(partner.org_id)
        if known is None:
            routes[partner.org_id] = Route(
                partner.org_id, partner.name, partner.org_type, country, reason
            )
        elif reason not in known.reason:
            routes[partner.org_id] = Route(
                known.org_id, known.name, known.org_type, known.country, f"{known.reason}; {reason}"
            )

    for basis in bases:
        if basis.country is None:
            reasons.append(f"the {_ROLE_LABEL[basis.role]} is unknown")
            if basis.role in ("hosting", "origin"):
                uncovered.append(basis)
            continue
        covering = [
            p for p in pool if p.org_type in COVERING_TYPES and basis.country in p.countries
        ]
        if not covering:
            reasons.append(f"no hotline or law-enforcement partner covers {basis.country}")
            uncovered.append(basis)
            continue
        for partner in covering:
            label = _TYPE_LABEL[partner.org_type]
            add(partner, basis.country, f"{label} covering the {basis.describe()}")
        for kind in COVERING_TYPES:
            if not any(p.org_type == kind for p in covering):
                reasons.append(f"no {_TYPE_LABEL[kind]} partner covers {basis.country}")
    if any(b.role == "cdn" for b in bases) and not any(b.role == "origin" for b in bases):
        reasons.append("the origin behind the CDN is unknown: routed by the CDN's country")
    if uncovered:
        coordinators = [p for p in pool if p.org_type == COORDINATOR]
        if not coordinators:
            reasons.append("no coordinator organisation is configured to fall back on")
        for coordinator in coordinators:
            for basis in uncovered:
                add(
                    coordinator, basis.country, f"coordinator: nobody covers the {basis.describe()}"
                )
    ordered = sorted(
        routes.values(),
        key=lambda r: (r.org_type == COORDINATOR, r.country or "", r.org_type, r.name),
    )
    return Decision(tuple(bases), tuple(ordered), tuple(dict.fromkeys(reasons)))

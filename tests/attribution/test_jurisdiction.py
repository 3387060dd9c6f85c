"""Jurisdiction routing: partners covering the country, else the coordinator, with reasons."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from cordon.attribution.jurisdiction import Basis, Partner, bases_of, decide
from cordon.attribution.model import (
    CdnFinding,
    HostAttribution,
    Network,
    Origin,
    Registrar,
)

NL_HOTLINE = Partner(1, "Hotline NL", "hotline", frozenset({"NL"}))
NL_POLICE = Partner(2, "Police NL", "law_enforcement", frozenset({"NL"}))
EU_POLICE = Partner(3, "Euro Police", "law_enforcement", frozenset({"NL", "DE", "FR"}))
US_HOTLINE = Partner(4, "Hotline US", "hotline", frozenset({"US"}))
COORD = Partner(9, "Coalition", "coordinator", frozenset({"BE"}))
ALL = [NL_HOTLINE, NL_POLICE, EU_POLICE, US_HOTLINE, COORD]


def test_partners_covering_the_hosting_country_are_routed_to() -> None:
    decision = decide([Basis("hosting", "NL", "Host B.V.")], ALL)
    assert [r.org_id for r in decision.routes] == [1, 3, 2]
    assert decision.routes[0].reason == "hotline covering the hosting country NL (Host B.V.)"
    assert all(r.country == "NL" for r in decision.routes)


def test_a_country_nobody_covers_goes_to_the_coordinator_with_the_reason() -> None:
    decision = decide([Basis("hosting", "PA", "Offshore S.A.")], ALL)
    assert [(r.org_id, r.country) for r in decision.routes] == [(9, "PA")]
    assert "no hotline or law-enforcement partner covers PA" in decision.reasons
    assert "nobody covers the hosting country PA" in decision.routes[0].reason


def test_a_missing_partner_type_is_stated() -> None:
    decision = decide([Basis("hosting", "US", None)], ALL)
    assert [r.org_id for r in decision.routes] == [4]
    assert "no law enforcement partner covers US" in decision.reasons


def test_an_unknown_hosting_country_goes_to_the_coordinator() -> None:
    decision = decide([Basis("hosting", None)], ALL)
    assert [r.org_id for r in decision.routes] == [9]
    assert "the hosting country is unknown" in decision.reasons


def test_without_a_coordinator_the_gap_is_a_reason() -> None:
    decision = decide([Basis("hosting", "PA")], [NL_HOTLINE])
    assert decision.routes == ()
    assert "no coordinator organisation is configured to fall back on" in decision.reasons


def test_a_partner_named_twice_gets_one_route_with_both_reasons() -> None:
    decision = decide([Basis("hosting", "DE"), Basis("registrar", "FR", "Reg SAS")], ALL)
    assert [r.org_id for r in decision.routes] == [3]
    assert "hosting country DE" in decision.routes[0].reason
    assert "registrar's country FR (Reg SAS)" in decision.routes[0].reason


def _found(**kw: object) -> HostAttribution:
    base: dict[str, object] = {
        "target": "x.test",
        "host": "x.test",
        "registrable_domain": "x.test",
        "is_ip": False,
        "observed_at": datetime(2026, 1, 1, tzinfo=UTC),
        "basis": "dns",
    }
    base.update(kw)
    return HostAttribution(**base)  # type: ignore[arg-type]


def test_bases_of_a_fronted_site_with_a_known_origin_and_registrar_country() -> None:
    edge = Network("198.51.100.1", 64501, "Edge", None, "US")
    origin = Network("192.0.2.1", 64500, "Host", None, "NL")
    found = _found(
        network=edge,
        cdn=CdnFinding("edge", "Edge", ()),
        origin=Origin("candidate", origin, ()),
        registrar=Registrar("Reg", 1, None, "DE", "u"),
    )
    assert bases_of(found) == (
        Basis("origin", "NL", "Host"),
        Basis("cdn", "US", "Edge"),
        Basis("registrar", "DE", "Reg"),
    )
    decision = decide(bases_of(found), ALL)
    assert {r.org_id for r in decision.routes} == {1, 2, 3, 4}


def test_a_fronted_site_with_unknown_origin_is_routed_by_the_cdns_country() -> None:
    edge = Network("198.51.100.1", 64501, "Edge", None, "US")
    found = _found(network=edge, cdn=CdnFinding("edge", "Edge", ()), origin=Origin("unknown"))
    decision = decide(bases_of(found), ALL)
    assert [r.org_id for r in decision.routes] == [4]
    assert "the origin behind the CDN is unknown: routed by the CDN's country" in decision.reasons


COUNTRIES = st.sampled_from(["NL", "DE", "US", "PA", "SC", None])
PARTNERS = st.lists(
    st.builds(
        Partner,
        org_id=st.integers(1, 30),
        name=st.text(min_size=1, max_size=5),
        org_type=st.sampled_from(["hotline", "law_enforcement", "coordinator"]),
        countries=st.frozensets(st.sampled_from(["NL", "DE", "US", "PA"]), min_size=1),
    ),
    unique_by=lambda p: p.org_id,
)
BASES = st.lists(
    st.builds(
        Basis, role=st.sampled_from(["hosting", "origin", "cdn", "registrar"]), country=COUNTRIES
    ),
    max_size=4,
)


@given(BASES, PARTNERS)
def test_routing_rules_hold_for_any_partners(bases: list[Basis], partners: list[Partner]) -> None:
    decision = decide(bases, partners)
    ids = [r.org_id for r in decision.routes]
    assert len(ids) == len(set(ids))  # one route per partner
    by_id = {p.org_id: p for p in partners}
    for route in decision.routes:
        partner = by_id[route.org_id]
        assert route.reason
        if partner.org_type != "coordinator":
            # A covering partner is routed only for a country it covers.
            assert route.country in partner.countries
    countries = {b.country for b in bases if b.country}
    for country in countries:
        covered = any(
            p.org_type in ("hotline", "law_enforcement") and country in p.countries
            for p in partners
        )
        coordinators = [p for p in partners if p.org_type == "coordinator"]
        if not covered and coordinators:
            assert any(r.org_type == "coordinator" for r in decision.routes)
    assert decide(bases, list(reversed(partners))) == decision  # order of partners is irrelevant

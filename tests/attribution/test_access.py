"""Entitlement matrix for attribution records: organisation types × TLP × every read path.

An attribution is derived from the reports naming its URL: it takes their strictest marking and
their owners. Every read path (get, history, latest, list, count, hops) must answer the same."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, select

from cordon.attribution import repo
from cordon.attribution.jurisdiction import Decision
from cordon.attribution.model import HostAttribution, Network
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.partners import OrgType, Principal
from cordon.domain.tlp import Tlp
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.tables import audit_event
from support import CLI_ACTOR, make_member

ACTOR = Actor(source="api")
NO_ROUTES = Decision((), (), ())


def _report(
    conn: Connection,
    clock: FrozenClock,
    owner: Principal,
    url: str,
    tlp: Tlp,
    *,
    share_with: list[int] | None = None,
    red_users: list[int] | None = None,
) -> int:
    data = ReportIn(urls=[url], tlp=tlp, share_with=share_with or [], red_users=red_users or [])
    done = reports.submit(conn, clock, owner, CLI_ACTOR, data, channel="api")
    return done.report.urls[0].id


def _found(host: str, provider: str, asn: int, country: str, at: datetime) -> HostAttribution:
    return HostAttribution(
        target=host,
        host=host,
        registrable_domain=host,
        is_ip=False,
        observed_at=at,
        basis="dns",
        addresses=("192.0.2.1",),
        network=Network("192.0.2.1", asn, provider, "192.0.2.0/24", country),
    )


def _store(conn: Connection, clock: FrozenClock, url_id: int, host: str = "a.test") -> int:
    found = _found(host, "Host A", 64500, "NL", clock.now())
    return repo.store(conn, clock, ACTOR, url_id, found, NO_ROUTES).attribution_id


def _paths(
    conn: Connection, clock: FrozenClock, who: Principal, attribution_id: int, url_id: int
) -> dict[str, bool]:
    """Whether each read path shows the record to ``who``."""
    return {
        "get": repo.get(conn, clock, who, ACTOR, attribution_id) is not None,
        "history": any(
            r.id == attribution_id for r in repo.history(conn, clock, who, ACTOR, url_id)
        ),
        "latest": repo.latest(conn, clock, who, ACTOR, url_id) is not None,
        "list": any(r.id == attribution_id for r in repo.list_page(conn, clock, who, ACTOR)),
        "count": repo.count(conn, who) > 0,
    }


OTHER_TYPES = [t for t in OrgType]
BROWSERS = {
    OrgType.LAW_ENFORCEMENT,
    OrgType.HOTLINE,
    OrgType.TECHNOLOGY,
    OrgType.NGO,
    OrgType.COORDINATOR,
}


@pytest.mark.parametrize("tlp", list(Tlp))
def test_entitlement_matrix_for_every_org_type_and_marking(
    conn: Connection, clock: FrozenClock, tlp: Tlp
) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    named = make_member(conn, clock, org_type="law_enforcement")
    url_id = _report(
        conn,
        clock,
        owner,
        f"https://{uuid.uuid4().hex[:8]}.test/x",
        tlp,
        red_users=[named.user_id] if tlp is Tlp.RED else None,
    )
    attribution_id = _store(conn, clock, url_id)
    # The owner's own organisation sees it at every marking but RED, where its named users do.
    own_paths = _paths(conn, clock, owner, attribution_id, url_id)
    assert all(own_paths.values()), own_paths
    for org_type in OTHER_TYPES:
        other = make_member(conn, clock, org_type=org_type.value)
        expected = tlp in (Tlp.CLEAR, Tlp.GREEN) and org_type in BROWSERS
        seen = _paths(conn, clock, other, attribution_id, url_id)
        assert seen == dict.fromkeys(seen, expected), (org_type, tlp, seen)
    named_sees = _paths(conn, clock, named, attribution_id, url_id)
    assert all(named_sees.values()) == (tlp in (Tlp.CLEAR, Tlp.GREEN, Tlp.RED)), named_sees


def test_the_strictest_marking_of_all_reports_naming_the_url_applies(
    conn: Connection, clock: FrozenClock
) -> None:
    first = make_member(conn, clock, org_type="hotline")
    second = make_member(conn, clock, org_type="hotline")
    stranger = make_member(conn, clock, org_type="law_enforcement")
    url = f"https://{uuid.uuid4().hex[:8]}.test/"
    url_id = _report(conn, clock, first, url, Tlp.GREEN)
    attribution_id = _store(conn, clock, url_id)
    assert repo.get(conn, clock, stranger, ACTOR, attribution_id) is not None
    # A later AMBER report about the same URL makes its attributions AMBER at once, owned by
    # both reporters.
    _report(conn, clock, second, url, Tlp.AMBER)
    record = repo.get(conn, clock, first, ACTOR, attribution_id)
    assert record is not None
    assert record.tlp is Tlp.AMBER
    assert repo.get(conn, clock, second, ACTOR, attribution_id) is not None
    assert repo.get(conn, clock, stranger, ACTOR, attribution_id) is None
    # Only an owner may release it wider.
    with pytest.raises(repo.AttributionError, match="only the owners"):
        repo.share(conn, clock, stranger, ACTOR, url_id, [stranger.org_id])
    repo.share(conn, clock, second, ACTOR, url_id, [stranger.org_id])
    assert repo.get(conn, clock, stranger, ACTOR, attribution_id) is not None
    assert repo.shared_with(conn, url_id) == [stranger.org_id]


def test_an_amber_report_shared_with_an_org_does_not_share_its_attributions(
    conn: Connection, clock: FrozenClock
) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    partner = make_member(conn, clock, org_type="law_enforcement")
    url_id = _report(
        conn, clock, owner, "https://shared.test/", Tlp.AMBER, share_with=[partner.org_id]
    )
    attribution_id = _store(conn, clock, url_id)
    assert repo.get(conn, clock, partner, ACTOR, attribution_id) is None


def test_red_attributions_follow_the_users_named_on_red_reports(
    conn: Connection, clock: FrozenClock
) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    colleague = make_member(conn, clock, org_type="hotline")
    named = make_member(conn, clock, org_type="law_enforcement")
    url = f"https://{uuid.uuid4().hex[:8]}.test/"
    url_id = _report(conn, clock, owner, url, Tlp.RED, red_users=[named.user_id])
    attribution_id = _store(conn, clock, url_id)
    assert repo.get(conn, clock, named, ACTOR, attribution_id) is not None
    assert repo.get(conn, clock, colleague, ACTOR, attribution_id) is None


def test_sensitive_reads_are_audited(conn: Connection, clock: FrozenClock) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    url_id = _report(conn, clock, owner, "https://strict.test/", Tlp.AMBER_STRICT)
    attribution_id = _store(conn, clock, url_id)
    repo.get(conn, clock, owner, ACTOR, attribution_id)
    row = conn.execute(
        select(audit_event.c.action, audit_event.c.object_ids)
        .order_by(audit_event.c.seq.desc())
        .limit(1)
    ).one()
    assert row.action == "api:attribution:read"
    assert list(row.object_ids) == [attribution_id]


def test_hops_are_read_under_the_same_rule(conn: Connection, clock: FrozenClock) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    stranger = make_member(conn, clock, org_type="law_enforcement")
    payment = make_member(conn, clock, org_type="payment_provider")
    url_id = _report(conn, clock, owner, "https://mover.test/", Tlp.AMBER)
    _store(conn, clock, url_id, "mover.test")
    clock.advance(timedelta(days=1))
    moved = _found("mover.test", "Host B", 64999, "DE", clock.now())
    stored = repo.store(conn, clock, ACTOR, url_id, moved, NO_ROUTES)
    assert stored.hop_id is not None
    assert stored.changes == ["provider", "asn", "country"]
    mine = repo.hops(conn, clock, owner, ACTOR, url_id=url_id)
    assert [(h.old_provider, h.new_provider, h.old_country, h.new_country) for h in mine] == [
        ("Host A", "Host B", "NL", "DE")
    ]
    assert repo.hops(conn, clock, stranger, ACTOR, url_id=url_id) == []
    assert repo.hops(conn, clock, payment, ACTOR, url_id=url_id) == []


def test_an_address_change_within_one_network_is_not_a_hop(
    conn: Connection, clock: FrozenClock
) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    url_id = _report(conn, clock, owner, "https://stay.test/", Tlp.GREEN)
    _store(conn, clock, url_id, "stay.test")
    clock.advance(timedelta(hours=1))
    same = replace(
        _found("stay.test", "Host A", 64500, "NL", clock.now()),
        network=Network("192.0.2.99", 64500, "Host A", "192.0.2.0/24", "NL"),
    )
    stored = repo.store(conn, clock, ACTOR, url_id, same, NO_ROUTES)
    assert stored.hop_id is None


def test_coverage_is_validated_and_used_for_partners(conn: Connection, clock: FrozenClock) -> None:
    hotline = make_member(conn, clock, org_type="hotline", country="NL")
    payment = make_member(conn, clock, org_type="payment_provider")
    before = {p.org_id: p for p in repo.partners(conn)}
    assert before[hotline.org_id].countries == frozenset({"NL"})
    assert repo.set_coverage(conn, clock, CLI_ACTOR, hotline.org_id, ["be", "LU", "NL"]) == [
        "BE",
        "LU",
        "NL",
    ]
    after = {p.org_id: p for p in repo.partners(conn)}
    assert after[hotline.org_id].countries == frozenset({"BE", "LU", "NL"})
    assert payment.org_id not in after
    with pytest.raises(repo.AttributionError, match="not an ISO 3166-1"):
        repo.set_coverage(conn, clock, CLI_ACTOR, hotline.org_id, ["XX"])
    with pytest.raises(repo.AttributionError, match="only hotlines and law-enforcement"):
        repo.set_coverage(conn, clock, CLI_ACTOR, payment.org_id, ["NL"])
    assert repo.coverage(conn, hotline.org_id) == ["BE", "LU", "NL"]


def test_observed_times_round_trip_as_utc(conn: Connection, clock: FrozenClock) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    url_id = _report(conn, clock, owner, "https://time.test/", Tlp.GREEN)
    attribution_id = _store(conn, clock, url_id, "time.test")
    record = repo.get(conn, clock, owner, ACTOR, attribution_id)
    assert record is not None
    assert record.observed_at == clock.now()
    assert record.observed_at.tzinfo == UTC

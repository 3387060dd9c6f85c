"""The ``attribute`` stage on both databases, against loopback DNS and RDAP servers: what it
stores, the routing it decides, hops, and hostile answers ending as recorded failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from attribution.servers import Loopback, network_json, slow_drip
from cordon.attribution import repo
from cordon.attribution.attributor import Attributor
from cordon.attribution.stage import AttributeStage, attribute_url
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.plugins import plugin_manager, stages
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from cordon.store.tables import audit_event, work_item
from support import CLI_ACTOR, make_member

ACTOR = Actor(source="api")


def _setup(engine: Engine, clock: FrozenClock, urls: list[str]) -> tuple[Principal, list[int]]:
    with write(engine) as conn:
        reporter = make_member(conn, clock, org_type="hotline", country="NL")
        make_member(conn, clock, org_type="law_enforcement", country="NL")
        make_member(conn, clock, org_type="coordinator", country="BE")
        done = reports.submit(
            conn, clock, reporter, CLI_ACTOR, ReportIn(urls=urls, tlp=Tlp.GREEN), channel="api"
        )
        ids = [u.id for u in done.report.urls]
        repo.request_attribution(conn, clock.now(), ids)
    return reporter, ids


def _run(
    engine: Engine, clock: FrozenClock, settings: Settings, stage: AttributeStage | None = None
) -> None:
    worker = stage or AttributeStage()
    try:
        stats = run_until_idle(engine, [worker], StageContext(clock, settings))
    finally:
        if stage is None:
            worker.close()
    assert stats.failed == 0
    assert stats.dead == 0


def _latest(
    engine: Engine, clock: FrozenClock, who: Principal, url_id: int
) -> repo.AttributionRecord:
    with read(engine) as conn:
        found = repo.latest(conn, clock, who, ACTOR, url_id)
    assert found is not None
    return found


def test_the_stage_is_provided_through_the_plugin_hook() -> None:
    assert "attribute" in [s.name for s in stages(plugin_manager())]


def test_a_hosted_site_is_attributed_routed_and_audited(
    engine: Engine, clock: FrozenClock, loopback: Loopback
) -> None:
    reporter, (url_id,) = _setup(engine, clock, ["https://www.site.test/page"])
    _run(engine, clock, loopback.settings())
    found = _latest(engine, clock, reporter, url_id)
    assert found.status == "complete", found.failures
    assert (found.address, found.asn, found.country) == ("192.0.2.10", 64500, "NL")
    assert (found.provider, found.abuse_email) == ("Example Hosting B.V.", "abuse@hosting.test")
    assert (found.registrar, found.registrar_abuse_email) == (
        "Example Registrar Ltd",
        "abuse@registrar.test",
    )
    assert found.registrar_iana_id == 9999
    assert found.origin_status == "direct"
    assert found.cdn is None
    assert found.chain["dns"][0]["cnames"] == [["www.site.test", "site.test"]]
    assert sorted(r.org_type for r in found.routes) == ["hotline", "law_enforcement"]
    with read(engine) as conn:
        states = set(
            conn.execute(
                select(work_item.c.state).where(work_item.c.stage == "attribute")
            ).scalars()
        )
        actions = set(conn.execute(select(audit_event.c.action)).scalars())
    assert states == {"done"}
    assert "stage:attribution:create" in actions


def test_a_fronted_site_names_the_cdn_and_the_leaked_origin(
    engine: Engine, clock: FrozenClock, loopback: Loopback
) -> None:
    reporter, (url_id,) = _setup(engine, clock, ["http://fronted.test/"])
    origin = network_json("192.0.2.0", "192.0.2.255", "Example Hosting B.V.", None, "NL")
    loopback.rdap.json("/rdap/ip/192.0.2.20", origin)
    _run(engine, clock, loopback.settings())
    found = _latest(engine, clock, reporter, url_id)
    assert found.cdn == "example-edge"
    assert (found.provider, found.abuse_email) == ("Example Edge Inc.", "abuse@edge.test")
    assert found.origin_status == "candidate"
    assert (found.origin_address, found.origin_provider, found.origin_country) == (
        "192.0.2.20",
        "Example Hosting B.V.",
        "NL",
    )
    # The origin's country decides law enforcement; nobody covers the CDN's US: the coordinator.
    assert sorted(r.org_type for r in found.routes) == ["coordinator", "hotline", "law_enforcement"]
    assert "no hotline or law-enforcement partner covers US" in found.routing["reasons"]


def test_hostile_answers_end_in_recorded_failures(
    engine: Engine, clock: FrozenClock, loopback: Loopback
) -> None:
    z, rdap = loopback.dns.zone, loopback.rdap
    z.behaviour["loop.test"] = "loop"
    z.behaviour["fail.test"] = "servfail"
    for name in ("huge.test", "deep.test", "html.test", "drip.test", "bare.test"):
        z.add(name, "A", "192.0.2.10")
    rdap.raw("/rdap/domain/huge.test", b'{"a":"' + b"x" * 2_000_000 + b'"}', "application/json")
    rdap.raw("/rdap/domain/deep.test", b"[" * 100_000 + b"]" * 100_000, "application/json")
    rdap.raw("/rdap/domain/html.test", b"<html>maintenance</html>", "text/html")
    rdap.routes["/rdap/domain/drip.test"] = slow_drip(0.3)
    rdap.json("/rdap/domain/bare.test", {"objectClassName": "domain", "ldhName": "bare.test"})
    names = ["loop", "fail", "gone", "huge", "deep", "html", "drip", "bare"]
    reporter, ids = _setup(engine, clock, [f"http://{n}.test/" for n in names])
    _run(engine, clock, loopback.settings())
    outcomes = {}
    for name, url_id in zip(names, ids, strict=True):
        found = _latest(engine, clock, reporter, url_id)
        outcomes[name] = (found.status, sorted({f["outcome"] for f in found.failures}))
        assert all(f["message"] for f in found.failures)
    # Each question that went wrong is one failure (the site's name, and its domain's NS, MX
    # and TXT for the DNS cases); RDAP has no record of the names that do not resolve.
    assert outcomes == {
        "loop": ("failed", ["cname_loop", "not_found"]),
        "fail": ("failed", ["not_found", "servfail"]),
        "gone": ("failed", ["not_found", "nxdomain"]),
        "huge": ("partial", ["too_large"]),
        "deep": ("partial", ["too_deep"]),
        "html": ("partial", ["not_json"]),
        "drip": ("partial", ["timeout"]),
        "bare": ("partial", ["missing_entities"]),
    }


def test_a_corrupt_ip_database_is_recorded_on_every_attribution(
    engine: Engine, clock: FrozenClock, loopback: Loopback, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"\x00" * 2048)
    settings = loopback.settings(ipdb={"asn_database": str(corrupt)})
    reporter, (url_id,) = _setup(engine, clock, ["https://site.test/"])
    _run(engine, clock, settings)
    found = _latest(engine, clock, reporter, url_id)
    assert found.status == "partial"
    assert found.asn is None
    assert found.country == "NL"
    failure = found.failures[0]
    assert failure["step"] == "ipdb"
    assert str(corrupt) in failure["message"]


def test_a_broken_cdn_file_holds_the_work_instead_of_killing_it(
    engine: Engine, clock: FrozenClock, loopback: Loopback
) -> None:
    (loopback.folder / "cdn.json").write_text("{broken")
    _setup(engine, clock, ["https://site.test/"])
    stage = AttributeStage()
    stats = run_until_idle(engine, [stage], StageContext(clock, loopback.settings()))
    stage.close()
    assert stats.failed == 1
    assert stats.dead == 0
    with read(engine) as conn:
        item = conn.execute(select(work_item).where(work_item.c.stage == "attribute")).one()
    assert item.state == "pending"
    assert "cdn.json is not JSON" in item.last_error


def test_a_move_to_another_network_is_a_hop(
    engine: Engine, clock: FrozenClock, loopback: Loopback
) -> None:
    reporter, (url_id,) = _setup(engine, clock, ["https://site.test/"])
    stage = AttributeStage()
    _run(engine, clock, loopback.settings(), stage)
    z = loopback.dns.zone
    z.records["site.test"] = [r for r in z.records["site.test"] if r[0] != "A"]
    z.add("site.test", "A", "198.51.100.7", 60)
    clock.advance(timedelta(hours=2))  # past the old answer's TTL
    with write(engine) as conn:
        repo.request_attribution(conn, clock.now(), [url_id])
    _run(engine, clock, loopback.settings(), stage)
    stage.close()
    with read(engine) as conn:
        hops = repo.hops(conn, clock, reporter, ACTOR, url_id=url_id)
        history = repo.history(conn, clock, reporter, ACTOR, url_id)
    assert len(history) == 2
    assert [(h.old_provider, h.new_provider, h.old_country, h.new_country) for h in hops] == [
        ("Example Hosting B.V.", "Example Edge Inc.", "NL", "US")
    ]
    assert hops[0].changes == ["provider", "asn", "country", "cdn", "address"]
    assert hops[0].at == clock.now()


def test_a_crawler_attributes_the_address_it_connected_to(
    engine: Engine, clock: FrozenClock, loopback: Loopback
) -> None:
    reporter, (url_id,) = _setup(engine, clock, ["https://site.test/"])
    settings = loopback.settings()
    with Attributor(settings, clock) as attributor, write(engine) as conn:
        stored = attribute_url(
            conn,
            attributor,
            clock,
            ACTOR,
            url_id,
            address="198.51.100.7",
            headers={"X-Example-Edge": "hit"},
            capture_id=42,
        )
    with read(engine) as conn:
        found = repo.get(conn, clock, reporter, ACTOR, stored.attribution_id)
    assert found is not None
    assert (found.basis, found.capture_id, found.address) == ("connection", 42, "198.51.100.7")
    assert found.cdn == "example-edge"
    assert "response header x-example-edge" in found.chain["cdn"]["evidence"]
    # No DNS question was asked for the address: the connection decided it.
    assert loopback.dns.zone.asked[("site.test", "A")] == 0


def test_a_live_capture_is_attributed_by_the_address_it_connected_to(
    engine: Engine, clock: FrozenClock, loopback: Loopback
) -> None:
    from cordon.store.tables_crawl import capture

    reporter, (url_id,) = _setup(engine, clock, ["https://site.test/"])
    crawled_at = clock.now()
    clock.advance(timedelta(minutes=5))
    with write(engine) as conn:
        capture_id = conn.execute(
            capture.insert()
            .values(
                url_id=url_id, seq=1, reason="first", tlp="GREEN", started_at=crawled_at,
                finished_at=crawled_at, outcome="live", requested_url="https://site.test/",
                final_url="https://www.site.test/", final_host="www.site.test", status=200,
                connected_address="198.51.100.7", resolver="test", resolved={}, redirects=[],
                headers={"server": "nginx", "x-example-edge": "HIT"}, timings={}, budget={},
                cloaking=False, cloaking_detail={}, media_count=0, indicator_count=0,
                fetcher_version="test",
            )
            .returning(capture.c.id)
        ).scalar_one()  # fmt: skip
    stage = AttributeStage()
    _run(engine, clock, loopback.settings(), stage)
    found = _latest(engine, clock, reporter, url_id)
    assert (found.basis, found.capture_id, found.host) == (
        "connection",
        capture_id,
        "www.site.test",
    )
    assert found.address == "198.51.100.7"
    assert found.observed_at == crawled_at
    with read(engine) as conn:
        by_capture = repo.for_capture(conn, clock, reporter, ACTOR, capture_id)
        stranger = make_member(conn, clock, org_type="payment_provider")
        assert repo.for_capture(conn, clock, stranger, ACTOR, capture_id) is None
    assert by_capture is not None
    assert by_capture.id == found.id
    assert "response header x-example-edge" in found.chain["cdn"]["evidence"]
    # The same capture is not attributed twice: the next run asks DNS, a separate observation.
    with write(engine) as conn:
        repo.request_attribution(conn, clock.now(), [url_id])
    _run(engine, clock, loopback.settings(), stage)
    stage.close()
    with read(engine) as conn:
        history = repo.history(conn, clock, reporter, ACTOR, url_id)
    assert [(h.basis, h.address) for h in history] == [
        ("dns", "192.0.2.10"),
        ("connection", "198.51.100.7"),
    ]

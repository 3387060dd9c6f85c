"""Captures, media sightings and evidence in the entitlement matrix: organisation types × roles ×
TLP × every read path (get, list, count, sighting search, evidence, export bundle).

A capture is derived from the reports that led to it: it carries the strictest of their
markings and may be read by exactly the members who may read every one of them. The oracle
below restates that from DESIGN.md, independently of the policy module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.crawl import repo as captures
from cordon.crawl.capture import CapturePlan, CaptureResult, PageVersion
from cordon.crawl.evidence import PageRecord, build_warc
from cordon.crawl.extract import Indicator
from cordon.crawl.fetcher import FetchResult, Hop
from cordon.crawl.media import MediaOutcome
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store import access
from cordon.store.db import write
from cordon.store.tables import sharing_group, sharing_group_member
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}


@dataclass(frozen=True)
class Input:
    """A report as the oracle sees it."""

    tlp: Tlp
    owner_org: int
    shared_orgs: frozenset[int]
    named_users: frozenset[int]


@dataclass(frozen=True)
class CaptureRecord:
    id: int
    sha256: str
    inputs: tuple[Input, ...]


def may_read_report(p: Principal, r: Input) -> bool:
    """DESIGN.md's rules for one record."""
    if r.tlp is Tlp.RED:
        return p.user_id in r.named_users
    if p.org_type in ADDRESSEE_ONLY:
        return p.org_id == r.owner_org
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if r.tlp is Tlp.AMBER:
        return p.org_id == r.owner_org or p.org_id in r.shared_orgs
    return p.org_id == r.owner_org


def expected(p: Principal, c: CaptureRecord) -> bool:
    """A derived record: readable only by who may read all of its inputs."""
    return all(may_read_report(p, r) for r in c.inputs)


def _result(url_id: int, url: str, tag: str, clock: FrozenClock) -> CaptureResult:
    """A capture as the crawler would produce it (no network: the record is what matters)."""
    now = clock.now()
    fetch = FetchResult(requested_url=url, outcome="ok", final_url=url, status=200)
    fetch.hops = [Hop(url, "192.0.2.10", 443, 200)]
    fetch.address, fetch.port = "192.0.2.10", 443
    fetch.headers = [("content-type", "text/html")]
    digest = hashlib.sha256(tag.encode()).hexdigest()
    media = MediaOutcome(url=f"{url}p.jpg", embed="img", status="hashed", sha256=digest)
    media.md5 = hashlib.md5(tag.encode(), usedforsecurity=False).hexdigest()
    media.pdq, media.pdq_quality = "ab" * 32, 90
    result = CaptureResult(
        plan=CapturePlan(url_id, url, "first"),
        started_at=now,
        finished_at=now + timedelta(seconds=1),
        outcome="live",
        outcome_reason=None,
        gone_reason=None,
        base=fetch,
        versions=[PageVersion("base", fetch, [("User-Agent", "test")])],
        resolved={"x.example.test": ["192.0.2.10"]},
        resolver="test",
        egress_profile=None,
        egress_proxy=None,
        media=[media],
        indicators=[(Indicator("email", f"{tag}@example.test", f"{tag}@example.test"), ["base"])],
    )
    result.evidence, result.evidence_records = build_warc(
        at=now,
        info={"software": "test"},
        pages=[PageRecord("base", url, [], 200, "OK", "HTTP/1.1", [], b"<p>page</p>")],
        media=[media.hashes()],
        capture=result.summary(),
    )
    return result


def _paths(
    client: TestClient, token: str, records: list[CaptureRecord], viewer: bool
) -> dict[str, set[int]]:
    h = {"Authorization": f"Bearer {token}"}
    got: dict[str, set[int]] = {k: set() for k in ("get", "list", "search", "evidence", "export")}
    for c in records:
        response = client.get(f"/v1/captures/{c.id}", headers=h)
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            got["get"].add(c.id)
            assert response.json()["media"][0]["sha256"] == c.sha256
        else:
            assert response.json()["detail"] == f"no capture with id {c.id}"
        found = client.get("/v1/sightings", params={"sha256": c.sha256}, headers=h)
        assert found.status_code == 200
        if found.json()["items"]:
            got["search"].add(c.id)
        for path in ("evidence", "export"):
            response = client.get(f"/v1/captures/{c.id}/{path}", headers=h)
            if viewer:
                assert response.status_code == 403  # viewers may not export evidence
                continue
            assert response.status_code in (200, 404)
            if response.status_code == 200:
                got[path].add(c.id)
    listed = client.get("/v1/captures", params={"limit": 500}, headers=h)
    assert listed.status_code == 200
    got["list"] = {item["id"] for item in listed.json()["items"]}
    count = client.get("/v1/captures/count", headers=h).json()["count"]
    got["count"] = set(range(count))
    return got


def test_captures_sightings_and_evidence_entitlement_matrix(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys, settings: Settings
) -> None:
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    records: list[CaptureRecord] = []
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline", country="NL")
        other_owner = make_member(conn, clock, org_type="law_enforcement", country="BE")
        share_target = make_member(conn, clock, org_type="law_enforcement", country="DE")
        group_member = make_member(conn, clock, org_type="technology", country="US")
        named = make_member(conn, clock, org_type="law_enforcement", country="FR")
        named_payment = make_member(conn, clock, org_type="payment_provider", country="GB")
        principals += [owner, other_owner, share_target, group_member, named, named_payment]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        group_id = conn.execute(
            sharing_group.insert()
            .values(owner_org_id=owner.org_id, name="tech partners", created_at=clock.now())
            .returning(sharing_group.c.id)
        ).scalar_one()
        conn.execute(
            sharing_group_member.insert().values(group_id=group_id, org_id=group_member.org_id)
        )

        def report(p: Principal, url: str, tlp: Tlp, **extra: object) -> tuple[int, Input]:
            body = ReportIn(urls=[url], tlp=tlp, **extra)
            done = reports.submit(conn, clock, p, Actor.of(p, source="cli"), body, channel="cli")
            named_users = frozenset([p.user_id, *body.red_users]) if tlp is Tlp.RED else frozenset()
            shared = frozenset(body.share_with)
            return done.report.urls[0].id, Input(tlp, p.org_id, shared, named_users)

        def capture(url_id: int, url: str, tag: str, inputs: tuple[Input, ...]) -> None:
            stored = captures.store_capture(
                conn, clock, Actor(source="stage"), _result(url_id, url, tag, clock), settings
            )
            records.append(
                CaptureRecord(stored.capture_id, hashlib.sha256(tag.encode()).hexdigest(), inputs)
            )

        for tlp in Tlp:
            url = f"https://{tlp.name.lower()}.capture.test/"
            url_id, made = report(
                owner,
                url,
                tlp,
                share_with=[share_target.org_id] if tlp is Tlp.AMBER else [],
                red_users=[named.user_id, named_payment.user_id] if tlp is Tlp.RED else [],
            )
            capture(url_id, url, f"single-{tlp.name}", (made,))
        # AMBER shared through a sharing group.
        url = "https://group.capture.test/"
        url_id, made = report(owner, url, Tlp.AMBER)
        with_group = Input(Tlp.AMBER, owner.org_id, frozenset([group_member.org_id]), frozenset())
        access.set_sharing(conn, reports.KIND, _report_of(conn, url_id), group_ids=[group_id])
        capture(url_id, url, "group", (with_group,))
        # One URL, two reports: the capture takes the stricter and only the common readers.
        url = "https://both.capture.test/"
        url_id, green = report(other_owner, url, Tlp.GREEN)
        _, strict = report(owner, url, Tlp.AMBER_STRICT)
        capture(url_id, url, "two-reports", (green, strict))
        # A payment provider's own report: it sees the capture of its own URL.
        url = "https://pp.capture.test/"
        url_id, own = report(named_payment, url, Tlp.AMBER)
        capture(url_id, url, "payment-own", (own,))

    problems: list[str] = []
    cells = 0
    for p in principals:
        want = {c.id for c in records if expected(p, c)}
        viewer = p.role is Role.VIEWER
        got = _paths(client, tokens[p.user_id], records, viewer)
        for path in ("get", "list", "search", "evidence", "export"):
            cells += len(records)
            if viewer and path in ("evidence", "export"):
                continue
            for cid in sorted(got[path] - want):
                problems.append(f"LEAK {p.org_type}/{p.role} {path}: capture {cid}")
            for cid in sorted(want - got[path]):
                problems.append(f"MISS {p.org_type}/{p.role} {path}: capture {cid}")
        cells += 1
        if len(got["count"]) != len(want):
            problems.append(f"{p.org_type}/{p.role} count: {len(got['count'])} != {len(want)}")
    print(
        f"entitlement matrix (captures): {len(principals)} principals, {cells} cells, "
        f"{len(problems)} problems"
    )
    assert not problems, "\n".join(problems)


def test_a_capture_carries_the_strictest_marking_of_its_reports(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    with write(engine) as conn:
        a = make_member(conn, clock, org_type="hotline")
        b = make_member(conn, clock, org_type="law_enforcement")
        url = "https://strict.capture.test/"
        first = reports.submit(
            conn,
            clock,
            a,
            Actor.of(a, source="cli"),
            ReportIn(urls=[url], tlp=Tlp.GREEN),
            channel="cli",
        )
        reports.submit(
            conn,
            clock,
            b,
            Actor.of(b, source="cli"),
            ReportIn(urls=[url], tlp=Tlp.AMBER),
            channel="cli",
        )
        url_id = first.report.urls[0].id
        stored = captures.store_capture(
            conn, clock, Actor(source="stage"), _result(url_id, url, "strict", clock), settings
        )
    assert stored.tlp is Tlp.AMBER


def _report_of(conn: Connection, url_id: int) -> int:
    from sqlalchemy import select

    from cordon.store.tables import report_url

    return int(
        conn.execute(
            select(report_url.c.report_id).where(report_url.c.url_id == url_id)
        ).scalar_one()
    )

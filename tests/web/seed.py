"""A small coalition with one confirmed site, for the console's pages of URLs, money and notices.

A hotline reported a shop (GREEN) that was captured (a picture as hashes, an e-mail address with
markup in it, a wallet), attributed (through a CDN, with a registrar) and confirmed; it shows a
checkout account of each of two payment providers, so each provider received one payment alert.
The second provider also made a test purchase on it. A second site was reported AMBER+STRICT by
another hotline: no one else may open it. Two hosting providers each received one notice.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine

from cordon.attribution import repo as attributions
from cordon.attribution.jurisdiction import Decision
from cordon.attribution.model import CdnFinding, DnsAnswer, HostAttribution, Network, Registrar
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.crawl import repo as captures
from cordon.crawl.capture import CapturePlan, CaptureResult, PageVersion
from cordon.crawl.evidence import PageRecord, build_warc
from cordon.crawl.extract import Indicator
from cordon.crawl.fetcher import FetchResult, Hop
from cordon.crawl.media import MediaOutcome
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.money import purchases, repo, sightings
from cordon.money.model import PurchaseIn
from cordon.notices import repo as notices
from cordon.notices.kinds import KINDS, PAYMENT_ALERT
from cordon.notices.policy import NoticePolicy
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import write
from web.helpers import PASSWORD, give_password

STAGE = Actor(source="stage")
PDQ = "f0" * 32
SHA256 = hashlib.sha256(b"synthetic picture").hexdigest()
MD5 = hashlib.md5(b"synthetic picture", usedforsecurity=False).hexdigest()
MARKUP_EMAIL = "sales<b>@shop.test"


@dataclass(frozen=True)
class Member:
    user_id: int
    org_id: int
    email: str
    principal: Principal


@dataclass(frozen=True)
class World:
    hotline: Member
    other_hotline: Member
    police: Member
    provider_a: Member
    provider_b: Member
    host_a: Member
    host_b: Member
    tag: str
    site: str  # registrable domain of the confirmed shop
    url_id: int
    url: str
    report_id: int
    strict_url_id: int
    strict_site: str
    mirror_site: str  # another site of the hotline's showing the same wallet and account
    capture_id: int
    ident_a: int  # provider A's checkout account
    ident_b: int
    alert_a: int
    alert_b: int
    host_notice_a: int
    host_notice_b: int


def _member(conn: Connection, clock: FrozenClock, org_type: str, tag: str, country: str) -> Member:
    from cordon.partners import repo as partners

    cli = Actor(source="cli")
    name = f"{org_type}-{tag}-{uuid.uuid4().hex[:4]}"
    org = partners.create_org(conn, clock, cli, name, org_type, country)
    email = f"{name}@{org_type.replace('_', '-')}.test"
    user = partners.create_user(conn, clock, cli, email, name, None)
    give_password(conn, user.id, PASSWORD)
    partners.add_membership(conn, clock, cli, user.id, org.id, "admin")
    return Member(user.id, org.id, email, partners.principal_for(conn, user.id, org.id))


def _capture(url_id: int, url: str, clock: FrozenClock, wallet: str) -> CaptureResult:
    now = clock.now()
    fetch = FetchResult(requested_url=url, outcome="ok", final_url=url, status=200)
    fetch.hops = [Hop(url, "198.51.100.7", 443, 200)]
    fetch.address, fetch.port = "198.51.100.7", 443
    fetch.headers = [("content-type", "text/html")]
    media = MediaOutcome(url=f"{url}p.jpg", embed="img", status="hashed", sha256=SHA256)
    media.md5, media.pdq, media.pdq_quality = MD5, PDQ, 90
    result = CaptureResult(
        plan=CapturePlan(url_id, url, "first"),
        started_at=now,
        finished_at=now + timedelta(seconds=1),
        outcome="live",
        outcome_reason=None,
        gone_reason=None,
        base=fetch,
        versions=[PageVersion("base", fetch, [("User-Agent", "test")])],
        resolved={"www.shop.test": ["198.51.100.7"]},
        resolver="test",
        egress_profile=None,
        egress_proxy=None,
        media=[media],
        indicators=[
            (Indicator("email", MARKUP_EMAIL, MARKUP_EMAIL), ["base"]),
            (Indicator("analytics_id", "ga:G-SHOP123", "G-SHOP123"), ["base"]),
            (Indicator("crypto_address", wallet, wallet), ["base"]),
        ],
    )
    result.evidence, result.evidence_records = build_warc(
        at=now,
        info={"software": "test"},
        pages=[PageRecord("base", url, [], 200, "OK", "HTTP/1.1", [], b"<p>page</p>")],
        media=[media.hashes()],
        capture=result.summary(),
    )
    return result


def _attribution(host: str, site: str, clock: FrozenClock) -> HostAttribution:
    return HostAttribution(
        target=host,
        host=host,
        registrable_domain=site,
        is_ip=False,
        observed_at=clock.now(),
        basis="dns",
        addresses=("198.51.100.7",),
        dns=(
            DnsAnswer(
                host,
                "A",
                "ok",
                ("198.51.100.7",),
                cnames=((host, f"{site.replace('.', '-')}.cdn.edge.test"),),
                ttl=300,
            ),
        ),
        network=Network("198.51.100.7", 64501, "Example Edge Inc.", "198.51.100.0/24", "US"),
        cdn=CdnFinding("edge", "Example Edge", ("AS64501 is the edge network of Example Edge",)),
        registrar=Registrar("Example Registrar Ltd", 9999, None, "GB", "rdap"),
    )


def seed(engine: Engine, clock: FrozenClock, settings: Settings, tlp: Tlp = Tlp.GREEN) -> World:
    """Store the coalition and its records; returns who and what (see the module's text).
    ``tlp`` marks the shop's report (AMBER keeps it from every other organisation)."""
    tag = uuid.uuid4().hex[:6]
    policy = NoticePolicy.from_settings(settings)
    site = f"shop-{tag}.test"
    url = f"https://www.{site}/pay"
    strict_site = f"strict-{tag}.test"
    mirror_site = f"mirror-{tag}.test"
    wallet = "0x" + "ab" * 20
    account_b = f"M{int(tag, 16) % 10**8:08d}"
    with write(engine) as conn:
        hotline = _member(conn, clock, "hotline", tag, "NL")
        other = _member(conn, clock, "hotline", tag, "BE")
        police = _member(conn, clock, "law_enforcement", tag, "DE")
        provider_a = _member(conn, clock, "payment_provider", tag, "GB")
        provider_b = _member(conn, clock, "payment_provider", tag, "US")
        host_a = _member(conn, clock, "hosting_provider", tag, "NL")
        host_b = _member(conn, clock, "hosting_provider", tag, "US")
        for provider, shop in ((provider_a, "paybridge"), (provider_b, "coinvault")):
            repo.register_ownership(
                conn,
                clock,
                provider.principal,
                Actor.of(provider.principal, source="cli"),
                kind="checkout_provider",
                value=shop,
            )
        done = reports.submit(
            conn,
            clock,
            hotline.principal,
            Actor.of(hotline.principal, source="cli"),
            ReportIn(urls=[url], tlp=tlp, source_ref=f"SITE-{tag}"),
            channel="cli",
        )
        url_id = done.report.urls[0].id
        strict = reports.submit(
            conn,
            clock,
            other.principal,
            Actor.of(other.principal, source="cli"),
            ReportIn(urls=[f"https://{strict_site}/"], tlp=Tlp.AMBER_STRICT),
            channel="cli",
        )
        stored = captures.store_capture(
            conn, clock, STAGE, _capture(url_id, url, clock, wallet), settings
        )
        mirror_url = f"https://{mirror_site}/"
        mirror = reports.submit(
            conn,
            clock,
            hotline.principal,
            Actor.of(hotline.principal, source="cli"),
            ReportIn(urls=[mirror_url], tlp=tlp),
            channel="cli",
        )
        mirror_id = mirror.report.urls[0].id
        captures.store_capture(
            conn, clock, STAGE, _capture(mirror_id, mirror_url, clock, wallet), settings
        )
        attributions.store(
            conn,
            clock,
            STAGE,
            url_id,
            _attribution(f"www.{site}", site, clock),
            Decision((), (), ()),
            capture_id=stored.capture_id,
        )
        got_a = sightings.record_sighting(
            conn, clock, STAGE, f"https://pay.paybridge.test/checkout/m-{tag}", url_id
        )
        sightings.record_sighting(
            conn, clock, STAGE, f"https://pay.paybridge.test/checkout/m-{tag}", mirror_id
        )
        got_b = sightings.record_sighting(
            conn, clock, STAGE, f"https://checkout.coinvault.test/m/{account_b}", url_id
        )
        sightings.mark_url_confirmed(
            conn, clock, STAGE, url_id, capture_id=stored.capture_id, policy=policy
        )
        purchases.submit(
            conn,
            clock,
            provider_b.principal,
            Actor.of(provider_b.principal, source="cli"),
            PurchaseIn.model_validate(
                {
                    "date": "2026-02-20T10:00:00Z",
                    "site_url": url,
                    "provider": "coinvault",
                    "account": account_b,
                    "amount": "19.95",
                    "currency": "EUR",
                    "tlp": "AMBER",
                }
            ),
            channel="cli",
            policy=policy,
        )
        alerts = {
            n.recipient_org_id: n.id
            for n in notices.notices_about(
                conn, "payment_identifier", [got_a.identifier_id, got_b.identifier_id]
            )
            if n.kind == PAYMENT_ALERT.name
        }
        # Notices to two hosts, of the kind the engine has for hosts when it has one.
        kind = KINDS.get("host_takedown", PAYMENT_ALERT)
        host_notices = []
        for host in (host_a, host_b):
            host_notices.append(
                notices.issue(
                    conn,
                    clock,
                    STAGE,
                    policy,
                    kind=kind,
                    recipient_org_id=host.org_id,
                    subject_kind="url",
                    subject_id=url_id,
                    title=f"Notice to {host.email}",
                    body=f"Content at {url} matched a hash list.",
                    payload={"url": url},
                    issuer_org_id=hotline.org_id,
                ).id
            )
    from cordon.graph import service as graph

    graph.run_all(engine, clock, STAGE, settings.graph)
    return World(
        hotline=hotline,
        other_hotline=other,
        police=police,
        provider_a=provider_a,
        provider_b=provider_b,
        host_a=host_a,
        host_b=host_b,
        tag=tag,
        site=site,
        url_id=url_id,
        url=url,
        report_id=done.report.id,
        strict_url_id=strict.report.urls[0].id,
        strict_site=strict_site,
        mirror_site=mirror_site,
        capture_id=stored.capture_id,
        ident_a=got_a.identifier_id,
        ident_b=got_b.identifier_id,
        alert_a=alerts[provider_a.org_id],
        alert_b=alerts[provider_b.org_id],
        host_notice_a=host_notices[0],
        host_notice_b=host_notices[1],
    )

"""Small, synthetic records for the cases, search and screening tests: a hotline's report of a
site with a wallet, a capture of it with a picture's hashes and page indicators, an
attribution, a test purchase with a descriptor, a bank entry, and a network in the graph."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.partners import Principal
from cordon.domain.payments import synthetic_address, synthetic_iban
from cordon.domain.tlp import Tlp
from cordon.money import purchases, sightings
from cordon.money.model import PurchaseIn
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.tables import attribution
from cordon.store.tables_banks import bank, bank_entry
from cordon.store.tables_crawl import capture, capture_indicator, capture_report, media_sighting
from cordon.store.tables_graph import graph_node, network, network_member

STAGE = Actor(source="stage")
PDQ = "f" * 16 + "0" * 48
MD5 = "0123456789abcdef" * 2
SHA256 = "ab" * 32
BANK_PDQ = "1" * 64
REPORT_MD5 = "fedcba9876543210" * 2
WALLET = synthetic_address("btc", b"cases-test-wallet")
OTHER_WALLET = synthetic_address("eth", b"cases-test-other")
IBAN = synthetic_iban("NL", b"cases-test-iban")
ANALYTICS = "UA-1234567-1"
EMAIL = "sales@alpha-shop.test"
ADDRESS = "192.0.2.55"


@dataclass
class Seeded:
    report_id: int
    url_id: int
    capture_id: int
    wallet_key: str
    wallet_id: int
    purchase_id: int
    bank_id: int


def _capture(conn: Connection, clock: FrozenClock, url_id: int, report_id: int) -> int:
    now = clock.now()
    cid = int(
        conn.execute(
            capture.insert()
            .values(
                url_id=url_id,
                seq=1,
                reason="first",
                tlp=Tlp.GREEN.value,
                started_at=now,
                finished_at=now,
                outcome="live",
                requested_url="https://shop.alpha.test/buy",
                final_url="https://shop.alpha.test/buy",
                final_host="shop.alpha.test",
                status=200,
                connected_address=ADDRESS,
                resolver="test",
                resolved={},
                redirects=[],
                headers={},
                timings={},
                budget={},
                cloaking=False,
                cloaking_detail={},
                media_count=1,
                indicator_count=3,
                fetcher_version="test",
            )
            .returning(capture.c.id)
        ).scalar_one()
    )
    conn.execute(capture_report.insert().values(capture_id=cid, report_id=report_id))
    conn.execute(
        media_sighting.insert().values(
            capture_id=cid,
            position=0,
            url="https://shop.alpha.test/p/1.png",
            embed="img",
            status="hashed",
            pdq=PDQ,
            pdq_quality=100,
            pdq_variants={},
            md5=MD5,
            sha256=SHA256,
            variants_seen=["base"],
        )
    )
    conn.execute(
        capture_indicator.insert(),
        [
            {
                "capture_id": cid,
                "kind": "analytics_id",
                "key": f"google_analytics:{ANALYTICS}",
                "value": ANALYTICS,
                "detail": {},
                "variants_seen": ["base"],
            },
            {
                "capture_id": cid,
                "kind": "messenger",
                "key": "telegram:alphashop",
                "value": "alphashop",
                "detail": {"service": "telegram"},
                "variants_seen": ["base"],
            },
            {
                "capture_id": cid,
                "kind": "email",
                "key": EMAIL,
                "value": EMAIL,
                "detail": {},
                "variants_seen": ["base"],
            },
        ],
    )
    return cid


def _attribution(conn: Connection, clock: FrozenClock, url_id: int) -> None:
    conn.execute(
        attribution.insert().values(
            url_id=url_id,
            host="shop.alpha.test",
            registrable_domain="alpha.test",
            basis="dns",
            observed_at=clock.now(),
            status="complete",
            address=ADDRESS,
            asn=64500,
            provider="Example Hosting",
            country="NL",
            origin_status="direct",
            chain={},
            failures=[],
            routing={},
        )
    )


def seed(
    conn: Connection,
    clock: FrozenClock,
    hotline: Principal,
    *,
    tlp: Tlp = Tlp.GREEN,
    share_with: list[int] | None = None,
) -> Seeded:
    """A hotline's report of shop.alpha.test, with everything search looks in."""
    actor = Actor.of(hotline, source="cli")
    done = reports.submit(
        conn,
        clock,
        hotline,
        actor,
        ReportIn.model_validate(
            {
                "urls": ["https://shop.alpha.test/buy"],
                "tlp": tlp.value,
                "hashes": [{"signal_type": "photo_md5", "signal": REPORT_MD5}],
                "share_with": share_with or [],
            }
        ),
        channel="cli",
    )
    url_id = done.report.urls[0].id
    got = sightings.record_sighting(conn, clock, STAGE, WALLET, url_id)
    sightings.record_sighting(conn, clock, STAGE, IBAN, url_id)
    cid = _capture(conn, clock, url_id, done.report.id)
    _attribution(conn, clock, url_id)
    bought = purchases.submit(
        conn,
        clock,
        hotline,
        actor,
        PurchaseIn.model_validate(
            {
                "date": (clock.now() - timedelta(days=1)).isoformat(),
                "site_url": "https://shop.alpha.test/buy",
                "scheme": "visa",
                "descriptor": "ALPHASHOP*DIGITAL",
                "merchant_id": "777777777777777",
                "acquirer_bin": "412345",
                "amount": "9.99",
                "currency": "EUR",
                "tlp": tlp.value,
            }
        ),
        channel="cli",
    )
    bank_id = int(
        conn.execute(
            bank.insert()
            .values(
                name=f"CASES_TEST_{hotline.org_id}",
                org_id=hotline.org_id,
                tlp=tlp.value,
                description="synthetic",
                signal_types=["pdq"],
                pdq_threshold=31,
                negative=False,
                match_dihedral=False,
                match_trimmed=False,
                match_low_quality=False,
                enabled=True,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            .returning(bank.c.id)
        ).scalar_one()
    )
    conn.execute(
        bank_entry.insert().values(
            bank_id=bank_id,
            signal_type="pdq",
            signal=BANK_PDQ,
            category="positive",
            source="test",
            tags=[],
            added_at=clock.now(),
            added_by_org_id=hotline.org_id,
            enabled=True,
        )
    )
    return Seeded(
        report_id=done.report.id,
        url_id=url_id,
        capture_id=cid,
        wallet_key=f"btc:{WALLET}",
        wallet_id=got.identifier_id,
        purchase_id=bought.purchase.id,
        bank_id=bank_id,
    )


def make_network(conn: Connection, clock: FrozenClock, sites: list[str], **extra: Any) -> int:
    """A network whose current members are the site nodes of ``sites``."""
    now = clock.now()
    nid = int(
        conn.execute(
            network.insert()
            .values(
                label=extra.get("label", sites[0] if sites else "empty"),
                created_at=now,
                updated_at=now,
                merged_into=extra.get("merged_into"),
                score=0.0,
                score_reasons=[],
                status=extra.get("status", "active"),
                size=len(sites),
            )
            .returning(network.c.id)
        ).scalar_one()
    )
    for site in sites:
        node = conn.execute(
            graph_node.select().where(graph_node.c.kind == "site", graph_node.c.key == site)
        ).first()
        node_id = (
            int(node.id)
            if node
            else int(
                conn.execute(
                    graph_node.insert()
                    .values(kind="site", key=site, first_seen=now, last_seen=now)
                    .returning(graph_node.c.id)
                ).scalar_one()
            )
        )
        conn.execute(network_member.insert().values(network_id=nid, node_id=node_id, since=now))
    return nid

"""Building blocks of the outcomes tests: reported URLs with an attribution, and a runner of
the stages that turn a confirmation into delivered notices."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.notices.stages import NoticeDeliveryStage, NoticeRepeatStage
from cordon.outcomes.stages import OutcomeConfirmStage, OutcomeSendStage, OutcomeVerifyStage
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.tables import attribution, jurisdiction_route
from cordon.store.tables import url as url_table

STAGES = [
    OutcomeConfirmStage(),
    OutcomeSendStage(),
    NoticeDeliveryStage(),
    NoticeRepeatStage(),
    OutcomeVerifyStage(),
]


def reported_url(
    conn: Connection,
    clock: FrozenClock,
    reporter: Principal,
    address: str,
    *,
    tlp: Tlp = Tlp.GREEN,
    provider: str = "Example Hosting B.V.",
    abuse: str = "abuse@hosting.test",
    registrar: str = "Example Registrar Ltd",
    registrar_abuse: str = "abuse@registrar.test",
    country: str = "NL",
    asn: int = 64500,
    routes: Sequence[Principal] = (),
) -> int:
    """Report ``address`` and record an attribution of it (as the attribute stage would)."""
    done = reports.submit(
        conn,
        clock,
        reporter,
        Actor.of(reporter, source="cli"),
        ReportIn(urls=[address], tlp=tlp),
        channel="cli",
    )
    url_id = done.report.urls[0].id
    row = conn.execute(select(url_table).where(url_table.c.id == url_id)).one()
    att_id = conn.execute(
        attribution.insert()
        .values(
            url_id=url_id,
            host=row.host,
            registrable_domain=row.registrable_domain,
            basis="dns",
            observed_at=clock.now(),
            status="complete",
            address="192.0.2.20",
            asn=asn,
            as_org=provider,
            prefix="192.0.2.0/24",
            country=country,
            provider=provider,
            abuse_email=abuse,
            origin_status="direct",
            registrar=registrar,
            registrar_iana_id=9999,
            registrar_abuse_email=registrar_abuse,
            chain={},
            failures=[],
            routing={},
        )
        .returning(attribution.c.id)
    ).scalar_one()
    for p in routes:
        conn.execute(
            jurisdiction_route.insert().values(
                attribution_id=att_id,
                org_id=p.org_id,
                org_type=p.org_type.value,
                country=country,
                reason=f"covers the hosting country {country}",
            )
        )
    return int(url_id)


def run(engine: Engine, clock: FrozenClock, settings: Settings) -> None:
    run_until_idle(engine, STAGES, StageContext(clock=clock, settings=settings))

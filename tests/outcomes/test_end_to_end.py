"""Against the synthetic world, with one clock for Cordon and the world: report → crawl →
match (the world's hash list imported into a bank) → attribution → notices in the right abuse
mailboxes of the SMTP sink → the world's desks take some sites down → re-crawl verifies removal
→ time to removal recorded; the site whose desks never act gets repeats and escalates to the
law-enforcement partner of its country; a removed site that comes back on a new host gets a
linked notice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cordon.attribution.stage import AttributeStage
from cordon.audit.log import Actor
from cordon.banks import model as banks_model
from cordon.banks import repo as banks
from cordon.config import Settings
from cordon.crawl.worker import run_crawler
from cordon.domain.tlp import Tlp
from cordon.matching.service import Matcher
from cordon.matching.stage import MatchStage, RetroMatchStage
from cordon.notices import links
from cordon.notices import repo as notices
from cordon.notices.policy import NoticePolicy
from cordon.notices.stages import NoticeDeliveryStage, NoticeRepeatStage
from cordon.outcomes import assess, metrics
from cordon.outcomes.stages import OutcomeConfirmStage, OutcomeSendStage, OutcomeVerifyStage
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.signals import formats
from cordon.store.db import make_engine, read, write
from cordon.store.tables import url as url_table
from cordon.store.tables_money import notice, url_confirmation
from cordon.store.tables_outcomes import bank_seed_request, notice_item
from cordon.world import WorldHandle, WorldSpec, running_world
from cordon.world.harness import Mail
from outcomes.conftest import XarfCheck, json_parts
from support import make_member

#: Seed 23: W00016 and W00019 on P03 (acts on the first notice), W00015 on P04 (never acts);
#: all three registered at R04 (never acts). P07 never acts either.
WORLD = WorldSpec(seed=23, sites=24)
ACTS, ACTS_TOO, NEVER = "W00016", "W00019", "W00015"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[WorldHandle]:
    """A world of its own for each backend: the test takes sites down and moves them."""
    with running_world(WORLD, folder=tmp_path / "world") as h:
        yield h


def _settings(world: WorldHandle, database_url: str, key_dir: Path) -> Settings:
    base = world.settings()
    return base.model_copy(
        update={
            "database_url": database_url,
            "key_dir": key_dir,
            "notices": base.notices.model_copy(update={"repeat_hours": 24, "escalate_after": 2}),
            "outcomes": base.outcomes.model_copy(
                update={
                    "batch_window_minutes": 10,
                    "verify_after_hours": 2,
                    "verify_interval_hours": 24,
                    "verify_recheck_minutes": 30,
                    "public_base_url": "https://cordon.example",
                }
            ),
        }
    )


def test_report_to_verified_removal_with_repeats_escalation_and_a_linked_reappearance(
    world: WorldHandle,
    fresh_db: str,
    key_dir: Path,
    xarf_valid: XarfCheck,
    clean_message: Callable[[EmailMessage, set[str]], None],
) -> None:
    truth = world.truth
    clock = world.linked_clock()
    settings = _settings(world, fresh_db, key_dir)
    engine: Engine = make_engine(fresh_db)
    attribute = AttributeStage()
    stages = [
        attribute,
        MatchStage(Matcher(clock)),
        RetroMatchStage(),
        OutcomeConfirmStage(),
        OutcomeSendStage(),
        NoticeDeliveryStage(),
        NoticeRepeatStage(),
        OutcomeVerifyStage(),
    ]
    ctx = StageContext(clock=clock, settings=settings)

    def run() -> None:
        run_until_idle(engine, stages, ctx)
        run_crawler(engine, settings, clock, once=True)
        run_until_idle(engine, stages, ctx)

    def advance(delta: timedelta, step: timedelta = timedelta(hours=6)) -> None:
        left = delta
        while left > timedelta(0):
            move = min(step, left)
            clock.advance(move)
            left -= move
            run()

    sites = {key: truth.site(key) for key in (ACTS, ACTS_TOO, NEVER)}
    providers = {p.id: p for p in truth.providers}
    registrars = {r.id: r for r in truth.registrars}
    picture_paths = {pl.path for s in truth.sites for pl in s.pictures if len(pl.path) > 4}
    try:
        with write(engine) as conn:
            hotline = make_member(conn, clock, org_type="hotline", country="NL")
            second = make_member(conn, clock, org_type="hotline", country="BE")
            police = {
                c: make_member(conn, clock, org_type="law_enforcement", country=c)
                for p in providers.values()
                for c in p.countries
            }
            make_member(conn, clock, org_type="coordinator", country="NL")
            # The world's hash list, in a bank whose entries classify as A1.
            actor = Actor.of(hotline, source="cli")
            banks.create_bank(
                conn,
                clock,
                hotline,
                actor,
                banks_model.BankIn(
                    name="WORLD_LIST",
                    tlp=Tlp.GREEN,
                    signal_types=["pdq", "photo_md5", "photo_sha256"],
                    default_classification="A1",
                ),
            )
            with world.hash_list.open(encoding="utf-8") as fh:
                entries = [
                    banks_model.EntryIn(signal_type=r.signal_type, signal=r.signal)
                    for r in formats.read_signal_file(fh)
                    if isinstance(r, formats.SignalRecord)
                ]
            banks.add_entries(conn, clock, hotline, actor, "WORLD_LIST", entries)
            urls = {key: world.url(site, "/") for key, site in sites.items()}
            reports.submit(
                conn,
                clock,
                hotline,
                Actor.of(hotline, source="api"),
                ReportIn(urls=list(urls.values()), tlp=Tlp.GREEN),
                channel="api",
            )
            url_ids = {
                key: int(
                    conn.execute(select(url_table.c.id).where(url_table.c.url == u)).scalar_one()
                )
                for key, u in urls.items()
            }
        reported_at = clock.now()
        run()  # crawl, match, attribute
        with read(engine) as conn:
            confirmed = {int(r.url_id): r for r in conn.execute(select(url_confirmation)).all()}
        assert set(confirmed) == set(url_ids.values())
        assert {r.source for r in confirmed.values()} == {"hash_match"}
        assert {r.match_summary["classification"] for r in confirmed.values()} == {"A1"}

        # Two organisations' assessments make the page's hashes eligible to seed a bank.
        with write(engine) as conn:
            assess.record(
                conn,
                clock,
                hotline,
                Actor.of(hotline, source="api"),
                settings,
                url_id=url_ids[ACTS],
                classification="A1",
                notes="assessed in the hotline's own environment",
            )
            assess.record(
                conn,
                clock,
                second,
                Actor.of(second, source="api"),
                settings,
                url_id=url_ids[ACTS],
                classification="A2",
            )
            seed = conn.execute(select(bank_seed_request)).all()
        assert [int(r.url_id) for r in seed] == [url_ids[ACTS]]
        assert seed[0].classification == "A1"
        assert seed[0].hashes
        assert all("sha256" in h for h in seed[0].hashes)

        run()  # drafts are made; nothing is sent inside the batch window
        assert world.messages() == []
        advance(timedelta(minutes=11))
        mails = world.messages()

        # One notice per recipient: P03's abuse desk gets both of its sites in one message,
        # P04's gets its site, R04 (the registrar of all three) gets all three.
        p03 = providers[sites[ACTS].hosting.provider]
        p04 = providers[sites[NEVER].hosting.provider]
        r04 = registrars[sites[NEVER].registrar]
        by_rcpt: dict[str, list[Mail]] = {}
        for m in mails:
            for r in m.rcpt_tos:
                by_rcpt.setdefault(r, []).append(m)
        assert sorted(by_rcpt) == sorted({p03.abuse_email, p04.abuse_email, r04.abuse_email})
        assert all(len(v) == 1 for v in by_rcpt.values())
        to_p03 = by_rcpt[p03.abuse_email][0]
        assert set(to_p03.sites) == {ACTS, ACTS_TOO}
        assert set(by_rcpt[r04.abuse_email][0].sites) == {ACTS, ACTS_TOO, NEVER}
        # The host that acts on the first notice took its sites down.
        assert {a["target"] for a in to_p03.actions if a["outcome"] == "acted"} >= {
            ACTS,
            ACTS_TOO,
        }
        for m in mails:
            clean_message(m.message, picture_paths)
            attached = json_parts(m.message)
            reports_ = [v for k, v in attached.items() if k.startswith("xarf-")]
            assert reports_, "every takedown e-mail carries one XARF report per URL"
            for report in reports_:
                xarf_valid(report)
                assert report["detection_method"] == "hash_match"
                assert report["hash_values"]["sha256"]
            text = m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "https://cordon.example/v1/notices/respond?token=" in text
            assert "Capture SHA-256:" in text
            assert "Match: bank WORLD_LIST" in text

        # Referrals reach the police of the hosting country in their inbox.
        with read(engine) as conn:
            referrals = conn.execute(select(notice).where(notice.c.kind == "le_referral")).all()
        assert referrals
        assert {int(r.recipient_org_id) for r in referrals} <= {p.org_id for p in police.values()}

        # Verification: after verify_after_hours the URLs are re-crawled; P03's are gone.
        advance(timedelta(hours=3), step=timedelta(minutes=45))
        with read(engine) as conn:
            host_notices = {
                r.recipient_address: r
                for r in conn.execute(select(notice).where(notice.c.kind == "host_takedown")).all()
            }
            items = conn.execute(select(notice_item)).all()
        assert host_notices[p03.abuse_email].state == "verified"
        assert host_notices[p04.abuse_email].state == "sent"
        removed = {int(i.url_id): i for i in items if i.state == "removed" and i.role == "host"}
        assert set(removed) == {url_ids[ACTS], url_ids[ACTS_TOO]}
        with read(engine) as conn:
            stats = metrics.outcome_stats(conn)
        removal = stats["time_to_removal"]
        assert removal["overall"]["count"] == 2
        assert removal["overall"]["median_hours"] > 0
        assert removal["overall"]["median_hours"] == pytest.approx(
            (removed[url_ids[ACTS]].removed_at - reported_at).total_seconds() / 3600, rel=0.5
        )
        assert {row["key"] for row in removal["by_provider"]} == {removed[url_ids[ACTS]].provider}

        # The registrar claims through its signed link that it suspended the domains; the
        # re-crawl that follows still finds one of them live: the notice is sent again.
        with read(engine) as conn:
            registrar_notice = conn.execute(
                select(notice).where(notice.c.recipient_address == r04.abuse_email)
            ).one()
        token = links.make_token(
            links.link_key(key_dir),
            int(registrar_notice.id),
            "suspended",
            clock.now() + timedelta(days=1),
        )
        with write(engine) as conn:
            claim = links.read_token(links.link_key(key_dir), token, now=clock.now())
            answered = notices.answer_by_link(
                conn, clock, Actor(source="api"), NoticePolicy.from_settings(settings), claim
            )
        assert answered.state.value == "actioned"
        advance(timedelta(minutes=45), step=timedelta(minutes=15))
        with read(engine) as conn:
            registrar_notice = conn.execute(
                select(notice).where(notice.c.id == registrar_notice.id)
            ).one()
            history = [e.event for e in notices.events(conn, int(registrar_notice.id))]
        assert registrar_notice.state == "sent"
        assert "not_removed" in history

        # The site nobody removes: repeated every 24 h, escalated after two repeats to the
        # police of the hosting country.
        world.move(ACTS_TOO, "P07")  # meanwhile a removed site comes back on a new host
        advance(timedelta(hours=50))
        with read(engine) as conn:
            never = conn.execute(
                select(notice).where(notice.c.recipient_address == p04.abuse_email)
            ).one()
            escalations = conn.execute(select(notice).where(notice.c.kind == "escalation")).all()
        assert never.repeats >= 2
        assert never.escalated_at is not None
        country = next(
            i.country for i in items if int(i.url_id) == url_ids[NEVER] and i.role == "host"
        )
        assert any(
            int(e.recipient_org_id) == police[country].org_id and int(e.subject_id) == int(never.id)
            for e in escalations
        )
        reminders = [m for m in world.messages() if p04.abuse_email in m.rcpt_tos]
        assert len(reminders) >= 3
        assert any("(reminder 2)" in m.subject for m in reminders)

        # The site back on P07 gets a new notice, linked to the verified one.
        advance(timedelta(minutes=30), step=timedelta(minutes=15))
        p07 = providers["P07"]
        with read(engine) as conn:
            old = conn.execute(
                select(notice).where(notice.c.id == host_notices[p03.abuse_email].id)
            ).one()
            new = conn.execute(
                select(notice).where(
                    notice.c.kind == "host_takedown",
                    notice.c.recipient_address == p07.abuse_email,
                )
            ).one()
            new_items = conn.execute(
                select(notice_item).where(notice_item.c.notice_id == new.id)
            ).all()
        assert old.state == "reappeared"
        assert new.parent_notice_id == old.id
        assert [int(i.url_id) for i in new_items] == [url_ids[ACTS_TOO]]
        assert new_items[0].previous_item_id is not None
        assert any(p07.abuse_email in m.rcpt_tos for m in world.messages())
        with read(engine) as conn:
            stats = metrics.outcome_stats(conn)
        assert stats["reappearance"]["reappeared"] == 1
        for m in world.messages():
            clean_message(m.message, picture_paths)
            for k, v in json_parts(m.message).items():
                if k.startswith("xarf-"):
                    xarf_valid(v)
    finally:
        attribute.close()
        engine.dispose()

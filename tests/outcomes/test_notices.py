"""Takedown notices on both backends: one notice per recipient per batch window with a XARF v4
report per URL that validates against the published schemas; nothing but signals in them;
signed links answer (and tampered or expired ones do not); the state machine refuses bad
moves; a member host gets its notices in its inbox and its signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from cordon.api.app import create_app
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.keys import Keys
from cordon.money.sightings import mark_url_confirmed
from cordon.notices import repo as notices
from cordon.notices.states import TransitionError
from cordon.outcomes import assess, compose, xarf
from cordon.store.db import read, write
from cordon.store.tables import work_item
from cordon.store.tables_money import notice
from cordon.store.tables_outcomes import notice_item
from notices.servers import WEBHOOK_NETWORK, SmtpSink, smtp_sink, webhook_receiver
from outcomes.conftest import XarfCheck, json_parts
from outcomes.helpers import reported_url, run
from support import make_member

STAGE = Actor(source="stage")


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def outcome_settings(fresh_db: str, key_dir: Path, sink: SmtpSink) -> Settings:
    return load_settings(
        environ={},
        overrides={
            "database_url": fresh_db,
            "key_dir": str(key_dir),
            "smtp": {"host": sink.host, "port": sink.port, "starttls": False},
            "notices": {"webhook_allow_networks": [WEBHOOK_NETWORK]},
            "outcomes": {"batch_window_minutes": 10, "public_base_url": "https://cordon.example"},
        },
    )


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_one_notice_per_recipient_and_window_with_a_valid_xarf_report_per_url(
    engine: Engine,
    clock: FrozenClock,
    outcome_settings: Settings,
    sink: SmtpSink,
    xarf_valid: XarfCheck,
    clean_message: Callable[[EmailMessage, set[str]], None],
) -> None:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        police = make_member(conn, clock, org_type="law_enforcement", country="NL")
        ids = [
            reported_url(conn, clock, hotline, f"https://shop-{n}.test/gallery", routes=[police])
            for n in range(2)
        ]
        ids.append(
            reported_url(
                conn, clock, hotline, "https://other.test/", provider="B", abuse="abuse@b.test"
            )
        )
        for url_id in ids:
            assess.record(
                conn,
                clock,
                hotline,
                Actor.of(hotline, source="cli"),
                outcome_settings,
                url_id=url_id,
                classification="A1",
            )
    run(engine, clock, outcome_settings)
    assert sink.messages == []  # still inside the batch window
    clock.advance(timedelta(minutes=11))
    run(engine, clock, outcome_settings)
    by_rcpt = {tuple(rcpts): m for (_, rcpts), m in zip(sink.envelopes, sink.messages, strict=True)}
    assert sorted(by_rcpt) == [
        ("abuse@b.test",),
        ("abuse@hosting.test",),
        ("abuse@registrar.test",),
    ]
    host = by_rcpt[("abuse@hosting.test",)]
    reports_ = {k: v for k, v in json_parts(host).items() if k.startswith("xarf-")}
    assert sorted(r["url"] for r in reports_.values()) == [
        "https://shop-0.test/gallery",
        "https://shop-1.test/gallery",
    ]
    assert len(json_parts(by_rcpt[("abuse@registrar.test",)])) == 4  # notice.json + 3 reports
    for m in sink.messages:
        clean_message(m, {"/gallery/"})
        for name, report in json_parts(m).items():
            if name.startswith("xarf-"):
                xarf_valid(report)
                assert report["detection_method"] == "manual_review"
                assert report["classification"] == "A1"
        text = _text(m)
        assert "hxxps://shop-0[.]test/gallery" in text or "other[.]test" in text
        assert "https://shop-0.test" not in text  # links are defanged in the text
    # The police of the hosting country get a referral in their inbox.
    with read(engine) as conn:
        referral = conn.execute(select(notice).where(notice.c.kind == "le_referral")).one()
    assert referral.recipient_org_id == police.org_id
    assert referral.state == "sent"


def test_no_report_without_a_classification_and_no_notice_for_restricted_evidence(
    engine: Engine, clock: FrozenClock, outcome_settings: Settings, sink: SmtpSink
) -> None:
    from cordon.domain.tlp import Tlp

    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        plain = reported_url(conn, clock, hotline, "https://unclassified.test/")
        strict = reported_url(conn, clock, hotline, "https://strict.test/", tlp=Tlp.AMBER_STRICT)
        mark_url_confirmed(conn, clock, STAGE, plain, match_summary={"matched_media": 1})
        mark_url_confirmed(conn, clock, STAGE, strict, match_summary={"classification": "B1"})
        assert compose.on_confirmed(conn, clock, STAGE, outcome_settings, plain) == [
            "no classification"
        ]
        assert compose.on_confirmed(conn, clock, STAGE, outcome_settings, strict) == [
            "evidence restricted to its owners"
        ]
    clock.advance(timedelta(hours=1))
    run(engine, clock, outcome_settings)
    with read(engine) as conn:
        assert conn.execute(select(notice_item)).all() == []
    assert sink.messages == []
    with pytest.raises(xarf.XarfError, match="without a classification"):
        xarf.build_report(
            report_uuid=xarf.report_id(1, 1),
            url="https://x.test/",
            host="x.test",
            observed_at=clock.now(),
            classification=None,
            detection_method="hash_match",
            reporter=xarf.Party("C", "c@cordon.example"),
            source_identifier=None,
        )


def _links(text: str) -> dict[str, str]:
    found = re.findall(r"  (\w+): .*\n    (https://cordon\.example/v1/notices/respond\S+)", text)
    return {name: link.split("token=", 1)[1] for name, link in found}


def test_signed_links_answer_and_tampered_or_expired_ones_are_refused(
    engine: Engine,
    clock: FrozenClock,
    outcome_settings: Settings,
    keys: Keys,
    sink: SmtpSink,
) -> None:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        url_id = reported_url(conn, clock, hotline, "https://linked.test/")
        assess.record(
            conn,
            clock,
            hotline,
            Actor.of(hotline, source="cli"),
            outcome_settings,
            url_id=url_id,
            classification="B2",
        )
    run(engine, clock, outcome_settings)
    clock.advance(timedelta(minutes=11))
    run(engine, clock, outcome_settings)
    host = next(
        m
        for (_, r), m in zip(sink.envelopes, sink.messages, strict=True)
        if r == ["abuse@hosting.test"]
    )
    tokens = _links(_text(host))
    assert set(tokens) == {"acknowledged", "removed", "not_ours", "disputed"}
    from urllib.parse import unquote

    removed = unquote(tokens["removed"])
    app = create_app(outcome_settings, clock, engine, keys)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/v1/notices/respond", params={"token": removed})
        assert page.status_code == 200, page.text
        assert page.json()["answer"] == "removed"
        assert page.json()["urls"][0]["url"] == "https://linked.test/"
        forged = removed[:-3] + ("AAA" if not removed.endswith("AAA") else "BBB")
        bad = client.post("/v1/notices/respond", json={"token": forged})
        assert bad.status_code == 403
        assert "signature" in bad.json()["detail"]
        done = client.post("/v1/notices/respond", json={"token": removed, "note": "gone"})
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "actioned"
        again = client.post("/v1/notices/respond", json={"token": unquote(tokens["disputed"])})
        assert again.status_code == 409  # an actioned notice takes no further answer
        clock.advance(timedelta(days=31))
        late = client.get("/v1/notices/respond", params={"token": removed})
        assert late.status_code == 403
        assert "expired" in late.json()["detail"]
    with read(engine) as conn:
        n = conn.execute(select(notice).where(notice.c.kind == "host_takedown")).one()
        queued = conn.execute(
            select(work_item).where(
                work_item.c.stage == "outcome_verify", work_item.c.subject_kind == "notice"
            )
        ).all()
    assert n.answer == "removed"
    assert n.answered_by is None  # no Cordon user behind a signed link
    assert [int(q.subject_id) for q in queued] == [int(n.id)]  # a re-crawl will verify it
    with write(engine) as conn, pytest.raises(TransitionError, match="only a verified"):
        notices.mark_reappeared(conn, clock, STAGE, int(n.id))


def _documented_verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The recipe of docs/notices.md, copied as a partner would."""
    parts = [p.split("=", 1) for p in header.split(",")]
    t = next(v for k, v in parts if k == "t")
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(t)) <= tolerance
    return fresh and any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


def test_a_member_host_gets_its_notice_in_the_inbox_and_a_signed_webhook(
    engine: Engine, outcome_settings: Settings, sink: SmtpSink
) -> None:
    from datetime import UTC, datetime

    # The recipe checks freshness against the real time: the batch window ends about now.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=11))
    with webhook_receiver() as hook:
        with write(engine) as conn:
            hotline = make_member(conn, clock, org_type="hotline")
            host = make_member(conn, clock, org_type="hosting_provider", role="admin")
            actor = Actor.of(host, source="cli")
            notices.add_endpoint(
                conn,
                clock,
                host,
                actor,
                channel="email",
                target="abuse@hosting.test",
                key_dir=outcome_settings.key_dir,
            )
            _, secret = notices.add_endpoint(
                conn,
                clock,
                host,
                actor,
                channel="webhook",
                target=hook.url,
                key_dir=outcome_settings.key_dir,
            )
            assert secret is not None
            url_id = reported_url(conn, clock, hotline, "https://member-hosted.test/")
            assess.record(
                conn,
                clock,
                hotline,
                Actor.of(hotline, source="cli"),
                outcome_settings,
                url_id=url_id,
                classification="A2",
            )
        run(engine, clock, outcome_settings)
        clock.advance(timedelta(minutes=11))
        run(engine, clock, outcome_settings)
        received = hook.received()
    with read(engine) as conn:
        n = conn.execute(select(notice).where(notice.c.kind == "host_takedown")).one()
    assert n.recipient_org_id == host.org_id
    assert n.recipient_address is None
    assert len(received) == 1
    body = received[0].body
    header = received[0].headers["Cordon-Signature"]
    assert _documented_verify(secret, header, body)
    tampered = body.replace(b"member-hosted", b"member-hostex")
    assert not _documented_verify(secret, header, tampered)
    document = json.loads(body)
    [report] = document["notice"]["evidence"]["xarf"]
    assert report["classification"] == "A2"
    assert "screenshot_url" not in report
    assert "evidence" not in report
    assert document["notice"]["answers"][1]["name"] == "removed"

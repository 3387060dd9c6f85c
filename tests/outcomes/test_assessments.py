"""Assessments confirm URLs with their classification (API and CLI); bad input changes nothing;
independent assessments make a page's hashes a bank seed request, submitted to a bank through
the banks feature; `cordon stats` prints the outcome metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from cordon.audit.log import Actor
from cordon.banks import repo as banks
from cordon.banks.model import BankIn
from cordon.cli.main import app as cli
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import Principal
from cordon.keys import Keys
from cordon.outcomes import assess, repo
from cordon.store.db import read, write
from cordon.store.tables import app_user
from cordon.store.tables_money import url_confirmation
from cordon.store.tables_outcomes import assessment, bank_seed_request
from outcomes.helpers import reported_url
from support import make_member, token_for

PDQ = "f" * 16 + "0" * 48
SHA = "ab" * 32


def _email(engine: Engine, p: Principal) -> str:
    with read(engine) as conn:
        return str(
            conn.execute(select(app_user.c.email).where(app_user.c.id == p.user_id)).scalar()
        )


def test_an_assessment_confirms_its_url_and_bad_input_changes_nothing(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        isp = make_member(conn, clock, org_type="isp", role="admin")
        url_id = reported_url(conn, clock, hotline, "https://assessed.test/page")
        token = token_for(conn, clock, keys, hotline)
        isp_token = token_for(conn, clock, keys, isp)
    auth = {"Authorization": f"Bearer {token}"}
    for bad, field in (
        ({"url_id": url_id, "classification": "C3"}, "classification"),
        ({"url": "https://never-reported.test/", "classification": "A1"}, "url"),
        ({"url_id": 999999, "classification": "A1"}, "url_id"),
    ):
        answer = client.post("/v1/assessments", json=bad, headers=auth)
        assert answer.status_code == 422, answer.text
        assert field in answer.text
    refused = client.post(
        "/v1/assessments",
        json={"url_id": url_id, "classification": "A1"},
        headers={"Authorization": f"Bearer {isp_token}"},
    )
    assert refused.status_code == 403  # hosts and ISPs act on notices; they do not assess
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(assessment)).scalar_one() == 0
        assert conn.execute(select(url_confirmation)).all() == []
    made = client.post(
        "/v1/assessments",
        json={"url": "https://assessed.test/page", "classification": "B1", "notes": "n"},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    assert made.json()["page_classification"] == "B1"
    with read(engine) as conn:
        conf = conn.execute(select(url_confirmation)).one()
    assert conf.source == "assessment"
    assert conf.match_summary["classification"] == "B1"
    listed = client.get("/v1/assessments", headers=auth).json()["items"]
    assert [a["id"] for a in listed] == [made.json()["id"]]
    assert client.get("/v1/assessments/count", headers=auth).json() == {"count": 1}


def test_independent_assessments_make_a_seed_request_submitted_to_a_bank(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    with write(engine) as conn:
        a = make_member(conn, clock, org_type="hotline")
        a2 = make_member(conn, clock, org_type="hotline")
        b = make_member(conn, clock, org_type="law_enforcement", country="DE")
        one = reported_url(conn, clock, a, "https://one.test/")
        for who in (a, a):
            assess.record(
                conn,
                clock,
                who,
                Actor.of(who, source="cli"),
                settings,
                url_id=one,
                classification="A2",
            )
        assert repo.seed_request_of(conn, one) is None  # one organisation twice is not enough
        loose = settings.model_copy(
            update={"outcomes": settings.outcomes.model_copy(update={"seed_same_org": True})}
        )
        two = reported_url(conn, clock, a, "https://two.test/")
        for _ in range(2):
            assess.record(
                conn, clock, a, Actor.of(a, source="cli"), loose, url_id=two, classification="B2"
            )
        assert repo.seed_request_of(conn, two) is not None  # when configured, it is
        three = reported_url(conn, clock, a, "https://three.test/")
        done = [
            assess.record(
                conn,
                clock,
                who,
                Actor.of(who, source="cli"),
                settings,
                url_id=three,
                classification=c,
            )
            for who, c in ((a, "B1"), (b, "A1"))
        ]
        assert done[0].seed_request_id is None
        assert done[1].seed_request_id is not None
        assert done[1].classification == "A1"  # the most severe assessment
        # A seed request carrying a page's hashes, submitted to a bank the analyst's org owns.
        rid = repo.insert_seed_request(
            conn,
            clock.now(),
            url_id=reported_url(conn, clock, a2, "https://four.test/"),
            capture_id=None,
            classification="A1",
            assessment_ids=[],
            hashes=[{"pdq": PDQ, "sha256": SHA, "md5": "cd" * 16}],
        )
        actor = Actor.of(a2, source="cli")
        banks.create_bank(
            conn, clock, a2, actor, BankIn(name="SEEDED", signal_types=["pdq", "photo_sha256"])
        )
        result = assess.submit_seed_request(conn, clock, a2, actor, rid, "SEEDED")
        assert result == {"bank": "SEEDED", "added": 2, "duplicates": 0}
        row = conn.execute(select(bank_seed_request).where(bank_seed_request.c.id == rid)).one()
        assert row.state == "submitted"
        with pytest.raises(assess.AssessmentError, match="already submitted"):
            assess.submit_seed_request(conn, clock, a2, actor, rid, "SEEDED")


def test_the_cli_assesses_and_prints_stats(
    engine: Engine, clock: FrozenClock, settings: Settings, fresh_db: str
) -> None:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        reported_url(conn, clock, hotline, "https://cli-assessed.test/")
    env = {"CORDON_DATABASE_URL": fresh_db, "CORDON_KEY_DIR": str(settings.key_dir)}
    runner = CliRunner()
    who = _email(engine, hotline)
    bad = runner.invoke(
        cli, ["assess", "https://cli-assessed.test/", "-c", "Z9", "--as", who], env=env
    )
    assert bad.exit_code == 1
    assert "classification" in bad.output
    done = runner.invoke(
        cli, ["assess", "https://cli-assessed.test/", "-c", "A1", "--as", who], env=env
    )
    assert done.exit_code == 0, done.output
    assert "confirmed as A1" in done.output
    stats = runner.invoke(cli, ["stats", "--as", who], env=env)
    assert stats.exit_code == 0, stats.output
    assert "Time to removal" in stats.output
    assert "Repeats" in stats.output
    assert "host_takedown" in stats.output

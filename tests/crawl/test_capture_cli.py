"""The crawl stage through the generic runner, ``cordon crawl``, and ``cordon capture
show|export|verify``: an evidence bundle verifies, and a tampered one does not."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cordon.audit.log import Actor
from cordon.cli.main import app
from cordon.clock import FrozenClock
from cordon.crawl.evidence import read_warc, verify_bundle
from cordon.crawl.stage import CrawlStage
from cordon.domain.tlp import Tlp
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from cordon.store.tables import app_user
from cordon.store.tables_crawl import capture
from cordon.world import WorldHandle
from support import make_member

runner = CliRunner()


def _report(engine: Engine, urls: list[str]) -> str:
    clock = FrozenClock()
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        reports.submit(
            conn,
            clock,
            hotline,
            Actor.of(hotline, source="cli"),
            ReportIn(urls=urls, tlp=Tlp.AMBER),
            channel="cli",
        )
        return str(
            conn.execute(
                select(app_user.c.email).where(app_user.c.id == hotline.user_id)
            ).scalar_one()
        )


def _run(env: dict[str, str], *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert (result.exit_code == 0) is ok, output
    return output


def test_the_stage_runner_captures_and_the_cli_exports_a_bundle_that_verifies(
    world: WorldHandle, engine: Engine, fresh_db: str, tmp_path: Path
) -> None:
    storefront = next(s for s in world.truth.sites if s.role == "storefront" and s.pictures)
    url = world.url(storefront, storefront.pictures[0].page)
    email = _report(engine, [url])
    settings = world.settings().model_copy(update={"database_url": fresh_db})
    stats = run_until_idle(engine, [CrawlStage()], StageContext(FrozenClock(), settings))
    assert stats.done == 1
    with read(engine) as conn:
        capture_id = conn.execute(select(capture.c.id)).scalar_one()
    env = {"CORDON_DATABASE_URL": fresh_db, "CORDON_CONFIG": str(world.config_file)}
    shown = json.loads(_run(env, "capture", "show", str(capture_id), "--as", email, "--json"))
    assert shown["outcome"] == "live"
    assert shown["tlp"] == "AMBER"
    assert shown["media"]
    assert all(m["sha256"] for m in shown["media"])
    assert "capture" in _run(env, "capture", "show", str(capture_id), "--as", email)
    bundle = tmp_path / "capture.zip"
    _run(env, "capture", "export", str(capture_id), "--as", email, "--out", str(bundle))
    assert verify_bundle(bundle.read_bytes()) == []
    assert "verifies" in _run(env, "capture", "verify", str(bundle))
    with zipfile.ZipFile(bundle) as z:
        records = read_warc(z.read("evidence.warc.gz"))
        record = json.loads(z.read("capture.json"))
    kinds = [r.type for r in records]
    assert kinds[0] == "warcinfo"
    assert kinds.count("response") == 3  # the page and its two cloaking probes
    assert kinds.count("metadata") == len(record["media"]) + 1
    assert record["evidence"]["records"] == len(records)
    # The same export twice gives the same bytes.
    again = tmp_path / "again.zip"
    _run(env, "capture", "export", str(capture_id), "--as", email, "--out", str(again))
    assert again.read_bytes() == bundle.read_bytes()
    # Tampering with the evidence is found.
    tampered = tmp_path / "tampered.zip"
    out = io.BytesIO()
    with zipfile.ZipFile(bundle) as z, zipfile.ZipFile(out, "w") as w:
        for name in z.namelist():
            data = z.read(name)
            if name == "capture.json":
                data = data.replace(b'"live"', b'"gone"')
            w.writestr(name, data)
    tampered.write_bytes(out.getvalue())
    problems = verify_bundle(tampered.read_bytes())
    assert problems
    assert "capture.json" in problems[0]
    assert "does not verify" in _run(env, "capture", "verify", str(tampered), ok=False)
    # Someone else's AMBER capture is answered as missing.
    with write(engine) as conn:
        other = make_member(conn, FrozenClock(), org_type="law_enforcement")
        other_email = conn.execute(
            select(app_user.c.email).where(app_user.c.id == other.user_id)
        ).scalar_one()
    output = _run(env, "capture", "show", str(capture_id), "--as", other_email, ok=False)
    assert f"no capture with id {capture_id}" in output


def test_cordon_crawl_once_crawls_what_is_due(
    world: WorldHandle, engine: Engine, fresh_db: str
) -> None:
    site = next(s for s in world.truth.sites if s.role == "noise")
    _report(engine, [world.url(site, "/")])
    env = {"CORDON_DATABASE_URL": fresh_db, "CORDON_CONFIG": str(world.config_file)}
    output = _run(env, "crawl", "--once", "--quiet")
    assert output == ""
    with read(engine) as conn:
        outcomes = conn.execute(select(capture.c.outcome)).scalars().all()
    assert outcomes == ["live"]
    # An unknown egress profile is refused before anything is crawled.
    output = _run(env, "crawl", "--once", "--profile", "mars", ok=False)
    assert "'mars' is not in egress_profiles" in output

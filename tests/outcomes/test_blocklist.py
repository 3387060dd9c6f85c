"""The ISP block list: what is listed (live confirmed URLs; a dedicated domain whole), versions
and diffs, the signed manifest (verifies with the public key; an edited list or manifest does
not), `cordon blocklist`, ISPs told of new versions, and appeals reaching every party."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select, update
from typer.testing import CliRunner

from cordon.api.app import create_app
from cordon.audit.log import Actor
from cordon.cli.main import app as cli
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.crawl import repo as crawl
from cordon.domain.tlp import Tlp
from cordon.keys import BLOCKLIST_PUBLIC_KEY, Keys
from cordon.money.sightings import mark_url_confirmed
from cordon.outcomes import blocklist
from cordon.store.db import read, write
from cordon.store.tables_crawl import crawl_schedule
from cordon.store.tables_money import notice
from outcomes.helpers import reported_url
from support import make_member, token_for

STAGE = Actor(source="stage")


def _live(conn: Connection, clock: FrozenClock, url_id: int, state: str = "live") -> None:
    """The crawler's verdict on a URL, as its schedule records it."""
    crawl.request_crawl(conn, clock, STAGE, [url_id], reason="manual")
    conn.execute(
        update(crawl_schedule).where(crawl_schedule.c.url_id == url_id).values(state=state)
    )


def _confirmed(conn: Connection, clock: FrozenClock, url_id: int) -> None:
    mark_url_confirmed(conn, clock, STAGE, url_id, match_summary={"classification": "A1"})


def _documented_verify(list_bytes: bytes, manifest: dict, signature_hex: str, pem: bytes) -> bool:  # type: ignore[type-arg]
    """docs/outcomes.md's recipe, as an ISP would copy it."""
    key = load_pem_public_key(pem)
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        key.verify(bytes.fromhex(signature_hex), canonical.encode())  # type: ignore[union-attr]
    except InvalidSignature:
        return False
    return hashlib.sha256(list_bytes).hexdigest() == manifest["sha256"]


def test_versions_manifest_diff_isp_notices_cli_and_appeal(
    engine: Engine, clock: FrozenClock, settings: Settings, keys: Keys, fresh_db: str
) -> None:
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        isp = make_member(conn, clock, org_type="isp")
        make_member(conn, clock, org_type="coordinator")
        dedicated = [
            reported_url(conn, clock, hotline, f"https://dedicated.test/{p}") for p in ("a", "b")
        ]
        shared = [
            reported_url(conn, clock, hotline, f"https://shared.test/{p}") for p in ("x", "y")
        ]
        strict = reported_url(conn, clock, hotline, "https://strict.test/", tlp=Tlp.AMBER_STRICT)
        gone = reported_url(conn, clock, hotline, "https://gone.test/")
        for u in [*dedicated, shared[0], strict, gone]:
            _confirmed(conn, clock, u)
        for u in [*dedicated, *shared, strict]:
            _live(conn, clock, u)
        _live(conn, clock, gone, "gone")
        first, new = blocklist.publish(conn, clock, STAGE, settings)
    assert new
    assert first.version == 1
    # The dedicated domain whole; on the shared one only its confirmed URL; nothing gone, and
    # nothing that only an AMBER+STRICT report holds.
    assert first.text == "domain dedicated.test\nurl https://shared.test/x\n"
    pem = (settings.key_dir / BLOCKLIST_PUBLIC_KEY).read_bytes()
    assert _documented_verify(first.text.encode(), first.manifest, first.signature, pem)
    public = load_pem_public_key(pem)
    blocklist.verify(first.text.encode(), first.manifest, first.signature, public)  # type: ignore[arg-type]
    edited = first.text.replace("shared.test/x", "shared.test/z").encode()
    assert not _documented_verify(edited, first.manifest, first.signature, pem)
    forged = {**first.manifest, "sha256": hashlib.sha256(edited).hexdigest()}
    assert not _documented_verify(edited, forged, first.signature, pem)

    with write(engine) as conn:
        same, new = blocklist.publish(conn, clock, STAGE, settings)
        assert not new
        assert same.version == 1
        _live(conn, clock, shared[0], "gone")
        clock.advance(timedelta(hours=1))
        second, new = blocklist.publish(conn, clock, STAGE, settings)
    assert new
    assert second.manifest["previous_sha256"] == first.manifest["sha256"]
    change = blocklist.diff(first, second)
    assert change["removed"] == [{"kind": "url", "value": "https://shared.test/x"}]
    assert change["added"] == []
    with read(engine) as conn:
        told = conn.execute(
            select(notice).where(
                notice.c.kind == "blocklist_change", notice.c.recipient_org_id == isp.org_id
            )
        ).all()
    assert [int(n.subject_id) for n in told] == [1, 2]

    # The CLI writes a version and verifies it; an edited list fails.
    runner = CliRunner()
    env = {"CORDON_DATABASE_URL": fresh_db, "CORDON_KEY_DIR": str(settings.key_dir)}
    out = settings.key_dir.parent / "bl-out"
    shown = runner.invoke(cli, ["blocklist", "show", "--version", "1", "--out", str(out)], env=env)
    assert shown.exit_code == 0, shown.output
    ok = runner.invoke(cli, ["blocklist", "verify", str(out)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "valid: version 1, 2 entries" in ok.output
    (out / "blocklist.txt").write_text("domain dedicated.test\n", encoding="utf-8")
    bad = runner.invoke(cli, ["blocklist", "verify", str(out)], env=env)
    assert bad.exit_code == 1
    assert "NOT VALID" in bad.output
    diffed = runner.invoke(cli, ["blocklist", "diff", "1", "2"], env=env)
    assert diffed.exit_code == 0
    assert "- url https://shared.test/x" in diffed.output

    # ISPs read the list through the API; the public key needs no login; an appeal reaches
    # the ISPs and the coordinator in their inboxes, and an unlisted entry is refused.
    app = create_app(settings, clock, engine, keys)
    with TestClient(app, raise_server_exceptions=False) as client:
        with write(engine) as conn:
            token = token_for(conn, clock, keys, isp)
        got = client.get("/v1/blocklist", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200, got.text
        assert got.json()["version"] == 2
        anonymous = client.get("/v1/blocklist")
        assert anonymous.status_code == 401
        assert client.get("/v1/blocklist/public-key").text == pem.decode()
        appeal = client.post(
            "/v1/blocklist/appeals",
            json={"entry": "dedicated.test", "contact": "owner@dedicated.test", "message": "x"},
        )
        assert appeal.status_code == 201, appeal.text
        unknown = client.post(
            "/v1/blocklist/appeals",
            json={"entry": "never-listed.test", "contact": "a@b.test", "message": "x"},
        )
        assert unknown.status_code == 422
    with read(engine) as conn:
        appeals = conn.execute(select(notice).where(notice.c.kind == "appeal")).all()
    assert isp.org_id in {int(a.recipient_org_id) for a in appeals}
    assert len(appeals) == appeal.json()["told"] >= 2

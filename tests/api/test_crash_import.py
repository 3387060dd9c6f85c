"""A server killed with SIGKILL during a 10,000-URL import loses no acknowledged report, and
retrying with the same idempotency keys stores nothing twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from cordon.clock import FrozenClock
from cordon.keys import Keys
from cordon.store.db import read, write
from cordon.store.tables import report, report_url, url
from support import make_member, token_for

REQUESTS = 1000
URLS_PER_REQUEST = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(db_url: str, key_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CORDON_DATABASE_URL": db_url,
        "CORDON_KEY_DIR": str(key_dir),
        "CORDON_SERVE__RUN_STAGES": "false",
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cordon", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the server did not start: {log.read_text()[-2000:]}")


def _body(i: int) -> dict[str, object]:
    return {
        "urls": [f"https://s{i}.example.test/page/{j}" for j in range(URLS_PER_REQUEST)],
        "tlp": "AMBER",
        "source_ref": f"batch-{i}",
    }


@pytest.mark.slow
def test_sigkill_during_import_loses_nothing_acknowledged(
    engine: Engine,
    fresh_db: str,
    clock: FrozenClock,
    keys: Keys,
    key_dir: Path,
    tmp_path: Path,
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline")
        token = token_for(conn, clock, keys, member, days=366)
    port = _free_port()
    log = tmp_path / "server.log"
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged: dict[int, int] = {}
    server = _start(fresh_db, key_dir, port, log)
    kill_after = REQUESTS // 3
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as http:
        for i in range(REQUESTS):
            if i == kill_after:
                # Fire a request and kill the server while it is being handled.
                server.send_signal(signal.SIGKILL)
            try:
                response = http.post(
                    "/v1/reports", json=_body(i), headers={"Idempotency-Key": f"import-{i}"}
                )
            except httpx.TransportError:
                break
            assert response.status_code == 201, response.text
            acknowledged[i] = response.json()["id"]
    server.wait(timeout=10)
    assert 0 < len(acknowledged) < REQUESTS
    with read(engine) as conn:
        stored = conn.execute(select(func.count()).select_from(report)).scalar_one()
    assert stored >= len(acknowledged)

    server = _start(fresh_db, key_dir, port, log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as http:
            for i in range(REQUESTS):
                response = http.post(
                    "/v1/reports", json=_body(i), headers={"Idempotency-Key": f"import-{i}"}
                )
                assert response.status_code in (200, 201), response.text
                if i in acknowledged:
                    assert response.status_code == 200
                    assert response.json()["id"] == acknowledged[i]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(report)).scalar_one() == REQUESTS
        assert conn.execute(select(func.count()).select_from(url)).scalar_one() == (
            REQUESTS * URLS_PER_REQUEST
        )
        assert conn.execute(select(func.count()).select_from(report_url)).scalar_one() == (
            REQUESTS * URLS_PER_REQUEST
        )

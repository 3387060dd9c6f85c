"""`cordon demo` sets up a coalition, imports the world's hash list, reports the world's entry
URLs and runs the whole pipeline over simulated days; served, the world keeps Cordon's time
and Ctrl-C stops everything cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from cordon.cli.demo import WORLD_TICK_SECONDS
from cordon.cli.main import app
from cordon.outcomes import metrics
from cordon.store.db import make_engine, read
from cordon.store.tables import organisation, report
from cordon.store.tables_graph import network
from cordon.store.tables_money import notice, url_confirmation
from cordon.world import WorldHandle


def test_demo_runs_the_whole_pipeline_on_a_small_world(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--sites", "40", "--no-serve", "--folder", str(folder)], env={}
    )
    assert result.exit_code == 0, result.output
    assert "Demo logins" in result.output
    assert "time to removal" in result.output
    engine = make_engine(f"sqlite:///{folder / 'cordon.db'}")
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(organisation)).scalar_one() == 7
        assert conn.execute(select(func.count()).select_from(report)).scalar_one() > 5
        # Pictures matched the imported hash list and confirmed URLs ...
        assert conn.execute(select(func.count()).select_from(url_confirmation)).scalar_one() > 0
        # ... which raised notices to hosts and alerts to the payment partners ...
        kinds = {
            k
            for (k,) in conn.execute(
                select(notice.c.kind).where(notice.c.state != "draft").distinct()
            )
        }
        assert {"host_takedown", "payment_alert"} <= kinds, kinds
        # ... the world's desks acted and re-crawls saw sites gone ...
        assert metrics.time_to_removal(conn, with_networks=False)["overall"]["count"] > 0
        # ... and sites sharing payment details were grouped into networks.
        assert conn.execute(
            select(func.count()).select_from(network).where(network.c.size > 1)
        ).scalar_one()
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ctrl_c_stops_the_served_demo_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORDON_")}
    command = [sys.executable, "-m", "cordon", "demo", "--sites", "20", "--days", "0"]
    command += ["--port", str(port), "--folder", str(tmp_path / "demo")]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    output: list[str] = []
    try:
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            output.append(line)
            if "is serving on" in line or time.monotonic() > deadline:
                break
        assert any("is serving on" in line for line in output), "".join(output)
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        # While served, the world keeps Cordon's accelerated time (its desks go on acting).
        world = WorldHandle.connect(tmp_path / "demo" / "world")
        try:
            before = world.now()
            time.sleep(3 * WORLD_TICK_SECONDS)
            assert world.now() > before
        finally:
            world.close()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(output) + rest
    assert proc.returncode in (0, 130, -signal.SIGINT), text
    assert "Traceback" not in text, text
    assert not re.search(r"Fatal Python error", text), text

"""``cordon world build`` and ``cordon world serve``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from cordon.cli.main import app
from cordon.config import load_settings
from cordon.world import WorldHandle

runner = CliRunner()


def test_build_writes_a_world_and_refuses_to_overwrite_it(tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = runner.invoke(
        app, ["world", "build", "--seed", "5", "--out", str(out), "--sites", "20"]
    )
    assert result.exit_code == 0, result.output
    assert "20 sites" in result.output
    assert json.loads((out / "spec.json").read_text())["seed"] == 5
    before = (out / "ground_truth.json").read_bytes()
    again = runner.invoke(
        app, ["world", "build", "--seed", "6", "--out", str(out), "--sites", "20"]
    )
    assert again.exit_code != 0
    assert "already holds a world" in again.output
    assert (out / "ground_truth.json").read_bytes() == before


def test_build_names_the_bad_option(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["world", "build", "--seed", "5", "--out", str(tmp_path / "w"), "--sites", "3"]
    )
    assert result.exit_code != 0
    assert "--sites" in result.output
    assert not (tmp_path / "w").exists()
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["world", "build", "--seed", "5", "--out", str(occupied)])
    assert result.exit_code != 0
    assert "holds no world" in result.output


def test_serve_prints_addresses_writes_world_toml_and_stops_on_interrupt(tmp_path: Path) -> None:
    out = tmp_path / "w"
    built = runner.invoke(
        app, ["world", "build", "--seed", "5", "--out", str(out), "--sites", "20"]
    )
    assert built.exit_code == 0, built.output
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cordon.cli.main import main; main()", "world", "serve",
         str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (out / "runtime.json").exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        handle = WorldHandle.connect(out)
        try:
            assert handle.status()["sites"] == 20
        finally:
            handle.close()
        settings = load_settings(out / "world.toml", environ={})
        assert settings.dns.resolvers == [f"127.0.0.1:{handle.endpoints.dns_port}"]
        second = runner.invoke(app, ["world", "serve", str(out)])
        assert second.exit_code != 0
        assert "already being served" in second.output
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "DNS" in output
    assert "World stopped." in output
    assert not (out / "runtime.json").exists()

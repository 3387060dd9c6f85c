"""``cordon bank`` end to end on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cordon.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(fresh_db: str, key_dir: Path) -> dict[str, str]:
    return {"CORDON_DATABASE_URL": fresh_db, "CORDON_KEY_DIR": str(key_dir)}


def run(env: dict[str, str], *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert (result.exit_code == 0) is ok, output
    return output


def member(env: dict[str, str], org: str, org_type: str, email: str, role: str) -> None:
    run(env, "org", "create", org, "--type", org_type, "--country", "nl")
    run(env, "user", "create", email, "--org", org, "--role", role, "--no-password")


def test_bank_commands(env: dict[str, str], tmp_path: Path) -> None:
    member(env, "Tech One", "technology", "lists@tech.test", "admin")
    member(env, "Hotline One", "hotline", "analyst@hotline.test", "analyst")
    me = ("--as", "lists@tech.test")
    them = ("--as", "analyst@hotline.test")
    assert "upper-case letter" in run(env, "bank", "create", "bad-name", *me, ok=False)
    assert "between 0 and 64" in run(
        env, "bank", "create", "X", "--pdq-threshold", "99", *me, ok=False
    )
    assert "may not do this (bank:manage)" in run(env, "bank", "create", "MINE", *them, ok=False)
    out = run(
        env,
        "bank",
        "create",
        "PARTNER_LIST",
        "--tlp",
        "green",
        "--signal-type",
        "pdq",
        "--signal-type",
        "photo_sha256",
        "--classification",
        "A1",
        *me,
    )
    assert "created bank PARTNER_LIST" in out
    rng = random.Random(5)
    signals = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
    good = tmp_path / "list.txt"
    good.write_text("".join(f"{s}\n" for s in signals))
    bad = tmp_path / "bad.txt"
    bad.write_text("".join(f"{s}\n" for s in signals[:10]) + "nothex\n" + signals[10][:-1] + "\n")
    out = run(
        env, "bank", "import", "PARTNER_LIST", str(bad), "--signal-type", "pdq", *me, ok=False
    )
    assert "line 11:" in out
    assert "line 12:" in out
    assert "nothing was imported" in out
    assert "--skip-invalid" in out
    assert run(env, "bank", "entries", "PARTNER_LIST", "--count", *me).strip() == "0"
    out = run(
        env,
        "bank",
        "import",
        "PARTNER_LIST",
        str(bad),
        "--signal-type",
        "pdq",
        "--skip-invalid",
        *me,
    )
    assert "10 added" in out
    assert "2 invalid skipped" in out
    out = run(env, "bank", "import", "PARTNER_LIST", str(good), "--signal-type", "pdq", *me)
    assert "290 added, 10 duplicate(s)" in out
    exported = tmp_path / "out.txt"
    run(env, "bank", "export", "PARTNER_LIST", "-o", str(exported), *me)
    assert sorted(exported.read_text().splitlines()) == sorted(f"pdq {s}" for s in signals)
    sha = "ab" * 32
    assert "1 added" in run(
        env, "bank", "add", "PARTNER_LIST", sha, "--signal-type", "photo_sha256", *me
    )
    # photo digests are not python-threatexchange's: they come in a file of their own.
    out = run(env, "bank", "export", "PARTNER_LIST", "--signal-type", "photo_sha256", "--bare", *me)
    assert out.strip() == sha
    shown = json.loads(run(env, "bank", "show", "PARTNER_LIST", "--json", *me))
    assert shown["stats"]["entries"] == 301
    assert shown["default_classification"] == "A1"
    listed = json.loads(
        run(env, "bank", "entries", "PARTNER_LIST", "--signal-type", "photo_sha256", "--json", *me)
    )
    entry_id = listed[0]["id"]
    assert listed[0]["effective_classification"] == "A1"
    assert "1 entry disabled" in run(env, "bank", "disable", "PARTNER_LIST", str(entry_id), *me)
    assert "1 entry enabled" in run(env, "bank", "enable", "PARTNER_LIST", str(entry_id), *me)
    # Another organisation reads the GREEN bank and gives its opinion, but cannot change it.
    listed_banks = json.loads(run(env, "bank", "list", "--json", *them))
    assert [b["name"] for b in listed_banks] == ["PARTNER_LIST"]
    assert "1 confirm, 0 dispute" in run(env, "bank", "opinion", str(entry_id), "confirm", *them)
    assert "0 confirm, 1 dispute" in run(env, "bank", "opinion", str(entry_id), "dispute", *them)
    assert "only members of the organisation" in run(
        env, "bank", "disable", "PARTNER_LIST", str(entry_id), *them, ok=False
    )
    out = run(env, "bank", "update", "PARTNER_LIST", "--pdq-threshold", "20", *me)
    assert "updated bank PARTNER_LIST" in out
    assert "nothing to change" in run(env, "bank", "update", "PARTNER_LIST", *me, ok=False)
    assert "quarantined" not in run(env, "bank", "quarantined", *me)
    assert "is not quarantined" in run(env, "bank", "release", str(entry_id), *me, ok=False)
    out = run(env, "bank", "export", "PARTNER_LIST", "--format", "dataset", *me)
    assert out.splitlines()[0] == "signal_type,signal_str,collab,category,tags"
    assert "deleted bank PARTNER_LIST" in run(env, "bank", "delete", "PARTNER_LIST", "--yes", *me)
    assert "no bank PARTNER_LIST" in run(env, "bank", "show", "PARTNER_LIST", *me, ok=False)

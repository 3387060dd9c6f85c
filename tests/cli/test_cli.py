"""The command line, end to end on a real database: set-up, reports, tokens, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from cordon.cli.main import app
from cordon.store.tables import organisation, report

runner = CliRunner()


@pytest.fixture
def env(fresh_db: str, tmp_path: Path) -> dict[str, str]:
    return {
        "CORDON_DATABASE_URL": fresh_db,
        "CORDON_KEY_DIR": str(tmp_path / "keys"),
        "CORDON_PASSWORD": "a long enough password",
    }


def run(env: dict[str, str], *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    if ok:
        assert result.exit_code == 0, output
    else:
        assert result.exit_code != 0, output
    return output


def _setup(env: dict[str, str]) -> None:
    run(env, "keys", "init")
    run(env, "org", "create", "Hotline NL", "--type", "hotline", "--country", "nl")
    run(env, "user", "create", "ana@hotline.test", "--org", "Hotline NL", "--role", "analyst")


def test_every_command_has_help() -> None:
    from cordon.docsgen import cli_commands

    for path, text in cli_commands():
        assert "Usage:" in text
        first = text.split("\n\n")[1].strip() if "\n\n" in text else ""
        assert first, f"{' '.join(path)} has no description"


def test_db_status_and_upgrade(env: dict[str, str]) -> None:
    from cordon.store.migrate import head_revision

    assert f"already at {head_revision()}" in run(env, "db", "upgrade")
    assert f"revision: {head_revision()}" in run(env, "db", "status")


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {
        "CORDON_DATABASE_URL": f"sqlite:///{tmp_path}/new.db",
        "CORDON_KEY_DIR": str(tmp_path / "k"),
    }
    out = run(env, "serve", ok=False)
    assert "cordon db upgrade" in out


def test_bad_organisation_input_is_named_and_stores_nothing(
    env: dict[str, str], engine: Engine
) -> None:
    out = run(env, "org", "create", "X", "--type", "bank", "--country", "NL", ok=False)
    assert "unknown organisation type 'bank'" in out
    out = run(env, "org", "create", "X", "--type", "hotline", "--country", "XX", ok=False)
    assert "'XX' is not an ISO 3166-1 alpha-2" in out
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(organisation)).scalar_one() == 0


def test_report_add_list_and_export(env: dict[str, str], tmp_path: Path) -> None:
    _setup(env)
    out = run(
        env,
        "report",
        "add",
        "https://Shop.Example.TEST/a",
        "--as",
        "ana@hotline.test",
        "--tlp",
        "amber",
        "--hash",
        "photo_md5:" + "a" * 32,
    )
    assert "report 1 stored" in out
    assert "example[.]test" in run(env, "report", "list", "--as", "ana@hotline.test")
    target = tmp_path / "out.jsonl"
    run(env, "report", "export", "--as", "ana@hotline.test", "--out", str(target))
    (line,) = target.read_text().splitlines()
    assert json.loads(line)["urls"][0]["url"] == "https://shop.example.test/a"


def test_import_refuses_a_file_with_bad_rows_and_stores_nothing(
    env: dict[str, str], tmp_path: Path, engine: Engine
) -> None:
    _setup(env)
    bad = tmp_path / "reports.csv"
    bad.write_text("url,tlp\nhttps://a.example.test/,GREEN\nftp://b.example.test/,GREEN\n")
    out = run(env, "report", "import", str(bad), "--as", "ana@hotline.test", ok=False)
    assert "line 3, field urls[0]" in out
    assert "nothing was stored" in out
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(report)).scalar_one() == 0
    good = tmp_path / "good.jsonl"
    good.write_text(
        "\n".join(
            json.dumps(
                {
                    "urls": [f"https://s{i}.example.test/"],
                    "tlp": "GREEN",
                    "idempotency_key": f"k{i}",
                }
            )
            for i in range(30)
        )
    )
    results = tmp_path / "results.jsonl"
    out = run(
        env, "report", "import", str(good), "--as", "ana@hotline.test", "--results", str(results)
    )
    assert "30 report(s) stored" in out
    again = run(env, "report", "import", str(good), "--as", "ana@hotline.test")
    assert "0 report(s) stored, 30 already stored" in again
    assert len(results.read_text().splitlines()) == 30


def test_tokens_and_the_audit_log(env: dict[str, str], tmp_path: Path) -> None:
    _setup(env)
    out = run(env, "token", "create", "ana@hotline.test", "--name", "script")
    token = out.strip().splitlines()[-1]
    assert token.startswith("cdn_")
    token_id = token.split("_")[1]
    assert token_id in run(env, "token", "list")
    run(env, "token", "revoke", token_id)
    checkpoint = tmp_path / "cp.txt"
    run(env, "audit", "checkpoint", "--out", str(checkpoint))
    out = run(env, "audit", "verify", "--checkpoint", str(checkpoint))
    assert "the audit log verifies" in out
    assert "cli:token:revoke" in run(env, "audit", "list")


def test_unknown_settings_are_refused_by_name(env: dict[str, str]) -> None:
    out = run({**env, "CORDON_NO_SUCH_THING": "1"}, "db", "status", ok=False)
    assert "CORDON_NO_SUCH_THING" in out

"""``cordon case``, ``cordon deconflict``, ``cordon search`` and ``cordon screen`` end to end,
and deconfliction between two separate deployments through keyed hashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.data import IBAN, OTHER_WALLET, WALLET
from conftest import Template
from cordon.cli.main import app
from cordon.keys import init_keys

runner = CliRunner()


def run(env: dict[str, str], *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert (result.exit_code == 0) is ok, output
    return output


def _deployment(url: str, keys: Path) -> dict[str, str]:
    env = {"CORDON_DATABASE_URL": url, "CORDON_KEY_DIR": str(keys)}
    init_keys(keys)
    run(env, "org", "create", "Coordinator", "--type", "coordinator", "--country", "nl")
    run(env, "org", "create", "Police", "--type", "law_enforcement", "--country", "nl")
    run(env, "org", "create", "Hotline", "--type", "hotline", "--country", "de")
    for email, org, role in (
        ("admin@coord.test", "Coordinator", "admin"),
        ("det@police.test", "Police", "analyst"),
        ("analyst@hotline.test", "Hotline", "analyst"),
    ):
        run(env, "user", "create", email, "--org", org, "--role", role, "--no-password")
    return env


@pytest.fixture
def two(
    fresh_db: str, templates: dict[str, Template], tmp_path: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Two deployments: one on the backend under test, one on a SQLite file of its own."""
    other = tmp_path / "other.db"
    shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), other)
    return (
        _deployment(fresh_db, tmp_path / "keys-a"),
        _deployment(f"sqlite:///{other}", tmp_path / "keys-b"),
    )


def test_cases_and_deconfliction_from_the_command_line(
    two: tuple[dict[str, str], dict[str, str]],
) -> None:
    env, _ = two
    police = ("--as", "det@police.test")
    hotline = ("--as", "analyst@hotline.test")
    out = run(env, "case", "open", "Op A", *police, "-s", f"btc:{WALLET}", "--json")
    case_a = json.loads(out)["id"]
    out = run(env, "case", "open", "Hotline B", *hotline, "-s", WALLET, "--tlp", "green", "--json")
    body = json.loads(out)
    assert len(body["deconfliction_hits"]) == 1
    hits = json.loads(run(env, "deconflict", "hits", *police, "--json"))
    assert hits[0]["contact"]["organisation"] == "Hotline"
    assert hits[0]["other_case"]["title"] == "Hotline B"
    hits = json.loads(run(env, "deconflict", "hits", *hotline, "--json"))
    assert hits[0]["other_case"] is None
    run(env, "case", "note", str(case_a), "call the hotline", *police)
    run(env, "case", "participant", str(case_a), "Hotline", *police)
    shown = json.loads(run(env, "case", "show", str(case_a), *hotline, "--json"))
    assert [n["text"] for n in shown["notes"]] == ["call the hotline"]
    assert "closed" in run(env, "case", "status", str(case_a), "closed", *police)
    refused = run(env, "case", "open", "bad", *police, "-s", "pdq:nothex", ok=False)
    assert "subject 1" in refused
    # Search and screening.
    found = json.loads(run(env, "search", WALLET, *hotline, "--json"))
    assert found["results"][0]["sources"]["case"]
    assert "unknown entity kind" in run(env, "search", WALLET, "--kind", "x", *hotline, ok=False)


def test_screen_a_file(two: tuple[dict[str, str], dict[str, str]], tmp_path: Path) -> None:
    env, _ = two
    police = ("--as", "det@police.test")
    run(env, "case", "open", "Op A", *police, "-s", f"btc:{WALLET}")
    listing = tmp_path / "merchants.csv"
    listing.write_text(f"item\n{WALLET}\n{OTHER_WALLET}\n{IBAN}\n", encoding="utf-8")
    out = json.loads(run(env, "screen", str(listing), "--as", "analyst@hotline.test", "--json"))
    assert [i["answer"] for i in out["items"]] == ["contact", "unknown", "unknown"]
    assert out["items"][0]["contact"]["organisation"] == "Police"
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{WALLET}\n\nnot-a-thing!\n", encoding="utf-8")
    refused = run(env, "screen", str(bad), "--as", "analyst@hotline.test", ok=False)
    assert "line 3:" in refused
    assert "nothing was screened" in refused


def test_two_deployments_find_exactly_their_overlap(
    two: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    a, b = two
    coord = ("--as", "admin@coord.test")
    key_file = tmp_path / "coalition.hex"
    run(a, "deconflict", "key", "generate", "--out", str(key_file))
    run(b, "deconflict", "key", "import", str(key_file))
    assert (
        run(a, "deconflict", "key", "show").split()[-1]
        == run(b, "deconflict", "key", "show").split()[-1]
    )
    police = ("--as", "det@police.test")
    out = run(a, "case", "open", "Op A", *police, "-s", WALLET, "-s", "domain:alpha.test", "--json")
    case_a = json.loads(out)["id"]
    run(a, "case", "open", "Op A2", *police, "-s", f"iban:{IBAN}")
    hotline = ("--as", "analyst@hotline.test")
    run(b, "case", "open", "B1", *hotline, "-s", WALLET, "-s", "https://beta.test/x")
    closed = json.loads(run(b, "case", "open", "B2", *hotline, "-s", f"iban:{IBAN}", "--json"))
    run(b, "case", "status", str(closed["id"]), "closed", *hotline)
    export = tmp_path / "b.json"
    run(b, "deconflict", "export", str(export), *coord)
    doc = json.loads(export.read_text())
    assert doc["format"] == "cordon-deconfliction"
    assert doc["scope"] == "open_cases"
    assert WALLET not in export.read_text()
    assert "beta.test" not in export.read_text()
    assert doc["count"] == 3  # the wallet, the URL and its site; the closed case's IBAN is not
    everything = tmp_path / "b-all.json"
    run(b, "deconflict", "export", str(everything), "--all", *coord)
    assert json.loads(everything.read_text())["scope"] == "all"
    result = json.loads(run(a, "deconflict", "check", str(export), *coord, "--json"))
    assert [(o["kind"], o["key"]) for o in result["overlaps"]] == [
        ("crypto_address", f"btc:{WALLET}")
    ]
    assert [c["id"] for c in result["overlaps"][0]["cases"]] == [case_a]
    # Not for everyone, and a tampered file is refused.
    assert "coordinator admins" in run(a, "deconflict", "check", str(export), *police, ok=False)
    doc["count"] = 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    assert "mac does not verify" in run(a, "deconflict", "check", str(tampered), *coord, ok=False)


def test_a_different_key_finds_nothing_and_says_why(
    two: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    a, b = two
    coord = ("--as", "admin@coord.test")
    run(a, "deconflict", "key", "generate")
    run(b, "deconflict", "key", "generate")
    run(a, "case", "open", "Op A", "--as", "det@police.test", "-s", WALLET)
    run(b, "case", "open", "B1", "--as", "analyst@hotline.test", "-s", WALLET)
    export = tmp_path / "b.json"
    run(b, "deconflict", "export", str(export), *coord)
    refused = run(a, "deconflict", "check", str(export), *coord, ok=False)
    assert "key id differs" in refused
    assert "overlap" not in refused
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}")
    assert "not a cordon-deconfliction document" in run(
        a, "deconflict", "check", str(garbage), *coord, ok=False
    )

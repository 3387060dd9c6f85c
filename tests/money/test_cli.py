"""``cordon money`` and ``cordon purchase`` end to end on a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cordon.cli.main import app
from cordon.domain.payments import Chain, synthetic_address

runner = CliRunner()
A, B, C = (synthetic_address(Chain.BTC, bytes([i])) for i in (1, 2, 3))


@pytest.fixture
def env(fresh_db: str, key_dir: Path) -> dict[str, str]:
    return {"CORDON_DATABASE_URL": fresh_db, "CORDON_KEY_DIR": str(key_dir)}


def run(env: dict[str, str], *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert (result.exit_code == 0) is ok, output
    return output


def test_money_commands(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "org", "create", "Exchange One", "--type", "payment_provider", "--country", "nl")
    run(
        env,
        "user",
        "create",
        "risk@exchange.test",
        "--org",
        "Exchange One",
        "--role",
        "admin",
        "--no-password",
    )
    me = ("--as", "risk@exchange.test")
    assert "1 identifier(s)" not in run(env, "money", "own", "crypto_address", A, *me)
    refused = run(env, "money", "own", "crypto_address", A[:-1] + "x", *me, ok=False)
    assert "value:" in refused
    assert "crypto_address" in run(env, "money", "ownership", *me)

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,site_url,amount,currency,provider,account\n"
        "2026-02-01T00:00:00Z,https://shop.test/,9.99,EUR,paybridge,velvet-club\n"
        "2026-02-01T00:00:00Z,https://shop.test/,nine,EUR,paybridge,velvet-club\n",
        encoding="utf-8",
    )
    out = run(env, "purchase", "import", str(bad), *me, ok=False)
    assert "line 3, field amount" in out
    assert "nothing was stored" in out
    good = tmp_path / "good.csv"
    good.write_text(bad.read_text().replace(",nine,", ",9.00,"), encoding="utf-8")
    results = tmp_path / "results.jsonl"
    assert "2 test purchase(s) stored" in run(
        env, "purchase", "import", str(good), *me, "--results", str(results)
    )
    assert [json.loads(x)["line"] for x in results.read_text().splitlines()] == [2, 3]
    shown = run(env, "money", "show", "paybridge:velvet-club", *me, "--json")
    assert json.loads(shown)["sites"] == ["shop.test"]

    txs = tmp_path / "tx.csv"
    txs.write_text(
        "chain,txid,time,direction,address,amount\n"
        f"btc,aaaa0001,2026-01-01T00:00:00Z,in,{C},2\n"
        f"btc,aaaa0001,2026-01-01T00:00:00Z,out,{A},1.5\n"
        f"btc,aaaa0002,2026-01-02T00:00:00Z,in,{A},1.5\n"
        f"btc,aaaa0002,2026-01-02T00:00:00Z,in,{B},0.5\n"
        f"btc,aaaa0002,2026-01-02T00:00:00Z,out,{C},2\n",
        encoding="utf-8",
    )
    assert "2 transaction(s) stored" in run(env, "money", "crypto-import", str(txs), *me)
    wallets = json.loads(run(env, "money", "wallets", *me, "--json"))
    merchant = next(w for w in wallets if A in w["addresses"])
    assert sorted(merchant["addresses"]) == sorted([A, B])
    assert merchant["total_received"] == "1.5"
    # A payment provider's metrics cover what it owns: nothing alerted yet.
    metrics = json.loads(run(env, "money", "metrics", *me, "--json"))
    assert metrics == {"providers": [], "payment_method_mix": []}

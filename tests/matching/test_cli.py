"""``cordon match`` and ``cordon matcher status|rebuild`` on a real database."""

from __future__ import annotations

import json
import random
from pathlib import Path

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cordon.cli.main import app
from cordon.clock import FrozenClock
from cordon.signals.index import read_header
from cordon.store.db import write
from cordon.store.tables import app_user
from matching.helpers import add_entries, at_distance, make_bank, random_pdq
from support import make_member

runner = CliRunner()


def _run(env: dict[str, str], *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args), env=env)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert (result.exit_code == 0) is ok, output
    return output


def test_cordon_match_prints_matches_and_matcher_rebuild_writes_a_snapshot(
    engine: Engine, fresh_db: str, clock: FrozenClock, tmp_path: Path
) -> None:
    rng = random.Random(41)
    listed = random_pdq(rng)
    with write(engine) as conn:
        analyst = make_member(conn, clock, org_type="hotline")
        make_bank(conn, clock, analyst, "CLI_LIST", default_classification="B2")
        (entry,) = add_entries(conn, clock, analyst, "CLI_LIST", [("pdq", listed)])
        email = conn.execute(
            select(app_user.c.email).where(app_user.c.id == analyst.user_id)
        ).scalar_one()
    env = {
        "CORDON_DATABASE_URL": fresh_db,
        "CORDON_KEY_DIR": str(tmp_path / "keys"),
        "CORDON_MATCHING__SNAPSHOT_DIR": str(tmp_path / "index"),
    }
    near = at_distance(listed, 9, rng)
    signals = tmp_path / "signals.txt"
    signals.write_text(f"# from a partner\npdq {near}\nphoto_md5 {'00' * 16}\n", encoding="utf-8")
    out = json.loads(
        _run(env, "match", "--as", email, "--json", f"pdq:{listed}", "--file", str(signals))
    )
    assert [[(m["bank"], m["entry_id"], m["distance"]) for m in r["matches"]] for r in out] == [
        [("CLI_LIST", entry, 0)],
        [("CLI_LIST", entry, 9)],
        [],
    ]
    table = _run(env, "match", "--as", email, listed)
    assert "CLI_LIST" in table
    assert "1 of 1 matched" in table
    bad = _run(env, "match", "--as", email, "pdq:abc", ok=False)
    assert "signal 1" in bad
    assert "64 hexadecimal digits" in bad
    rebuilt = _run(env, "matcher", "rebuild")
    assert "1 entries" in rebuilt
    assert read_header(tmp_path / "index" / "pdq.idx").count == 1
    status = json.loads(_run(env, "matcher", "status", "--json"))
    assert status["loaded_from"] == "snapshot"
    assert status["behind"] == 0
    assert status["by_type"]["pdq"] == 1

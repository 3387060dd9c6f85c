"""`cordon demo` sets up a coalition, reports a world's entry URLs and runs the pipeline."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from cordon.cli.main import app
from cordon.store.db import make_engine, read
from cordon.store.tables import organisation, report


def test_demo_runs_the_pipeline_on_a_small_world(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--sites", "40", "--no-serve", "--folder", str(folder)], env={}
    )
    assert result.exit_code == 0, result.output
    assert "Demo logins" in result.output
    engine = make_engine(f"sqlite:///{folder / 'cordon.db'}")
    with read(engine) as conn:
        assert conn.execute(select(func.count()).select_from(organisation)).scalar_one() == 7
        assert conn.execute(select(func.count()).select_from(report)).scalar_one() > 5
    engine.dispose()

"""Documentation cannot drift: generated parts match the code, every dependency is explained."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from cordon import docsgen

ROOT = Path(__file__).resolve().parents[1]


def test_generated_docs_are_current() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, content in docsgen.generated().items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]
    assert not stale, f"out of date: {stale}; run `make docs`"


def test_every_command_setting_and_route_is_documented() -> None:
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for path, _ in docsgen.cli_commands():
        assert f"`{' '.join(path)}`" in cli
    config = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    from cordon.config import iter_setting_names

    for dotted, env, description in iter_setting_names():
        assert f"`{dotted}`" in config
        assert f"`{env}`" in config
        assert description, f"setting {dotted} has no description"
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    from cordon.api.routing import operations

    for method, path, op in operations(docsgen._app_for_docs()):
        assert f"| {method} | `{path}` |" in api
        assert op.get("summary"), f"{method} {path} has no summary"


def test_every_dependency_is_explained() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    text = (ROOT / "docs" / "dependencies.md").read_text(encoding="utf-8").lower()
    for spec in names:
        name = re.split(r"[<>=!\[ ;]", spec, maxsplit=1)[0].lower()
        assert f"`{name}`" in text, f"{name} is not in docs/dependencies.md"

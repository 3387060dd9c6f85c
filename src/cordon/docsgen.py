"""Regenerate the parts of docs/ that are taken from the code, so that docs cannot drift.

``python -m cordon.docsgen`` rewrites them; ``--check`` fails when any is out of date (the test
suite runs it). Generated parts:

* ``docs/cli.md``: every command's real ``--help``;
* ``docs/configuration.md``: the settings table, between the ``settings`` markers;
* ``docs/api.md``: the route table, between the ``routes`` markers.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
from fastapi import FastAPI
from typer.core import TyperGroup

DOCS = Path(__file__).resolve().parents[2] / "docs"
BEGIN = "<!-- BEGIN GENERATED {name}: python -m cordon.docsgen -->"
END = "<!-- END GENERATED {name} -->"


def _command_help(cmd: Any, path: list[str]) -> list[tuple[list[str], str]]:
    # Typer ships its own copy of click; its command objects are used through their public
    # methods only.
    ctx = typer.Context(cmd, info_name=" ".join(path), terminal_width=100, max_content_width=100)
    out = [(path, cmd.get_help(ctx))]
    if isinstance(cmd, TyperGroup):
        for name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _command_help(sub, [*path, name])
    return out


def cli_commands() -> list[tuple[list[str], str]]:
    """Every command path with its help text, as ``cordon … --help`` prints it."""
    from cordon.cli.main import app

    return _command_help(typer.main.get_command(app), ["cordon"])


def render_cli() -> str:
    lines = [
        "# Command-line reference",
        "",
        "Generated from the real `--help` of every command by `python -m cordon.docsgen`; do "
        "not edit by hand.",
        "",
    ]
    for path, text in cli_commands():
        level = "#" * min(len(path) + 1, 4)
        lines += [f"{level} `{' '.join(path)}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)


def render_settings() -> str:
    from cordon.config import Settings, iter_setting_names

    defaults = Settings().model_dump(mode="json")
    rows = ["| setting | environment variable | default | meaning |", "| --- | --- | --- | --- |"]
    for dotted, env, description in iter_setting_names():
        section, _, key = dotted.partition(".")
        value = defaults[section][key] if key else defaults[section]
        shown = "" if value in (None, [], "") else f"`{value}`"
        rows.append(f"| `{dotted}` | `{env}` | {shown} | {description} |")
    return "\n".join(rows)


def render_routes() -> str:
    from cordon.api.routing import PERMISSION_KEY, operations

    rows = ["| method | path | permission | what it does |", "| --- | --- | --- | --- |"]
    for method, path, op in sorted(operations(_app_for_docs()), key=lambda o: (o[1], o[0])):
        rows.append(
            f"| {method} | `{path}` | `{op.get(PERMISSION_KEY)}` | {op.get('summary', '')} |"
        )
    return "\n".join(rows)


def _app_for_docs() -> FastAPI:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cordon.api.app import create_app
    from cordon.clock import SystemClock
    from cordon.config import Settings
    from cordon.keys import Keys
    from cordon.store.db import make_engine

    keys = Keys(
        token_hash_key=b"0" * 32,
        session_key=b"0" * 32,
        audit_signing_key=Ed25519PrivateKey.generate(),
    )
    return create_app(Settings(), SystemClock(), make_engine("sqlite:///:memory:"), keys)


def _splice(text: str, name: str, body: str) -> str:
    begin, end = BEGIN.format(name=name), END.format(name=name)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"markers for {name!r} are missing")
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text)


def generated() -> dict[Path, str]:
    """Every generated file with the content it must have."""
    config_md = (DOCS / "configuration.md").read_text(encoding="utf-8")
    api_md = (DOCS / "api.md").read_text(encoding="utf-8")
    return {
        DOCS / "cli.md": render_cli(),
        DOCS / "configuration.md": _splice(config_md, "settings", render_settings()),
        DOCS / "api.md": _splice(api_md, "routes", render_routes()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if anything is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, content in generated().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != content:
            stale.append(path)
            if not args.check:
                path.write_text(content, encoding="utf-8")
    if args.check and stale:
        names = ", ".join(str(p.relative_to(DOCS.parent)) for p in stale)
        print(f"out of date: {names}; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

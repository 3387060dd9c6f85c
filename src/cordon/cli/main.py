"""Entry point of the ``cordon`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cordon.cli.context import CliState

app = typer.Typer(
    name="cordon",
    help="Cordon: follow reported material to its host and its payments, and tell every party "
    "that can act.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="CORDON_CONFIG",
            help="TOML configuration file (settings: docs/configuration.md).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    ctx.obj = CliState(config_file=config)


def _register() -> None:
    # Each command group lives in a module of its own and exposes ``app``.
    from cordon.cli import commands

    for name, sub in commands.groups():
        app.add_typer(sub, name=name)
    for func in commands.single_commands():
        app.command()(func)


_register()


def main() -> None:
    """Run the command line."""
    app()

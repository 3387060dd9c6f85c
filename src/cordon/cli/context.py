"""What every command receives: settings loaded once from ``--config`` and the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from cordon.config import ConfigError, Settings, load_settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    config_file: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except ConfigError as exc:
                fail(str(exc))
        return self._settings


def state(ctx: typer.Context) -> CliState:
    """The :class:`CliState` of the running command."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, CliState):
        obj = CliState()
        root.obj = obj
    return obj


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as an error and stop with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)

"""What every command receives: settings loaded once from ``--config`` and the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from cordon.clock import Clock
from cordon.config import ConfigError, Settings, load_settings
from cordon.domain.partners import Principal

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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as an error and stop with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@dataclass
class Runtime:
    """The database, clock and settings a command works with."""

    settings: Settings
    engine: Engine
    clock: Clock


def runtime(ctx: typer.Context, *, migrated: bool = True) -> Runtime:
    """Open the configured database; unless ``migrated`` is False, refuse an un-migrated one."""
    from cordon.runtime import NotMigrated, clock_from, engine_from, require_migrated
    from cordon.store.db import DatabaseError

    settings = state(ctx).settings
    try:
        engine = engine_from(settings)
        # Return pooled connections when the command ends, not when the interpreter exits.
        ctx.call_on_close(engine.dispose)
        if migrated:
            require_migrated(engine)
    except (NotMigrated, DatabaseError) as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"cannot reach the database {settings.database_url}: {exc.orig}")
    return Runtime(settings, engine, clock_from(settings))


def cli_principal(rt: Runtime, email: str, org: str | None) -> Principal:
    """The principal a CLI command acts as (``--as EMAIL``, optionally ``--org``)."""
    from cordon.partners import repo as partners
    from cordon.store.db import read

    with read(rt.engine) as conn:
        try:
            user = partners.find_user(conn, email)
            org_id = partners.find_org(conn, org).id if org else None
            return partners.principal_for(conn, user.id, org_id, source="cli")
        except partners.NotFound as exc:
            fail(str(exc))

"""``cordon db``: the database schema."""

from __future__ import annotations

import typer

from cordon.cli.context import console, runtime

app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every migration this version of Cordon ships (safe to run again)."""
    from cordon.store.migrate import current_revision, head_revision
    from cordon.store.migrate import upgrade as do_upgrade

    rt = runtime(ctx, migrated=False)
    before = current_revision(rt.engine)
    do_upgrade(rt.engine)
    after = current_revision(rt.engine)
    if before == after:
        console.print(f"database already at {head_revision()}")
    else:
        console.print(f"database migrated from {before or 'empty'} to {after}")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Say which migration the database is at and whether it is current."""
    from cordon.store.migrate import current_revision, head_revision

    rt = runtime(ctx, migrated=False)
    current, head = current_revision(rt.engine), head_revision()
    console.print(f"database: {rt.settings.database_url}")
    console.print(f"revision: {current or 'empty'} (this Cordon needs {head})")
    if current != head:
        console.print("run `cordon db upgrade`")
        raise typer.Exit(1)

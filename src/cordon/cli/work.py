"""``cordon work``: the pipeline's queues."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cordon.cli.context import console, runtime
from cordon.store.db import read, write

app = typer.Typer(
    help="Inspect the pipeline's work items and retry dead ones.", no_args_is_help=True
)


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Work items per stage and state."""
    from cordon.pipeline import repo

    rt = runtime(ctx)
    with read(rt.engine) as conn:
        rows = repo.counts(conn)
    table = Table("stage", "pending", "leased", "done", "dead")
    for c in rows:
        table.add_row(c.stage, str(c.pending), str(c.leased), str(c.done), str(c.dead))
    console.print(table)


@app.command("dead")
def dead(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many.")] = 50,
) -> None:
    """Dead work items with their last error."""
    from cordon.pipeline import repo

    rt = runtime(ctx)
    with read(rt.engine) as conn:
        items = repo.dead_items(conn, limit)
    table = Table("id", "stage", "subject", "attempts", "error")
    for i in items:
        table.add_row(
            str(i["id"]),
            i["stage"],
            f"{i['subject_kind']} {i['subject_id']}",
            str(i["attempts"]),
            (i["last_error"] or "")[:120],
        )
    console.print(table)


@app.command("retry")
def retry(
    ctx: typer.Context,
    stage: Annotated[str | None, typer.Option(help="Only this stage.")] = None,
) -> None:
    """Give dead work items a fresh set of attempts."""
    from cordon.pipeline import repo

    rt = runtime(ctx)
    with write(rt.engine) as conn:
        n = repo.retry_dead(conn, rt.clock.now(), stage)
    console.print(f"{n} item(s) made pending again")

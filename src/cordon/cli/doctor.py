"""``cordon doctor``: are the IP databases, resolvers, RDAP bootstrap and CDN data usable?"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from cordon.cli.context import console, state

_STYLE = {"ok": "green", "warning": "yellow", "problem": "bold red"}


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check the IP databases (and their build dates), resolvers, RDAP bootstrap and CDN data;
    exits 1 when anything needs attention."""
    from cordon.attribution.health import check_all
    from cordon.runtime import clock_from

    settings = state(ctx).settings
    checks = check_all(settings, clock_from(settings).now())
    problems = [c for c in checks if c.level == "problem"]
    if as_json:
        typer.echo(json.dumps({"ok": not problems, "checks": [c.to_dict() for c in checks]}))
    else:
        table = Table("area", "what", "state", "finding", show_lines=False)
        for c in checks:
            table.add_row(c.area, c.subject, f"[{_STYLE[c.level]}]{c.level}[/]", c.summary)
        console.print(table)
        if problems:
            console.print(f"[bold red]{len(problems)} problem(s) need attention.[/]")
        else:
            console.print("[green]Everything attribution needs is in place.[/]")
    if problems:
        raise typer.Exit(1)

"""``cordon org``: the coalition's organisations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import console, fail, runtime
from cordon.store.db import read, write

app = typer.Typer(help="Admit and list partner organisations.", no_args_is_help=True)
CLI = Actor(source="cli")


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The organisation's name (unique).")],
    org_type: Annotated[
        str,
        typer.Option(
            "--type",
            help="law_enforcement, hotline, payment_provider, "
            "hosting_provider, isp, technology, ngo or coordinator.",
        ),
    ],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country code.")],
) -> None:
    """Admit an organisation."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    try:
        with write(rt.engine) as conn:
            org = partners.create_org(conn, rt.clock, CLI, name, org_type, country)
    except partners.PartnerError as exc:
        fail(str(exc))
    console.print(f"organisation {org.id}: {org.name} ({org.type.value}, {org.country})")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List every organisation."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    with read(rt.engine) as conn:
        orgs = partners.list_orgs(conn)
    table = Table("id", "name", "type", "country", "active")
    for o in orgs:
        table.add_row(str(o.id), o.name, o.type.value, o.country, "yes" if o.active else "no")
    console.print(table)

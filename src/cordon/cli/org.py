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


@app.command("group-create")
def group_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The group's name (unique for its owner).")],
    owner: Annotated[str, typer.Option(help="The owning organisation (name or id).")],
    member: Annotated[
        list[str] | None, typer.Option(help="A member organisation (name or id; repeat).")
    ] = None,
) -> None:
    """Create a sharing group: organisations an owner shares AMBER records with in one step."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    try:
        with write(rt.engine) as conn:
            owner_org = partners.find_org(conn, owner)
            group = partners.create_sharing_group(conn, rt.clock, CLI, owner_org.id, name)
            for m in member or []:
                org = partners.find_org(conn, m)
                partners.add_to_sharing_group(
                    conn, rt.clock, CLI, group.id, org.id, owner_org_id=owner_org.id
                )
    except partners.PartnerError as exc:
        fail(str(exc))
    console.print(f"sharing group {group.id}: {group.name} of {owner_org.name}")


@app.command("groups")
def groups(
    ctx: typer.Context,
    owner: Annotated[str, typer.Option(help="The owning organisation (name or id).")],
) -> None:
    """List an organisation's sharing groups and their members."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    with read(rt.engine) as conn:
        try:
            owner_org = partners.find_org(conn, owner)
        except partners.PartnerError as exc:
            fail(str(exc))
        found = partners.sharing_groups(conn, owner_org.id)
        names = {o.id: o.name for o in partners.list_orgs(conn)}
    table = Table("id", "name", "members")
    for g in found:
        table.add_row(str(g.id), g.name, ", ".join(names.get(i, str(i)) for i in g.member_org_ids))
    console.print(table)

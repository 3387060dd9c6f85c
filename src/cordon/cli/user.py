"""``cordon user``: people and their memberships."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cordon.audit.log import Actor
from cordon.cli.context import console, fail, runtime
from cordon.store.db import write

app = typer.Typer(help="Create users and give them roles in organisations.", no_args_is_help=True)
CLI = Actor(source="cli")


def _password(value: str | None, prompt: bool) -> str | None:
    if value is not None:
        return value
    env = os.environ.get("CORDON_PASSWORD")
    if env:
        return env
    if prompt:
        entered: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        return entered
    return None


@app.command("create")
def create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's e-mail address (unique).")],
    org: Annotated[str, typer.Option(help="Organisation name or id to join.")],
    role: Annotated[str, typer.Option(help="admin, analyst or viewer.")] = "analyst",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[
        str | None,
        typer.Option(help="Password (12+ characters); else $CORDON_PASSWORD, else a prompt."),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="API tokens only; no console login.")
    ] = False,
) -> None:
    """Create a user as a member of an organisation."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    secret = None if no_password else _password(password, prompt=True)
    try:
        with write(rt.engine) as conn:
            target = partners.find_org(conn, org)
            user = partners.create_user(conn, rt.clock, CLI, email, name, secret)
            partners.add_membership(conn, rt.clock, CLI, user.id, target.id, role)
    except partners.PartnerError as exc:
        fail(str(exc))
    console.print(f"user {user.id}: {user.email}, {role} of {target.name}")


@app.command("add")
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="An existing user's e-mail address.")],
    org: Annotated[str, typer.Option(help="Organisation name or id.")],
    role: Annotated[str, typer.Option(help="admin, analyst or viewer.")] = "analyst",
) -> None:
    """Make an existing user a member of another organisation, or change the role."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    try:
        with write(rt.engine) as conn:
            target = partners.find_org(conn, org)
            user = partners.find_user(conn, email)
            partners.add_membership(conn, rt.clock, CLI, user.id, target.id, role)
    except partners.PartnerError as exc:
        fail(str(exc))
    console.print(f"{user.email} is {role} of {target.name}")


@app.command("password")
def password(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    value: Annotated[
        str | None, typer.Option("--password", help="New password; else a prompt.")
    ] = None,
) -> None:
    """Set a user's password."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    secret = _password(value, prompt=True)
    assert secret is not None
    try:
        with write(rt.engine) as conn:
            user = partners.find_user(conn, email)
            partners.set_password(conn, rt.clock, CLI, user.id, secret)
    except partners.PartnerError as exc:
        fail(str(exc))
    console.print(f"password of {user.email} set")

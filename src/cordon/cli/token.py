"""``cordon token``: API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import console, fail, runtime, state
from cordon.store.db import read, write

app = typer.Typer(help="Issue, list and revoke API tokens.", no_args_is_help=True)
CLI = Actor(source="cli")


@app.command("create")
def create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    org: Annotated[
        str | None, typer.Option(help="Organisation (default: the user's first).")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="A permission to keep (repeat); default: all of the role's."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Lifetime in days.")] = 90,
) -> None:
    """Issue a token and print it once; only a keyed hash of it is stored."""
    from cordon.keys import KeyDirError, load_keys
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    try:
        keys = load_keys(state(ctx).settings.key_dir)
    except KeyDirError as exc:
        fail(str(exc))
    try:
        with write(rt.engine) as conn:
            user = partners.find_user(conn, email)
            org_id = partners.find_org(conn, org).id if org else None
            principal = partners.principal_for(conn, user.id, org_id)
            plaintext, info = partners.create_token(
                conn,
                rt.clock,
                CLI,
                keys.token_hash_key,
                user_id=user.id,
                org_id=principal.org_id,
                name=name,
                scopes=scope or None,
                lifetime=timedelta(days=days),
            )
    except partners.PartnerError as exc:
        fail(str(exc))
    console.print(f"token {info.public_id} for {email}, expires {info.expires_at:%Y-%m-%d}")
    console.print(plaintext, highlight=False, soft_wrap=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """List tokens (never their secrets)."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    with read(rt.engine) as conn:
        user_id = None
        if email:
            try:
                user_id = partners.find_user(conn, email).id
            except partners.NotFound as exc:
                fail(str(exc))
        tokens = partners.list_tokens(conn, user_id=user_id)
    table = Table("id", "name", "user", "org", "expires", "revoked")
    for t in tokens:
        table.add_row(
            t.public_id,
            t.name,
            str(t.user_id),
            str(t.org_id),
            f"{t.expires_at:%Y-%m-%d}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    console.print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (the part after cdn_).")],
) -> None:
    """Revoke a token; it stops working on its next request."""
    from cordon.partners import repo as partners

    rt = runtime(ctx)
    try:
        with write(rt.engine) as conn:
            partners.revoke_token(conn, rt.clock, CLI, token_id, org_id=None)
    except partners.PartnerError as exc:
        fail(str(exc))
    console.print(f"token {token_id} revoked")

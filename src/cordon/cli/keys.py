"""``cordon keys``: the key directory."""

from __future__ import annotations

import typer

from cordon.cli.context import console, fail, state

app = typer.Typer(help="Create and inspect the key directory.", no_args_is_help=True)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create every missing key in the key directory (mode 0600); never overwrite one."""
    from cordon.keys import init_keys

    key_dir = state(ctx).settings.key_dir
    try:
        created = init_keys(key_dir)
    except OSError as exc:
        fail(f"cannot write keys in {key_dir}: {exc}")
    if created:
        for path in created:
            console.print(f"created {path}")
    else:
        console.print(f"all keys exist in {key_dir}")


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the audit signing key's id and public key (safe to share)."""
    from cryptography.hazmat.primitives import serialization

    from cordon.keys import KeyDirError, load_keys

    try:
        keys = load_keys(state(ctx).settings.key_dir)
    except KeyDirError as exc:
        fail(str(exc))
    pem = keys.audit_public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    console.print(f"audit key id: {keys.audit_key_id}")
    console.print(pem.decode().strip(), highlight=False)

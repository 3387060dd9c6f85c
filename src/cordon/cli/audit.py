"""``cordon audit``: checkpoints and verification of the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import console, err_console, fail, runtime, state
from cordon.store.db import read, write

app = typer.Typer(help="Sign checkpoints of the audit log and verify it.", no_args_is_help=True)
CLI = Actor(source="cli")


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option(help="Also write the signed checkpoint to this file.")
    ] = None,
) -> None:
    """Sign the current tree head with the audit key; keep it, and write it out. Keep copies
    of checkpoints outside Cordon: they are what proves later that nothing was cut."""
    from cordon.audit import log as audit
    from cordon.audit.verify import AuditLogAltered
    from cordon.audit.verify import checkpoint as make_checkpoint
    from cordon.keys import KeyDirError, load_keys

    rt = runtime(ctx)
    try:
        keys = load_keys(state(ctx).settings.key_dir)
    except KeyDirError as exc:
        fail(str(exc))
    try:
        with write(rt.engine) as conn:
            head = make_checkpoint(conn, rt.clock, keys)
            audit.record(
                conn, rt.clock, CLI, "cli:audit:checkpoint", details={"tree_size": head.tree_size}
            )
    except AuditLogAltered as exc:
        fail(str(exc))
    text = head.to_checkpoint()
    if out is not None:
        out.write_text(text, encoding="utf-8")
        console.print(f"checkpoint of {head.tree_size} events written to {out}")
    else:
        console.print(text, highlight=False, end="")


@app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            help="A checkpoint file kept outside Cordon (repeat); stored ones are always checked."
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="PEM public key to check checkpoints with (default: the key dir's)."),
    ] = None,
) -> None:
    """Recompute the audit log's hash chain and Merkle tree and check every checkpoint; name
    the first altered, missing, reordered or inserted event, and any truncation. Exits 1 when
    the log does not verify."""
    from cordon.audit.merkle import CheckpointError, parse_checkpoint
    from cordon.audit.verify import stored_checkpoints
    from cordon.audit.verify import verify as do_verify
    from cordon.keys import AUDIT_PUBLIC_KEY, KeyDirError, load_public_key

    rt = runtime(ctx)
    key_path = public_key or state(ctx).settings.key_dir / AUDIT_PUBLIC_KEY
    try:
        key = load_public_key(key_path)
    except (OSError, KeyDirError, ValueError) as exc:
        fail(f"cannot read the public key {key_path}: {exc}")
    heads = []
    for path in checkpoint or []:
        try:
            heads.append(parse_checkpoint(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, CheckpointError) as exc:
            fail(f"checkpoint {path}: {exc}")
    with read(rt.engine) as conn:
        try:
            heads = stored_checkpoints(conn) + heads
        except CheckpointError as exc:
            fail(f"a stored checkpoint cannot be read: {exc}")
        result = do_verify(conn, heads, key)
    console.print(
        f"{result.events} events, root {result.root.hex()}, {result.checkpoints} checkpoint(s)"
    )
    if result.ok:
        console.print("[green]the audit log verifies[/]")
        return
    table = Table("kind", "event", "finding")
    for f in result.findings[:100]:
        table.add_row(f.kind, "" if f.seq is None else str(f.seq), f.message)
    err_console.print(table)
    fail(f"the audit log does not verify: {result.findings[0].message}")


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many.")] = 50,
    action: Annotated[str | None, typer.Option(help="Only actions starting with this.")] = None,
) -> None:
    """The newest audit events."""
    from cordon.audit import log as audit

    rt = runtime(ctx)
    with write(rt.engine) as conn:
        items = audit.list_events(conn, action_prefix=action, limit=limit)
        audit.record(conn, rt.clock, CLI, "cli:audit:read", details={"count": len(items)})
    table = Table("seq", "at", "action", "user", "org", "objects")
    for e in items:
        table.add_row(
            str(e.seq),
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.action,
            str(e.actor_user_id or ""),
            str(e.actor_org_id or ""),
            f"{e.object_kind or ''} {','.join(map(str, e.object_ids[:5]))}",
        )
    console.print(table)

"""``cordon purchase``: record test purchases from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from cordon.audit.log import Actor
from cordon.cli.context import cli_principal, console, err_console, fail, runtime
from cordon.store.db import write

app = typer.Typer(
    help="Record what test purchases on sites revealed (CSV import).", no_args_is_help=True
)

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV file, or - for stdin.", allow_dash=True)],
    as_user: AsUser,
    org: AsOrg = None,
    results: Annotated[
        Path | None, typer.Option(help="Write one JSON line of outcome per row here.")
    ] = None,
) -> None:
    """Import test purchases from CSV. Every row is checked first; if any is wrong nothing is
    stored and every bad row is listed with its line and field. Columns: date, site_url,
    amount, currency (required); scheme, descriptor, merchant_id, acquirer_bin, mcc,
    provider, account, outcome, evidence_sha256, note, tlp, idempotency_key."""
    from cordon.money import files, purchases, repo
    from cordon.notices.policy import NoticePolicy

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
        rows, errors = files.read_purchases(text)
    except files.FileFormatError as exc:
        fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    if errors:
        for e in errors[:200]:
            err_console.print(str(e), highlight=False)
        if len(errors) > 200:
            err_console.print(f"… and {len(errors) - 200} more")
        fail(f"{len(errors)} row error(s); nothing was stored")
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    actor = Actor.of(principal, source="cli")
    outcomes: list[purchases.RowResult] = []
    try:
        with (
            write(rt.engine) as conn,
            Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err_console,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("rows", total=len(rows))
            outcomes = purchases.import_rows(
                conn,
                rt.clock,
                principal,
                actor,
                [(r.line, r.purchase, r.idempotency_key) for r in rows],
                channel="import",
                policy=NoticePolicy.from_settings(rt.settings),
                threshold=rt.settings.money.descriptor_threshold,
            )
            progress.advance(task, len(rows))
    except repo.MoneyError as exc:
        fail(f"{exc}; nothing was stored")
    if results is not None:
        with results.open("w", encoding="utf-8") as out:
            for o in outcomes:
                out.write(
                    json.dumps({"line": o.line, "purchase_id": o.purchase_id, "created": o.created})
                    + "\n"
                )
    created = sum(1 for o in outcomes if o.created)
    console.print(f"{created} test purchase(s) stored, {len(outcomes) - created} already stored")

"""``cordon report``: file reports from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import cli_principal, console, err_console, fail, runtime
from cordon.store.db import write

app = typer.Typer(
    help="Report URLs, import report files, list and export reports.", no_args_is_help=True
)

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]


@app.command("add")
def add(
    ctx: typer.Context,
    urls: Annotated[list[str], typer.Argument(help="One or more URLs seen together.")],
    as_user: AsUser,
    tlp: Annotated[str, typer.Option(help="CLEAR, GREEN, AMBER, AMBER+STRICT or RED.")],
    org: AsOrg = None,
    note: Annotated[str | None, typer.Option(help="Free-text note.")] = None,
    source_ref: Annotated[str | None, typer.Option(help="Your own reference.")] = None,
    hash_: Annotated[
        list[str] | None, typer.Option("--hash", help="A hash as TYPE:HEX (repeat).")
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Makes a retry of this command safe.")
    ] = None,
) -> None:
    """Report URLs."""
    from cordon.reports import repo as reports
    from cordon.reports.model import ReportIn

    hashes = []
    for item in hash_ or []:
        kind, sep, value = item.partition(":")
        if not sep:
            fail(f"--hash {item!r} is not TYPE:HEX")
        hashes.append({"signal_type": kind, "signal": value})
    try:
        data = ReportIn.model_validate(
            {"urls": urls, "tlp": tlp, "note": note, "source_ref": source_ref, "hashes": hashes}
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        fail(f"{where}: {err['msg']}")
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    try:
        with write(rt.engine) as conn:
            done = reports.submit(
                conn,
                rt.clock,
                principal,
                Actor.of(principal, source="cli"),
                data,
                channel="cli",
                idempotency_key=idempotency_key,
            )
    except reports.ReportError as exc:
        fail(f"{exc.field}: {exc}" if exc.field else str(exc))
    verb = "stored" if done.created else "already stored (same idempotency key)"
    console.print(f"report {done.report.id} {verb}: {len(done.report.urls)} URL(s)")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A .csv or .jsonl file, or - for stdin.", allow_dash=True)
    ],
    as_user: AsUser,
    org: AsOrg = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the name).")
    ] = None,
    results: Annotated[
        Path | None, typer.Option(help="Write one JSON line of outcome per row here.")
    ] = None,
) -> None:
    """Import a report file: every row is checked first, and if any is wrong nothing is
    stored and every bad row is listed with its line and field."""
    from cordon.reports import files
    from cordon.reports import repo as reports

    try:
        kind = fmt or files.format_of(file.name if str(file) != "-" else "stdin.jsonl")
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
        rows, errors = files.read_any(text, kind)
    except files.FileFormatError as exc:
        fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    if errors:
        for e in errors[:200]:
            err_console.print(str(e), highlight=False)
        if len(errors) > 200:
            err_console.print(f"… and {len(errors) - 200} more")
        fail(f"{len(errors)} row(s) refused; nothing was stored")
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    actor = Actor.of(principal, source="cli")
    outcomes: list[reports.RowResult] = []
    try:
        with (
            write(rt.engine) as conn,
            Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("rows", total=len(rows))
            for start in range(0, len(rows), 500):
                chunk = rows[start : start + 500]
                outcomes += reports.import_rows(
                    conn,
                    rt.clock,
                    principal,
                    actor,
                    [(r.line, r.report, r.idempotency_key) for r in chunk],
                    channel="import",
                )
                progress.advance(task, len(chunk))
    except reports.ReportError as exc:
        fail(f"{exc}; nothing was stored")
    created = sum(1 for o in outcomes if o.created)
    if results is not None:
        with results.open("w", encoding="utf-8") as out:
            for o in outcomes:
                out.write(
                    json.dumps({"line": o.line, "report_id": o.report_id, "created": o.created})
                    + "\n"
                )
    console.print(f"{created} report(s) stored, {len(outcomes) - created} already stored")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_user: AsUser,
    org: AsOrg = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many.")] = 20,
) -> None:
    """List the newest reports you may see."""
    from cordon.reports import repo as reports

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with write(rt.engine) as conn:
        page = reports.list_page(
            conn,
            rt.clock,
            principal,
            Actor.of(principal, source="cli"),
            reports.ReportFilter(),
            limit=limit,
        )
    table = Table("id", "created", "tlp", "urls", "first URL (defanged)")
    from cordon.domain.urls import defang

    for r in page:
        table.add_row(
            str(r.id),
            f"{r.created_at:%Y-%m-%d %H:%M}",
            r.tlp.value,
            str(len(r.urls)),
            defang(r.urls[0].url) if r.urls else "",
        )
    console.print(table)


@app.command("export")
def export(
    ctx: typer.Context,
    as_user: AsUser,
    org: AsOrg = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Export every report you may see as JSON Lines (audited)."""
    from cordon.reports import repo as reports

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with write(rt.engine) as conn:
        items = list(
            reports.export(
                conn, rt.clock, principal, Actor.of(principal, source="cli"), reports.ReportFilter()
            )
        )
    lines = [json.dumps(reports.report_as_dict(r), ensure_ascii=False) for r in items]
    if out is None:
        for line in lines:
            sys.stdout.write(line + "\n")
    else:
        out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        console.print(f"{len(lines)} report(s) written to {out}")

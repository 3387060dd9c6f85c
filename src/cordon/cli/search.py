"""``cordon search`` and ``cordon screen``."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import cli_principal, console, err_console, fail, runtime
from cordon.store.db import write

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Kind = Annotated[
    str | None,
    typer.Option(help="The kind (domain, url, ip, iban, pdq, …); detected when absent."),
]
#: Items screened per transaction: the progress bar moves between batches.
SCREEN_BATCH = 500


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A wallet, domain, URL, address, id or hash.")],
    as_user: AsUser,
    kind: Kind = None,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """Have we seen this? Every record you may read that holds it (audited)."""
    from cordon.search import repo

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    try:
        with write(rt.engine) as conn:
            found = repo.search(
                conn, rt.clock, principal, Actor.of(principal, source="cli"), query, kind=kind
            )
    except repo.SearchError as exc:
        fail(str(exc))
    if as_json:
        console.print_json(json.dumps(found.as_dict()))
        return
    for r in found.results:
        console.print(
            f"[bold]{r.entity.kind.value}[/] {r.entity.key}: "
            + (f"{r.count} record(s)" if r.count else "nothing you may see")
        )
        for source, items in r.sources.items():
            for item in items:
                shown = ", ".join(f"{k}={v}" for k, v in item.items() if v is not None)
                console.print(f"  {source}: {shown}", highlight=False, soft_wrap=True)


def _read_items(file: Path) -> list[tuple[int, str]]:
    """``(line, item)`` from a CSV (first column; a header named item/value/identifier is
    skipped) or a plain list, one per line; blank lines and ``#`` comments are skipped."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    out: list[tuple[int, str]] = []
    looks_csv = file.suffix.lower() == ".csv"
    rows = csv.reader(io.StringIO(text)) if looks_csv else ([line] for line in text.splitlines())
    for n, row in enumerate(rows, start=1):
        value = (row[0] if row else "").strip()
        if not value or value.startswith("#"):
            continue
        if looks_csv and not out and value.lower() in {"item", "value", "identifier"}:
            continue
        out.append((n, value))
    return out


def screen(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A CSV (first column) or one item per line; - for stdin.")
    ],
    as_user: AsUser,
    kind: Kind = None,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """Screen a list: for each item, unknown, known with the records you may read, or known
    with whom to contact. Every item is checked first; if any is bad, nothing is screened and
    each bad line is named. One audit event per batch of 500."""
    from cordon.search import screen as screening

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    items = _read_items(file)
    if not items:
        fail(f"{file} holds no items")
    with write(rt.engine) as conn:
        try:
            screening.parse_items(conn, [v for _, v in items], kind)
        except screening.ScreenError as exc:
            for e in exc.errors:
                err_console.print(f"line {items[e.index][0]}: {e.message}", highlight=False)
            fail(str(exc).replace("item(s)", "line(s)") if exc.errors else str(exc))
    answers: list[dict[str, Any]] = []
    actor = Actor.of(principal, source="cli")
    with Progress(
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        disable=len(items) <= SCREEN_BATCH,
    ) as progress:
        task = progress.add_task("screen", total=len(items))
        for start in range(0, len(items), SCREEN_BATCH):
            chunk = [v for _, v in items[start : start + SCREEN_BATCH]]
            with write(rt.engine) as conn:
                done = screening.screen(conn, rt.clock, principal, actor, chunk, kind=kind)
            answers += [a.as_dict() for a in done]
            progress.advance(task, len(chunk))
    if as_json:
        console.print_json(json.dumps({"count": len(answers), "items": answers}))
        return
    table = Table("item", "kind", "answer", "what you may be told")
    for a in answers:
        if a["answer"] == "details":
            told = "; ".join(
                f"{src}: {len(v)}" for d in a["details"] for src, v in d["sources"].items()
            )
        elif a["answer"] == "contact":
            c = a["contact"]
            told = f"known — contact {c['organisation']}" + (
                f" ({c['contact']})" if c.get("contact") else ""
            )
        else:
            told = "not known"
        table.add_row(a["item"], a["kind"], a["answer"], told)
    console.print(table)
    known = sum(1 for a in answers if a["known"])
    console.print(f"{known} of {len(answers)} known")

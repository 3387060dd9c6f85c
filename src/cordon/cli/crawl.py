"""``cordon crawl`` (the crawler) and ``cordon capture`` (captures and their evidence)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import cli_principal, console, fail, runtime, state
from cordon.store.db import read, write

capture_app = typer.Typer(
    help="Show captures and export their evidence as self-verifying bundles.",
    no_args_is_help=True,
)

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]


def _progress_table(p: Any, started: float, workers: int) -> Table:
    table = Table(title=f"cordon crawl: {workers} process(es), {time.monotonic() - started:.0f} s")
    for column in (
        "URLs done",
        "in flight",
        "waiting",
        "failed",
        "gone",
        "pictures hashed",
        "matches",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(p.captures),
        str(p.in_flight),
        str(p.pending),
        str(p.failed + p.dead),
        str(p.gone),
        str(p.pictures),
        str(p.matched),
    )
    return table


def crawl(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Stop when no crawl is due instead of waiting for more.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Crawler processes to run (they share the queue through the database).",
        ),
    ] = 1,
    profile: Annotated[
        str | None,
        typer.Option(help="Egress profile to crawl through (one of crawl.egress_profiles)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Stop after claiming this many URLs (per process).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress display (for child processes).")] = False,
) -> None:
    """Crawl reported URLs: capture pages, hash their pictures in memory, extract indicators,
    keep evidence. Shows URLs done, in flight, failed, pictures hashed and matches."""
    import logging

    from cordon.crawl import repo
    from cordon.crawl.fetcher import CrawlConfigError, FetcherConfig
    from cordon.crawl.worker import run_crawler

    st = state(ctx)
    rt = runtime(ctx)
    settings = rt.settings
    if profile is not None:
        crawl_settings = settings.crawl.model_copy(update={"egress_profile": profile})
        settings = settings.model_copy(update={"crawl": crawl_settings})
    try:
        FetcherConfig.from_settings(settings)
    except CrawlConfigError as exc:
        fail(str(exc))
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    children: list[subprocess.Popen[bytes]] = []
    if workers > 1:
        command = [sys.executable, "-m", "cordon"]
        if st.config_file is not None:
            command += ["--config", str(st.config_file)]
        command += ["crawl", "--quiet"]
        if once:
            command.append("--once")
        if profile:
            command += ["--profile", profile]
        if limit:
            command += ["--limit", str(limit)]
        for _ in range(workers - 1):
            children.append(subprocess.Popen(command, env=os.environ.copy()))  # noqa: S603 - our own CLI
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        for child in children:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with read(rt.engine) as conn:
        since = repo.last_capture_id(conn)
    started = time.monotonic()
    result: list[Any] = []
    runner = threading.Thread(
        target=lambda: result.append(
            run_crawler(rt.engine, settings, rt.clock, once=once, stop=stop, max_captures=limit)
        ),
        name="cordon-crawler",
        daemon=True,
    )
    runner.start()
    if quiet:
        runner.join()
    else:
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            while runner.is_alive():
                with read(rt.engine) as conn:
                    live.update(_progress_table(repo.progress(conn, since), started, workers))
                runner.join(0.5)
            with read(rt.engine) as conn:
                live.update(_progress_table(repo.progress(conn, since), started, workers))
    for child in children:
        child.wait()
    if not result:
        fail("the crawler stopped with an error; see the log above")
    stats = result[0]
    if not quiet:
        console.print(
            f"captured {stats.captured} (live {stats.live}, gone {stats.gone}, failed "
            f"{stats.failed}, refused {stats.blocked}), pictures hashed {stats.pictures}"
        )


@capture_app.command("show")
def show(
    ctx: typer.Context,
    capture_id: Annotated[int, typer.Argument(help="The capture's id.")],
    as_user: AsUser,
    org: AsOrg = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole record as JSON.")
    ] = False,
) -> None:
    """One capture: what was fetched from where, its pictures' hashes and its indicators."""
    from cordon.crawl import repo

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with write(rt.engine) as conn:
        found = repo.get(conn, rt.clock, principal, Actor.of(principal, source="cli"), capture_id)
    if found is None:
        fail(f"no capture with id {capture_id}")
    if as_json:
        console.print_json(json.dumps(found, default=str))
        return
    facts = Table(show_header=False, title=f"capture {capture_id}")
    for key in (
        "requested_url",
        "final_url",
        "outcome",
        "outcome_reason",
        "status",
        "http_version",
        "connected_address",
        "egress_profile",
        "resolver",
        "finished_at",
        "tlp",
        "cloaking",
        "template_fingerprint",
        "page_sha256",
    ):
        facts.add_row(key, str(found.get(key)))
    tls = found.get("tls") or {}
    if tls:
        facts.add_row("tls", f"{tls.get('subject')} by {tls.get('issuer')} ({tls.get('sha256')})")
    for hop in found["redirects"]:
        facts.add_row("hop", f"{hop['status']} {hop['url']} via {hop['address']}")
    for breach in found["budget"]:
        facts.add_row("budget", f"{breach['budget']}: {breach['reason']}")
    console.print(facts)
    media = Table("#", "status", "type", "size", "pdq", "quality", "sha256", title="pictures")
    for item in found["media"]:
        media.add_row(
            str(item["position"]),
            item["status"],
            str(item["sniffed_type"]),
            f"{item['width']}×{item['height']}" if item["width"] else "",
            (item["pdq"] or "")[:16],
            str(item["pdq_quality"] or ""),
            (item["sha256"] or "")[:16],
        )
    console.print(media)
    indicators = Table("kind", "key", "seen in", title="indicators")
    for ind in found["indicators"]:
        indicators.add_row(ind["kind"], ind["key"], ", ".join(ind["variants_seen"]))
    console.print(indicators)


@capture_app.command("export")
def export(
    ctx: typer.Context,
    capture_id: Annotated[int, typer.Argument(help="The capture's id.")],
    as_user: AsUser,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the bundle (.zip).")],
    org: AsOrg = None,
) -> None:
    """Write a capture's evidence bundle: its record, its WARC file and a manifest of SHA-256
    digests (check it with `cordon capture verify`)."""
    from cordon.crawl import repo

    if out.exists():
        fail(f"{out} exists; choose another file")
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with write(rt.engine) as conn:
        bundle = repo.export_bundle(
            conn, rt.clock, principal, Actor.of(principal, source="cli"), capture_id
        )
    if bundle is None:
        fail(f"no capture with id {capture_id}")
    out.write_bytes(bundle)
    console.print(f"wrote {out} ({len(bundle):,} bytes)")


@capture_app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `cordon capture export`.")],
) -> None:
    """Check an evidence bundle: file digests, the recorded WARC digest, every record's digest."""
    from cordon.crawl.evidence import verify_bundle

    try:
        data = bundle.read_bytes()
    except OSError as exc:
        fail(f"cannot read {bundle}: {exc.strerror}")
    problems = verify_bundle(data)
    if problems:
        fail(f"{bundle} does not verify: " + "; ".join(problems))
    console.print(f"{bundle} verifies")

"""``cordon world``: build and serve the synthetic world."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cordon.cli.context import console, fail

app = typer.Typer(
    help="The synthetic world: a seeded, harmless internet on loopback for the demo and tests.",
    no_args_is_help=True,
)


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO 8601 time")
    if when.tzinfo is None:
        fail(f"{option}: {value!r} needs a time zone, e.g. 2026-01-01T00:00:00Z")
    return when


@app.command()
def build(
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")],
    out: Annotated[Path, typer.Option(help="Folder to write the world into (empty or new).")],
    sites: Annotated[int, typer.Option(help="Web sites in the world.")] = 100,
    networks: Annotated[
        int | None, typer.Option(help="Networks (brands); default one per 15 sites.")
    ] = None,
    providers: Annotated[int, typer.Option(help="Hosting providers, one of them a CDN.")] = 8,
    registrars: Annotated[int, typer.Option(help="Domain registrars.")] = 4,
    payment_providers: Annotated[int, typer.Option(help="Payment-service providers.")] = 3,
    pictures: Annotated[
        int | None, typer.Option(help="Distinct pictures; default ten per site.")
    ] = None,
    known_pictures: Annotated[
        int | None, typer.Option(help="Pictures on the hash list; default one in ten.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="World clock at start, ISO 8601 UTC (default 2026-01-01).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a world already in OUT.")] = False,
) -> None:
    """Write a world: spec, ground truth, hash list (known.txt), CA and IP databases."""
    from cordon.world.build import BuildError, build_world
    from cordon.world.spec import WorldSpec

    fields: dict[str, object] = {
        "seed": seed,
        "sites": sites,
        "networks": networks,
        "providers": providers,
        "registrars": registrars,
        "payment_providers": payment_providers,
        "pictures": pictures,
        "known_pictures": known_pictures,
    }
    when = _when(start, "--start")
    if when is not None:
        fields["start"] = when
    try:
        spec = WorldSpec.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'.'.join(str(p) for p in e['loc']).replace('_', '-') or 'spec'}: {e['msg']}"
            for e in exc.errors()
        )
        fail(f"invalid world: {problems}")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("generating", total=None)

        def report(stage: str, done: int, total: int) -> None:
            progress.update(task, description=stage, completed=done, total=total)

        try:
            truth = build_world(spec, out, force=force, progress=report)
        except BuildError as exc:
            fail(str(exc))
    networks_n = len(truth.networks)
    console.print(
        f"Built world {seed} in {out}: {len(truth.sites)} sites, {networks_n} networks, "
        f"{len(truth.pictures)} pictures ({len(truth.known())} known).",
        highlight=False,
    )


@app.command()
def serve(
    folder: Annotated[Path, typer.Argument(help="A folder written by `cordon world build`.")],
    http_port: Annotated[int, typer.Option(help="HTTP port on every site address (0: any).")] = 0,
    https_port: Annotated[int, typer.Option(help="HTTPS port on every site address (0: any).")] = 0,
    dns_port: Annotated[int, typer.Option(help="DNS port on 127.0.0.1 (0: any).")] = 0,
    rdap_port: Annotated[int, typer.Option(help="RDAP port on 127.0.0.1 (0: any).")] = 0,
    smtp_port: Annotated[int, typer.Option(help="SMTP sink port on 127.0.0.1 (0: any).")] = 0,
    control_port: Annotated[
        int, typer.Option(help="Control endpoint port on 127.0.0.1 (0: any).")
    ] = 0,
    speed: Annotated[
        float,
        typer.Option(help="World seconds per real second; 0 freezes the clock (moves by control)."),
    ] = 0.0,
    start: Annotated[
        str | None, typer.Option(help="World clock at start, ISO 8601 UTC (default: the spec's).")
    ] = None,
) -> None:
    """Serve a built world on loopback until interrupted; writes FOLDER/world.toml."""
    from cordon.world.build import BuildError
    from cordon.world.model import TruthError
    from cordon.world.server import Endpoints, ServeError, ServeOptions, WorldServer

    for name, port in (
        ("--http-port", http_port),
        ("--https-port", https_port),
        ("--dns-port", dns_port),
        ("--rdap-port", rdap_port),
        ("--smtp-port", smtp_port),
        ("--control-port", control_port),
    ):
        if not 0 <= port <= 65535:
            fail(f"{name}: {port} is not a port number")
    if speed < 0:
        fail("--speed must not be negative")
    options = ServeOptions(
        http_port=http_port,
        https_port=https_port,
        dns_port=dns_port,
        rdap_port=rdap_port,
        smtp_port=smtp_port,
        control_port=control_port,
        speed=speed,
        start=_when(start, "--start"),
    )

    def show(endpoints: Endpoints) -> None:
        table = Table(title=f"World {folder} is served", show_header=False)
        table.add_row(
            "sites", f"HTTP port {endpoints.http_port}, HTTPS port {endpoints.https_port}"
        )
        table.add_row("DNS", f"{endpoints.dns_host}:{endpoints.dns_port}")
        table.add_row("RDAP", endpoints.rdap_url)
        table.add_row("SMTP sink", f"{endpoints.smtp_host}:{endpoints.smtp_port}")
        table.add_row("control", endpoints.control_url)
        table.add_row("configuration", endpoints.config_file)
        console.print(table)
        console.print("Press Ctrl-C to stop.", highlight=False)

    async def run() -> None:
        server = WorldServer(folder, options)
        endpoints = await server.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.request_stop)
        try:
            show(endpoints)
            await server.wait_stopped()
        finally:
            await server.stop()

    try:
        asyncio.run(run())
    except (BuildError, TruthError, ServeError) as exc:
        fail(str(exc))
    console.print("World stopped.", highlight=False)

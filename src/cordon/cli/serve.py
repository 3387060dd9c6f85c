"""``cordon serve`` and ``cordon worker``: the long-running processes."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from cordon.cli.context import console, fail, runtime, state
from cordon.pipeline.runner import Stage


def _stages(ctx: typer.Context, only: list[str] | None = None) -> list[Stage]:
    from cordon.plugins import PluginError, plugin_manager, stages

    try:
        found = stages(plugin_manager(state(ctx).settings.plugins))
    except PluginError as exc:
        fail(str(exc))
    if only:
        names = {s.name for s in found}
        unknown = [n for n in only if n not in names]
        if unknown:
            fail(f"unknown stage(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        found = [s for s in found if s.name in only]
    return list(found)


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    stages: Annotated[
        bool | None,
        typer.Option(
            "--stages/--no-stages",
            help="Run pipeline stages in-process (default: serve.run_stages).",
        ),
    ] = None,
) -> None:
    """Serve the API and the console; refuses an un-migrated database."""
    import uvicorn

    from cordon.api.app import create_app
    from cordon.keys import KeyDirError, load_keys
    from cordon.pipeline.runner import StageContext, run_forever

    rt = runtime(ctx)
    settings = rt.settings
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        keys = load_keys(settings.key_dir)
    except KeyDirError as exc:
        fail(str(exc))
    app = create_app(settings, rt.clock, rt.engine, keys)
    stop = threading.Event()
    worker: threading.Thread | None = None
    run_stages = settings.serve.run_stages if stages is None else stages
    if run_stages:
        found = _stages(ctx)
        if found:
            worker = threading.Thread(
                target=run_forever,
                args=(rt.engine, found, StageContext(clock=rt.clock, settings=settings), stop),
                name="cordon-stages",
                daemon=True,
            )
            worker.start()
    bind_host, bind_port = host or settings.serve.host, port or settings.serve.port
    console.print(f"Cordon serving on http://{bind_host}:{bind_port}")
    try:
        uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning", proxy_headers=False)
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=30)


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="Stop when no work is due.")] = False,
    stage: Annotated[
        list[str] | None, typer.Option(help="Run only this stage (repeat); default: all.")
    ] = None,
) -> None:
    """Run pipeline stages in this process; start as many workers as you like against one
    PostgreSQL database. Stops cleanly on SIGTERM or Ctrl-C."""
    from cordon.pipeline.runner import StageContext, run_forever, run_until_idle, worker_id

    rt = runtime(ctx)
    logging.basicConfig(
        level=rt.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    found = _stages(ctx, stage)
    if not found:
        fail("no stages to run: none is installed or selected")
    stage_ctx = StageContext(clock=rt.clock, settings=rt.settings)
    owner = worker_id()
    console.print(f"worker {owner}: {', '.join(s.name for s in found)}")
    if once:
        stats = run_until_idle(rt.engine, found, stage_ctx, owner=owner)
        console.print(f"done {stats.done}, failed {stats.failed}, dead {stats.dead}")
        return
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run_forever(rt.engine, found, stage_ctx, stop, owner=owner)

"""Child-process entry of :func:`cordon.world.harness.start_world_process`.

``python -m cordon.world FOLDER --options JSON`` serves the world, prints its endpoints as one
JSON line on standard output once every server listens, and stops when standard input closes.
People use ``cordon world serve`` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import uvloop

from cordon.world.server import Endpoints, ServeOptions, WorldServer


def _options(raw: str) -> ServeOptions:
    data: dict[str, Any] = json.loads(raw) if raw else {}
    known = {f.name for f in fields(ServeOptions)}
    unknown = set(data) - known
    if unknown:
        raise SystemExit(f"unknown serve options: {', '.join(sorted(unknown))}")
    if data.get("start"):
        data["start"] = datetime.fromisoformat(data["start"])
    return ServeOptions(**data)


async def _run(folder: Path, options: ServeOptions) -> None:
    server = WorldServer(folder, options)
    endpoints: Endpoints = await server.start()
    loop = asyncio.get_running_loop()

    def watch_stdin() -> None:
        sys.stdin.buffer.read()  # returns at end of file: the parent closed it or died
        loop.call_soon_threadsafe(server.request_stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write(endpoints.to_json() + "\n")
    sys.stdout.flush()
    try:
        await server.wait_stopped()
    finally:
        await server.stop()


def main() -> None:
    """Serve the world named on the command line until standard input closes."""
    parser = argparse.ArgumentParser(prog="python -m cordon.world")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--options", default="")
    args = parser.parse_args()
    uvloop.run(_run(args.folder, _options(args.options)))


if __name__ == "__main__":
    main()

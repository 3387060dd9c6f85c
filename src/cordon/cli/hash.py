"""``cordon hash``: PDQ (with quality), MD5 and SHA-256 of pictures, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from cordon.cli.context import console, err_console, fail
from cordon.signals.hashing import MAX_PICTURE_BYTES, PictureSignals, hash_picture
from cordon.signals.pictures import PictureError

CSV_FIELDS = ("path", "format", "width", "height", "pdq", "quality", "low_quality", "md5", "sha256")


def _files(paths: list[str]) -> Iterator[str]:
    # Folders are walked recursively in name order; `-` stands for standard input.
    for raw in paths:
        if raw == "-":
            yield raw
            continue
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file():
                    yield str(child)
        else:
            yield raw


def _read(name: str) -> bytes:
    if name == "-":
        data = sys.stdin.buffer.read(MAX_PICTURE_BYTES + 1)
    else:
        path = Path(name)
        if not path.exists():
            raise PictureError("no such file")
        if path.stat().st_size > MAX_PICTURE_BYTES:
            raise PictureError(f"larger than the limit of {MAX_PICTURE_BYTES:,} bytes")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PictureError(exc.strerror or str(exc)) from None
    return data


def _row(name: str, signals: PictureSignals) -> dict[str, Any]:
    return {
        "path": name,
        "format": signals.format,
        "width": signals.width,
        "height": signals.height,
        "pdq": signals.pdq.hex,
        "quality": signals.pdq.quality,
        "low_quality": signals.pdq.low_quality,
        "md5": signals.md5,
        "sha256": signals.sha256,
    }


def hash(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Picture files, folders (walked recursively) or `-` for standard input.",
            show_default=False,
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array, one object per picture.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")] = False,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="Use the fast matching path (reduced-scale JPEG decode) instead of the "
            "reference hash that partners compute.",
        ),
    ] = False,
) -> None:
    """Hash pictures: PDQ with its quality, MD5 and SHA-256 (JPEG, PNG, GIF, WebP, BMP).

    PDQ hashes are reference hashes (full decode) unless --fast is given; quality below 50 is
    flagged as low, and such hashes are not matched by default. Pictures stay in memory.
    """
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    if paths.count("-") > 1:
        fail("standard input (`-`) can be read only once")
    names = list(_files(paths))
    rows: list[dict[str, Any]] = []
    failures = 0
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("hashing", total=len(names))
        for name in names:
            shown = "standard input" if name == "-" else name
            try:
                signals = hash_picture(_read(name), path="fast" if fast else "reference")
            except PictureError as exc:
                failures += 1
                err_console.print(
                    f"[bold red]error:[/] {shown}: {exc}", highlight=False, soft_wrap=True
                )
            else:
                rows.append(_row(name, signals))
            bar.advance(task)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif rows:
        table = Table()
        table.add_column("path", overflow="fold")
        table.add_column("format")
        table.add_column("size")
        # Hashes are folded, never truncated: a shortened hash is useless.
        for column in ("pdq", "quality", "md5", "sha256"):
            table.add_column(column, overflow="fold")
        for row in rows:
            quality = f"{row['quality']} (low)" if row["low_quality"] else str(row["quality"])
            table.add_row(
                row["path"],
                row["format"],
                f"{row['width']}×{row['height']}",
                row["pdq"],
                quality,
                row["md5"],
                row["sha256"],
            )
        console.print(table, soft_wrap=True)
    if not names:
        fail("no files found")
    if failures:
        raise typer.Exit(1)

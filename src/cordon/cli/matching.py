"""``cordon match`` (match signals against the banks) and ``cordon matcher`` (the match index)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import cli_principal, console, fail, runtime
from cordon.store.db import read, write

matcher_app = typer.Typer(
    help="The match index of this process: its freshness, and rebuilding its snapshot.",
    no_args_is_help=True,
)

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]


def _parse(signals: list[str], file: Path | None, default_type: str) -> list[tuple[str, str]]:
    """``TYPE:SIGNAL`` or bare signals of ``default_type``, and a signal file's lines."""
    from cordon.matching.service import SIGNAL_TYPES
    from cordon.signals import formats, types

    out: list[tuple[str, str]] = []
    for n, text in enumerate(signals, start=1):
        signal_type, sep, value = text.partition(":")
        if not sep:
            signal_type, value = default_type, text
        if signal_type not in SIGNAL_TYPES:
            fail(f"signal {n}: {signal_type!r} is not matched (known: {', '.join(SIGNAL_TYPES)})")
        try:
            out.append((signal_type, types.get(signal_type).validate(value)))
        except ValueError as exc:
            fail(f"signal {n}: {exc}")
    if file is not None:
        try:
            with file.open(encoding="utf-8") as fh:
                for parsed in formats.read_signal_file(fh):
                    if isinstance(parsed, formats.LineError):
                        fail(f"{file}, line {parsed.line}: {parsed.message}")
                    if parsed.signal_type not in SIGNAL_TYPES:
                        fail(f"{file}, line {parsed.line}: {parsed.signal_type} is not matched")
                    out.append((parsed.signal_type, parsed.signal))
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}")
    if not out:
        fail("give signals to match (arguments or --file)")
    return out


def match(
    ctx: typer.Context,
    as_user: AsUser,
    signals: Annotated[
        list[str] | None,
        typer.Argument(
            help="Signals as TYPE:HEX (pdq, photo_md5, photo_sha256, video_md5) or bare "
            "hex of --type."
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="A signal file: `<signal_type> <signal>` per line (python-threatexchange's "
            "format).",
        ),
    ] = None,
    signal_type: Annotated[str, typer.Option("--type", help="Type of bare signals.")] = "pdq",
    tlp: Annotated[
        str, typer.Option(help="Marking of the sightings recorded for these signals.")
    ] = "AMBER+STRICT",
    org: AsOrg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matches as JSON.")] = False,
) -> None:
    """Match signals against the banks you may read: per signal, its matches (bank, entry,
    distance, classification, suppressed). The signals are recorded as sightings of your
    organisation, as `POST /v1/match` does."""
    from cordon.domain.tlp import Tlp
    from cordon.matching import flows
    from cordon.matching import repo as matching
    from cordon.matching.model import Query
    from cordon.matching.service import shared_matcher

    try:
        marking = Tlp(tlp)
    except ValueError:
        fail(f"--tlp {tlp!r} is not one of {', '.join(t.value for t in Tlp)}")
    pairs = _parse(list(signals or []), file, signal_type)
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    matcher = shared_matcher(rt.engine, rt.clock, rt.settings)
    with write(rt.engine) as conn:
        ids, answer = flows.match_for_member(
            conn,
            matcher,
            rt.clock,
            Actor.of(principal, source="cli"),
            rt.settings,
            principal,
            [Query(t, s) for t, s in pairs],
            marking,
        )
    results: list[dict[str, Any]] = [
        {
            "signal_type": t,
            "signal": s,
            "sighting_id": sid,
            "matches": [matching.hit_dict(h) for h in hits],
        }
        for (t, s), sid, hits in zip(pairs, ids, answer, strict=True)
    ]
    if as_json:
        console.print_json(json.dumps(results))
        return
    table = Table(title=f"{sum(1 for r in results if r['matches'])} of {len(results)} matched")
    for column in ("signal", "bank", "entry", "distance", "variant", "classification", "status"):
        table.add_column(column)
    for r in results:
        label = f"{r['signal_type']}:{r['signal'][:16]}…"
        if not r["matches"]:
            table.add_row(label, "—", "", "", "", "", "no match")
        for m in r["matches"]:
            status = "suppressed" if m["suppressed"] else ("negative" if m["negative"] else "match")
            table.add_row(
                label,
                m["bank"],
                str(m["entry_id"]),
                str(m["distance"]),
                m["variant"],
                m["classification"] or "",
                status,
            )
    console.print(table)


@matcher_app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Load the match index (from its snapshot when `matching.snapshot_dir` holds one), catch
    up with the banks' change log, and show its checkpoint, the newest change, its entries and
    memory."""
    from cordon.matching.service import Matcher

    rt = runtime(ctx)
    matcher = Matcher(
        rt.clock,
        snapshot_dir=rt.settings.matching.snapshot_dir,
        snapshot_seconds=rt.settings.matching.snapshot_seconds,
    )
    with read(rt.engine) as conn:
        applied = matcher.refresh(conn)
        fresh = matcher.freshness(conn).as_dict(rt.clock.now())
    fresh["changes_applied"] = applied
    if as_json:
        console.print_json(json.dumps(fresh))
        return
    table = Table(show_header=False, title="match index")
    for key in ("loaded_from", "checkpoint", "head", "behind", "entries", "changes_applied"):
        table.add_row(key, str(fresh[key]))
    for name, count in fresh["by_type"].items():
        table.add_row(f"entries {name}", str(count))
    table.add_row("memory", f"{fresh['memory_bytes'] / 1e6:.1f} MB")
    console.print(table)


@matcher_app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Build the match index from the database and write its snapshot to
    `matching.snapshot_dir` (matcher processes load it at start and apply only later
    changes)."""
    from cordon.matching.service import Matcher

    rt = runtime(ctx)
    folder = rt.settings.matching.snapshot_dir
    if folder is None:
        fail("matching.snapshot_dir is not set: there is nowhere to write the snapshot")
    matcher = Matcher(rt.clock, snapshot_dir=folder)
    with read(rt.engine) as conn:
        count = matcher.rebuild(conn)
    console.print(
        f"match index rebuilt: {count:,} entries at bank change {matcher.checkpoint}, "
        f"written to {folder}"
    )


@matcher_app.command("run")
def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Stop when no match work is due instead of waiting.")
    ] = False,
) -> None:
    """Run the match and retroactive-match stages in this process, fetching matched pictures
    for their reference hashes outside any database transaction (docs/matching.md)."""
    import logging
    import signal
    import threading

    from cordon.matching.worker import run_matcher

    rt = runtime(ctx)
    logging.basicConfig(
        level=rt.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stats = run_matcher(rt.engine, rt.settings, rt.clock, once=once, stop=stop)
    console.print(
        f"matched {stats.captures} captures ({stats.prefetched} pictures fetched again for "
        f"their reference hash), {stats.retro_changes} bank changes against past sightings; "
        f"{stats.failed} failed, {stats.lost} lost their lease"
    )

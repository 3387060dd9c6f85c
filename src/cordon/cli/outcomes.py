"""``cordon stats``, ``cordon assess`` and ``cordon blocklist``: outcomes of the notices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import cli_principal, console, fail, runtime
from cordon.store.db import read, write

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

blocklist_app = typer.Typer(
    help="The ISP block list: publish, show, diff and verify signed versions.",
    no_args_is_help=True,
)


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _summary_table(title: str, rows: list[dict[str, Any]], key: str) -> Table:
    table = Table(title=title)
    for name in (key, "count", "median h", "p90 h", "mean h", "max h", "distribution"):
        table.add_column(name)
    for r in rows:
        dist = ", ".join(f"{k} {v}" for k, v in r["distribution"].items() if v)
        table.add_row(
            str(r["key"]),
            str(r["count"]),
            _hours(r["median_hours"]),
            _hours(r["p90_hours"]),
            _hours(r["mean_hours"]),
            _hours(r["max_hours"]),
            dist,
        )
    return table


def stats(
    ctx: typer.Context,
    as_user: AsUser,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """Outcome metrics: time to removal (report to verified removal) per provider, AS number,
    country and network; time to closure per payment provider; repeats; reappearance rate."""
    from cordon.outcomes import metrics

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with read(rt.engine) as conn:
        data = metrics.outcome_stats(conn, principal)
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    removal = data["time_to_removal"]
    console.print(_summary_table("Time to removal", [{"key": "all", **removal["overall"]}], "all"))
    for name, title in (
        ("by_provider", "provider"),
        ("by_asn", "AS number"),
        ("by_country", "country"),
        ("by_network", "network"),
    ):
        if removal.get(name):
            console.print(_summary_table(f"Time to removal by {title}", removal[name], title))
    if data["time_to_closure"]:
        console.print(
            _summary_table(
                "Time to closure (payment alerts)", data["time_to_closure"], "payment provider"
            )
        )
    rep = Table(title="Repeats")
    for name in ("kind", "notices", "repeats", "median", "p90", "max"):
        rep.add_column(name)
    for r in data["repeats"]:
        rep.add_row(
            r["kind"],
            str(r["notices"]),
            str(r["repeats_total"]),
            _hours(r["median"]),
            _hours(r["p90"]),
            _hours(r["max"]),
        )
    console.print(rep)
    back = data["reappearance"]
    rate = "-" if back["rate"] is None else f"{back['rate']:.1%}"
    console.print(f"Reappearance: {back['reappeared']} of {back['removed']} removed URLs ({rate})")


def assess(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The URL as reported.")],
    classification: Annotated[
        str, typer.Option("--classification", "-c", help="baseline, A1, A2, B1 or B2.")
    ],
    as_user: AsUser,
    org: AsOrg = None,
    notes: Annotated[str | None, typer.Option(help="Notes of the assessment.")] = None,
    tlp: Annotated[str, typer.Option(help="TLP marking of the assessment.")] = "AMBER",
) -> None:
    """Record your assessment of a URL's content (viewed in your own secure environment,
    never in Cordon). It confirms the URL; notices and alerts follow."""
    from cordon.domain.tlp import Tlp
    from cordon.outcomes import assess as assessments

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    try:
        marking = Tlp(tlp.upper())
    except ValueError:
        fail(f"--tlp {tlp!r} is not one of {', '.join(t.value for t in Tlp)}")
    if "assessment:create" not in principal.permissions:
        fail("your organisation or role does not record assessments")
    try:
        with write(rt.engine) as conn:
            result = assessments.record(
                conn,
                rt.clock,
                principal,
                Actor.of(principal, source="cli"),
                rt.settings,
                url_text=url,
                classification=classification,
                notes=notes,
                tlp=marking,
            )
    except assessments.AssessmentError as exc:
        fail(f"{exc.field or 'assessment'}: {exc}")
    console.print(
        f"assessment {result.assessment.id}: URL {result.assessment.url_id} confirmed as "
        f"{result.classification}"
        + (f"; bank seed request {result.seed_request_id}" if result.seed_request_id else "")
    )


@blocklist_app.command("publish")
def publish(ctx: typer.Context) -> None:
    """Publish a new version when the list changed; ISPs are told in their inbox."""
    from cordon.outcomes import blocklist

    rt = runtime(ctx)
    with write(rt.engine) as conn:
        version, new = blocklist.publish(conn, rt.clock, Actor(source="cli"), rt.settings)
    state = "published" if new else "unchanged: still"
    console.print(
        f"{state} version {version.version}: {version.manifest['entries']} entries, "
        f"sha256 {version.manifest['sha256']}"
    )


@blocklist_app.command("show")
def show(
    ctx: typer.Context,
    version: Annotated[int | None, typer.Option(help="A version; default the newest.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write blocklist.txt, manifest.json and manifest.sig into this folder."),
    ] = None,
) -> None:
    """Print a version of the list (or write it with its manifest and signature)."""
    from cordon.outcomes import blocklist

    rt = runtime(ctx)
    with read(rt.engine) as conn:
        found = blocklist.get_version(conn, version)
    if found is None:
        fail("no such block list version" if version else "no block list is published yet")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "blocklist.txt").write_text(found.text, encoding="utf-8")
        (out / "manifest.json").write_text(json.dumps(found.manifest, indent=1), encoding="utf-8")
        (out / "manifest.sig").write_text(found.signature + "\n", encoding="utf-8")
        (out / "blocklist-signing.pub.pem").write_text(
            blocklist.public_key_pem(rt.settings.key_dir)
        )
        console.print(f"version {found.version} written to {out}")
        return
    console.print(f"# version {found.version}, {found.manifest['entries']} entries")
    console.print(found.text, end="", markup=False, highlight=False)


@blocklist_app.command("diff")
def diff(
    ctx: typer.Context,
    since: Annotated[int, typer.Argument(help="The earlier version.")],
    to: Annotated[int | None, typer.Argument(help="The later version; default the newest.")] = None,
) -> None:
    """Entries added (+) and removed (-) between two versions."""
    from cordon.outcomes import blocklist

    rt = runtime(ctx)
    with read(rt.engine) as conn:
        old = blocklist.get_version(conn, since)
        new = blocklist.get_version(conn, to)
    if old is None or new is None:
        fail("no such block list version")
    change = blocklist.diff(old, new)
    for e in change["added"]:
        console.print(f"+ {e['kind']} {e['value']}", markup=False, highlight=False)
    for e in change["removed"]:
        console.print(f"- {e['kind']} {e['value']}", markup=False, highlight=False)


@blocklist_app.command("verify")
def verify(
    folder: Annotated[
        Path, typer.Argument(help="A folder with blocklist.txt, manifest.json and manifest.sig.")
    ],
    key: Annotated[
        Path | None,
        typer.Option(help="The public key (PEM); default blocklist-signing.pub.pem in FOLDER."),
    ] = None,
) -> None:
    """Check a downloaded list against its manifest and the manifest's signature (exit 1 when
    anything does not hold). Needs no database."""
    from cordon.keys import KeyDirError, load_public_key
    from cordon.outcomes import blocklist

    try:
        public = load_public_key(key or folder / "blocklist-signing.pub.pem")
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        signature = (folder / "manifest.sig").read_text(encoding="utf-8").strip()
        text = (folder / "blocklist.txt").read_bytes()
    except (OSError, ValueError, KeyDirError) as exc:
        fail(f"cannot read the block list: {exc}")
    try:
        blocklist.verify(text, manifest, signature, public)
    except blocklist.BlocklistError as exc:
        fail(f"NOT VALID: {exc}")
    console.print(f"valid: version {manifest['version']}, {manifest['entries']} entries")

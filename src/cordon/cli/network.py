"""``cordon network``: networks (brands) of sites, why two sites are linked, exports, and the
recompute that keeps them up to date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import Runtime, cli_principal, console, fail, runtime
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.store.db import read, write

app = typer.Typer(
    help="Networks of sites that share payment identifiers, contacts and hosts.",
    no_args_is_help=True,
)

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _reader(rt: Runtime, as_user: str, org: str | None, permission: Permission) -> Principal:
    principal = cli_principal(rt, as_user, org)
    if not principal.can(permission):
        fail(f"{as_user} may not {permission.value.replace(':', ' ')} (permission {permission})")
    return principal


def _reasons(reasons: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{r['factor']} {r['value']:g} → {r['points']:g}" for r in reasons if r["points"]
    )


@app.command("list")
def list_networks(
    ctx: typer.Context,
    as_user: AsUser,
    org: AsOrg = None,
    status: Annotated[str, typer.Option(help="active, merged, dissolved or all.")] = "active",
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many.")] = 50,
    as_json: Json = False,
) -> None:
    """Networks you may see, highest score first, with the reasons for each score."""
    from cordon.graph import repo

    if status not in ("active", "merged", "dissolved", "all"):
        fail(f"--status is active, merged, dissolved or all, not {status!r}")
    rt = runtime(ctx)
    principal = _reader(rt, as_user, org, Permission.NETWORK_READ)
    with read(rt.engine) as conn:
        items = repo.list_networks(
            conn, principal, status=None if status == "all" else status, limit=limit
        )
    if as_json:
        console.print_json(json.dumps([n.as_dict() for n in items]))
        return
    table = Table(title=f"{len(items)} network(s)")
    for column in ("id", "label", "status", "sites", "score", "why"):
        table.add_column(column)
    for n in items:
        table.add_row(
            str(n.id), n.label, n.status, str(n.visible_sites), f"{n.score:g}",
            _reasons(n.score_reasons),
        )  # fmt: skip
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    network_id: Annotated[int, typer.Argument(help="The network's id.")],
    as_user: AsUser,
    org: AsOrg = None,
    as_json: Json = False,
) -> None:
    """One network: its sites, identifiers, score and timeline."""
    from cordon.graph import repo

    rt = runtime(ctx)
    principal = _reader(rt, as_user, org, Permission.NETWORK_READ)
    with write(rt.engine) as conn:
        found = repo.get_network(conn, principal, network_id)
        if found is None:
            fail(f"no network with id {network_id}")
        repo.audit_read(
            conn, rt.clock, principal, Actor.of(principal, source="cli"), network_id, "read"
        )
        data = {
            **found.as_dict(),
            "members": repo.members(conn, principal, network_id),
            "identifiers": repo.identifiers(conn, principal, network_id),
            "timeline": repo.timeline(conn, principal, network_id),
        }
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(
        f"[bold]network {found.id}[/] {found.label} · {found.status} · score {found.score:g}"
    )
    if found.merged_into:
        console.print(f"merged into network {found.merged_into}")
    for r in found.score_reasons:
        console.print(f"  {r['points']:>5g}  {r['why']}")
    sites = Table(title="sites")
    for column in ("site", "since", "last seen"):
        sites.add_column(column)
    for m in data["members"]:
        sites.add_row(m["site"], m["since"], m["last_seen"])
    console.print(sites)
    ids = Table(title="shared identifiers")
    for column in ("kind", "identifier", "sites"):
        ids.add_column(column)
    for i in data["identifiers"]:
        ids.add_row(i["kind"], i["label"], str(i["sites"]))
    console.print(ids)
    timeline = Table(title="timeline")
    for column in ("at", "what", "detail"):
        timeline.add_column(column)
    for t in data["timeline"]:
        detail = ", ".join(f"{k}={v}" for k, v in t.items() if k not in ("at", "what", "ref"))
        timeline.add_row(t["at"] or "", t["what"], detail)
    console.print(timeline)


@app.command("explain")
def explain(
    ctx: typer.Context,
    site_a: Annotated[str, typer.Argument(help="A site (registrable domain).")],
    site_b: Annotated[str, typer.Argument(help="Another site.")],
    as_user: AsUser,
    org: AsOrg = None,
    as_json: Json = False,
) -> None:
    """Why two sites are linked: the shortest chain of shared identifiers, each with the capture
    or record that shows it."""
    from cordon.graph import repo

    rt = runtime(ctx)
    principal = _reader(rt, as_user, org, Permission.NETWORK_READ)
    with write(rt.engine) as conn:
        found = repo.explain(conn, principal, site_a.strip(), site_b.strip())
        if found is None:
            fail(f"no site {site_a!r} or {site_b!r} that you may see")
        for site in (site_a, site_b):
            nid = repo.network_of_site(conn, principal, site.strip())
            if nid is not None:
                repo.audit_read(
                    conn, rt.clock, principal, Actor.of(principal, source="cli"), nid, "explain"
                )
    if as_json:
        console.print_json(json.dumps(found))
        return
    if not found["linked"]:
        console.print(f"{site_a} and {site_b} are not linked by anything you may see")
        raise typer.Exit(1)
    console.print(f"[bold]{site_a}[/] ↔ [bold]{site_b}[/]: {len(found['chain'])} link(s)")
    for step in found["chain"]:
        e = step["edge"]
        proof = f"{e['proof_kind']} {e['proof_id']}"
        console.print(
            f"  {step['from']['kind']} {step['from']['label']} —{e['kind']}→ "
            f"{step['to']['kind']} {step['to']['label']}  [dim]({step['why']}; {proof}; "
            f"seen {e['first_seen']} – {e['last_seen']})[/]",
            highlight=False,
        )


@app.command("export")
def export(
    ctx: typer.Context,
    network_id: Annotated[int, typer.Argument(help="The network's id.")],
    as_user: AsUser,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of the screen.")
    ] = None,
    org: AsOrg = None,
) -> None:
    """A network with its sites, identifiers, edges and their evidence, as JSON."""
    from cordon.graph import repo

    rt = runtime(ctx)
    principal = _reader(rt, as_user, org, Permission.NETWORK_EXPORT)
    with write(rt.engine) as conn:
        found = repo.export(
            conn, rt.clock, principal, Actor.of(principal, source="cli"), network_id
        )
    if found is None:
        fail(f"no network with id {network_id}")
    text = json.dumps(found, indent=2, sort_keys=True)
    if out is None:
        console.print_json(text)
    else:
        out.write_text(text + "\n")
        console.print(f"wrote network {network_id} to {out}")


@app.command("recompute")
def recompute(ctx: typer.Context, as_json: Json = False) -> None:
    """Ingest every new capture, attribution and sighting into the graph, recompute the networks
    (keeping their ids), record hops and reappearances, score them, and arm the `graph` stage."""
    from cordon.graph import service

    rt = runtime(ctx)
    report = service.run_all(rt.engine, rt.clock, Actor(source="cli"), rt.settings.graph)
    data = report.as_dict()
    if as_json:
        console.print_json(json.dumps(data))
        return
    rc = data["recompute"] or {}
    console.print(
        f"ingested {data['ingest']['records']}: {data['ingest']['nodes_added']} nodes and "
        f"{data['ingest']['edges_added']} edges added; {rc.get('networks', 0)} networks of "
        f"{rc.get('sites', 0)} sites ({rc.get('created', 0)} created, {rc.get('merged', 0)} "
        f"merged, {rc.get('split', 0)} split, {rc.get('dissolved', 0)} dissolved); "
        f"{data['history_events']} hop/reappearance events; {data['seconds']:.1f} s",
        highlight=False,
    )

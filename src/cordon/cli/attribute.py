"""``cordon attribute``: the whole hosting chain of a URL, domain or address."""

from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Annotated, Any

import typer
from rich.tree import Tree

from cordon.cli.context import console, fail, state


def _routing(ctx: typer.Context, found: Any) -> dict[str, Any]:
    """The routing decision, with the partners from the database (or why it is unavailable)."""
    from sqlalchemy.exc import OperationalError

    from cordon.attribution import repo
    from cordon.attribution.jurisdiction import bases_of, decide
    from cordon.runtime import NotMigrated, engine_from, require_migrated
    from cordon.store.db import DatabaseError, read

    settings = state(ctx).settings
    try:
        engine = engine_from(settings)
        try:
            require_migrated(engine)
            with read(engine) as conn:
                partners = repo.partners(conn)
        finally:
            engine.dispose()
    except (NotMigrated, DatabaseError) as exc:
        return {"error": f"partners unavailable: {exc}"}
    except OperationalError as exc:
        return {"error": f"partners unavailable: cannot reach the database: {exc.orig}"}
    return decide(bases_of(found), partners).to_dict()


def _contact(c: dict[str, Any] | None) -> str:
    if not c:
        return "[red]no abuse contact[/]"
    parts = [p for p in (c.get("email"), c.get("phone")) if p]
    return ", ".join(parts) or "[red]no e-mail or phone[/]"


def _tree(data: dict[str, Any]) -> Tree:
    status = {"complete": "green", "partial": "yellow", "failed": "bold red"}[data["status"]]
    root = Tree(f"[bold]{data['host']}[/] [{status}]{data['status']}[/]  ({data['target']})")
    if data["dns"]:
        dns = root.add("DNS")
        for a in data["dns"]:
            values = ", ".join(a["values"]) if a["values"] else a["outcome"]
            chain = " ".join(f"{x} → {y}" for x, y in a.get("cnames", []))
            extra = f"  [dim]via {chain}[/]" if chain else ""
            ttl = f" [dim](ttl {a['ttl']})[/]" if a.get("ttl") is not None else ""
            dns.add(f"{a['name']} {a['type']}: {values}{ttl}{extra}")
    root.add(f"Addresses: {', '.join(data['addresses']) or '[red]none[/]'}")
    net = data["network"]
    if net is not None:
        node = root.add(f"Network of {net['address']}")
        asn = f"AS{net['asn']}" if net["asn"] is not None else "AS unknown"
        node.add(f"{asn} {net['as_org'] or ''} · {net['prefix'] or 'prefix unknown'}")
        node.add(f"Country: {net['country'] or 'unknown'}")
        node.add(f"Provider: {net['provider'] or 'unknown'}")
        node.add(f"Abuse: {_contact(net['abuse'])}")
    cdn = data["cdn"]
    if cdn is not None:
        node = root.add(f"CDN: [bold]{cdn['name']}[/]")
        for e in cdn["evidence"]:
            node.add(f"[dim]{e}[/]")
        origin = data["origin"]
        onode = root.add(f"Origin: {origin['status']}")
        if origin["network"]:
            o = origin["network"]
            onode.add(f"{o['address']} · AS{o['asn']} {o['provider'] or ''} · {o['country']}")
        for e in origin["evidence"]:
            onode.add(f"[dim]{e}[/]")
    party = data["notice_party"]
    root.add(f"Notice to: [bold]{party['name'] or 'unknown'}[/] <{party['abuse_email'] or '?'}>")
    reg = data["registrar"]
    if reg is not None:
        iana = f" (IANA {reg['iana_id']})" if reg["iana_id"] else ""
        node = root.add(f"Registrar: {reg['name'] or 'unknown'}{iana}")
        node.add(f"Abuse: {_contact(reg['abuse'])}")
    routing = data["routing"]
    node = root.add("Routing")
    if "error" in routing:
        node.add(f"[yellow]{routing['error']}[/]")
    else:
        for r in routing["routes"]:
            node.add(f"{r['name']} ({r['org_type']}, {r['country'] or '—'}): {r['reason']}")
        for reason in routing["reasons"]:
            node.add(f"[dim]{reason}[/]")
    if data["failures"]:
        node = root.add("[red]Failures[/]")
        for f in data["failures"]:
            node.add(f"{f['step']} {f['target']}: {f['outcome']} — {f['message']}")
    return root


def attribute(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A URL, a domain name or an IP address.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the chain as JSON.")] = False,
) -> None:
    """Show who hosts, fronts and registered TARGET, its abuse contacts and whom to tell.

    Exits 1 when no address could be attributed (the failures say why)."""
    from cordon.attribution.attributor import Attributor, TargetError, parse_target
    from cordon.attribution.cdn import CdnDataError
    from cordon.runtime import clock_from

    settings = state(ctx).settings
    try:
        parsed = parse_target(target)
    except TargetError as exc:
        fail(str(exc))
    try:
        attributor = Attributor(settings, clock_from(settings))
    except CdnDataError as exc:
        fail(str(exc))
    progress = console.status(f"attributing {parsed.host}…") if not as_json else nullcontext()
    with attributor, progress:
        found = attributor.attribute(parsed)
    data = found.to_dict()
    data["routing"] = _routing(ctx, found)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        console.print(_tree(data))
    if found.status == "failed":
        raise typer.Exit(1)

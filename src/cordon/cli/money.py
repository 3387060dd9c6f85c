"""``cordon money``: payment identifiers, ownership, crypto transactions and metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordon.audit.log import Actor
from cordon.cli.context import cli_principal, console, err_console, fail, runtime
from cordon.store.db import write

app = typer.Typer(
    help="Payment identifiers and their owners, crypto transactions, metrics.",
    no_args_is_help=True,
)

AsUser = Annotated[
    str, typer.Option("--as", envvar="CORDON_USER", help="E-mail of the user you act as.")
]
AsOrg = Annotated[
    str | None, typer.Option("--org", help="Organisation you act for (default: the first).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("show")
def show(
    ctx: typer.Context,
    identifier: Annotated[
        str,
        typer.Argument(
            help="An address, IBAN, checkout link, provider:account or card:BIN:MERCHANT_ID."
        ),
    ],
    as_user: AsUser,
    org: AsOrg = None,
    as_json: AsJson = False,
) -> None:
    """Show a payment identifier: its owner, the sites that show it, test purchases, alerts
    and, for an address, its wallet. Only what you may see; the read is audited."""
    from cordon.domain.payments import InvalidPaymentIdentifier
    from cordon.domain.urls import defang
    from cordon.money import crypto, purchases, repo
    from cordon.money.identifiers import IdentifierType, parse_identifier
    from cordon.notices import repo as notices

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    actor = Actor.of(principal, source="cli")
    with write(rt.engine) as conn:
        try:
            spec = parse_identifier(identifier, repo.registry(conn))
        except InvalidPaymentIdentifier as exc:
            fail(str(exc))
        found = repo.find_identifier(conn, rt.clock, principal, actor, spec.key)
        if found is None:
            fail(f"no payment identifier {spec.key} that you may see")
        seen = repo.sightings_of(conn, [found.id], visible_to=principal)
        owner = repo.org_names(conn, [found.owner_org_id]).get(found.owner_org_id or 0)
        alerts = notices.list_page(
            conn,
            rt.clock,
            principal,
            actor,
            notices.NoticeFilter(subject_kind="payment_identifier", subject_id=found.id),
        )
        bought = purchases.list_page(
            conn, rt.clock, principal, actor, purchases.PurchaseFilter(identifier_id=found.id)
        )
        wallet = (
            crypto.wallet_of(conn, principal, found.key)
            if found.type is IdentifierType.CRYPTO_ADDRESS
            else None
        )
    if as_json:
        out: dict[str, Any] = repo.identifier_as_dict(found, owner_name=owner, sightings=seen)
        out["alerts"] = [notices.notice_as_dict(n) for n in alerts]
        out["test_purchases"] = [purchases.purchase_as_dict(p) for p in bought]
        out["wallet"] = None if wallet is None else crypto.wallet_as_dict(wallet)
        console.print_json(json.dumps(out))
        return
    console.print(f"[bold]{found.value}[/] ({found.type.value}, {found.payment_method})")
    console.print(f"key: {found.key}")
    console.print(
        f"owner: {owner or 'not registered'}" + (f" ({found.owner_basis})" if owner else "")
    )
    console.print(
        f"first seen {found.first_seen_at:%Y-%m-%d %H:%M}, last {found.last_seen_at:%Y-%m-%d %H:%M}"
    )
    table = Table("site", "page (defanged)", "source", "first seen", "times", "confirmed")
    for s in seen:
        table.add_row(
            s.site,
            defang(s.url),
            s.source,
            f"{s.first_seen_at:%Y-%m-%d %H:%M}",
            str(s.times),
            "yes" if s.confirmed_at else "no",
        )
    console.print(table)
    for p in bought:
        console.print(
            f"test purchase {p.id}: {p.purchased_at:%Y-%m-%d} {p.scheme or ''} "
            f"{p.descriptor or ''} {p.amount} {p.currency} ({p.outcome})"
        )
    for n in alerts:
        console.print(
            f"alert {n.id}: {n.state.value}, sent {n.rounds} time(s)"
            + (f", answered {n.answer}" if n.answer else "")
        )
    if wallet is not None:
        console.print(
            f"wallet of {len(wallet.addresses)} address(es), {wallet.transactions} "
            f"transaction(s), received {wallet.total_received} {wallet.chain.upper()}"
        )


@app.command("own")
def own(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(help="checkout_provider, acquirer_bin_range, crypto_address or iban_bank."),
    ],
    value: Annotated[
        str,
        typer.Argument(
            help="Provider name, BIN or BIN range (540518, 54051800-54051899), address, or "
            "CC:BANKCODE."
        ),
    ],
    as_user: AsUser,
    org: AsOrg = None,
    spec: Annotated[
        Path | None,
        typer.Option(help="checkout_provider: a JSON file with the link pattern (hosts, path, …)."),
    ] = None,
) -> None:
    """Register something as your payment-provider organisation's own; alerts about it come
    to you."""
    from cordon.money import alerts, repo
    from cordon.notices.policy import NoticePolicy

    data: dict[str, Any] | None = None
    if spec is not None:
        try:
            loaded = json.loads(spec.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            fail(f"cannot read {spec}: {exc}")
        if not isinstance(loaded, dict):
            fail(f"{spec} must hold a JSON object")
        data = loaded
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    actor = Actor.of(principal, source="cli")
    try:
        with write(rt.engine) as conn:
            change = repo.register_ownership(
                conn, rt.clock, principal, actor, kind=kind, value=value, spec=data
            )
            raised = alerts.raise_alerts(
                conn, rt.clock, actor, NoticePolicy.from_settings(rt.settings), change.identifiers
            )
    except repo.MoneyError as exc:
        fail(f"{exc.field}: {exc}" if exc.field else str(exc))
    sent = sum(1 for a in raised if a.action in ("issued", "reopened"))
    console.print(
        f"registered {change.ownership.kind} {change.ownership.value} "
        f"(id {change.ownership.id}); {len(change.identifiers)} identifier(s) now yours, "
        f"{sent} alert(s) sent"
    )


@app.command("ownership")
def ownership(ctx: typer.Context, as_user: AsUser, org: AsOrg = None) -> None:
    """List what your organisation registered as its own."""
    from cordon.money import repo
    from cordon.store.db import read

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with read(rt.engine) as conn:
        items = repo.list_ownership(conn, principal)
    table = Table("id", "kind", "value", "registered")
    for o in items:
        table.add_row(str(o.id), o.kind, o.value, f"{o.created_at:%Y-%m-%d}")
    console.print(table)


@app.command("crypto-import")
def crypto_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV file, or - for stdin.", allow_dash=True)],
    as_user: AsUser,
    org: AsOrg = None,
    tlp: Annotated[str, typer.Option(help="TLP marking of the imported data.")] = "AMBER",
) -> None:
    """Import crypto transactions (CSV: chain, txid, time, direction, address, amount; one
    row per input or output). All rows or none."""
    from cordon.domain.tlp import Tlp
    from cordon.money import crypto, files

    try:
        marking = Tlp.parse(tlp)
    except ValueError as exc:
        fail(str(exc))
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
        txs, errors = files.read_transactions(text)
    except files.FileFormatError as exc:
        fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    if errors:
        for e in errors[:200]:
            err_console.print(str(e), highlight=False)
        fail(f"{len(errors)} row error(s); nothing was stored")
    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with write(rt.engine) as conn:
        done = crypto.import_transactions(
            conn, rt.clock, principal, Actor.of(principal, source="cli"), txs, tlp=marking
        )
    console.print(f"{done.created} transaction(s) stored, {done.already_present} already there")


@app.command("wallets")
def wallets(
    ctx: typer.Context,
    as_user: AsUser,
    org: AsOrg = None,
    chain: Annotated[str, typer.Option(help="btc, ltc, bch, eth, trx or xmr.")] = "btc",
    limit: Annotated[int, typer.Option(min=1, help="How many.")] = 20,
    as_json: AsJson = False,
) -> None:
    """Wallets (addresses grouped by common-input ownership) with total received."""
    from cordon.money import crypto
    from cordon.store.db import read

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with read(rt.engine) as conn:
        found = crypto.wallets(conn, principal, chain.lower())
    if as_json:
        console.print_json(json.dumps([crypto.wallet_as_dict(w) for w in found[:limit]]))
        return
    table = Table("wallet", "addresses", "transactions", "received")
    for w in found[:limit]:
        table.add_row(
            w.id.split(":", 1)[1], str(len(w.addresses)), str(w.transactions), str(w.total_received)
        )
    console.print(table)


@app.command("metrics")
def metrics_(
    ctx: typer.Context, as_user: AsUser, org: AsOrg = None, as_json: AsJson = False
) -> None:
    """Time from first sighting to alert and from alert to closure, per provider and payment
    method; the payment-method mix per month."""
    from cordon.money import metrics
    from cordon.store.db import read

    rt = runtime(ctx)
    principal = cli_principal(rt, as_user, org)
    with read(rt.engine) as conn:
        providers = metrics.alert_metrics(conn, principal)
        mix = metrics.payment_method_mix(conn, principal)
    if as_json:
        console.print_json(json.dumps(metrics.metrics_as_dict(providers, mix)))
        return
    table = Table("provider", "method", "alerts", "open", "closed", "h to alert", "h to closure")
    for m in providers:
        table.add_row(
            m.organisation,
            m.payment_method,
            str(m.alerts),
            str(m.open),
            str(m.closed),
            "-" if m.median_hours_to_alert is None else f"{m.median_hours_to_alert:.1f}",
            "-" if m.median_hours_to_closure is None else f"{m.median_hours_to_closure:.1f}",
        )
    console.print(table)
    mix_table = Table("month", "method", "identifiers")
    for r in mix:
        mix_table.add_row(r.period, r.payment_method, str(r.identifiers))
    console.print(mix_table)

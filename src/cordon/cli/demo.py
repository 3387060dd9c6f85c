"""``cordon demo``: the whole pipeline on a synthetic world, then the console.

Builds a seeded world of harmless synthetic sites on loopback, creates a demo coalition, reports
the world's entry URLs as a hotline would, runs every installed stage on an accelerated clock
until no work is left, prints a summary and serves Cordon. Ctrl-C stops everything.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select

from cordon.audit.log import Actor
from cordon.cli.context import console, fail, state
from cordon.clock import Clock
from cordon.domain.partners import Principal
from cordon.keys import Keys
from cordon.world.harness import WorldHandle

DEMO_DIR = Path(".demo")
CLI = Actor(source="cli")
#: Sites a hotline would be told about: the shop windows and the doors that lead to them.
REPORTED_ROLES = ("storefront", "redirector", "gateway")
#: The hotline's bank holding the world's hash list.
DEMO_BANK = "WORLD_KNOWN"
#: Simulated days after the reports, and the clock's step between two runs of the due work.
DEMO_DAYS = 4.0
STEP_HOURS = 6
#: While serving, how often the world's clock is brought to Cordon's accelerated time.
WORLD_TICK_SECONDS = 2.0


@dataclass(frozen=True)
class DemoMember:
    org: str
    org_type: str
    country: str
    email: str
    role: str


COALITION = (
    DemoMember(
        "Coalition Coordination", "coordinator", "NL", "coordinator@coalition.test", "admin"
    ),
    DemoMember("Hotline Netherlands", "hotline", "NL", "analyst@hotline-nl.test", "analyst"),
    DemoMember(
        "Police Netherlands", "law_enforcement", "NL", "investigator@police-nl.test", "analyst"
    ),
    DemoMember("Police Germany", "law_enforcement", "DE", "investigator@police-de.test", "analyst"),
    DemoMember(
        "Northern Card Scheme", "payment_provider", "GB", "risk@cards-north.test", "analyst"
    ),
    DemoMember("Southern Payments", "payment_provider", "ES", "risk@pay-south.test", "analyst"),
    DemoMember("Example Hosting", "hosting_provider", "NL", "abuse@hosting.test", "analyst"),
)


@dataclass(frozen=True)
class Login:
    org: str
    org_type: str
    email: str
    password: str


def create_coalition(engine: Engine, clock: Clock) -> list[Login]:
    """The demo's partner organisations, each with one member and a fresh password."""
    from cordon.partners import repo as partners
    from cordon.store.db import write

    logins = []
    with write(engine) as conn:
        for m in COALITION:
            org = partners.create_org(conn, clock, CLI, m.org, m.org_type, m.country)
            password = secrets.token_urlsafe(12)
            user = partners.create_user(conn, clock, CLI, m.email, m.org, password)
            partners.add_membership(conn, clock, CLI, user.id, org.id, m.role)
            logins.append(Login(m.org, m.org_type, m.email, password))
    return logins


def principal_of(engine: Engine, email: str) -> Principal:
    from cordon.partners import repo as partners
    from cordon.store.db import read

    with read(engine) as conn:
        user = partners.find_user(conn, email)
        return partners.principal_for(conn, user.id, source="cli")


def report_urls(engine: Engine, clock: Clock, reporter: Principal, urls: Sequence[str]) -> int:
    """File one AMBER report per URL, as a hotline's daily intake would; returns how many."""
    from cordon.domain.tlp import Tlp
    from cordon.reports import repo as reports
    from cordon.reports.model import ReportIn
    from cordon.store.db import write

    actor = Actor.of(reporter, source="cli")
    with write(engine) as conn:
        for index, url in enumerate(urls):
            reports.submit(
                conn,
                clock,
                reporter,
                actor,
                ReportIn(urls=[url], tlp=Tlp.AMBER, source_ref=f"DEMO-{index + 1:04d}"),
                channel="import",
                idempotency_key=f"demo-{index + 1}",
            )
    return len(urls)


def import_hash_list(engine: Engine, clock: Clock, owner: Principal, path: Path) -> int:
    """The world's hash list as a GREEN bank of the hotline, classified baseline; returns how many
    entries it holds."""
    from cordon.banks import files
    from cordon.banks import model as banks_model
    from cordon.banks import repo as banks
    from cordon.domain.tlp import Tlp
    from cordon.store.db import write

    actor = Actor.of(owner, source="cli")
    with write(engine) as conn, path.open(encoding="utf-8") as fh:
        banks.create_bank(
            conn,
            clock,
            owner,
            actor,
            banks_model.BankIn(
                name=DEMO_BANK,
                tlp=Tlp.GREEN,
                description="The synthetic world's list of known pictures",
                signal_types=["pdq", "photo_md5", "photo_sha256"],
                default_classification="baseline",
                match_dihedral=True,
                match_trimmed=True,
            ),
        )
        fmt = files.check_format("pytx")
        result = banks.import_entries(
            conn, clock, owner, actor, DEMO_BANK, files.read(fmt, fh), fmt=fmt, source="world"
        )
    return result.added


def register_payment_providers(engine: Engine, clock: Clock, world: WorldHandle) -> int:
    """Share the world's payment providers between the demo's two payment partners, each
    registering its providers' checkout links; returns how many were registered."""
    from cordon.money import repo as money
    from cordon.store.db import write

    members = [m for m in COALITION if m.org_type == "payment_provider"]
    owners = [principal_of(engine, m.email) for m in members]
    with write(engine) as conn:
        for index, psp in enumerate(world.truth.payment_providers):
            owner = owners[index % len(owners)]
            money.register_ownership(
                conn,
                clock,
                owner,
                Actor.of(owner, source="cli"),
                kind="checkout_provider",
                value=psp.checkout_name,
                spec={
                    "hosts": [psp.checkout_host],
                    "path": psp.checkout_path,
                    "account_case": "preserve",
                },
            )
    return len(world.truth.payment_providers)


def _token(engine: Engine, clock: Clock, keys: Keys, email: str) -> str:
    from datetime import timedelta

    from cordon.partners import repo as partners
    from cordon.store.db import write

    with write(engine) as conn:
        user = partners.find_user(conn, email)
        principal = partners.principal_for(conn, user.id)
        plaintext, _ = partners.create_token(
            conn,
            clock,
            CLI,
            keys.token_hash_key,
            user_id=user.id,
            org_id=principal.org_id,
            name="demo",
            scopes=None,
            lifetime=timedelta(days=7),
        )
    return plaintext


def _keep_world_time(world: WorldHandle, clock: Clock, stop: threading.Event) -> None:
    """Move the world's clock to ``clock``'s time every few seconds until ``stop``."""
    import httpx

    from cordon.world.harness import WorldError

    while not stop.wait(WORLD_TICK_SECONDS):
        try:
            world.set_time(clock.now())
        except (WorldError, httpx.HTTPError, ValueError):
            return  # the world has stopped: the demo is ending


def _summary(engine: Engine, stage_names: list[str], done: int, logins: list[Login]) -> None:
    from cordon.outcomes import metrics
    from cordon.pipeline import repo as work
    from cordon.store.db import read
    from cordon.store.tables import report, url
    from cordon.store.tables_graph import network
    from cordon.store.tables_money import notice, url_confirmation

    with read(engine) as conn:
        n_reports = conn.execute(select(func.count()).select_from(report)).scalar_one()
        n_urls = conn.execute(select(func.count()).select_from(url)).scalar_one()
        confirmed_urls = conn.execute(
            select(func.count()).select_from(url_confirmation)
        ).scalar_one()
        confirmed_sites = conn.execute(
            select(func.count(func.distinct(url_confirmation.c.site)))
        ).scalar_one()
        networks = conn.execute(
            select(func.count())
            .select_from(network)
            .where(network.c.merged_into.is_(None), network.c.size > 1)
        ).scalar_one()
        by_kind: dict[str, int] = dict(
            conn.execute(
                select(notice.c.kind, func.count())
                .where(notice.c.state != "draft")
                .group_by(notice.c.kind)
            ).all()
        )
        removal = metrics.time_to_removal(conn, with_networks=False)["overall"]
        queues = work.counts(conn)
    table = Table("figure", "value", title="Demo run")
    table.add_row("reports filed", str(n_reports))
    table.add_row("distinct URLs", str(n_urls))
    table.add_row("URLs confirmed", f"{confirmed_urls} on {confirmed_sites} sites")
    table.add_row("networks found (2 sites or more)", str(networks))
    for kind in sorted(by_kind):
        table.add_row(f"notices sent: {kind}", str(by_kind[kind]))
    if removal["count"]:
        table.add_row(
            "time to removal",
            f"{removal['count']} removed; median {removal['median_hours']:.1f} h, "
            f"p90 {removal['p90_hours']:.1f} h",
        )
    else:
        table.add_row("time to removal", "no removal verified")
    table.add_row("stages run", ", ".join(stage_names) or "none installed")
    table.add_row("work items done", str(done))
    for q in queues:
        table.add_row(f"queue {q.stage}", f"{q.done} done, {q.pending} waiting, {q.dead} dead")
    console.print(table)
    console.print("[bold]Demo logins[/bold] (organisation, type: login / password)")
    for login in logins:
        console.print(
            f"  {login.org}, {login.org_type}: {login.email} / {login.password}",
            soft_wrap=True,
            highlight=False,
        )


def demo(
    ctx: typer.Context,
    sites: Annotated[int, typer.Option(min=20, max=5000, help="Sites in the world.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the world.")] = 1,
    port: Annotated[int, typer.Option(help="Port of the console.")] = 8000,
    speed: Annotated[
        float, typer.Option(help="How many times faster than real time the demo clock runs.")
    ] = 3600.0,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve Cordon when the run ends.")
    ] = True,
    folder: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = DEMO_DIR,
    days: Annotated[
        float,
        typer.Option(
            min=0, max=60, help="Simulated days the run covers after the reports are filed."
        ),
    ] = DEMO_DAYS,
) -> None:
    """Run the whole pipeline on a synthetic world and serve Cordon."""
    import uvicorn

    from cordon.api.app import create_app
    from cordon.clock import AcceleratedClock
    from cordon.config import load_settings
    from cordon.crawl.worker import CrawlStats, run_crawler
    from cordon.keys import init_keys, load_keys
    from cordon.pipeline.runner import StageContext, run_forever, run_until_idle
    from cordon.plugins import plugin_manager, stages
    from cordon.store.db import make_engine
    from cordon.store.migrate import upgrade
    from cordon.world import WorldSpec, running_world

    if state(ctx).config_file is not None:
        fail("the demo makes its own configuration; run it without --config")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    spec = WorldSpec(seed=seed, sites=sites)
    console.print(f"building a synthetic world of {sites} sites (seed {seed}) in {folder}/world")
    with running_world(spec, folder=folder / "world") as world:
        settings = load_settings(
            world.config_file,
            environ={},
            overrides={
                "database_url": f"sqlite:///{(folder / 'cordon.db').resolve()}",
                "key_dir": str((folder / "keys").resolve()),
                "clock": {"mode": "accelerated", "speed": speed},
                "api": {"secure_cookies": False},
                # Live sites are looked at again twice in the simulated days rather than daily,
                # which keeps the run short; removals are verified by their own re-crawls.
                # A hotline follows a reported page's links one step: to the members' and
                # payment pages of the site and to the sites a gateway leads to.
                "crawl": {"recrawl_live_hours": 48, "follow_links": "all", "follow_depth": 1},
                "notices": {"escalate_after": 2},
                "outcomes": {
                    "batch_window_minutes": 30,
                    "public_base_url": f"http://127.0.0.1:{port}",
                },
            },
        )
        # Cordon and the world share one clock that stands still while the due work runs and
        # then moves on by a step, so that the world's desks act, notices repeat and escalate and
        # re-crawls verify removals within the simulated days; the run always ends.
        clock = world.linked_clock()
        engine = make_engine(settings.database_url)
        try:
            upgrade(engine)
            init_keys(settings.key_dir)
            keys = load_keys(settings.key_dir)
            logins = create_coalition(engine, clock)
            reporter = principal_of(engine, "analyst@hotline-nl.test")
            entries = import_hash_list(engine, clock, reporter, world.hash_list)
            providers = register_payment_providers(engine, clock, world)
            console.print(
                f"bank {DEMO_BANK}: {entries} entries; {providers} payment providers registered"
            )
            entry = [world.url(s) for s in world.truth.sites if s.role in REPORTED_ROLES]
            report_urls(engine, clock, reporter, entry)
            found = stages(plugin_manager(settings.plugins))
            others = [s for s in found if s.name != "crawl"]
            stage_ctx = StageContext(clock=clock, settings=settings)
            done = 0
            steps = int(days * 24 / STEP_HOURS)
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} simulated steps"),
                TextColumn("{task.fields[items]} items"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("day 0", total=steps, items=0)

                def _advance(_item: object, _outcome: object) -> None:
                    nonlocal done
                    done += 1
                    progress.update(task, items=done)

                def _captured(stats: CrawlStats) -> None:
                    progress.update(task, items=done + stats.captured)

                def _run_due_work() -> None:
                    # The crawler's own loop fetches many URLs at once and stores them in
                    # batches; the other stages take their items in turn. Crawls queue matches,
                    # matches confirm, confirmations queue notices and re-crawls: repeat until
                    # neither has anything due.
                    nonlocal done
                    while True:
                        before = done
                        crawled = run_crawler(
                            engine, settings, clock, once=True, on_capture=_captured
                        ).captured
                        done += crawled
                        run_until_idle(engine, others, stage_ctx, on_item=_advance)
                        if crawled == 0 and done == before:
                            return

                for step in range(steps + 1):
                    if step:
                        clock.advance(timedelta(hours=STEP_HOURS))
                        progress.update(
                            task,
                            advance=1,
                            description=f"day {step * STEP_HOURS / 24:.2f}",
                        )
                    _run_due_work()
            _summary(engine, [s.name for s in found], done, logins)
            if not serve_after:
                return
            token = _token(engine, clock, keys, "analyst@hotline-nl.test")
            console.print(
                "API token of the hotline analyst (try it):\n"
                f"  curl -H 'Authorization: Bearer {token}' http://127.0.0.1:{port}/v1/reports",
                soft_wrap=True,
                highlight=False,
            )
            live_clock = AcceleratedClock(clock.now(), speed)
            stage_ctx = StageContext(clock=live_clock, settings=settings)
            app = create_app(settings, live_clock, engine, keys)
            stop = threading.Event()
            worker = threading.Thread(
                target=run_forever, args=(engine, found, stage_ctx, stop), daemon=True
            )
            worker.start()
            # The world keeps Cordon's time, so that its desks go on acting while it is served.
            ticker = threading.Thread(
                target=_keep_world_time, args=(world, live_clock, stop), daemon=True
            )
            ticker.start()
            console.print(f"Cordon is serving on http://127.0.0.1:{port} (Ctrl-C stops the demo)")
            try:
                uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
            finally:
                stop.set()
                worker.join(timeout=10)
                ticker.join(timeout=10)
        finally:
            engine.dispose()

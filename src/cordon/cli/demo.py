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

DEMO_DIR = Path(".demo")
CLI = Actor(source="cli")
#: Sites a hotline would be told about: the shop windows and the doors that lead to them.
REPORTED_ROLES = ("storefront", "redirector", "gateway")


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


def _summary(engine: Engine, stage_names: list[str], done: int, logins: list[Login]) -> None:
    from cordon.pipeline import repo as work
    from cordon.store.db import read
    from cordon.store.tables import report, url

    with read(engine) as conn:
        n_reports = conn.execute(select(func.count()).select_from(report)).scalar_one()
        n_urls = conn.execute(select(func.count()).select_from(url)).scalar_one()
        queues = work.counts(conn)
    table = Table("figure", "value", title="Demo run")
    table.add_row("reports filed", str(n_reports))
    table.add_row("distinct URLs", str(n_urls))
    table.add_row("stages run", ", ".join(stage_names) or "none installed")
    table.add_row("work items done", str(done))
    for q in queues:
        table.add_row(f"queue {q.stage}", f"{q.done} done, {q.pending} waiting, {q.dead} dead")
    console.print(table)
    people = Table("organisation", "type", "login", "password", title="Demo logins")
    for login in logins:
        people.add_row(login.org, login.org_type, login.email, login.password)
    console.print(people)


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
) -> None:
    """Run the whole pipeline on a synthetic world and serve Cordon."""
    import uvicorn

    from cordon.api.app import create_app
    from cordon.clock import AcceleratedClock, FrozenClock
    from cordon.config import load_settings
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
            },
        )
        # The run takes the work that is due now on a clock that stands still, so that it ends;
        # the served demo then lives on an accelerated clock (re-crawls, repeats, escalations).
        clock = FrozenClock(world.now())
        engine = make_engine(settings.database_url)
        try:
            upgrade(engine)
            init_keys(settings.key_dir)
            keys = load_keys(settings.key_dir)
            logins = create_coalition(engine, clock)
            reporter = principal_of(engine, "analyst@hotline-nl.test")
            entry = [world.url(s) for s in world.truth.sites if s.role in REPORTED_ROLES]
            report_urls(engine, clock, reporter, entry)
            found = stages(plugin_manager(settings.plugins))
            stage_ctx = StageContext(clock=clock, settings=settings)
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed} items"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("running the pipeline", total=None)
                stats = run_until_idle(
                    engine, found, stage_ctx, on_item=lambda _i, _o: progress.advance(task)
                )
            _summary(engine, [s.name for s in found], stats.done, logins)
            if not serve_after:
                return
            token = _token(engine, clock, keys, "analyst@hotline-nl.test")
            console.print(
                "API token of the hotline analyst (try it):\n"
                f"  curl -H 'Authorization: Bearer {token}' http://127.0.0.1:{port}/v1/reports"
            )
            live_clock = AcceleratedClock(clock.now(), speed)
            stage_ctx = StageContext(clock=live_clock, settings=settings)
            app = create_app(settings, live_clock, engine, keys)
            stop = threading.Event()
            worker = threading.Thread(
                target=run_forever, args=(engine, found, stage_ctx, stop), daemon=True
            )
            worker.start()
            console.print(f"Cordon is serving on http://127.0.0.1:{port} (Ctrl-C stops the demo)")
            try:
                uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
            finally:
                stop.set()
                worker.join(timeout=10)
        finally:
            engine.dispose()

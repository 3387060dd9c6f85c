"""The console on a live pipeline, in the browser: a hotline analyst submits a URL of the
synthetic world, the pipeline runs (crawl, match against the world's hash list, attribution,
networks, notices), the report's URL shows as confirmed, its page leads to the site's network
graph, and the payment provider that owns the site's checkout account answers its alert and
sees its dashboard change. Screenshots of each step go to test-output/web/."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine

from cordon.api.app import create_app
from cordon.audit.log import Actor
from cordon.banks import files
from cordon.banks import model as banks_model
from cordon.banks import repo as banks
from cordon.crawl.worker import run_crawler
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.money import repo as money
from cordon.partners import repo as partners
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.plugins import plugin_manager, stages
from cordon.store.db import make_engine, write
from cordon.world import WorldHandle, WorldSpec, running_world
from cordon.world.harness import WorldLinkedClock
from web.conftest import OUTPUT
from web.helpers import PASSWORD, give_password, plain_http

WORLD = WorldSpec(seed=23, sites=24)
CLI = Actor(source="cli")


@dataclass
class Live:
    url: str
    world: WorldHandle
    engine: Engine
    clock: WorldLinkedClock
    settings: Any
    logins: dict[str, str]

    def run_pipeline(self) -> None:
        """Every stage until nothing is due, in a thread of its own (the browser driver holds
        this thread's event loop)."""
        failed: list[BaseException] = []

        def run() -> None:
            try:
                self._run()
            except BaseException as exc:  # handed to the test's thread
                failed.append(exc)

        worker = threading.Thread(target=run, name="live-pipeline")
        worker.start()
        worker.join(timeout=300)
        assert not worker.is_alive(), "the pipeline did not finish"
        if failed:
            raise failed[0]

    def _run(self) -> None:
        """Every stage until nothing is due, the crawler with its own batched loop."""
        found = [s for s in stages(plugin_manager(self.settings.plugins)) if s.name != "crawl"]
        ctx = StageContext(clock=self.clock, settings=self.settings)
        for _ in range(6):
            crawled = run_crawler(self.engine, self.settings, self.clock, once=True).captured
            done = run_until_idle(self.engine, found, ctx).done
            if not crawled and not done:
                return


def _member(conn: Any, clock: Any, label: str, name: str, kind: str, country: str) -> str:
    org = partners.create_org(conn, clock, CLI, name, kind, country)
    email = f"{label}@{kind.replace('_', '-')}.test"
    user = partners.create_user(conn, clock, CLI, email, name, None)
    give_password(conn, user.id, PASSWORD)
    partners.add_membership(conn, clock, CLI, user.id, org.id, "analyst")
    return email


@pytest.fixture(scope="module")
def live(
    templates: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, key_dir: Path, keys: Keys
) -> Iterator[Live]:
    import uvicorn

    folder = tmp_path_factory.mktemp("live")
    path = folder / "cordon.db"
    shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with running_world(WORLD, folder=folder / "world") as world:
        clock = world.linked_clock()
        base = world.settings()
        settings = plain_http(
            base.model_copy(
                update={
                    "database_url": url,
                    "key_dir": key_dir,
                    "crawl": base.crawl.model_copy(update={"follow_links": "all"}),
                }
            )
        )
        logins: dict[str, str] = {}
        with write(engine) as conn:
            logins["hotline"] = _member(conn, clock, "hotline", "Hotline", "hotline", "NL")
            logins["payment"] = _member(
                conn, clock, "payment", "Card Scheme", "payment_provider", "GB"
            )
            hotline = partners.principal_for(conn, partners.find_user(conn, logins["hotline"]).id)
            payment = partners.principal_for(conn, partners.find_user(conn, logins["payment"]).id)
            banks.create_bank(
                conn,
                clock,
                hotline,
                Actor.of(hotline, source="cli"),
                banks_model.BankIn(
                    name="WORLD_LIST",
                    tlp=Tlp.GREEN,
                    signal_types=["pdq", "photo_md5", "photo_sha256"],
                    default_classification="A1",
                ),
            )
            with world.hash_list.open(encoding="utf-8") as fh:
                banks.import_entries(
                    conn,
                    clock,
                    hotline,
                    Actor.of(hotline, source="cli"),
                    "WORLD_LIST",
                    files.read("pytx", fh),
                    fmt="pytx",
                )
            for psp in world.truth.payment_providers:
                money.register_ownership(
                    conn,
                    clock,
                    payment,
                    Actor.of(payment, source="cli"),
                    kind="checkout_provider",
                    value=psp.checkout_name,
                    spec={
                        "hosts": [psp.checkout_host],
                        "path": psp.checkout_path,
                        "account_case": "preserve",
                    },
                )
        app = create_app(settings, clock, engine, keys)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, name="live-console", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Live(f"http://127.0.0.1:{port}", world, engine, clock, settings, logins)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()


def _page(browser: Browser, live: Live, who: str) -> Page:
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail address").fill(live.logins[who])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


def _shot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"live-{name}.png"), full_page=True)


def test_report_to_confirmed_to_network_to_an_answered_alert(chromium: Browser, live: Live) -> None:
    truth = live.world.truth
    # A storefront whose payment page shows a checkout account of one of the world's providers.
    shop = next(
        s for s in truth.sites if s.role == "storefront" and s.identifiers.accounts and s.network
    )
    analyst = _page(chromium, live, "hotline")
    analyst.get_by_role("link", name="Report URLs").click()
    # The shop and the other sites of its brand, as a hotline's intake would list them.
    brand = [shop, *(s for s in truth.sites if s.network == shop.network and s.id != shop.id)]
    analyst.get_by_label("URLs, one per line").fill(
        "\n".join(live.world.url(s, "/") for s in brand)
    )
    analyst.get_by_label("TLP:GREEN", exact=True).check()
    analyst.get_by_role("button", name="Report", exact=True).click()
    analyst.wait_for_url(re.compile(r".*/reports/\d+$"))
    assert analyst.locator("#report-urls li.state-pending").count() >= 1
    _shot(analyst, "1-reported")

    live.run_pipeline()
    # An hour on: the graph stage's next turn groups the sites the crawl linked.
    live.clock.advance(timedelta(hours=1))
    live.run_pipeline()

    analyst.reload()
    url_link = (
        analyst.locator("#report-urls tbody tr")
        .filter(has_text=shop.domain.replace(".", "[.]"))
        .get_by_role("link")
    )
    url_link.click()
    analyst.wait_for_url(re.compile(r".*/urls/\d+$"))
    confirmation = analyst.locator("#url-confirmation").inner_text()
    assert confirmation.startswith("confirmed"), confirmation
    assert "classification A1" in confirmation
    assert analyst.locator("img").count() == 0
    _shot(analyst, "2-confirmed")
    analyst.locator("#url-network").get_by_role("link").click()
    analyst.wait_for_url(re.compile(r".*/networks/\d+$"))
    analyst.locator("#network-graph.drawn").wait_for()
    assert analyst.locator("#network-graph canvas").count() >= 1
    nodes = analyst.locator("#graph-nodes").text_content() or ""
    assert shop.domain.replace(".", "[.]") in nodes
    _shot(analyst, "3-network")

    provider = _page(chromium, live, "payment")
    # Before its answer: its alerts are open, none closed yet.
    assert provider.locator("#table-providers").count() == 1
    assert provider.locator("#closure-none").count() == 1
    provider.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    provider.wait_for_url(re.compile(r".*/inbox$"))
    rows = provider.locator("#inbox tbody tr")
    assert rows.count() >= 1
    _shot(provider, "4-inbox")
    rows.first.get_by_role("link").click()
    provider.wait_for_url(re.compile(r".*/inbox/\d+$"))
    provider.get_by_label(re.compile(r"^account closed")).check()
    provider.get_by_role("button", name="Send the answer").click()
    provider.wait_for_url(re.compile(r".*answered=1$"))
    assert "closed" in provider.locator("#notice-state").inner_text()
    provider.get_by_role("link", name="Dashboard").click()
    provider.wait_for_url(re.compile(r".*/$"))
    # After it: the time to closure has its first alert.
    assert provider.locator("#closure-none").count() == 0
    assert provider.locator("#table-closure tbody tr").count() >= 1
    _shot(provider, "5-dashboard")

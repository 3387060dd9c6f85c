"""Fixtures of the console's tests.

In-process tests drive the console with Starlette's test client on both database backends.
Browser tests drive Debian's Chromium (``/usr/bin/chromium``) with Playwright against a real
uvicorn server on loopback with a seeded SQLite database. When Chromium or Playwright is
missing the browser tests are skipped with a loud reason, except when ``CI`` is set: then they
fail. Chromium's and Playwright's versions are printed at the end of the run, and every page a
browser test opened is saved as a screenshot under ``test-output/web/``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine

from cordon.api.app import create_app
from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.partners import repo as partners
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import make_engine, write
from web.helpers import (
    CLI,
    PASSWORD,
    ROOT,
    Console,
    Pages,
    Seeded,
    give_password,
    plain_http,
)
from web.seed import seed

if TYPE_CHECKING:
    from playwright.sync_api import Browser

OUTPUT = ROOT / "test-output" / "web"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--headless",
]

# --- in-process ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def console(
    templates: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, key_dir: Path, keys: Keys
) -> Iterator[Console]:
    """The console over plain HTTP on a SQLite database of its own, shared by one module's
    tests (each test makes members of its own)."""
    path = tmp_path_factory.mktemp("console-db") / "cordon.db"
    shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    clock = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    settings = plain_http(
        load_settings(environ={}, overrides={"database_url": url, "key_dir": str(key_dir)})
    )
    made = Console(create_app(settings, clock, engine, keys), engine, clock, keys, settings)
    yield made
    for client in made.clients:
        client.__exit__(None, None, None)
    engine.dispose()


# --- browser -----------------------------------------------------------------------------------

_VERSIONS: dict[str, str] = {}
_SKIPPED: list[str] = []


def _browser_problem() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install playwright)"
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _VERSIONS:
        terminalreporter.write_line(
            f"browser tests: Chromium {_VERSIONS['chromium']} driven by Playwright "
            f"{_VERSIONS['playwright']}"
        )
    for reason in _SKIPPED[:1]:
        terminalreporter.write_line(f"!!! BROWSER TESTS SKIPPED: {reason}", red=True, bold=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, launched headless through Playwright for the tests of one module."""
    problem = _browser_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need Chromium and Playwright: {problem}", pytrace=False)
        _SKIPPED.append(problem)
        pytest.skip(f"!!! SKIPPED browser tests: {problem}")
    from importlib.metadata import version

    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        _VERSIONS["chromium"] = browser.version
        _VERSIONS["playwright"] = version("playwright")
        print(f"\nChromium {browser.version}, Playwright {version('playwright')}")
        yield browser
        browser.close()


# Organisations of the browser tests: label -> (name, type, country, role)
COALITION = {
    "hotline": ("Hotline North", "hotline", "NL", "analyst"),
    "intake": ("Hotline South", "hotline", "BE", "admin"),
    "police": ("Police Central", "law_enforcement", "DE", "analyst"),
    "payment": ("Card Scheme East", "payment_provider", "GB", "analyst"),
    "coordinator": ("Coalition Office", "coordinator", "NL", "admin"),
}


def _seed(
    engine: Engine, clock: FrozenClock
) -> tuple[dict[str, str], dict[str, int], dict[str, str], dict[str, int]]:
    logins: dict[str, str] = {}
    org_ids: dict[str, int] = {}
    users: dict[str, int] = {}
    with write(engine) as conn:
        for label, (name, kind, country, role) in COALITION.items():
            org = partners.create_org(conn, clock, CLI, name, kind, country)
            email = f"{label}@{kind.replace('_', '-')}.test"
            user = partners.create_user(conn, clock, CLI, email, name, None)
            give_password(conn, user.id, PASSWORD)
            partners.add_membership(conn, clock, CLI, user.id, org.id, role)
            logins[label], org_ids[label], users[label] = email, org.id, user.id
    report_ids: dict[str, int] = {}
    domains: dict[str, str] = {}
    plan = [
        ("clear", "hotline", Tlp.CLEAR, []),
        ("green", "hotline", Tlp.GREEN, []),
        ("amber", "hotline", Tlp.AMBER, [org_ids["police"]]),
        ("strict", "hotline", Tlp.AMBER_STRICT, []),
        ("red", "hotline", Tlp.RED, []),
        ("payment-own", "payment", Tlp.AMBER, []),
    ]
    for index, (label, owner, tlp, share) in enumerate(plan):
        domain = f"{label}-shop.test"
        with write(engine) as conn:
            principal = partners.principal_for(conn, users[owner], org_ids[owner])
            done = reports.submit(
                conn,
                clock,
                principal,
                Actor.of(principal, source="cli"),
                ReportIn(
                    urls=[f"http://www.{domain}/gallery/{index}", f"https://{domain}/pay"],
                    tlp=tlp,
                    source_ref=f"SEED-{index}",
                    hashes=[{"signal_type": "pdq", "signal": f"{index:x}" * 64}],
                    share_with=share,
                ),
                channel="api",
            )
        report_ids[label], domains[label] = done.report.id, domain
    return logins, report_ids, domains, org_ids


def _referrals(
    engine: Engine, clock: FrozenClock, settings: Settings, police_org: int
) -> tuple[dict[str, int], str]:
    """A referral to the coalition's police force (DE) and one to another country's (NL)."""
    from cordon.notices import repo as notices
    from cordon.notices.kinds import LE_REFERRAL
    from cordon.notices.policy import NoticePolicy

    policy = NoticePolicy.from_settings(settings)
    other_name = "Police Lowlands"
    made: dict[str, int] = {}
    with write(engine) as conn:
        other = partners.create_org(conn, clock, CLI, other_name, "law_enforcement", "NL")
        for label, org_id, country in (("own", police_org, "DE"), ("other", other.id, "NL")):
            made[label] = notices.issue(
                conn,
                clock,
                Actor(source="stage"),
                policy,
                kind=LE_REFERRAL,
                recipient_org_id=org_id,
                subject_kind="url",
                subject_id=1,
                title=f"Referral {country}: confirmed URLs hosted in your country",
                body="Confirmed URLs, for your action.",
                payload={"country": country},
            ).id
    return made, other_name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served(
    templates: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, key_dir: Path, keys: Keys
) -> Iterator[Seeded]:
    """Cordon served by uvicorn on loopback, as ``cordon serve`` does, on a seeded database."""
    import uvicorn

    folder = tmp_path_factory.mktemp("console")
    path = folder / "cordon.db"
    shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    clock = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    logins, report_ids, domains, org_ids = _seed(engine, clock)
    settings = plain_http(
        load_settings(environ={}, overrides={"database_url": url, "key_dir": str(key_dir)})
    )
    # A confirmed shop whose report (AMBER, unshared) no member above may see, with an alert to
    # each of two payment providers and a notice to each of two hosts.
    world = seed(engine, clock, settings, tlp=Tlp.AMBER)
    for label in ("hotline", "provider_a", "provider_b", "host_a"):
        logins[f"shop-{label}"] = getattr(world, label).email
    referrals, other_police = _referrals(engine, clock, settings, org_ids["police"])
    clock.advance(timedelta(hours=1))
    app = create_app(settings, clock, engine, keys)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console server did not start")
        time.sleep(0.02)
    try:
        yield Seeded(
            f"http://127.0.0.1:{port}",
            logins,
            report_ids,
            domains,
            org_ids,
            world=world,
            referrals=referrals,
            other_police=other_police,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture
def pages(chromium: Browser, served: Seeded, request: pytest.FixtureRequest) -> Iterator[Pages]:
    """Open pages with :meth:`Pages.open`; a screenshot of each is saved under
    ``test-output/web/`` and no page may have broken the Content-Security-Policy."""
    made = Pages(chromium, served)
    yield made
    OUTPUT.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for index, page in enumerate(made.opened):
        suffix = "" if len(made.opened) == 1 else f"-{index + 1}"
        if not page.is_closed():
            page.screenshot(path=str(OUTPUT / f"{name}{suffix}.png"), full_page=True)
        page.context.close()
    violations = [
        m
        for m in made.console_errors
        if "Content Security Policy" in m and not any(p in m for p in made.expected_violations)
    ]
    assert not violations, f"pages broke the Content-Security-Policy: {violations}"

"""Helpers of the console's tests: members, logins and CSRF tokens."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, update

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.keys import Keys
from cordon.partners import repo as partners
from cordon.partners.credentials import hash_password
from cordon.store.db import write
from cordon.store.tables import app_user

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
CLI = Actor(source="cli")
PASSWORD = "correct-horse-battery-staple"
HTML = {"accept": "text/html"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF_RE.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    """The console on its own database, and a way in for members."""

    app: FastAPI
    engine: Engine
    clock: FrozenClock
    keys: Keys
    settings: Settings
    clients: list[TestClient] = field(default_factory=list)

    def member(
        self, org_type: str, role: str = "analyst", *, password: str | None = None
    ) -> tuple[int, int, str]:
        """A new organisation with one member; returns (user id, org id, e-mail)."""
        tag = uuid.uuid4().hex[:8]
        with write(self.engine) as conn:
            org = partners.create_org(conn, self.clock, CLI, f"{org_type}-{tag}", org_type, "NL")
            email = f"{tag}@{org_type}.test"
            user = partners.create_user(conn, self.clock, CLI, email, tag, None)
            if password is not None:
                give_password(conn, user.id, password)
            partners.add_membership(conn, self.clock, CLI, user.id, org.id, role)
        return user.id, org.id, email

    def session_for(self, user_id: int, org_id: int) -> TestClient:
        """A client holding a new session of the member, as a login would open it."""
        from datetime import timedelta

        from cordon.web import repo
        from cordon.web.session import SESSION_COOKIE

        with write(self.engine) as conn:
            secret, _ = repo.start_session(
                conn,
                self.clock,
                CLI,
                self.keys.session_key,
                user_id=user_id,
                org_id=org_id,
                lifetime=timedelta(hours=8),
            )
        client = self.client()
        client.cookies.set(SESSION_COOKIE, secret)
        return client

    def signed_in(self, org_type: str, role: str = "analyst") -> tuple[TestClient, int, int]:
        """A new member with a session; returns (client, user id, org id)."""
        user_id, org_id, _ = self.member(org_type, role)
        return self.session_for(user_id, org_id), user_id, org_id

    def client(self) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=False)
        client.__enter__()
        self.clients.append(client)
        return client

    def login(self, email: str, password: str = PASSWORD) -> TestClient:
        """A browser-like client with a session of ``email``."""
        client = self.client()
        form = client.get("/login", headers=HTML)
        response = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
            headers=HTML,
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client


_HASHES: dict[str, str] = {}


def give_password(conn: Connection, user_id: int, password: str) -> None:
    """Set a user's password, hashing each password once per test session (argon2 is slow on
    purpose; what is stored is exactly what Cordon stores)."""
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    conn.execute(
        update(app_user).where(app_user.c.id == user_id).values(password_hash=_HASHES[password])
    )


def plain_http(settings: Settings) -> Settings:
    """Settings for plain-HTTP loopback, where browsers drop ``Secure`` cookies."""
    return settings.model_copy(
        update={"api": settings.api.model_copy(update={"secure_cookies": False})}
    )


@dataclass(frozen=True)
class Seeded:
    """Who is in the browser tests' coalition and what they reported."""

    url: str
    logins: dict[str, str]  # role in the tests -> e-mail
    report_ids: dict[str, int]  # label -> report id
    domains: dict[str, str]  # label -> registrable domain of its URL
    org_ids: dict[str, int]
    #: Browser state (the session cookie) of each member after a first login, to reuse.
    sessions: dict[str, Any] = field(default_factory=dict)
    #: The confirmed shop, its payment providers' alerts and hosts' notices (web/seed.py).
    world: Any = None
    #: Referrals to law enforcement: "own" to the coalition's police, "other" to another
    #: country's police force (``other_org``, not in the coalition's logins).
    referrals: dict[str, int] = field(default_factory=dict)
    other_police: str = ""


@dataclass
class Pages:
    """Browser pages of one test; each is screenshotted when the test ends."""

    browser: Browser
    site: Seeded
    opened: list[Page] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    #: Parts of messages of policy violations a test provokes on purpose.
    expected_violations: list[str] = field(default_factory=list)

    def open(
        self, login: str | None = None, *, fresh: bool = False, init_script: Path | None = None
    ) -> Page:
        """A page in a new browser context, logged in as the member ``login`` names: through
        the login form the first time (or when ``fresh``), else with the session that login
        opened. ``init_script`` runs in every document the page loads."""
        reuse = login is not None and not fresh and login in self.site.sessions
        context = self.browser.new_context(
            base_url=self.site.url,
            viewport={"width": 1280, "height": 900},
            storage_state=self.site.sessions[login] if reuse else None,
        )
        context.set_default_timeout(10_000)
        if init_script is not None:
            context.add_init_script(path=str(init_script))
        page = context.new_page()
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        self.opened.append(page)
        if login is not None and not reuse:
            self.login(page, self.site.logins[login])
            if not fresh:
                self.site.sessions[login] = context.storage_state()
        return page

    def login(self, page: Page, email: str, password: str = PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r".*/$"))

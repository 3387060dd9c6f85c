"""Start a world for a test in one call, and talk to it.

    from cordon.world import WorldSpec, running_world

    with running_world(WorldSpec(seed=7, sites=100)) as world:
        site = world.truth.sites[0]
        page = world.fetch(world.url(site.domain))      # through the world's DNS and CA
        settings = world.settings()                      # Cordon's settings for this world
        world.take_down(site.id)                         # as its host would
        clock = world.linked_clock()                     # a FrozenClock that moves the world too

The world runs in a child process (its own event loop and interpreter lock, so a crawler under
test does not slow it down) and stops when the block ends, or when the parent process dies.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import dns.resolver
import httpx

from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.world.build import HASH_LIST_FILE, TRUTH_FILE, build_world, read_spec
from cordon.world.model import GroundTruth, Site, load_truth
from cordon.world.server import RUNTIME_FILE, Endpoints, ServeOptions
from cordon.world.spec import WorldSpec
from cordon.world.tls import CA_FILE

START_TIMEOUT = 60.0


class WorldError(RuntimeError):
    """The world could not be started, or a control request failed."""


class NameNotFound(LookupError):
    """The world's DNS has no address for a name (NXDOMAIN, or no A record)."""


@dataclass(frozen=True)
class Fetched:
    """One HTTP response from the world (redirects are not followed)."""

    status: int
    headers: dict[str, str]
    body: bytes
    address: str

    @property
    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Mail:
    """A message the SMTP sink received, with what the abuse desks made of it."""

    index: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    message: EmailMessage
    desks: list[str]
    sites: list[str]
    domains: list[str]
    accounts: list[str]
    actions: list[dict[str, Any]]


class WorldLinkedClock(FrozenClock):
    """A :class:`FrozenClock` that moves the world's clock with it.

    Give it to Cordon as its clock: ``advance`` and ``set`` move both, so Cordon and the world
    agree on the time. Only for worlds served with a frozen clock (speed 0, the default).
    """

    def __init__(self, world: WorldHandle) -> None:
        super().__init__(world.now())
        self._world = world

    def advance(self, delta: timedelta) -> datetime:
        when = self._world.advance(delta)
        super().set(when)
        return when

    def set(self, when: datetime) -> None:
        super().set(self._world.set_time(when))


class WorldHandle:
    """A running world: where it listens, its ground truth, and its controls."""

    def __init__(self, folder: Path, endpoints: Endpoints) -> None:
        self.folder = folder
        self.endpoints = endpoints
        self._http = httpx.Client(base_url=endpoints.control_url, trust_env=False, timeout=30)
        self._tls: ssl.SSLContext | None = None

    @classmethod
    def connect(cls, folder: Path) -> WorldHandle:
        """Attach to a world started elsewhere (``cordon world serve FOLDER``)."""
        path = folder / RUNTIME_FILE
        try:
            endpoints = Endpoints.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise WorldError(
                f"{folder} is not being served ({RUNTIME_FILE}: {exc.strerror})"
            ) from exc
        return cls(folder, endpoints)

    def close(self) -> None:
        """Release the control connection."""
        self._http.close()

    # ------------------------------------------------------------------ files

    @cached_property
    def truth(self) -> GroundTruth:
        """The world's ground truth."""
        return load_truth(self.folder / TRUTH_FILE)

    @property
    def config_file(self) -> Path:
        """``world.toml``: Cordon's configuration for this running world."""
        return Path(self.endpoints.config_file)

    @property
    def ca_file(self) -> Path:
        """The world CA's certificate (PEM)."""
        return self.folder / CA_FILE

    @property
    def hash_list(self) -> Path:
        """``known.txt``, the world's hash list."""
        return self.folder / HASH_LIST_FILE

    def settings(self, environ: Mapping[str, str] | None = None) -> Settings:
        """Cordon's settings from ``world.toml`` (and ``environ``, default: none)."""
        return load_settings(self.config_file, environ=environ if environ is not None else {})

    # ------------------------------------------------------------------ addresses

    def url(self, site: str | Site, path: str = "/", *, https: bool | None = None) -> str:
        """The URL of ``path`` on a site, with the running world's ports.

        A site id or record means the site's current domain (after any hop); a domain name
        means that domain. ``https`` defaults to what the site serves.
        """
        if isinstance(site, Site) or "." not in site:
            record = site if isinstance(site, Site) else self.truth.site(site)
            domain = record.domain
            if record.hops:
                domain = self.site_state(record.id)["domain"]
        else:
            record = self.truth.site(site)
            domain = site.lower()
        if https is None:
            https = record.https
        port = self.endpoints.https_port if https else self.endpoints.http_port
        return f"{'https' if https else 'http'}://{domain}:{port}{path}"

    def rebase(self, canonical_url: str) -> str:
        """A ground-truth URL (written for ports 80 and 443) with the running world's ports."""
        parts = urlsplit(canonical_url)
        https = parts.scheme == "https"
        port = self.endpoints.https_port if https else self.endpoints.http_port
        query = f"?{parts.query}" if parts.query else ""
        return f"{parts.scheme}://{parts.hostname}:{port}{parts.path}{query}"

    def resolver(self) -> dns.resolver.Resolver:
        """A dnspython resolver asking the world's DNS server."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [self.endpoints.dns_host]
        resolver.port = self.endpoints.dns_port
        resolver.timeout = resolver.lifetime = 5.0
        return resolver

    def resolve(self, name: str, rtype: str = "A") -> list[str]:
        """Record values for ``name`` from the world's DNS; NameNotFound when there are none."""
        try:
            answer = self.resolver().resolve(name, rtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as exc:
            raise NameNotFound(f"{name} {rtype}: {exc}") from exc
        return [r.to_text() for r in answer]

    def tls_context(self) -> ssl.SSLContext:
        """A client TLS context trusting only the world's CA."""
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=str(self.ca_file))
        return self._tls

    def fetch(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        timeout: float = 10.0,
    ) -> Fetched:
        """One request to the world, resolved through its DNS and verified against its CA.

        Raises NameNotFound, ConnectionRefusedError or ssl.SSLError as a crawler would see them.
        """
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        address = self.resolve(host)[0]
        conn: http.client.HTTPConnection
        if https:
            conn = _PinnedHTTPS(host, port, address, self.tls_context(), timeout)
        else:
            conn = _PinnedHTTP(host, port, address, timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            conn.request(method, target, headers=dict(headers or {}))
            response = conn.getresponse()
            body = response.read()
            return Fetched(
                response.status, {k.lower(): v for k, v in response.getheaders()}, body, address
            )
        finally:
            conn.close()

    # ------------------------------------------------------------------ control

    def _call(self, method: Literal["GET", "POST"], path: str, body: object = None) -> Any:
        response = self._http.request(method, path, json=body)
        data = response.json()
        if response.status_code != 200:
            raise WorldError(f"{method} {path}: {data.get('error', response.status_code)}")
        return data

    def status(self) -> dict[str, Any]:
        """Clock, endpoints and counts of the running world."""
        return dict(self._call("GET", "status"))

    def now(self) -> datetime:
        """The world's current time."""
        return datetime.fromisoformat(self._call("GET", "clock")["now"])

    def advance(self, delta: timedelta) -> datetime:
        """Move the world's clock forward (scheduled hops and desk actions happen)."""
        seconds = delta.total_seconds()
        return datetime.fromisoformat(
            self._call("POST", "clock/advance", {"seconds": seconds})["now"]
        )

    def set_time(self, when: datetime) -> datetime:
        """Move the world's clock forward to ``when``."""
        return datetime.fromisoformat(
            self._call("POST", "clock/set", {"now": when.isoformat()})["now"]
        )

    def linked_clock(self) -> WorldLinkedClock:
        """A FrozenClock for Cordon that moves this world's clock whenever it moves."""
        return WorldLinkedClock(self)

    def site_state(self, site: str) -> dict[str, Any]:
        """Where a site (id or domain) is served now and what of it is down."""
        return dict(self._call("GET", f"sites/{site}"))

    def take_down(
        self, site: str, by: Literal["host", "cdn", "registrar"] = "host"
    ) -> dict[str, Any]:
        """Take a site down as its host (404 or refused), CDN (403) or registrar (NXDOMAIN)."""
        return dict(self._call("POST", f"sites/{site}/down", {"by": by}))

    def bring_back(self, site: str) -> dict[str, Any]:
        """Undo every takedown of a site."""
        return dict(self._call("POST", f"sites/{site}/up"))

    def move(self, site: str, provider: str, address: str | None = None) -> dict[str, Any]:
        """Move a site's origin to another hosting provider."""
        return dict(
            self._call("POST", f"sites/{site}/move", {"provider": provider, "address": address})
        )

    def close_account(self, account: str) -> dict[str, Any]:
        """Close a merchant account (``PSP-ID:ACCOUNT``)."""
        return dict(self._call("POST", f"accounts/{account}/close"))

    def reopen_account(self, account: str) -> dict[str, Any]:
        """Reopen a merchant account."""
        return dict(self._call("POST", f"accounts/{account}/reopen"))

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """The world's events (hops, takedowns, moves, closures) from index ``since``."""
        return list(self._call("GET", f"events?since={since}"))

    def pending(self) -> list[dict[str, str]]:
        """Scheduled events not yet due."""
        return list(self._call("GET", "pending"))

    def requests(self) -> dict[str, int]:
        """Page requests per Host header so far."""
        return dict(self._call("GET", "requests"))

    def messages(self, since: int = 0) -> list[Mail]:
        """Messages the SMTP sink received, from index ``since``."""
        out = []
        for raw in self._call("GET", f"messages?since={since}"):
            parsed = message_from_string(raw["data"], policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append(
                Mail(
                    index=raw["index"],
                    received_at=datetime.fromisoformat(raw["received_at"]),
                    mail_from=raw["mail_from"],
                    rcpt_tos=raw["rcpt_tos"],
                    subject=raw["subject"],
                    message=parsed,
                    desks=raw["desks"],
                    sites=raw["sites"],
                    domains=raw["domains"],
                    accounts=raw["accounts"],
                    actions=raw["actions"],
                )
            )
        return out

    def send_mail(self, message: EmailMessage) -> None:
        """Deliver a message to the world's SMTP sink."""
        with smtplib.SMTP(self.endpoints.smtp_host, self.endpoints.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, address: str, context: ssl.SSLContext, timeout: float
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def start_world_process(
    folder: Path, options: ServeOptions | None = None, timeout: float = START_TIMEOUT
) -> tuple[subprocess.Popen[bytes], Endpoints]:
    """Serve ``folder`` in a child process; returns it once every server listens.

    The child stops when its standard input closes, so it never outlives the parent.
    """
    opts = options or ServeOptions()
    payload = {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(opts).items()
    }
    proc = subprocess.Popen(  # noqa: S603 - our own module, with our own interpreter
        [sys.executable, "-m", "cordon.world", str(folder), "--options", json.dumps(payload)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    stdout = proc.stdout
    assert stdout is not None
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0].strip():
        stop_world_process(proc)
        raise WorldError(
            f"the world in {folder} did not start within {timeout:.0f} s "
            f"(exit code {proc.returncode}; its errors are on standard error)"
        )
    return proc, Endpoints.from_json(line[0].decode())


def stop_world_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child started by :func:`start_world_process`."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def running_world(
    world: WorldSpec | Path,
    *,
    folder: Path | None = None,
    options: ServeOptions | None = None,
) -> Iterator[WorldHandle]:
    """Build (for a spec) and serve a world; yield its :class:`WorldHandle`; stop it.

    ``world`` is a :class:`WorldSpec` (built into ``folder``, or into a temporary folder that is
    removed afterwards) or the folder of a built world. A folder that already holds the same
    spec is served as it is, without building again.
    """
    with contextlib.ExitStack() as stack:
        if isinstance(world, WorldSpec):
            if folder is None:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="cordon-world-"))
                folder = Path(tmp) / "world"
            if not _holds(folder, world):
                build_world(world, folder, force=True)
        else:
            folder = world
            read_spec(folder)  # a clear error if it is no world
        proc, endpoints = start_world_process(folder, options)
        stack.callback(stop_world_process, proc)
        handle = WorldHandle(folder, endpoints)
        stack.callback(handle.close)
        yield handle


def _holds(folder: Path, spec: WorldSpec) -> bool:
    try:
        return read_spec(folder) == spec and (folder / TRUTH_FILE).is_file()
    except ValueError:
        return False


__all__ = [
    "Fetched",
    "Mail",
    "NameNotFound",
    "WorldError",
    "WorldHandle",
    "WorldLinkedClock",
    "running_world",
]

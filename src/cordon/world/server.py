"""Run a built world: every server on loopback, in one process and one event loop.

Sites listen on their own 127.x.y.z addresses (one HTTP and one HTTPS port shared by all of
them); DNS, RDAP, the SMTP sink and the control endpoint listen on 127.0.0.1. Ports are chosen
at start (or fixed by :class:`ServeOptions`), and the start writes ``world.toml``,
``runtime.json`` and ``rdap-bootstrap/`` into the world folder with the real ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import resource
import socket
import ssl
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TextIO

from aiosmtpd.smtp import SMTP

from cordon.world import http
from cordon.world.build import TRUTH_FILE, read_spec
from cordon.world.control import Control
from cordon.world.dns import DnsTcp, DnsUdp, Zone
from cordon.world.model import GroundTruth, load_truth
from cordon.world.rdap import Rdap, write_bootstrap
from cordon.world.sites import PictureStore, Ports, SiteServer
from cordon.world.smtp import Sink, SinkHandler
from cordon.world.state import WorldClock, WorldState
from cordon.world.tls import SiteCertificates
from cordon.world.worldconfig import write_world_config

INFRA_HOST = "127.0.0.1"
RUNTIME_FILE = "runtime.json"
LOCK_FILE = "serve.lock"
_PORT_TRIES = 8


class ServeError(RuntimeError):
    """The world cannot be served; the message says why."""


@dataclass(frozen=True)
class ServeOptions:
    """Ports (0: any free port) and the world clock's pace for one run of a world."""

    http_port: int = 0
    https_port: int = 0
    dns_port: int = 0
    rdap_port: int = 0
    smtp_port: int = 0
    control_port: int = 0
    speed: float = 0.0
    start: datetime | None = None
    picture_cache_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class Endpoints:
    """Where a running world listens. ``runtime.json`` holds exactly this."""

    pid: int
    http_port: int
    https_port: int
    dns_host: str
    dns_port: int
    rdap_url: str
    smtp_host: str
    smtp_port: int
    control_url: str
    config_file: str

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Endpoints:
        """Parse :meth:`to_json` output."""
        return cls(**json.loads(text))


class _HttpDate:
    """The ``Date`` header value of the world's clock, formatted once per world second."""

    def __init__(self, clock: WorldClock) -> None:
        self._clock = clock
        self._second: datetime | None = None
        self._text = ""

    def __call__(self) -> str:
        second = self._clock.now().replace(microsecond=0)
        if second != self._second:
            self._second = second
            self._text = format_datetime(second.astimezone(UTC), usegmt=True)
        return self._text


def _raise_fd_limit() -> None:
    # Thousands of site addresses, two listening sockets each.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _tcp_socket(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class WorldServer:
    """All of a world's servers. ``await start()``, then ``await wait_stopped()``."""

    def __init__(self, folder: Path, options: ServeOptions | None = None) -> None:
        self.folder = folder.resolve()
        self.options = options or ServeOptions()
        spec = read_spec(self.folder)
        self.truth: GroundTruth = load_truth(self.folder / TRUTH_FILE)
        if self.truth.spec != spec:
            raise ServeError(f"{self.folder}: spec.json and ground_truth.json disagree")
        self.clock = WorldClock(self.options.start or spec.start, self.options.speed)
        self.state = WorldState(self.truth, self.clock)
        self.sink = Sink(self.state)
        self.certs = SiteCertificates.from_folder(spec.seed, self.folder)
        self.endpoints: Endpoints | None = None
        self._site_server: SiteServer | None = None
        self._tls: ssl.SSLContext | None = None
        self._ports = Ports(0, 0)
        self._listeners: dict[tuple[str, bool], tuple[socket.socket, asyncio.Future[Any]]] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._stopped: asyncio.Event | None = None
        self._lock: TextIO | None = None
        self._https_names: set[str] = set()
        self.errors = 0
        self.tls_ready = False
        self._warming: asyncio.Future[None] | None = None
        self._http_date = _HttpDate(self.clock)

    # ------------------------------------------------------------------ start

    async def start(self) -> Endpoints:
        """Bind every server, write the world's runtime files, and return where it listens."""
        self._stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_error)
        self._take_lock()
        try:
            return await self._start(loop)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, loop: asyncio.AbstractEventLoop) -> Endpoints:
        _raise_fd_limit()
        opts = self.options
        for site in self.truth.sites:
            if site.https:
                self._https_names.update(site.domains())
        for psp in self.truth.payment_providers:
            self._https_names.update((psp.domain, psp.checkout_host))
        # A client naming no world site (or a plain-HTTP one) gets a certificate for a name it
        # did not ask for, and fails verification, as on a real shared server.
        self._tls = self.certs.context("unknown.invalid")
        self._tls.sni_callback = self._sni
        # Sites first: they need one port free on every address.
        self._ports = self._bind_site_ports(opts.http_port, opts.https_port)
        self._site_server = SiteServer(
            self.state, PictureStore(self.truth, opts.picture_cache_bytes), self._ports
        )
        self.state.on_change(self._sync_listeners)
        self._sync_listeners()
        zone = Zone(self.state)
        dns_port = await self._start_dns(loop, zone, opts.dns_port)
        rdap_sock = _tcp_socket(INFRA_HOST, opts.rdap_port)
        rdap_url = f"http://{INFRA_HOST}:{rdap_sock.getsockname()[1]}/rdap/"
        rdap = Rdap(self.state, rdap_url)
        self._servers.append(
            await http.listen(rdap.handle, rdap_sock, self._date, on_error=self._err)
        )
        handler = SinkHandler(self.sink)
        smtp = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.world.test", ident="Cordon world sink", loop=loop),
            INFRA_HOST,
            opts.smtp_port,
        )
        self._servers.append(smtp)
        smtp_port = smtp.sockets[0].getsockname()[1]
        control_sock = _tcp_socket(INFRA_HOST, opts.control_port)
        control = Control(self.state, self.sink, self._status, self.request_stop)
        self._servers.append(
            await http.listen(control.handle, control_sock, self._date, on_error=self._err)
        )
        control_port = control_sock.getsockname()[1]
        write_bootstrap(self.truth, self.folder, rdap_url)
        config_file = write_world_config(
            self.folder,
            self.truth,
            dns=(INFRA_HOST, dns_port),
            smtp=(INFRA_HOST, smtp_port),
            ports=(self._ports.http, self._ports.https),
            clock=(self.clock.now(), self.clock.speed),
        )
        self.endpoints = Endpoints(
            pid=os.getpid(),
            http_port=self._ports.http,
            https_port=self._ports.https,
            dns_host=INFRA_HOST,
            dns_port=dns_port,
            rdap_url=rdap_url,
            smtp_host=INFRA_HOST,
            smtp_port=smtp_port,
            control_url=f"http://{INFRA_HOST}:{control_port}/",
            config_file=str(config_file),
        )
        (self.folder / RUNTIME_FILE).write_text(self.endpoints.to_json() + "\n", encoding="utf-8")
        self._warming = asyncio.ensure_future(self._warm_tls())
        return self.endpoints

    async def _warm_tls(self) -> None:
        # A site's TLS context costs about 1.5 ms (mostly OpenSSL reading the key). They are
        # made in the background after start, a few per loop turn, so that start stays fast
        # and later handshakes do not wait; a handshake that comes first makes its own.
        for n, name in enumerate(sorted(self._https_names)):
            self.certs.context(name)
            if n % 16 == 15:
                await asyncio.sleep(0)
        self.tls_ready = True

    async def _start_dns(self, loop: asyncio.AbstractEventLoop, zone: Zone, port: int) -> int:
        # DNS needs the same port for TCP and UDP; a free TCP port is the scarcer of the two.
        for _ in range(_PORT_TRIES):
            tcp_sock = _tcp_socket(INFRA_HOST, port)
            chosen: int = tcp_sock.getsockname()[1]
            try:
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: DnsUdp(zone.answer), local_addr=(INFRA_HOST, chosen)
                )
            except OSError:
                tcp_sock.close()
                if port:
                    raise
                continue
            self._udp = udp
            self._servers.append(
                await loop.create_server(lambda: DnsTcp(zone.answer), sock=tcp_sock)
            )
            return chosen
        raise ServeError("found no port free for DNS over both UDP and TCP")

    def _take_lock(self) -> None:
        path = self.folder / LOCK_FILE
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise ServeError(f"{self.folder} is already being served (pid {owner})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def _bind_site_ports(self, http_port: int, https_port: int) -> Ports:
        addresses = sorted(self.state.all_addresses())  # hop targets too, for later
        for _ in range(_PORT_TRIES):
            opened: list[socket.socket] = []
            try:
                first_http = _tcp_socket(addresses[0], http_port)
                opened.append(first_http)
                first_https = _tcp_socket(addresses[0], https_port)
                opened.append(first_https)
                ports = Ports(first_http.getsockname()[1], first_https.getsockname()[1])
                # Every other address must have both ports free as well.
                for address in addresses[1:]:
                    opened.append(_tcp_socket(address, ports.http))
                    opened.append(_tcp_socket(address, ports.https))
            except OSError as exc:
                for sock in opened:
                    sock.close()
                if exc.errno != errno.EADDRINUSE:
                    raise ServeError(f"cannot listen on the world's addresses: {exc}") from exc
                if http_port or https_port:
                    raise ServeError(f"port {http_port or https_port} is in use: {exc}") from exc
                continue
            for sock in opened:
                sock.close()
            return ports
        raise ServeError("found no HTTP/HTTPS port pair free on every site address")

    def _date(self) -> str:
        return self._http_date()

    def _err(self) -> None:
        self.errors += 1

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        # Clients that drop connections or reject a certificate are part of normal life.
        if isinstance(exc, ssl.SSLError | ConnectionError | TimeoutError):
            return
        self.errors += 1
        loop.default_exception_handler(context)

    def _sni(self, sslobj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        if not name:
            return
        name = name.lower().rstrip(".")
        for candidate in (name, name.removeprefix("www.")):
            if candidate in self._https_names:
                sslobj.context = self.certs.context(candidate)
                return

    # ------------------------------------------------------------------ listeners

    def _sync_listeners(self) -> None:
        wanted = self.state.served_addresses()
        have = {address for address, _ in self._listeners}
        for address in sorted(wanted - have):
            self._open(address)
        for address in sorted(have - wanted):
            self._close(address)

    def _open(self, address: str) -> None:
        assert self._site_server is not None
        for tls in (False, True):
            port = self._ports.https if tls else self._ports.http
            try:
                sock = _tcp_socket(address, port)
            except OSError as exc:
                print(f"world: cannot listen on {address}:{port}: {exc}", file=sys.stderr)
                self.errors += 1
                continue
            # The socket listens now; the server starts accepting on the next loop turn.
            future = asyncio.ensure_future(
                http.listen(
                    self._site_server.handle,
                    sock,
                    self._date,
                    ssl_context=self._tls if tls else None,
                    on_error=self._err,
                )
            )
            self._listeners[(address, tls)] = (sock, future)

    def _close(self, address: str) -> None:
        for tls in (False, True):
            entry = self._listeners.pop((address, tls), None)
            if entry is None:
                continue
            sock, future = entry
            if future.done() and not future.cancelled() and future.exception() is None:
                server = future.result()
                server.close()
                # Established keep-alive connections end too, as when a host pulls a server.
                with contextlib.suppress(AttributeError):
                    server.close_clients()
            else:
                future.cancel()
            sock.close()

    # ------------------------------------------------------------------ status and stop

    def _status(self) -> dict[str, Any]:
        assert self.endpoints is not None
        return {
            "now": self.clock.now().isoformat(),
            "speed": self.clock.speed,
            "seed": self.truth.spec.seed,
            "endpoints": asdict(self.endpoints),
            "sites": len(self.truth.sites),
            "listening_addresses": len({a for a, _ in self._listeners}),
            "messages": len(self.sink.messages),
            "events": len(self.state.events),
            "errors": self.errors,
            "tls_ready": self.tls_ready,
        }

    def request_stop(self) -> None:
        """Ask the server to stop (safe from a handler)."""
        if self._stopped is not None:
            asyncio.get_running_loop().call_soon(self._stopped.set)

    async def wait_stopped(self) -> None:
        """Wait until :meth:`request_stop` is called."""
        assert self._stopped is not None
        await self._stopped.wait()

    async def stop(self) -> None:
        """Close every server and release the world folder."""
        if self._warming is not None:
            self._warming.cancel()
        for address in sorted({a for a, _ in self._listeners}):
            self._close(address)
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        with contextlib.suppress(FileNotFoundError):
            (self.folder / RUNTIME_FILE).unlink()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


async def serve(folder: Path, options: ServeOptions | None = None, *, ready: Any = None) -> None:
    """Serve the world in ``folder`` until stopped; ``ready(endpoints)`` is called once up."""
    server = WorldServer(folder, options)
    endpoints = await server.start()
    try:
        if ready is not None:
            ready(endpoints)
        await server.wait_stopped()
    finally:
        await server.stop()

"""The safe fetcher: pinned resolution, the address policy on every hop, budgets on every body.

How one fetch goes:

1. The URL is normalised (http and https only; user information refused) and its port checked.
2. Its host is read as an address in every spelling (``2130706433``, ``0x7f.1``, ``[::ffff:…]``)
   or resolved through the configured resolvers (dnspython): A and AAAA, every answer checked
   against the policy (:mod:`cordon.domain.netpolicy`). One denied answer denies the name.
3. The connection goes to the **pinned** address: the network backend below connects only to
   addresses the fetcher pinned for a host and never resolves anything itself, so DNS
   rebinding cannot move the fetch. TLS is verified for the name (SNI and certificate) against
   the system store plus the configured CA files; the Host header is the name.
4. A redirect starts again at step 1 for its target, at most ``max_redirects`` times.
5. The body is read within its budgets (:mod:`cordon.crawl.budgets`).

An egress profile sends every connection through an HTTP (CONNECT) or SOCKS5 proxy; the proxy
is asked for the pinned address, never for a name, so it does no resolution of its own.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, Final, Literal
from urllib.parse import unquote, urljoin, urlsplit

import anyio
import brotli  # type: ignore[import-untyped]  # brotli ships no type information
import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
import httpcore
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from cordon import __version__
from cordon.config import Settings
from cordon.crawl.budgets import (
    BodyDecoder,
    BodyKind,
    Breach,
    BudgetExceeded,
    Budgets,
    UnsupportedEncoding,
)
from cordon.crawl.transport import connect_address, connect_name
from cordon.domain.netpolicy import (
    Decision,
    InvalidAddress,
    IPNetwork,
    check_address,
    check_addresses,
    is_allowed_port,
    parse_allow_list,
    parse_host_address,
)
from cordon.domain.urls import InvalidUrl, normalize_url

FETCHER_VERSION: Final = f"cordon-fetcher/{__version__} (httpcore {httpcore.__version__})"
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
READ_CHUNK: Final = 64 * 1024
DNS_CACHE_ENTRIES: Final = 4096
KEPT_HOSTS: Final = 256
"""(Host name, pinned address) pairs whose idle connections a crawler keeps, least recently
used first out."""
KEEPALIVE_SECONDS: Final = 10.0
"""How long an idle kept connection is reused (the servers' own idle limit is usually longer)."""

#: Response headers kept on a capture (the others say nothing an investigator needs).
KEPT_HEADERS: Final = (
    "content-type",
    "content-length",
    "content-encoding",
    "server",
    "date",
    "last-modified",
    "etag",
    "cache-control",
    "location",
    "vary",
    "x-powered-by",
    "via",
    "x-cache",
    "x-edge-cache",
    "x-edge-ray",
    "cf-ray",
    "x-served-by",
    "set-cookie",
    "content-security-policy",
    "strict-transport-security",
    "alt-svc",
    "link",
    "refresh",
    "x-frame-options",
)

Outcome = Literal["ok", "blocked", "gone", "failed"]


class CrawlConfigError(ValueError):
    """The crawl settings cannot be used; the message names the setting."""


class Blocked(Exception):
    """The policy refuses this fetch (address, port, scheme or URL form)."""


class Gone(Exception):
    """The host does not exist or refuses connections."""


class FetchFailed(Exception):
    """A fetch failed for another reason (TLS, timeout, protocol)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Hop:
    """One request of a fetch: the URL, the address it went to, and what came back."""

    url: str
    address: str | None
    port: int | None
    status: int | None
    location: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "address": self.address,
            "port": self.port,
            "status": self.status,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What the server's TLS handshake showed."""

    version: str | None
    cipher: str | None
    subject: str
    issuer: str
    sha256: str
    serial: str
    not_before: str
    not_after: str
    names: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "cipher": self.cipher,
            "subject": self.subject,
            "issuer": self.issuer,
            "sha256": self.sha256,
            "serial": self.serial,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "names": list(self.names),
        }


@dataclass(slots=True)
class FetchResult:
    """Everything one fetch (with its redirects) produced. ``body`` is the decoded body read
    within budget (possibly partial when ``breach`` is set); it lives only in memory."""

    requested_url: str
    outcome: Outcome = "failed"
    reason: str | None = None
    final_url: str | None = None
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    hops: list[Hop] = field(default_factory=list)
    address: str | None = None
    port: int | None = None
    http_version: str | None = None
    tls: TlsInfo | None = None
    breach: Breach | None = None
    gone_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The first value of a response header, or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key == lowered:
                return value
        return None

    def kept_headers(self) -> dict[str, str]:
        """The selected headers kept on a capture (repeated headers joined with ``, ``)."""
        out: dict[str, str] = {}
        for key, value in self.headers:
            if key in KEPT_HEADERS:
                out[key] = f"{out[key]}, {value}" if key in out else value[:2000]
        return out


# --------------------------------------------------------------------------- egress


@dataclass(frozen=True, slots=True)
class EgressProxy:
    """An outbound proxy: ``http`` (CONNECT) or ``socks5``, with optional credentials."""

    profile: str
    scheme: Literal["http", "socks5"]
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def display(self) -> str:
        """The proxy as recorded on captures: never its credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_egress(profiles: Sequence[str], chosen: str | None) -> EgressProxy | None:
    """The proxy of profile ``chosen`` among ``NAME=URL`` entries (None: go direct).

    Raises :class:`CrawlConfigError` naming an unknown profile or a bad proxy URL.
    """
    if not chosen:
        return None
    known: dict[str, str] = {}
    for entry in profiles:
        name, _, url = entry.partition("=")
        known[name.strip()] = url.strip()
    if chosen not in known:
        names = ", ".join(sorted(known)) or "none are configured"
        raise CrawlConfigError(
            f"crawl.egress_profile {chosen!r} is not in egress_profiles ({names})"
        )
    parts = urlsplit(known[chosen])
    scheme = parts.scheme.lower()
    if scheme not in ("http", "socks5") or not parts.hostname:
        raise CrawlConfigError(
            f"egress profile {chosen!r}: {known[chosen]!r} is not an http:// or socks5:// proxy"
        )
    default_port = 1080 if scheme == "socks5" else 8080
    return EgressProxy(
        chosen,
        "http" if scheme == "http" else "socks5",
        parts.hostname,
        parts.port or default_port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


class ProxyError(OSError):
    """The egress proxy refused or failed to open a tunnel."""


async def _read_until(stream: httpcore.AsyncNetworkStream, marker: bytes, limit: int) -> bytes:
    data = b""
    while marker not in data:
        chunk = await stream.read(4096)
        if not chunk:
            raise ProxyError("the proxy closed the connection during the handshake")
        data += chunk
        if len(data) > limit:
            raise ProxyError("the proxy's answer is too long")
    return data


async def _http_connect(
    stream: httpcore.AsyncNetworkStream, proxy: EgressProxy, address: str, port: int
) -> None:
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.username is not None:
        token = base64.b64encode(f"{proxy.username}:{proxy.password or ''}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    await stream.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    answer = await _read_until(stream, b"\r\n\r\n", 16384)
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        raise ProxyError(f"the proxy refused CONNECT {target}: {status_line[:200]}")


async def _socks5_connect(
    stream: httpcore.AsyncNetworkStream, proxy: EgressProxy, address: str, port: int
) -> None:
    from socksio import socks5

    conn = socks5.SOCKS5Connection()
    method = (
        socks5.SOCKS5AuthMethod.USERNAME_PASSWORD
        if proxy.username is not None
        else socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED
    )
    conn.send(socks5.SOCKS5AuthMethodsRequest([method]))
    await stream.write(conn.data_to_send())
    reply = conn.receive_data(await stream.read(1024))
    if not isinstance(reply, socks5.SOCKS5AuthReply) or reply.method != method:
        raise ProxyError("the SOCKS5 proxy refused the authentication method")
    if method == socks5.SOCKS5AuthMethod.USERNAME_PASSWORD:
        conn.send(
            socks5.SOCKS5UsernamePasswordRequest(
                (proxy.username or "").encode(), (proxy.password or "").encode()
            )
        )
        await stream.write(conn.data_to_send())
        auth = conn.receive_data(await stream.read(1024))
        if not isinstance(auth, socks5.SOCKS5UsernamePasswordReply) or not auth.success:
            raise ProxyError("the SOCKS5 proxy refused the credentials")
    # The pinned address is sent, never a name: the proxy resolves nothing.
    conn.send(
        socks5.SOCKS5CommandRequest.from_address(socks5.SOCKS5Command.CONNECT, (address, port))
    )
    await stream.write(conn.data_to_send())
    answer = conn.receive_data(await stream.read(1024))
    if (
        not isinstance(answer, socks5.SOCKS5Reply)
        or answer.reply_code != socks5.SOCKS5ReplyCode.SUCCEEDED
    ):
        code = getattr(answer, "reply_code", "unknown")
        raise ProxyError(f"the SOCKS5 proxy could not connect to {address}:{port} ({code})")


# --------------------------------------------------------------------------- the pinned backend


class PolicyRefused(httpcore.ConnectError):
    """The backend refused to open a connection the policy does not allow."""


class ConnectionRefusedByPeer(httpcore.ConnectError):
    """The remote address refused the connection (nothing listens there)."""


def _is_refused(exc: BaseException | None, depth: int = 0) -> bool:
    if exc is None or depth > 8:
        return False
    if isinstance(exc, ConnectionRefusedError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_refused(e, depth + 1) for e in exc.exceptions)
    return _is_refused(exc.__cause__, depth + 1) or _is_refused(exc.__context__, depth + 1)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to addresses pinned for a host.

    It never resolves a name: ``connect_tcp`` for a host without a pin is refused, and the
    pinned address is judged by the policy once more before the socket is opened.
    """

    def __init__(
        self, allow: Sequence[IPNetwork], extra_ports: Iterable[int], proxy: EgressProxy | None
    ) -> None:
        self._allow = tuple(allow)
        self._ports = tuple(extra_ports)
        self.proxy = proxy
        self.pins: dict[str, str] = {}
        self.connects = 0

    def pin(self, host: str, address: str) -> None:
        self.pins[host.strip("[]").lower()] = address

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = self.pins.get(host.strip("[]").lower())
        if address is None:
            raise PolicyRefused(f"{host} has no checked address")
        if not check_address(address, self._allow).allowed or not is_allowed_port(
            port, self._ports
        ):
            raise PolicyRefused(f"{address}:{port} is not allowed")
        self.connects += 1
        if self.proxy is None:
            try:
                return await connect_address(address, port, timeout)
            except httpcore.ConnectError as exc:
                if _is_refused(exc):
                    raise ConnectionRefusedByPeer(
                        f"{address}:{port} refused the connection"
                    ) from None
                raise
        try:
            proxy_address: str | None = str(ip_address(self.proxy.host.strip("[]")))
        except ValueError:
            proxy_address = None
        stream = await (
            connect_address(proxy_address, self.proxy.port, timeout)
            if proxy_address is not None
            else connect_name(self.proxy.host, self.proxy.port, timeout)
        )
        try:
            with anyio.fail_after(timeout):
                if self.proxy.scheme == "http":
                    await _http_connect(stream, self.proxy, address, port)
                else:
                    await _socks5_connect(stream, self.proxy, address, port)
        except (ProxyError, TimeoutError) as exc:
            await stream.aclose()
            raise httpcore.ConnectError(f"egress proxy {self.proxy.display}: {exc}") from None
        return stream

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never crawled")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


# --------------------------------------------------------------------------- resolution


class NameNotFound(Exception):
    """NXDOMAIN: the name does not exist."""


class Resolver:
    """Resolves names through the configured resolvers (or the system's), A and AAAA."""

    def __init__(self, servers: Sequence[str], timeout: float) -> None:
        if servers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            nameservers: list[dns.nameserver.Nameserver] = []
            for entry in servers:
                host, port = _split_host_port(entry, 53)
                nameservers.append(dns.nameserver.Do53Nameserver(host, port))
            self._resolver.nameservers = nameservers
            self.description = ", ".join(servers)
        else:
            self._resolver = dns.asyncresolver.Resolver()
            self.description = (
                "system (" + ", ".join(str(n) for n in self._resolver.nameservers) + ")"
            )
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        # Answers are reused for their TTL, as any caching resolver would (TTL 0: never); each
        # use is judged by the policy again, and a capture still pins what it got.
        self._resolver.cache = dns.resolver.LRUCache(DNS_CACHE_ENTRIES)
        # The addresses of a name, until the earliest expiry of its A and AAAA answers (a
        # dictionary look-up where dnspython's cache costs a query's worth of objects).
        self._answers: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    async def resolve(self, name: str) -> list[str]:
        """Every A and AAAA address of ``name``; raises :class:`NameNotFound` or
        :class:`FetchFailed`."""
        cached = self._answers.get(name)
        if cached is not None:
            if cached[0] > time.time():
                return list(cached[1])
            del self._answers[name]
        found: list[str] = []
        missing = 0
        expires = float("inf")
        for rtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(name, rtype, search=False)
            except dns.resolver.NXDOMAIN:
                raise NameNotFound(f"{name} does not exist (NXDOMAIN)") from None
            except dns.resolver.NoAnswer:
                missing += 1
                continue
            except dns.resolver.NoNameservers as exc:
                raise FetchFailed(f"no resolver answered for {name}: {exc}") from None
            except dns.exception.Timeout:
                raise FetchFailed(f"resolving {name} timed out") from None
            except dns.exception.DNSException as exc:
                raise FetchFailed(f"resolving {name} failed: {exc}") from None
            found.extend(r.to_text() for r in answer)
            expires = min(expires, answer.expiration)
        if not found:
            raise NameNotFound(f"{name} has no address record")
        if expires > time.time():
            self._answers[name] = (expires, list(found))
            while len(self._answers) > DNS_CACHE_ENTRIES:
                self._answers.popitem(last=False)
        return found


def _split_host_port(entry: str, default: int) -> tuple[str, int]:
    text = entry.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, default


# --------------------------------------------------------------------------- TLS


def tls_context(ca_files: Iterable[str]) -> ssl.SSLContext:
    """A client context trusting the system store plus ``ca_files``; TLS 1.2 at least."""
    ctx = ssl.create_default_context()
    for path in ca_files:
        try:
            ctx.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise CrawlConfigError(f"crawl.ca_files: cannot load {path}: {exc}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


_TLS_CACHE: OrderedDict[tuple[bytes, str | None, str | None], TlsInfo] = OrderedDict()
_TLS_CACHE_ENTRIES: Final = 1024
_TLS_CACHE_LOCK = threading.Lock()  # stage runners fetch from several threads' event loops


def _tls_info(stream: Any) -> TlsInfo | None:
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    cipher = ssl_object.cipher()
    # Parsing the certificate costs more than the request it describes: keep the last ones.
    key = (der, ssl_object.version(), cipher[0] if cipher else None)
    with _TLS_CACHE_LOCK:
        found = _TLS_CACHE.get(key)
        if found is not None:
            _TLS_CACHE.move_to_end(key)
            return found
    info = _parse_tls(der, key[1], key[2])
    with _TLS_CACHE_LOCK:
        _TLS_CACHE[key] = info
        while len(_TLS_CACHE) > _TLS_CACHE_ENTRIES:
            _TLS_CACHE.popitem(last=False)
    return info


def _parse_tls(der: bytes, version: str | None, cipher: str | None) -> TlsInfo:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return TlsInfo(
        version=version,
        cipher=cipher,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        names=names,
    )


# --------------------------------------------------------------------------- per-host politeness


class HostLimiter:
    """At most ``concurrency`` requests in flight per host name, ``delay`` seconds apart."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._concurrency = concurrency
        self._delay = delay
        self._limits: dict[str, anyio.CapacityLimiter] = {}
        self._next: dict[str, float] = {}

    def limiter(self, host: str) -> anyio.CapacityLimiter:
        found = self._limits.get(host)
        if found is None:
            found = anyio.CapacityLimiter(self._concurrency)
            self._limits[host] = found
        return found

    async def wait_turn(self, host: str) -> None:
        if self._delay <= 0:
            return
        now = time.monotonic()
        due = max(self._next.get(host, now), now)
        self._next[host] = due + self._delay
        if due > now:
            await anyio.sleep(due - now)


# --------------------------------------------------------------------------- the fetcher


@dataclass(frozen=True)
class FetcherConfig:
    """What a fetcher needs, checked once when a crawler starts."""

    allow: tuple[IPNetwork, ...]
    extra_ports: tuple[int, ...]
    budgets: Budgets
    resolvers: tuple[str, ...]
    dns_timeout: float
    ca_files: tuple[str, ...]
    http2: bool
    proxy: EgressProxy | None
    user_agents: tuple[str, ...]
    host_concurrency: int
    host_delay: float

    @classmethod
    def from_settings(cls, settings: Settings) -> FetcherConfig:
        """Read and check the crawl settings; raises :class:`CrawlConfigError`."""
        crawl = settings.crawl
        try:
            allow = parse_allow_list(crawl.allow_networks)
        except InvalidAddress as exc:
            raise CrawlConfigError(f"crawl.allow_networks: {exc}") from None
        proxy = parse_egress(crawl.egress_profiles, crawl.egress_profile)
        if crawl.http2:
            try:
                import h2  # noqa: F401  # HTTP/2 needs it
            except ImportError:
                raise CrawlConfigError("crawl.http2 is on but the h2 package is missing") from None
        return cls(
            allow=allow,
            extra_ports=tuple(crawl.extra_ports),
            budgets=Budgets.from_settings(crawl),
            resolvers=tuple(settings.dns.resolvers),
            dns_timeout=settings.dns.timeout_seconds,
            ca_files=tuple(str(p) for p in crawl.ca_files),
            http2=crawl.http2,
            proxy=proxy,
            user_agents=tuple(crawl.user_agents),
            host_concurrency=crawl.host_concurrency,
            host_delay=crawl.host_delay_seconds,
        )


@dataclass(slots=True)
class _KeptPool:
    pool: httpcore.AsyncConnectionPool
    backend: PinnedBackend
    users: int = 0


class ConnectionCache:
    """Connections kept alive across captures: one pool per (host name, pinned address).

    A pool's backend holds the one pin of its key, so a kept connection can only ever lead to
    the address a capture resolved and pinned for that name; a capture whose resolution gives
    another address gets another pool. The least recently used idle pools beyond ``size`` are
    closed. Belongs to one event loop; :meth:`aclose` closes every connection.
    """

    def __init__(self, config: FetcherConfig, ssl_context: ssl.SSLContext, size: int) -> None:
        self._config = config
        self._ssl_context = ssl_context
        self._size = size
        self._pools: OrderedDict[tuple[str, str], _KeptPool] = OrderedDict()
        self.connects = 0
        """Connections opened by pools already closed (see :attr:`opened`)."""

    @property
    def opened(self) -> int:
        """Connections opened so far through this cache."""
        return self.connects + sum(kept.backend.connects for kept in self._pools.values())

    @asynccontextmanager
    async def use(self, host: str, address: str) -> AsyncIterator[httpcore.AsyncConnectionPool]:
        """The pool for ``host`` pinned to ``address``, held while the block runs."""
        key = (host.strip("[]").lower(), address)
        kept = self._pools.get(key)
        if kept is None:
            config = self._config
            backend = PinnedBackend(config.allow, config.extra_ports, config.proxy)
            backend.pin(host, address)
            pool = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context,
                http1=True,
                http2=config.http2,
                network_backend=backend,
                retries=0,
                max_connections=max(config.host_concurrency, 1),
                keepalive_expiry=KEEPALIVE_SECONDS,
            )
            kept = _KeptPool(pool, backend)
            self._pools[key] = kept
        self._pools.move_to_end(key)
        kept.users += 1
        try:
            yield kept.pool
        finally:
            kept.users -= 1
            if len(self._pools) > self._size:
                await self._evict()

    async def _evict(self) -> None:
        # Taken out of the cache before any await, so that no other task closes them too.
        idle = [key for key, kept in self._pools.items() if kept.users == 0]
        evicted = [self._pools.pop(key) for key in idle[: len(self._pools) - self._size]]
        for kept in evicted:
            self.connects += kept.backend.connects
            with anyio.CancelScope(shield=True):
                await kept.pool.aclose()

    async def aclose(self) -> None:
        """Close every kept connection."""
        while self._pools:
            _, kept = self._pools.popitem()
            self.connects += kept.backend.connects
            with anyio.CancelScope(shield=True):
                await kept.pool.aclose()


class Fetcher:
    """Fetches for one crawler process. Open a :class:`FetchSession` per capture.

    With ``keep_connections`` the fetcher keeps connections alive across sessions (see
    :class:`ConnectionCache`); it then belongs to one event loop and must be closed with
    :meth:`aclose` (or used as an async context manager) before that loop ends. Without it
    (the default) each session has connections of its own, closed with the session.
    """

    def __init__(
        self,
        config: FetcherConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keep_connections: bool = False,
    ) -> None:
        self.config = config
        self.resolver = Resolver(config.resolvers, config.dns_timeout)
        self.ssl_context = ssl_context or tls_context(config.ca_files)
        self.hosts = HostLimiter(config.host_concurrency, config.host_delay)
        self.connections = (
            ConnectionCache(config, self.ssl_context, KEPT_HOSTS) if keep_connections else None
        )
        self._decisions: dict[tuple[str, ...], Decision] = {}

    def judge(self, addresses: Sequence[str]) -> Decision:
        """The address policy's decision on a name's addresses (remembered: the policy and the
        allow-list of a fetcher do not change)."""
        key = tuple(addresses)
        decision = self._decisions.get(key)
        if decision is None:
            decision = check_addresses(addresses, self.config.allow)
            if len(self._decisions) >= DNS_CACHE_ENTRIES:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def fresh(self, *, keep_connections: bool = False) -> Fetcher:
        """A fetcher with the same configuration and TLS context for another event loop (the
        per-host limits and kept connections belong to one loop)."""
        return Fetcher(self.config, ssl_context=self.ssl_context, keep_connections=keep_connections)

    def session(self) -> FetchSession:
        """A session: one set of pins (and, without kept connections, one connection pool),
        for one capture."""
        return FetchSession(self)

    async def aclose(self) -> None:
        """Close the kept connections, if any."""
        if self.connections is not None:
            await self.connections.aclose()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class FetchSession:
    """Pins (and connections) shared by the fetches of one capture (page, pictures, probes).

    A host is resolved once per session; every later request to it goes to the same pinned
    address, over the session's own connections or over the fetcher's kept ones for that
    name and address.
    """

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        config = fetcher.config
        self.backend = PinnedBackend(config.allow, config.extra_ports, config.proxy)
        self.pool: httpcore.AsyncConnectionPool | None = None
        if fetcher.connections is None:
            self.pool = httpcore.AsyncConnectionPool(
                ssl_context=fetcher.ssl_context,
                http1=True,
                http2=config.http2,
                network_backend=self.backend,
                retries=0,
                max_connections=16,
            )
        self.resolved: dict[str, list[str]] = {}

    async def __aenter__(self) -> FetchSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pool is not None:
            with anyio.CancelScope(shield=True):
                await self.pool.aclose()

    @asynccontextmanager
    async def _pool(self, host: str, address: str) -> AsyncIterator[httpcore.AsyncConnectionPool]:
        if self.pool is not None:
            yield self.pool
            return
        assert self.fetcher.connections is not None  # one of the two is always set
        async with self.fetcher.connections.use(host, address) as pool:
            yield pool

    # ------------------------------------------------------------------ one hop's checks

    async def _admit(self, url: str) -> tuple[str, str, int, str]:
        """Normalise and check ``url``; pin its host. Returns (url, host, port, address)."""
        config = self.fetcher.config
        try:
            parsed = normalize_url(url)
        except InvalidUrl as exc:
            raise Blocked(f"the URL is refused: {exc}") from None
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if not is_allowed_port(port, config.extra_ports):
            raise Blocked(f"port {port} is not allowed (80, 443 and crawl.extra_ports only)")
        host = parsed.host
        pinned = self.backend.pins.get(host)
        if pinned is not None:
            return parsed.url, host, port, pinned
        literal = parse_host_address(host) if parsed.is_ip else None
        if literal is not None:
            decision = check_address(literal, config.allow)
            if not decision.allowed:
                raise Blocked(f"address refused: {decision.reason}")
            address = _address_text(literal)
            self.resolved[host] = [address]
        else:
            try:
                addresses = await self.fetcher.resolver.resolve(host)
            except NameNotFound as exc:
                raise Gone(str(exc)) from None
            self.resolved[host] = addresses
            decision = self.fetcher.judge(addresses)
            if not decision.allowed:
                raise Blocked(f"{host} resolves to a refused address: {decision.reason}")
            # Prefer IPv4 (the most widely reachable); every answer was allowed.
            address = sorted(addresses, key=lambda a: ":" in a)[0]
        self.backend.pin(host, address)
        return parsed.url, host, port, address

    # ------------------------------------------------------------------ fetch

    async def fetch(
        self,
        url: str,
        *,
        kind: BodyKind = "page",
        headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
    ) -> FetchResult:
        """Fetch ``url`` following redirects, within the budgets. Never raises for what the
        remote side does: the result's ``outcome`` and ``reason`` say what happened."""
        budgets = self.fetcher.config.budgets
        result = FetchResult(requested_url=url)
        started = time.monotonic()
        with anyio.move_on_after(budgets.total_seconds) as scope:
            try:
                await self._fetch(url, kind, headers or {}, user_agent, result, started)
            except Blocked as exc:
                result.outcome, result.reason = "blocked", str(exc)
            except Gone as exc:
                result.outcome, result.reason = "gone", str(exc)
                result.gone_reason = result.gone_reason or _gone_reason(str(exc))
            except FetchFailed as exc:
                result.outcome, result.reason = "failed", str(exc)
        if scope.cancelled_caught:
            result.breach = Breach(
                "total_time",
                budgets.total_seconds,
                round(time.monotonic() - started, 3),
                f"the fetch took longer than {budgets.total_seconds:g} s",
                result.final_url or url,
            )
            result.reason = result.breach.reason
            if result.status is None:
                result.outcome = "failed"
        result.timings["total_ms"] = round((time.monotonic() - started) * 1000, 1)
        return result

    async def _fetch(
        self,
        url: str,
        kind: BodyKind,
        headers: Mapping[str, str],
        user_agent: str | None,
        result: FetchResult,
        started: float,
    ) -> None:
        config = self.fetcher.config
        current = url
        for hop_number in range(config.budgets.max_redirects + 1):
            target, host, port, address = await self._admit(current)
            result.final_url = target
            result.address, result.port = address, port
            status, location = await self._request(
                target, host, address, kind, headers, user_agent, result, started
            )
            result.hops.append(Hop(target, address, port, status, location))
            if status in REDIRECT_STATUSES and location:
                if hop_number == config.budgets.max_redirects:
                    raise Blocked(f"more than {config.budgets.max_redirects} redirects")
                current = urljoin(target, location.strip())
                if urlsplit(current).scheme.lower() not in ("http", "https"):
                    raise Blocked(f"a redirect to a {urlsplit(current).scheme!r} URL is refused")
                continue
            return

    async def _request(
        self,
        url: str,
        host: str,
        address: str,
        kind: BodyKind,
        extra: Mapping[str, str],
        user_agent: str | None,
        result: FetchResult,
        started: float,
    ) -> tuple[int, str | None]:
        config = self.fetcher.config
        budgets = config.budgets
        headers = [
            ("User-Agent", user_agent or config.user_agents[0]),
            (
                "Accept",
                "text/html,application/xhtml+xml,*/*;q=0.8"
                if kind == "page"
                else "image/avif,image/webp,image/png,image/*;q=0.8,*/*;q=0.5",
            ),
            ("Accept-Language", "en;q=0.9"),
            ("Accept-Encoding", "gzip, deflate, br"),
            *extra.items(),
        ]
        timeouts = {
            "connect": budgets.connect_seconds,
            "read": budgets.idle_seconds,
            "write": budgets.idle_seconds,
            "pool": budgets.connect_seconds,
        }
        events: dict[str, float] = {}

        async def trace(name: str, info: Mapping[str, Any]) -> None:
            events[name] = time.monotonic()

        hosts = self.fetcher.hosts
        request_started = time.monotonic()
        async with hosts.limiter(host), self._pool(host, address) as pool:
            await hosts.wait_turn(host)
            remaining = budgets.total_seconds - (time.monotonic() - started)
            try:
                with anyio.fail_after(max(0.0, min(budgets.first_byte_seconds, remaining))):
                    stream_cm = pool.stream(
                        "GET",
                        url,
                        headers=headers,
                        extensions={"timeout": timeouts, "trace": trace},
                    )
                    response = await stream_cm.__aenter__()
            except TimeoutError:
                result.breach = Breach(
                    "first_byte",
                    budgets.first_byte_seconds,
                    round(time.monotonic() - request_started, 3),
                    f"no response headers within {budgets.first_byte_seconds:g} s",
                    url,
                )
                raise FetchFailed(result.breach.reason) from None
            except PolicyRefused as exc:
                raise Blocked(f"connection refused by the policy: {exc}") from None
            except ConnectionRefusedByPeer as exc:
                result.gone_reason = "refused"
                raise Gone(f"connection refused: {exc}") from None
            except httpcore.ConnectError as exc:
                raise FetchFailed(_describe_connect_error(host, exc)) from None
            except httpcore.ConnectTimeout:
                raise FetchFailed(f"connecting to {host} timed out") from None
            except (
                httpcore.ProtocolError,
                httpcore.NetworkError,
                httpcore.TimeoutException,
            ) as exc:
                raise FetchFailed(
                    f"request to {host} failed: {type(exc).__name__}: {exc}"
                ) from None
            try:
                result.status = response.status
                result.headers = [
                    (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers
                ]
                version = response.extensions.get("http_version", b"HTTP/1.1")
                result.http_version = version.decode("ascii", "replace")
                stream = response.extensions.get("network_stream")
                if url.startswith("https:"):
                    result.tls = _tls_info(stream)
                headers_at = time.monotonic()
                self._timings(result, events, request_started, headers_at)
                location = result.header("location")
                if response.status in REDIRECT_STATUSES and location:
                    result.body = b""
                    return response.status, location
                result.body = await self._read_body(response, kind, url, result, started)
                result.timings["body_ms"] = round((time.monotonic() - headers_at) * 1000, 1)
                result.outcome = "ok"
                return response.status, None
            finally:
                with anyio.CancelScope(shield=True):
                    await stream_cm.__aexit__(None, None, None)

    def _timings(
        self, result: FetchResult, events: dict[str, float], start: float, headers_at: float
    ) -> None:
        def ms(a: str, b: str) -> float | None:
            if a in events and b in events:
                return round((events[b] - events[a]) * 1000, 1)
            return None

        connect = ms("connection.connect_tcp.started", "connection.connect_tcp.complete")
        tls = ms("connection.start_tls.started", "connection.start_tls.complete")
        if connect is not None:
            result.timings["connect_ms"] = connect
        if tls is not None:
            result.timings["tls_ms"] = tls
        result.timings["first_byte_ms"] = round((headers_at - start) * 1000, 1)

    async def _read_body(
        self,
        response: httpcore.Response,
        kind: BodyKind,
        url: str,
        result: FetchResult,
        started: float,
    ) -> bytes:
        budgets = self.fetcher.config.budgets
        limit = budgets.max_bytes(kind)
        declared_text = result.header("content-length")
        declared: int | None = None
        if declared_text is not None and declared_text.strip().isdigit():
            declared = int(declared_text.strip())
        encoding = result.header("content-encoding") or "identity"
        if declared is not None and encoding.lower() in ("identity", "") and declared > limit:
            result.breach = Breach(
                "body_size",
                limit,
                declared,
                f"the declared Content-Length of {declared:,} bytes is over the limit of "
                f"{limit:,}; the body was not read",
                url,
            )
            return b""
        try:
            decoder = BodyDecoder(encoding, limit, budgets.max_decompression_ratio)
        except UnsupportedEncoding as exc:
            raise FetchFailed(str(exc)) from None
        chunks: list[bytes] = []
        body_start = time.monotonic()
        iterator = response.aiter_stream().__aiter__()
        try:
            while True:
                remaining = budgets.total_seconds - (time.monotonic() - started)
                wait = min(budgets.idle_seconds, max(remaining, 0.0))
                with anyio.move_on_after(wait) as scope:
                    try:
                        chunk = await iterator.__anext__()
                    except StopAsyncIteration:
                        break
                if scope.cancelled_caught:
                    got = decoder.raw
                    of = f" of {declared:,} declared" if declared is not None else ""
                    if remaining <= budgets.idle_seconds:
                        result.breach = Breach(
                            "total_time",
                            budgets.total_seconds,
                            round(time.monotonic() - started, 3),
                            f"the fetch took longer than {budgets.total_seconds:g} s "
                            f"({got:,}{of} bytes read)",
                            url,
                        )
                    else:
                        result.breach = Breach(
                            "idle",
                            budgets.idle_seconds,
                            round(time.monotonic() - body_start, 3),
                            f"the body stalled for {budgets.idle_seconds:g} s after {got:,}{of} "
                            "bytes",
                            url,
                        )
                    break
                chunks.append(decoder.feed(chunk))
                elapsed = time.monotonic() - body_start
                if (
                    budgets.min_bytes_per_second > 0
                    and elapsed > budgets.slow_grace_seconds
                    and decoder.raw / elapsed < budgets.min_bytes_per_second
                ):
                    rate = decoder.raw / elapsed
                    result.breach = Breach(
                        "slow_drip",
                        budgets.min_bytes_per_second,
                        round(rate, 1),
                        f"the body arrived at {rate:,.0f} bytes/s after {elapsed:.1f} s, slower "
                        f"than {budgets.min_bytes_per_second:,.0f} bytes/s",
                        url,
                    )
                    break
            if result.breach is None:
                chunks.append(decoder.finish())
        except BudgetExceeded as exc:
            result.breach = Breach(
                exc.breach.budget, exc.breach.limit, exc.breach.observed, exc.breach.reason, url
            )
        except httpcore.RemoteProtocolError as exc:
            text = str(exc)
            if declared is not None and decoder.raw < declared:
                result.breach = Breach(
                    "content_length",
                    declared,
                    decoder.raw,
                    f"the body ended after {decoder.raw:,} of {declared:,} declared bytes",
                    url,
                )
            else:
                result.breach = Breach(
                    "protocol", 0, decoder.raw, f"the body broke off: {text}", url
                )
        except (httpcore.ReadError, httpcore.ReadTimeout) as exc:
            result.breach = Breach(
                "idle",
                budgets.idle_seconds,
                decoder.raw,
                f"the body could not be read to its end after {decoder.raw:,} bytes: "
                f"{type(exc).__name__}",
                url,
            )
        except (zlib.error, brotli.error) as exc:
            result.breach = Breach(
                "encoding", 0, decoder.raw, f"the {encoding} body does not decompress: {exc}", url
            )
        return b"".join(chunks)


def _address_text(address: IPv4Address | IPv6Address) -> str:
    return str(address)


def _gone_reason(text: str) -> str:
    lowered = text.lower()
    if "nxdomain" in lowered or "does not exist" in lowered:
        return "nxdomain"
    if "no address" in lowered:
        return "no_address"
    if "refused" in lowered:
        return "refused"
    return "gone"


def _describe_connect_error(host: str, exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
        return f"TLS verification failed for {host}: {text}"
    if "SSL" in text or "TLS" in text:
        return f"TLS handshake with {host} failed: {text}"
    return f"cannot connect to {host}: {text}"


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()

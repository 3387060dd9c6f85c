"""Real servers on loopback for the crawler's tests: a canary that counts every connection that
reaches it, a DNS server answering what a test sets (dnslib), a well-behaved "trap" web server
that redirects wherever it is told, a hostile web server (bombs, drips, lies), and HTTP CONNECT
and SOCKS5 proxies. Everything here is synthetic and stays on this machine."""

from __future__ import annotations

import gzip
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import brotli  # type: ignore[import-untyped]  # brotli ships no type information
from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, A, DNSRecord

from cordon.config import Settings, load_settings

# --------------------------------------------------------------------------- canary


class Canary:
    """Listens on loopback addresses and counts every connection that reaches it."""

    def __init__(self, hosts: tuple[str, ...] = ("127.0.0.1", "::1")) -> None:
        self.connections = 0
        self.peers: list[str] = []
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        port = 0
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
            except OSError:
                continue  # no IPv6 on this machine
            sock.listen(64)
            sock.settimeout(0.2)
            port = sock.getsockname()[1]
            self._socks.append(sock)
        self.port = port
        self._threads = [
            threading.Thread(target=self._accept, args=(s,), daemon=True) for s in self._socks
        ]
        for t in self._threads:
            t.start()

    def _accept(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self.peers.append(str(peer))
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for sock in self._socks:
            sock.close()


# --------------------------------------------------------------------------- DNS


@dataclass
class Zone:
    """Answers by name: a list of (type, value). ``rebind`` names answer their first address
    once, then their second for every later query (TTL 0), as a rebinding attacker would."""

    records: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    rebind: dict[str, tuple[str, str]] = field(default_factory=dict)
    asked: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, name: str, rtype: str, value: str) -> None:
        self.records.setdefault(name, []).append((rtype, value))

    def answer(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.asked[(name, qtype)] += 1
        reply = request.reply()
        if name in self.rebind:
            first, later = self.rebind[name]
            if qtype == "A":
                value = first if self.asked[(name, "A")] == 1 else later
                reply.add_answer(RR(name, QTYPE.A, ttl=0, rdata=A(value)))
            return bytes(reply.pack())
        records = self.records.get(name)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return bytes(reply.pack())
        owner = name
        for rtype, value in records:
            if rtype == "CNAME":
                reply.add_answer(RR(owner, QTYPE.CNAME, ttl=60, rdata=CNAME(value)))
                owner = value
                records = records + self.records.get(value, [])
        for rtype, value in records:
            if rtype == qtype == "A":
                reply.add_answer(RR(owner, QTYPE.A, ttl=60, rdata=A(value)))
            elif rtype == qtype == "AAAA":
                reply.add_answer(RR(owner, QTYPE.AAAA, ttl=60, rdata=AAAA(value)))
        return bytes(reply.pack())


class DnsServer:
    """A UDP and TCP DNS server on 127.0.0.1 answering from a :class:`Zone`."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        # The same port number for UDP and TCP: another process may hold the TCP one, so try
        # a few UDP ports (bounded).
        for attempt in range(20):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
                if attempt == 19:
                    raise
        self.tcp.listen(16)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            with suppress(Exception):
                self.udp.sendto(self.zone.answer(data), peer)

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            with conn, suppress(Exception):
                conn.settimeout(2)
                size = struct.unpack("!H", conn.recv(2))[0]
                answer = self.zone.answer(conn.recv(size))
                conn.sendall(struct.pack("!H", len(answer)) + answer)

    def close(self) -> None:
        self._stop.set()
        self.udp.close()
        self.tcp.close()


# --------------------------------------------------------------------------- raw HTTP servers

Handler = Callable[[socket.socket, str, dict[str, str]], None]


class RawHttpServer:
    """A threaded HTTP/1.1 server whose handlers write raw bytes (to misbehave precisely)."""

    def __init__(self, host: str, routes: dict[str, Handler], port: int = 0) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                line, *rest = head.split("\r\n")
                target = line.split(" ")[1]
                headers = {}
                for h in rest:
                    k, _, v = h.partition(":")
                    headers[k.strip().lower()] = v.strip()
                server.requests.append((target, headers))
                path = urlsplit(target).path
                handler = server.routes.get(path)
                with suppress(OSError):
                    if handler is None:
                        send(sock, 404, b"not here")
                    else:
                        handler(sock, target, headers)

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = _Server((host, port), _Handler)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()

    def url(self, name: str, path: str) -> str:
        return f"http://{name}:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def send(
    sock: socket.socket,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
) -> None:
    """Write one response; ``length`` overrides the Content-Length (to lie)."""
    head = [f"HTTP/1.1 {status} X", "Connection: close"]
    all_headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
    for k, v in all_headers.items():
        head.append(f"{k}: {v}")
    head.append(f"Content-Length: {len(body) if length is None else length}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def redirect(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    """``/to?u=URL`` answers 302 to URL; ``/hop?n=N`` redirects N more times to itself."""
    query = parse_qs(urlsplit(target).query)
    if "u" in query:
        send(sock, 302, b"", {"Location": query["u"][0]})
        return
    n = int(query.get("n", ["0"])[0])
    host = headers.get("host", "")
    if n > 0:
        send(sock, 302, b"", {"Location": f"http://{host}/hop?n={n - 1}"})
    else:
        send(sock, 200, b"<html><body>end of the chain</body></html>")


def ok_page(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    send(sock, 200, b"<html><head><title>ok</title></head><body>fine</body></html>")


def chunked(sock: socket.socket, headers: dict[str, str] | None = None) -> None:
    head = ["HTTP/1.1 200 X", "Transfer-Encoding: chunked", "Content-Type: text/html"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())


def write_chunk(sock: socket.socket, data: bytes) -> None:
    sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _bomb(kind: str, size: int) -> bytes:
    raw = b"\x00" * size
    if kind == "gzip":
        return gzip.compress(raw, 9)
    if kind == "deflate":
        return zlib.compress(raw, 9)
    return bytes(brotli.compress(raw, quality=5))


BOMBS = {kind: _bomb(kind, 64 * 1024 * 1024) for kind in ("gzip", "deflate", "br")}


def bomb(kind: str) -> Handler:
    def handler(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
        send(sock, 200, BOMBS[kind], {"Content-Encoding": kind})

    return handler


def endless(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    chunked(sock)
    block = b"<p>" + b"a" * 65536 + b"</p>"
    with suppress(OSError):
        for _ in range(100_000):
            write_chunk(sock, block)


def drip(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    chunked(sock)
    with suppress(OSError):
        for _ in range(200):
            write_chunk(sock, b"<p>drip</p>")
            time.sleep(0.2)


def steady(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    """Fast enough to pass the drip check, endless enough to meet the total time."""
    chunked(sock)
    with suppress(OSError):
        for _ in range(2000):
            write_chunk(sock, b"x" * 2048)
            time.sleep(0.1)


def lying_short(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    send(sock, 200, b"<p>" + b"s" * 500, length=5000)


def lying_stall(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    send(sock, 200, b"<p>" + b"s" * 500, length=5000)
    time.sleep(6)


def big_declared(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    send(sock, 200, b"", length=10**12)
    time.sleep(1)


def slow_headers(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    time.sleep(4)
    send(sock, 200, b"late")


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width``×``height`` pixels (a pixel flood): valid header, tiny data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


FLOOD_PNG = _png_header(40_000, 40_000)


def flood_page(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    send(sock, 200, b'<html><body><img src="/flood.png"></body></html>')


def flood_png(sock: socket.socket, target: str, headers: dict[str, str]) -> None:
    send(sock, 200, FLOOD_PNG, {"Content-Type": "image/png"})


HOSTILE_ROUTES: dict[str, Handler] = {
    "/gzip-bomb": bomb("gzip"),
    "/deflate-bomb": bomb("deflate"),
    "/brotli-bomb": bomb("br"),
    "/endless": endless,
    "/drip": drip,
    "/steady": steady,
    "/lying-short": lying_short,
    "/lying-stall": lying_stall,
    "/big-declared": big_declared,
    "/slow-headers": slow_headers,
    "/flood.html": flood_page,
    "/flood.png": flood_png,
    "/ok": ok_page,
}

TRAP_ROUTES: dict[str, Handler] = {"/to": redirect, "/hop": redirect, "/ok": ok_page}


# --------------------------------------------------------------------------- proxies


class Proxy:
    """An HTTP CONNECT or SOCKS5 proxy on 127.0.0.1 that records every destination asked for."""

    def __init__(self, kind: str, username: str | None = None, password: str | None = None) -> None:
        self.kind = kind
        self.asked: list[tuple[str, int]] = []
        self.username, self.password = username, password
        proxy = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(10)
                try:
                    target = proxy._http(sock) if proxy.kind == "http" else proxy._socks(sock)
                except (OSError, ValueError):
                    return
                if target is None:
                    return
                try:
                    upstream = socket.create_connection(target, timeout=10)
                except OSError:
                    return
                _pipe(sock, upstream)

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True).start()

    def _http(self, sock: socket.socket) -> tuple[str, int] | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
        line = data.split(b"\r\n", 1)[0].decode()
        method, target, _ = line.split(" ")
        if method != "CONNECT":
            sock.sendall(b"HTTP/1.1 405 Only CONNECT\r\n\r\n")
            return None
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        self.asked.append((host, int(port)))
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return host, int(port)

    def _socks(self, sock: socket.socket) -> tuple[str, int] | None:
        version, count = sock.recv(2)
        methods = sock.recv(count)
        wanted = 2 if self.username else 0
        if version != 5 or wanted not in methods:
            sock.sendall(b"\x05\xff")
            return None
        sock.sendall(bytes([5, wanted]))
        if wanted == 2:
            _, ulen = sock.recv(2)
            user = sock.recv(ulen).decode()
            (plen,) = sock.recv(1)
            password = sock.recv(plen).decode()
            good = user == self.username and password == self.password
            sock.sendall(b"\x01\x00" if good else b"\x01\x01")
            if not good:
                return None
        head = sock.recv(4)
        atyp = head[3]
        if atyp == 1:
            host = socket.inet_ntop(socket.AF_INET, sock.recv(4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, sock.recv(16))
        else:
            (size,) = sock.recv(1)
            host = "name:" + sock.recv(size).decode()
        (port,) = struct.unpack("!H", sock.recv(2))
        self.asked.append((host, port))
        if host.startswith("name:"):
            sock.sendall(b"\x05\x08\x00\x01" + b"\x00" * 6)  # names are refused here
            return None
        sock.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
        return host, port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    def copy(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=copy, args=(b, a), daemon=True)
    t.start()
    copy(a, b)
    t.join(10)
    a.close()
    b.close()


# --------------------------------------------------------------------------- all together

#: Addresses the tests open with the allow-list (never 127.0.0.0/16, which no list opens).
TRAP_ADDRESS = "127.20.0.1"
HOSTILE_ADDRESS = "127.20.0.2"
ALLOWED_BLOCK = "127.20.0.0/16"


class Loopback:
    """The servers of one test module and the settings that point the crawler at them."""

    def __init__(self) -> None:
        self.canary = Canary()
        self.zone = Zone()
        self.dns = DnsServer(self.zone)
        self.trap = RawHttpServer(TRAP_ADDRESS, TRAP_ROUTES)
        self.hostile = RawHttpServer(HOSTILE_ADDRESS, HOSTILE_ROUTES)
        z = self.zone
        z.add("allowed.test", "A", TRAP_ADDRESS)
        z.add("hostile.test", "A", HOSTILE_ADDRESS)
        z.add("localhost", "A", "127.0.0.1")
        z.add("loopback.test", "A", "127.0.0.1")
        z.add("public-then-loopback.test", "A", "93.184.216.34")
        z.add("public-then-loopback.test", "A", "127.0.0.1")
        z.add("v6loop.test", "AAAA", "::1")
        z.add("mapped.test", "AAAA", "::ffff:7f00:1")
        z.add("private.test", "A", "10.0.0.1")
        z.add("metadata.test", "A", "169.254.169.254")
        z.add("zero.test", "A", "0.0.0.0")
        z.add("alias.test", "CNAME", "loopback.test")
        z.add("allowed-and-loopback.test", "A", TRAP_ADDRESS)
        z.add("allowed-and-loopback.test", "AAAA", "::1")
        z.rebind["rebind.test"] = (TRAP_ADDRESS, "127.0.0.1")

    def settings(self, **crawl: Any) -> Settings:
        overrides: dict[str, Any] = {
            "dns": {"resolvers": [f"127.0.0.1:{self.dns.port}"], "timeout_seconds": 2.0},
            "crawl": {
                "allow_networks": [ALLOWED_BLOCK],
                "extra_ports": sorted({self.canary.port, self.trap.port, self.hostile.port}),
                "http2": False,
                **crawl,
            },
        }
        return load_settings(environ={}, overrides=overrides)

    def close(self) -> None:
        for thing in (self.canary, self.dns, self.trap, self.hostile):
            thing.close()


def report_urls(world: Any) -> list[str]:
    """Every page of every site of a running world, as a hotline would report them."""
    urls = []
    for site in world.truth.sites:
        for page in site.pages or ["/"]:
            urls.append(world.url(site, page))
    return urls


@contextmanager
def closing_all(*things: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for thing in things:
            with suppress(Exception):
                thing.close()


__all__ = ["BOMBS", "Canary", "DnsServer", "Proxy", "RawHttpServer", "Zone"]

"""A small, fast HTTP/1.1 server on asyncio: keep-alive, HEAD, Content-Length bodies.

It serves the world's sites, its RDAP server and its control endpoint. It is not a general web
server: no chunked request bodies, no HTTP/2, no upgrades, which the world does not need.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEAD = 32 * 1024
MAX_BODY = 4 * 1024 * 1024
IDLE_SECONDS = 30.0

_REASONS: dict[int, str] = {status.value: status.phrase for status in HTTPStatus}
# A request target holding any of these (a query, a fragment, bytes that urlsplit removes) or
# starting with "//" goes through the full URL parser; any other target is its own path.
_NOT_PLAIN = ("?", "#", "\t", "\r", "\n")


@dataclass(frozen=True)
class Request:
    """One parsed request. Header names are lower-case."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    local_address: str
    tls: bool

    @property
    def host(self) -> str:
        """The Host header without port and trailing dot, lower-case."""
        host = self.headers.get("host", "").strip().lower()
        if host.startswith("["):
            return host.split("]")[0] + "]"
        return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


@dataclass
class Response:
    """A response; ``Content-Length`` and ``Connection`` are added when it is written.

    The head is encoded once, on the first write, apart from ``Date`` and ``Connection``: a
    response may be written many times (the world caches rendered pages), but must not be
    changed once written.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "text/html; charset=utf-8"
    _head: tuple[bytes, bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def _encode_head(self) -> tuple[bytes, bytes]:
        """The head around the ``Date`` value: the status line up to it, the rest after it."""
        start = f"HTTP/1.1 {self.status} {_REASONS.get(self.status, '')}\r\nDate: "
        lines = [f"Content-Type: {self.content_type}"] if self.content_type else []
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        lines.append(f"Content-Length: {len(self.body)}")
        rest = "\r\n" + "\r\n".join(lines) + "\r\nConnection: "
        return start.encode("latin-1"), rest.encode("latin-1")

    def encode(self, *, head_only: bool, keep_alive: bool, date: str) -> bytes:
        """The response as written: head (with ``date``) and, unless ``head_only``, body."""
        head = self._head
        if head is None:
            head = self._head = self._encode_head()
        connection = b"keep-alive\r\n\r\n" if keep_alive else b"close\r\n\r\n"
        parts = (head[0], date.encode("latin-1"), head[1], connection)
        if head_only:
            return b"".join(parts)
        return b"".join((*parts, self.body))


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class HttpProtocol(asyncio.Protocol):
    """One connection; requests are answered in order."""

    def __init__(
        self, handler: Handler, date: Callable[[], str], tls: bool, on_error: Callable[[], None]
    ) -> None:
        self._handler = handler
        self._date = date
        self._tls = tls
        self._on_error = on_error
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._local = ""
        self._busy = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, but have the same methods.
        self._transport = cast(asyncio.Transport, transport)
        sockname = transport.get_extra_info("sockname")
        self._local = sockname[0] if sockname else ""
        self._loop = asyncio.get_running_loop()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._transport = None

    def _arm(self) -> None:
        # The connection closes IDLE_SECONDS after the last bytes received. One timer per
        # connection, moved on when it fires early, instead of a new timer per request.
        loop = self._loop or asyncio.get_running_loop()
        self._deadline = loop.time() + IDLE_SECONDS
        if self._idle is None:
            self._idle = loop.call_at(self._deadline, self._expire)

    def _expire(self) -> None:
        self._idle = None
        if self._transport is None:
            return
        loop = self._loop or asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._idle = loop.call_at(self._deadline, self._expire)
            return
        self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._arm()
        if not self._busy:
            self._process()

    def _process(self) -> None:
        while self._transport is not None and not self._busy:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    self._fail(431)
                return
            parsed = self._parse(bytes(self._buffer[:end]))
            if parsed is None:
                return
            method, target, version, headers = parsed
            if "transfer-encoding" in headers:
                self._fail(411)
                return
            try:
                length = int(headers.get("content-length", "0") or "0")
            except ValueError:
                self._fail(400)
                return
            if length < 0 or length > MAX_BODY:
                self._fail(413)
                return
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            if target.startswith("//") or any(c in target for c in _NOT_PLAIN):
                split = urlsplit(target)
                path, query = split.path, parse_qs(split.query)
            else:
                path, query = target, {}
            request = Request(
                method=method,
                target=target,
                path=unquote(path) or "/",
                query=query,
                headers=headers,
                body=body,
                local_address=self._local,
                tls=self._tls,
            )
            connection = headers.get("connection", "").lower()
            keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
            try:
                result = self._handler(request)
            except Exception:
                self._on_error()
                result = Response(500, b"<h1>500 Internal Server Error</h1>")
            if isinstance(result, Response):
                self._write(result, method, keep)
            else:
                self._busy = True
                task = asyncio.ensure_future(result)
                task.add_done_callback(functools.partial(self._finish, method=method, keep=keep))
                return

    def _finish(self, task: asyncio.Future[Response], method: str, keep: bool) -> None:
        self._busy = False
        try:
            response = task.result()
        except Exception:
            self._on_error()
            response = Response(500, b"<h1>500 Internal Server Error</h1>")
        self._write(response, method, keep)
        self._process()

    def _write(self, response: Response, method: str, keep: bool) -> None:
        if self._transport is None:
            return
        self._transport.write(
            response.encode(head_only=method == "HEAD", keep_alive=keep, date=self._date())
        )
        if not keep:
            self._transport.close()
            self._transport = None

    def _parse(self, head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
        try:
            text = head.decode("latin-1")
            request_line, *lines = text.split("\r\n")
            method, target, version = request_line.split(" ")
        except ValueError:
            self._fail(400)
            return None
        if version not in ("HTTP/1.1", "HTTP/1.0") or not target.startswith("/"):
            self._fail(400)
            return None
        headers: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                self._fail(400)
                return None
            headers[name.lower()] = value.strip()
        return method, target, version, headers

    def _fail(self, status: int) -> None:
        self._write(Response(status, f"<h1>{status}</h1>".encode()), "GET", keep=False)


async def listen(
    handler: Handler,
    sock: socket.socket,
    date: Callable[[], str],
    *,
    ssl_context: ssl.SSLContext | None = None,
    on_error: Callable[[], None] = lambda: None,
) -> asyncio.Server:
    """Serve ``handler`` on an already bound and listening socket."""
    loop = asyncio.get_running_loop()
    tls = ssl_context is not None
    return await loop.create_server(
        lambda: HttpProtocol(handler, date, tls, on_error),
        sock=sock,
        ssl=ssl_context,
        ssl_handshake_timeout=10.0 if tls else None,
    )
